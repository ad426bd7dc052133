//! The tailnet's devices and keys (docs/reference/sync.md#devices-keys): `GET /devices` and
//! `GET /keys?all=true`, in the shapes Tailscale documents, reduced to the snapshots the ledger
//! records.
//!
//! As with users, raw values (key types, tags, the `user` of a device) are kept verbatim, every
//! field Tailscale may leave out is optional, fields tailledger does not know are ignored, and
//! `""`, `null` and the zero time mean "not set". Only an id is required of either.

use serde::Deserialize;

use super::client::TailscaleClient;
use super::error::FetchError;
use super::types::{non_empty_string, tailscale_time};
use crate::event::{DeviceSnapshot, KeySnapshot};
use crate::time::Timestamp;

/// A device as `GET /api/v2/tailnet/{tailnet}/devices` describes it.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// The legacy numeric id.
    pub id: String,
    /// The preferred id; the snapshot's id when present.
    #[serde(default, deserialize_with = "non_empty_string")]
    pub node_id: Option<String>,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub hostname: Option<String>,
    /// The login name of the user who registered the device.
    #[serde(default, deserialize_with = "non_empty_string")]
    pub user: Option<String>,
    #[serde(default, deserialize_with = "strings")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "flag")]
    pub authorized: bool,
    #[serde(default, deserialize_with = "flag")]
    pub key_expiry_disabled: bool,
    #[serde(default, deserialize_with = "tailscale_time")]
    pub expires: Option<Timestamp>,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub os: Option<String>,
    #[serde(default, deserialize_with = "tailscale_time")]
    pub created: Option<Timestamp>,
}

impl Device {
    /// The device as the ledger records it.
    pub fn into_snapshot(self) -> DeviceSnapshot {
        DeviceSnapshot {
            id: self.node_id.unwrap_or(self.id),
            name: self.name.or(self.hostname).unwrap_or_default(),
            user: self.user.unwrap_or_default(),
            tags: self.tags,
            authorized: self.authorized,
            key_expiry_disabled: self.key_expiry_disabled,
            expires: self.expires,
            os: self.os.unwrap_or_default(),
            created: self.created,
        }
    }
}

#[derive(Deserialize)]
struct DeviceList {
    devices: Vec<Device>,
}

/// A key as `GET /api/v2/tailnet/{tailnet}/keys` describes it (never with its secret, which only
/// the creating call returns).
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    pub id: String,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub key_type: Option<String>,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub description: Option<String>,
    /// The id of the user who created the key; empty for keys a trust credential created.
    #[serde(default, deserialize_with = "non_empty_string")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "tailscale_time")]
    pub created: Option<Timestamp>,
    #[serde(default, deserialize_with = "tailscale_time")]
    pub expires: Option<Timestamp>,
    #[serde(default, deserialize_with = "tailscale_time")]
    pub revoked: Option<Timestamp>,
    #[serde(default, deserialize_with = "flag")]
    pub invalid: bool,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
}

/// `capabilities.devices.create` of an auth key.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub devices: Option<DeviceCapabilities>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
pub struct DeviceCapabilities {
    #[serde(default)]
    pub create: Option<CreateCapabilities>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
pub struct CreateCapabilities {
    #[serde(default, deserialize_with = "flag")]
    pub reusable: bool,
    #[serde(default, deserialize_with = "strings")]
    pub tags: Vec<String>,
}

impl Key {
    /// The key as the ledger records it.
    pub fn into_snapshot(self) -> KeySnapshot {
        let create = self
            .capabilities
            .and_then(|capabilities| capabilities.devices)
            .and_then(|devices| devices.create)
            .unwrap_or_default();
        KeySnapshot {
            id: self.id,
            key_type: self.key_type.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            user_id: self.user_id.unwrap_or_default(),
            created: self.created,
            expires: self.expires,
            revoked: self.revoked,
            invalid: self.invalid,
            reusable: create.reusable,
            tags: create.tags,
        }
    }
}

#[derive(Deserialize)]
struct KeyList {
    keys: Vec<Key>,
}

impl TailscaleClient {
    /// Every device of the tailnet.
    pub async fn list_devices(&self) -> Result<Vec<Device>, FetchError> {
        let url = self.url(&["tailnet", self.tailnet(), "devices"]);
        let list: DeviceList = self.get(url, None).await?;
        Ok(list.devices)
    }

    /// Every key of the tailnet Tailscale lists (`?all=true`: every user's, which needs
    /// `all:read`; Tailscale lists only active keys).
    pub async fn list_keys(&self) -> Result<Vec<Key>, FetchError> {
        let mut url = self.url(&["tailnet", self.tailnet(), "keys"]);
        url.query_pairs_mut().append_pair("all", "true");
        let list: KeyList = self.get(url, None).await?;
        Ok(list.keys)
    }
}

/// A boolean, `null` read as false.
fn flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(false))
}

/// A list of strings, `null` read as empty.
fn strings<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_shaped_device_decodes_ignoring_unknown_fields() {
        let device: Device = serde_json::from_str(
            r#"{"addresses":["100.87.74.78"],"id":"92960230385","nodeId":"n292kg92CNTRL",
               "user":"amelie@example.com","name":"pangolin.tailfe8c.ts.net","hostname":"pangolin",
               "clientVersion":"","updateAvailable":false,"os":"linux","created":"",
               "lastSeen":"2022-12-01T05:23:30Z","keyExpiryDisabled":false,
               "expires":"2023-05-30T04:44:05Z","authorized":true,"isExternal":false,
               "machineKey":"","nodeKey":"nodekey:01234567890abcdef","tags":["tag:golink"],
               "blocksIncomingConnections":false,"multipleConnections":true,"futureField":{"x":1}}"#,
        )
        .unwrap();
        let snapshot = device.into_snapshot();
        assert_eq!(snapshot.id, "n292kg92CNTRL");
        assert_eq!(snapshot.user, "amelie@example.com");
        assert_eq!(snapshot.tags, ["tag:golink"]);
        assert_eq!(snapshot.created, None);
        assert!(snapshot.authorized);
    }

    #[test]
    fn a_device_with_nulls_keeps_its_legacy_id_and_no_owner() {
        let device: Device = serde_json::from_str(
            r#"{"id":"7","nodeId":"","user":null,"tags":null,"authorized":null,"expires":"0001-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let snapshot = device.into_snapshot();
        assert_eq!((snapshot.id.as_str(), snapshot.user.as_str()), ("7", ""));
        assert!(snapshot.tags.is_empty() && !snapshot.authorized);
        assert_eq!(snapshot.expires, None);
    }

    #[test]
    fn the_documented_keys_decode_with_unknown_types_verbatim() {
        let list: KeyList = serde_json::from_str(
            r#"{"keys":[
              {"id":"XXXX14CNTRL","keyType":"client","created":"2021-12-09T23:22:39Z","scopes":["all"],"description":"test key","userId":"uscwcTtzzo11DEVEL"},
              {"id":"XXXX43CNTRL","keyType":"auth","expirySeconds":7776000,"created":"2021-12-09T23:22:39Z","expires":"2022-03-09T23:22:39Z",
               "capabilities":{"devices":{"create":{"reusable":true,"ephemeral":false,"preauthorized":true,"tags":["tag:example"]}}},
               "description":"dev access","userId":"uscwcTtzzo11DEVEL"},
              {"id":"k3","keyType":"quantum","userId":"","revoked":"2022-01-01T00:00:00Z","invalid":true}]}"#,
        )
        .unwrap();
        let keys: Vec<KeySnapshot> = list.keys.into_iter().map(Key::into_snapshot).collect();
        assert_eq!(keys[0].key_type, "client");
        assert!(!keys[0].reusable && keys[0].tags.is_empty());
        assert!(keys[1].reusable);
        assert_eq!(keys[1].tags, ["tag:example"]);
        assert_eq!(keys[2].key_type, "quantum");
        assert_eq!(keys[2].user_id, "");
        assert!(keys[2].invalid && keys[2].revoked.is_some());
    }

    #[test]
    fn a_key_or_device_without_an_id_is_refused() {
        assert!(serde_json::from_str::<Key>(r#"{"keyType":"auth"}"#).is_err());
        assert!(serde_json::from_str::<Device>(r#"{"nodeId":"n1"}"#).is_err());
    }
}
