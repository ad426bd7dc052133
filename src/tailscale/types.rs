//! The typed shapes of Tailscale's answers: users, their role/status/type, and the caller's key.
//!
//! Tailscale adds roles and statuses over time, and the ledger must record a value it has never
//! seen rather than fail a sync over it, so each enum has an `Other(String)` variant that keeps
//! the raw text verbatim. Only `id` and `loginName` are required of a user; every other field is
//! optional, and Tailscale's ways of saying "no time" (`""` and the zero time
//! `0001-01-01T00:00:00Z`) become `None`.

use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::event::{AccountSnapshot, CredentialKind};
use crate::time::Timestamp;

/// Tailscale's zero time, `0001-01-01T00:00:00Z`, which it sends for an unset instant; it is the
/// earliest instant a `Timestamp` can hold.
const ZERO_TIME: Timestamp = Timestamp::MIN;

/// Declares an enum of a JSON string field whose known values get variants and whose unknown
/// values are kept in `Other`, so that the three such fields of a user behave identically.
macro_rules! open_string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, Debug)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
            /// A value this version does not know, kept verbatim. [`From<String>`] never puts a
            /// known value here.
            Other(String),
        }

        impl $name {
            /// The value exactly as Tailscale spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(raw) => raw,
                }
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                match raw.as_str() {
                    $($text => Self::$variant,)+
                    _ => Self::Other(raw),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::from)
            }
        }
    };
}

open_string_enum! {
    /// A user's role in the tailnet.
    Role {
        Owner => "owner",
        Member => "member",
        Admin => "admin",
        ItAdmin => "it-admin",
        NetworkAdmin => "network-admin",
        BillingAdmin => "billing-admin",
        Auditor => "auditor",
    }
}

open_string_enum! {
    /// A user's status. `active` and `idle` are derived from `lastSeen` and say nothing about
    /// access being granted or withdrawn.
    UserStatus {
        Active => "active",
        Idle => "idle",
        Suspended => "suspended",
        NeedsApproval => "needs-approval",
        OverBillingLimit => "over-billing-limit",
    }
}

open_string_enum! {
    /// How a user relates to the tailnet that was asked about.
    UserType {
        Member => "member",
        Shared => "shared",
    }
}

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
    pub user_type: Option<UserType>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub status: Option<UserStatus>,
    #[serde(default)]
    pub device_count: Option<u64>,
    #[serde(default, deserialize_with = "tailscale_time")]
    pub last_seen: Option<Timestamp>,
    #[serde(default)]
    pub currently_connected: Option<bool>,
}

impl User {
    /// The account as the ledger records it; a missing role, status or type becomes `""`.
    pub fn to_snapshot(&self) -> AccountSnapshot {
        AccountSnapshot {
            id: self.id.clone(),
            login_name: self.login_name.clone(),
            display_name: self.display_name.clone().unwrap_or_default(),
            role: raw_or_empty(self.role.as_ref().map(Role::as_str)),
            status: raw_or_empty(self.status.as_ref().map(UserStatus::as_str)),
            account_type: raw_or_empty(self.user_type.as_ref().map(UserType::as_str)),
            created: self.created,
        }
    }
}

fn raw_or_empty(raw: Option<&str>) -> String {
    raw.unwrap_or_default().to_owned()
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
fn non_empty_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|text| !text.is_empty()))
}

/// Reads an optional RFC 3339 time, treating `null`, `""` and the zero time as absent.
fn tailscale_time<'de, D: Deserializer<'de>>(
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
        assert_eq!(user.role, Some(Role::ItAdmin));
        assert_eq!(user.status, Some(UserStatus::Suspended));
        assert_eq!(user.user_type, Some(UserType::Member));
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
        assert_eq!(user.role, Some(Role::Other("space-admin".into())));
        let snapshot = user.to_snapshot();
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
