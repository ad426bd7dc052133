//! A user of the simulated tailnet, serialised in exactly the shape Tailscale's users list uses.
//!
//! Role, status and type are plain strings so that a test can serve a value the client has never
//! seen. Unset instants are written as Tailscale's zero time, as the real API does.

use chrono::SecondsFormat;
use serde::{Serialize, Serializer};

use crate::time::Timestamp;

/// Tailscale's zero time, which it writes for an instant that is not set.
pub(crate) const ZERO_TIME_TEXT: &str = "0001-01-01T00:00:00Z";

/// A user as the simulated API returns it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimUser {
    pub id: String,
    pub display_name: String,
    pub login_name: String,
    pub profile_pic_url: String,
    /// The owning tailnet; left empty, it is filled with the simulated tailnet's id on upsert.
    pub tailnet_id: String,
    #[serde(serialize_with = "tailscale_time")]
    pub created: Option<Timestamp>,
    #[serde(rename = "type")]
    pub user_type: String,
    pub role: String,
    pub status: String,
    pub device_count: u64,
    #[serde(serialize_with = "tailscale_time")]
    pub last_seen: Option<Timestamp>,
    pub currently_connected: bool,
}

impl SimUser {
    /// An active member with role `member`, no devices and no known times.
    pub fn member(id: &str, login_name: &str, display_name: &str) -> Self {
        SimUser {
            id: id.to_owned(),
            display_name: display_name.to_owned(),
            login_name: login_name.to_owned(),
            profile_pic_url: String::new(),
            tailnet_id: String::new(),
            created: None,
            user_type: "member".to_owned(),
            role: "member".to_owned(),
            status: "active".to_owned(),
            device_count: 0,
            last_seen: None,
            currently_connected: false,
        }
    }

    /// The same user with another role.
    pub fn with_role(mut self, role: &str) -> Self {
        self.role = role.to_owned();
        self
    }

    /// The same user with another status.
    pub fn with_status(mut self, status: &str) -> Self {
        self.status = status.to_owned();
        self
    }

    /// The same user with another type (`member` or `shared`).
    pub fn with_type(mut self, user_type: &str) -> Self {
        self.user_type = user_type.to_owned();
        self
    }

    /// The same user with a creation time.
    pub fn created_at(mut self, created: Timestamp) -> Self {
        self.created = Some(created);
        self
    }
}

/// Writes an instant the way Tailscale does: RFC 3339 in UTC, the zero time when unset.
pub(crate) fn tailscale_time<S: Serializer>(
    instant: &Option<Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match instant {
        Some(instant) => serializer.serialize_str(
            &instant
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        ),
        None => serializer.serialize_str(ZERO_TIME_TEXT),
    }
}
