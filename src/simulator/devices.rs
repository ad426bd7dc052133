//! The simulated tailnet's devices and keys (docs/reference/sync.md#devices-keys), served in
//! Tailscale's shapes: `GET /devices` and `GET /keys[?all=true]`.
//!
//! Like Tailscale, the keys list holds only active keys (a revoked or expired key drops out),
//! and without `all=true` only the caller's own; deleting a user revokes the user's untagged
//! devices, while tagged devices and the user's keys live on.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::server::{caller_key_id, refusal};
use super::user::tailscale_time;
use super::{SimKey, SimulatedTailnet, UnknownId, unknown};
use crate::time::Timestamp;

/// A device as the simulated API returns it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimDevice {
    pub id: String,
    pub node_id: String,
    /// The login name of the user who registered the device.
    pub user: String,
    pub name: String,
    pub hostname: String,
    pub os: String,
    pub client_version: String,
    pub addresses: Vec<String>,
    #[serde(serialize_with = "tailscale_time")]
    pub created: Option<Timestamp>,
    pub key_expiry_disabled: bool,
    #[serde(serialize_with = "tailscale_time")]
    pub expires: Option<Timestamp>,
    pub authorized: bool,
    pub is_external: bool,
    pub tags: Vec<String>,
}

impl SimDevice {
    /// An authorized, untagged Linux device registered by `user`.
    pub fn registered_by(node_id: &str, name: &str, user: &str) -> Self {
        SimDevice {
            id: node_id
                .bytes()
                .map(|byte| u64::from(byte % 10))
                .sum::<u64>()
                .to_string(),
            node_id: node_id.to_owned(),
            user: user.to_owned(),
            name: format!("{name}.tail0000.ts.net"),
            hostname: name.to_owned(),
            os: "linux".to_owned(),
            client_version: "1.80.0".to_owned(),
            addresses: vec!["100.64.0.1".to_owned()],
            created: None,
            key_expiry_disabled: false,
            expires: None,
            authorized: true,
            is_external: false,
            tags: Vec::new(),
        }
    }

    /// The same device with these tags (a tagged device belongs to its tags).
    pub fn tagged(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|tag| (*tag).to_owned()).collect();
        self
    }
}

/// An auth key a user created, as [`SimulatedTailnet::add_auth_key`] takes it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SimAuthKey {
    pub id: String,
    /// The account id of the user who created it.
    pub user_id: String,
    pub description: String,
    pub reusable: bool,
    /// The tags the devices it registers get.
    pub tags: Vec<String>,
    pub expires: Option<Timestamp>,
}

impl SimulatedTailnet {
    /// Adds a device, or replaces the device with the same node id.
    pub fn upsert_device(&self, device: SimDevice) {
        self.lock().devices.insert(device.node_id.clone(), device);
    }

    /// Deletes a device (as removing it in the admin console would; the audit log says who).
    pub fn remove_device(&self, node_id: &str) -> Result<SimDevice, UnknownId> {
        let mut state = self.lock();
        let removed = state
            .devices
            .remove(node_id)
            .ok_or_else(|| unknown("device", node_id))?;
        super::audit_log::record(&mut state, "NODE", node_id, &removed.name, "DELETE");
        Ok(removed)
    }

    /// Adds an auth key a user created.
    pub fn add_auth_key(&self, key: SimAuthKey) {
        self.lock().keys.insert(
            key.id.clone(),
            SimKey {
                key_type: "auth",
                created: Timestamp::now(),
                expires: key.expires,
                invalid: false,
                description: key.description,
                user_id: key.user_id,
                reusable: key.reusable,
                tags: key.tags,
            },
        );
    }
}

/// Revokes the untagged devices `login_name` registered, as deleting the user does.
pub(super) fn revoke_devices_of(
    devices: &mut std::collections::BTreeMap<String, SimDevice>,
    login_name: &str,
) {
    devices.retain(|_, device| !device.tags.is_empty() || device.user != login_name);
}

#[derive(Serialize)]
struct DevicesBody<'a> {
    devices: Vec<&'a SimDevice>,
}

pub(super) async fn list_devices(
    State(tailnet): State<SimulatedTailnet>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = tailnet.lock();
    if let Some(refusal) = refusal(&state, &headers, &name) {
        return refusal;
    }
    Json(DevicesBody {
        devices: state.devices.values().collect(),
    })
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct KeysQuery {
    all: Option<bool>,
}

/// A key in the list (no secret).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedKey<'a> {
    id: &'a str,
    key_type: &'a str,
    description: &'a str,
    #[serde(serialize_with = "tailscale_time")]
    created: Option<Timestamp>,
    #[serde(serialize_with = "tailscale_time")]
    expires: Option<Timestamp>,
    #[serde(skip_serializing_if = "str::is_empty")]
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct KeysBody<'a> {
    keys: Vec<ListedKey<'a>>,
}

pub(super) async fn list_keys(
    State(tailnet): State<SimulatedTailnet>,
    Path(name): Path<String>,
    Query(query): Query<KeysQuery>,
    headers: HeaderMap,
) -> Response {
    let state = tailnet.lock();
    if let Some(refusal) = refusal(&state, &headers, &name) {
        return refusal;
    }
    let caller = caller_key_id(&state, &headers);
    let now = Timestamp::now();
    let keys = state
        .keys
        .iter()
        .filter(|(id, _)| query.all == Some(true) || caller.as_deref() == Some(id.as_str()))
        // Tailscale lists active keys only.
        .filter(|(_, key)| !key.invalid && key.expires.is_none_or(|expires| now < expires))
        .map(|(id, key)| ListedKey {
            id,
            key_type: key.key_type,
            description: &key.description,
            created: Some(key.created),
            expires: key.expires,
            user_id: &key.user_id,
            capabilities: (key.key_type == "auth").then(|| {
                serde_json::json!({"devices": {"create": {
                    "reusable": key.reusable,
                    "ephemeral": false,
                    "preauthorized": true,
                    "tags": key.tags,
                }}})
            }),
        })
        .collect();
    Json(KeysBody { keys }).into_response()
}
