//! The configuration audit log (docs/reference/sync.md#devices-keys; its shape is the one
//! Tailscale's API documentation gives):
//! `GET /logging/configuration?start=&end=`, reduced to the entries about users, devices and
//! keys, as the `ChangeAttributed` events will record them.
//!
//! The log has no pagination and can return more entries for a range later (entries arrive
//! late), so the caller reads with an overlap and drops entries it recorded before. Enumerations
//! (origin, actor type, action, target type) are open: values are kept verbatim. `old`, `new`
//! and `error` may be any JSON and are kept as JSON text; an entry with no actor is kept (who
//! did it is then unknown), one with no target cannot be about a user, device or key.

use serde::Deserialize;

use super::client::TailscaleClient;
use super::error::FetchError;
use super::types::non_empty_string;
use crate::event::{ChangeActor, ChangeTarget};
use crate::time::Timestamp;

/// The target types whose changes the ledger attributes: users, devices and keys.
pub const ATTRIBUTED_TARGETS: [&str; 3] = ["USER", "NODE", "API_KEY"];

/// One entry of the configuration audit log.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub event_time: Timestamp,
    #[serde(rename = "eventGroupID")]
    pub event_group_id: String,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub origin: Option<String>,
    #[serde(default)]
    pub actor: Option<AuditActor>,
    #[serde(default)]
    pub target: Option<AuditTarget>,
    pub action: String,
    #[serde(default)]
    pub old: Option<serde_json::Value>,
    #[serde(default)]
    pub new: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditActor {
    #[serde(default, deserialize_with = "non_empty_string")]
    pub id: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "non_empty_string")]
    pub actor_type: Option<String>,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub login_name: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditTarget {
    #[serde(default, deserialize_with = "non_empty_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub name: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "non_empty_string")]
    pub target_type: Option<String>,
    #[serde(default, deserialize_with = "non_empty_string")]
    pub property: Option<String>,
}

/// An entry as `ChangeAttributed` records it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AttributedChange {
    pub event_time: Timestamp,
    pub event_group_id: String,
    pub origin: String,
    pub actor: Option<ChangeActor>,
    pub action: String,
    pub target: ChangeTarget,
    pub old: Option<String>,
    pub new: Option<String>,
    pub error: Option<String>,
}

impl AuditEntry {
    /// The change as the ledger records it, if the entry is about a user, device or key (it
    /// names a target of one of those types, with an id).
    pub fn to_change(&self) -> Option<AttributedChange> {
        let target = self.target.as_ref()?;
        let target_type = target.target_type.clone()?;
        if !ATTRIBUTED_TARGETS.contains(&target_type.as_str()) {
            return None;
        }
        let json = |value: &Option<serde_json::Value>| {
            value
                .as_ref()
                .filter(|value| !value.is_null())
                .map(serde_json::Value::to_string)
        };
        Some(AttributedChange {
            event_time: self.event_time,
            event_group_id: self.event_group_id.clone(),
            origin: self.origin.clone().unwrap_or_default(),
            actor: self.actor.as_ref().map(|actor| ChangeActor {
                id: actor.id.clone().unwrap_or_default(),
                actor_type: actor.actor_type.clone().unwrap_or_default(),
                login_name: actor.login_name.clone().unwrap_or_default(),
            }),
            action: self.action.clone(),
            target: ChangeTarget {
                id: target.id.clone()?,
                name: target.name.clone().unwrap_or_default(),
                target_type,
                property: target.property.clone(),
            },
            old: json(&self.old),
            new: json(&self.new),
            error: json(&self.error),
        })
    }
}

#[derive(Deserialize)]
struct AuditLog {
    #[serde(default)]
    logs: Option<Vec<AuditEntry>>,
}

impl TailscaleClient {
    /// The configuration audit log's entries from `start` to `end`.
    pub async fn read_audit_log(
        &self,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<AuditEntry>, FetchError> {
        let mut url = self.url(&["tailnet", self.tailnet(), "logging", "configuration"]);
        url.query_pairs_mut()
            .append_pair("start", &start.to_string())
            .append_pair("end", &end.to_string());
        let log: AuditLog = self.get(url, None).await?;
        Ok(log.logs.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_deletion_keeps_its_actor_and_error_text() {
        let entry: AuditEntry = serde_json::from_str(
            r#"{"eventTime":"2026-03-02T10:05:00.583893Z","type":"CONFIG","eventGroupID":"ab12","origin":"ADMIN_CONSOLE",
               "actor":{"id":"uAdmin","type":"USER","loginName":"it@acme.example","displayName":"IT"},
               "target":{"id":"uMarco","name":"marco@acme.example","type":"USER"},"action":"DELETE",
               "error":{"message":"not allowed"},"deferredAt":"0001-01-01T00:00:00Z","future":1}"#,
        )
        .unwrap();
        let change = entry.to_change().unwrap();
        assert_eq!(change.actor.unwrap().login_name, "it@acme.example");
        assert_eq!(change.target.id, "uMarco");
        assert_eq!(
            change.error.as_deref(),
            Some(r#"{"message":"not allowed"}"#)
        );
    }

    #[test]
    fn entries_about_other_things_or_without_a_target_are_not_attributed() {
        for text in [
            r#"{"eventTime":"2026-03-02T10:05:00Z","eventGroupID":"g","action":"CREATE","target":{"id":"tskey-token","type":"OAUTH_ACCESS_TOKEN"}}"#,
            r#"{"eventTime":"2026-03-02T10:05:00Z","eventGroupID":"g","action":"DELETE"}"#,
            r#"{"eventTime":"2026-03-02T10:05:00Z","eventGroupID":"g","action":"DELETE","target":{"type":"USER"}}"#,
        ] {
            let entry: AuditEntry = serde_json::from_str(text).unwrap();
            assert_eq!(entry.to_change(), None, "{text}");
        }
    }
}
