//! The typed shapes of Tailscale's answers: users and the caller's key.
//!
//! Tailscale adds roles and statuses over time, and the ledger must record a value it has never
//! seen rather than fail a sync over it, so a user's role, status and type are kept as the raw
//! text, verbatim (what they mean is `access`'s business). Only `id` and `loginName` are required of a user; every other field is
//! optional, and Tailscale's ways of saying "no time" (`""` and the zero time
//! `0001-01-01T00:00:00Z`) become `None`.

use serde::{Deserialize, Deserializer};

use crate::event::{AccountSnapshot, CredentialKind};
use crate::time::Timestamp;

/// Tailscale's zero time, `0001-01-01T00:00:00Z`, which it sends for an unset instant; it is the
/// earliest instant a `Timestamp` can hold.
const ZERO_TIME: Timestamp = Timestamp::MIN;

/// A user of the tailnet, as `GET /api/v2/tailnet/{tailnet}/users` describes it.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Tailscale's opaque, stable user id.
    pub id: String,
    /// The email-like login name; the join key to devices and to the HR roster.
    pub login_name: String,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub profile_pic_url: Option<String>,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub tailnet_id: Option<String>,
    #[serde(default, deserialize_with = "tailscale_time")]
    pub created: Option<Timestamp>,
    #[serde(default, rename = "type")]
    pub user_type: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub device_count: Option<u64>,
    #[serde(default, deserialize_with = "tailscale_time")]
    pub last_seen: Option<Timestamp>,
    #[serde(default)]
    pub currently_connected: Option<bool>,
}

impl User {
    /// The account as the ledger records it; a missing role, status or type becomes `""`.
    pub fn into_snapshot(self) -> AccountSnapshot {
        AccountSnapshot {
            id: self.id,
            login_name: self.login_name,
            display_name: self.display_name.unwrap_or_default(),
            role: self.role.unwrap_or_default(),
            status: self.status.unwrap_or_default(),
            account_type: self.user_type.unwrap_or_default(),
            created: self.created,
        }
    }
}

/// The body of the users list.
#[derive(Deserialize)]
pub(crate) struct UserList {
    pub(crate) users: Vec<User>,
}

/// What the client learned about its own credential from `GET /keys/{keyId}`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CredentialInfo {
    /// The key id (for an OAuth client, the client id).
    pub id: String,
    pub kind: CredentialKind,
    /// When the credential stops working; `None` when it does not expire (OAuth clients).
    pub expires_at: Option<Timestamp>,
    /// True when Tailscale reports the key as revoked or expired.
    pub invalid: bool,
}

/// The fields of Tailscale's `Key` object the client uses.
#[derive(Deserialize)]
pub(crate) struct KeyBody {
    pub(crate) id: String,
    #[serde(default, deserialize_with = "tailscale_time")]
    pub(crate) expires: Option<Timestamp>,
    #[serde(default)]
    pub(crate) invalid: bool,
}

/// Reads an optional string, treating `""` and `null` as absent.
pub(super) fn non_empty_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|text| !text.is_empty()))
}

/// Reads an optional RFC 3339 time, treating `null`, `""` and the zero time as absent.
pub(super) fn tailscale_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    let Some(text) = non_empty_string(deserializer)? else {
        return Ok(None);
    };
    let instant: Timestamp = text.parse().map_err(serde::de::Error::custom)?;
    Ok((instant != ZERO_TIME).then_some(instant))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_time_constant_is_tailscales_zero_time() {
        assert_eq!(
            "0001-01-01T00:00:00Z".parse::<Timestamp>().unwrap(),
            ZERO_TIME
        );
    }

    #[test]
    fn a_full_user_decodes_with_known_values() {
        let user: User = serde_json::from_str(
            r#"{"id":"u1","displayName":"Dana","loginName":"dana@x.example","profilePicUrl":"",
               "tailnetId":"T1","created":"2023-02-14T09:12:44Z","type":"member","role":"it-admin",
               "status":"suspended","deviceCount":3,"lastSeen":"0001-01-01T00:00:00Z",
               "currentlyConnected":true}"#,
        )
        .unwrap();
        assert_eq!(user.role.as_deref(), Some("it-admin"));
        assert_eq!(user.status.as_deref(), Some("suspended"));
        assert_eq!(user.user_type.as_deref(), Some("member"));
        assert_eq!(user.profile_pic_url, None);
        assert_eq!(user.last_seen, None);
        assert_eq!(
            user.created.unwrap().to_string(),
            "2023-02-14T09:12:44.000000Z"
        );
    }

    #[test]
    fn a_minimal_user_with_unknown_values_keeps_them_verbatim() {
        let user: User = serde_json::from_str(
            r#"{"id":"u2","loginName":"x@y.example","role":"space-admin","status":"Frozen","created":""}"#,
        )
        .unwrap();
        assert_eq!(user.role.as_deref(), Some("space-admin"));
        let snapshot = user.into_snapshot();
        assert_eq!(snapshot.role, "space-admin");
        assert_eq!(snapshot.status, "Frozen");
        assert_eq!(snapshot.account_type, "");
        assert_eq!(snapshot.display_name, "");
        assert_eq!(snapshot.created, None);
    }

    #[test]
    fn a_user_without_a_login_name_is_rejected() {
        assert!(serde_json::from_str::<User>(r#"{"id":"u3"}"#).is_err());
    }
}
