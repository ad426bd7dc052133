//! The facts the ledger records: every event of docs/reference/events.md as a typed value, plus who
//! recorded it.
//!
//! Events are named in the past tense and are immutable once appended. They hold only plain
//! data: raw values from upstream systems (a Tailscale role or status) are kept verbatim as
//! strings so that a value nobody has seen before is recorded rather than rejected; meaning is
//! given to them by the projections, not here.
//!
//! Compatibility rule: the canonical JSON of an event (see `entry`) omits `null` values, so a new
//! optional field can be added later without changing the hash of events recorded before it;
//! renaming or removing a field changes old hashes and is never done. The stored forms are
//! bincode, which is not self-describing: format 2 through bincode's own `Encode`/`Decode` derive
//! on these types (timestamps and dates through serde there, as signed microseconds and text).
//! Any change to the layout — a new field, a new variant anywhere but last, a changed type —
//! needs a new storage format version with the old types frozen, as `store::v1` keeps those of
//! format 1. The order of fields and of enum variants is part of the format: never reorder them.

use std::fmt;
use std::str::FromStr;

use bincode::{Decode, Encode};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::hash::Hash256;
use crate::time::Timestamp;

/// One audited system instance, such as `tailscale`. The model allows more than one.
#[derive(
    Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize, Encode, Decode,
)]
#[serde(transparent)]
pub struct SystemId(pub String);

impl SystemId {
    /// The Tailscale tailnet audited by this service instance.
    pub fn tailscale() -> Self {
        SystemId("tailscale".to_owned())
    }
}

impl fmt::Display for SystemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who or what caused an event to be appended.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, Encode, Decode)]
#[serde(into = "String", try_from = "String")]
pub enum Actor {
    /// A scheduled or on-demand sync of a system (`sync:tailscale`).
    Sync(SystemId),
    /// A roster import (`roster`).
    Roster,
    /// The service's configuration file (`config`).
    Config,
    /// A gRPC caller, named by its configured token name (`api:<token name>`).
    Api(String),
    /// A webhook delivery from a system (`webhook:tailscale`).
    Webhook(SystemId),
    /// The built-in demo (`demo`).
    Demo,
    /// A roster read from an HR source other than a CSV file (`roster:truto`).
    RosterSource(String),
    /// A web console user, named by the configured token they signed in with (`web:<token name>`).
    Web(String),
    /// The alert deliveries of `serve` (`alerts`).
    Alerts,
    /// The witness client of `serve` (`witnesses`).
    Witnesses,
}

/// Why a text is not an [`Actor`].
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not an actor: expected sync:<system>, roster, roster:<source>, config, api:<token name>, web:<token name>, webhook:<system>, demo or alerts"
)]
pub struct ActorParseError(String);

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Sync(system) => write!(f, "sync:{system}"),
            Actor::Roster => f.write_str("roster"),
            Actor::Config => f.write_str("config"),
            Actor::Api(token_name) => write!(f, "api:{token_name}"),
            Actor::Webhook(system) => write!(f, "webhook:{system}"),
            Actor::Demo => f.write_str("demo"),
            Actor::RosterSource(source) => write!(f, "roster:{source}"),
            Actor::Web(token_name) => write!(f, "web:{token_name}"),
            Actor::Alerts => f.write_str("alerts"),
            Actor::Witnesses => f.write_str("witnesses"),
        }
    }
}

impl FromStr for Actor {
    type Err = ActorParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let named = |rest: &str| (!rest.is_empty()).then(|| rest.to_owned());
        let actor = match text.split_once(':') {
            None => match text {
                "roster" => Some(Actor::Roster),
                "config" => Some(Actor::Config),
                "demo" => Some(Actor::Demo),
                "alerts" => Some(Actor::Alerts),
                "witnesses" => Some(Actor::Witnesses),
                _ => None,
            },
            Some(("sync", system)) => named(system).map(|s| Actor::Sync(SystemId(s))),
            Some(("webhook", system)) => named(system).map(|s| Actor::Webhook(SystemId(s))),
            Some(("api", token_name)) => named(token_name).map(Actor::Api),
            Some(("roster", source)) => named(source).map(Actor::RosterSource),
            Some(("web", token_name)) => named(token_name).map(Actor::Web),
            Some(_) => None,
        };
        actor.ok_or_else(|| ActorParseError(text.to_owned()))
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> String {
        actor.to_string()
    }
}

impl TryFrom<String> for Actor {
    type Error = ActorParseError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

/// What a system said about one account at one observation, as recorded by `UserSeen`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct AccountSnapshot {
    /// The system's own stable user id (Tailscale's `id`).
    pub id: String,
    pub login_name: String,
    pub display_name: String,
    /// The raw role, e.g. `admin`; unknown values are kept verbatim.
    pub role: String,
    /// The raw status, e.g. `active` or `suspended`; unknown values are kept verbatim.
    pub status: String,
    /// How the account relates to the system, e.g. Tailscale's `member` or `shared`.
    #[serde(rename = "type")]
    pub account_type: String,
    /// When the account was created in the system, if the system said.
    #[bincode(with_serde)]
    pub created: Option<Timestamp>,
}

/// A person as the HR roster describes them, as recorded by `EmployeeOnboarded`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct EmployeeRecord {
    /// The stable HR id; defaults to the lower-cased email.
    pub employee_id: String,
    pub email: String,
    pub name: Option<String>,
    pub org_role: String,
    #[bincode(with_serde)]
    pub start_date: Option<NaiveDate>,
}

/// One field of an employee that changed, from its old value to its new one.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct FieldChange<T> {
    pub from: T,
    pub to: T,
}

/// One reason a roster file is refused, with where it is (`roster` finds them, `RosterRejected`
/// records them).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct RosterProblem {
    /// The 1-based line of the file; problems of the header or of the file as a whole are at
    /// the header's line.
    pub line: u64,
    /// The column, by its header name, when the problem is in one field.
    pub column: Option<String>,
    pub reason: String,
}

/// Why an account is not a person on the roster.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Service,
    External,
    Test,
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Classification::Service => "service",
            Classification::External => "external",
            Classification::Test => "test",
        })
    }
}

/// The error classes a failed sync is reported with.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum SyncErrorClass {
    /// The credential was refused (HTTP 401, or the OAuth token grant failed).
    Auth,
    /// The credential lacks a permission (HTTP 403).
    Permission,
    /// The tailnet or endpoint was not found, or reading it is not allowed (HTTP 404).
    NotFound,
    /// The system kept answering 429 until the retry budget ran out.
    RateLimited,
    /// The system was unreachable or kept answering 5xx.
    Unavailable,
    /// The system did not answer within the request timeout.
    Timeout,
    /// The answer was not the JSON shape the API documents.
    Malformed,
}

impl SyncErrorClass {
    /// The class as the spec and the canonical JSON spell it, e.g. `rate_limited`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncErrorClass::Auth => "auth",
            SyncErrorClass::Permission => "permission",
            SyncErrorClass::NotFound => "not_found",
            SyncErrorClass::RateLimited => "rate_limited",
            SyncErrorClass::Unavailable => "unavailable",
            SyncErrorClass::Timeout => "timeout",
            SyncErrorClass::Malformed => "malformed",
        }
    }
}

impl fmt::Display for SyncErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of credential a system integration uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A personal API access token (expires after at most 90 days, tied to its owner).
    ApiToken,
    /// An OAuth client (trust credential) using the client-credentials grant.
    OauthClient,
}

impl CredentialKind {
    /// The kind as the canonical JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ApiToken => "api_token",
            CredentialKind::OauthClient => "oauth_client",
        }
    }
}

/// One event of a webhook delivery, as `WebhookReceived` keeps it: its type and the time the
/// system gave it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct DeliveredEvent {
    /// The event's `type`, verbatim: types nobody has seen before are kept.
    pub event_type: String,
    /// The system's time of the event, when it sent an RFC 3339 one.
    #[bincode(with_serde)]
    pub timestamp: Option<Timestamp>,
}

/// One domain alias of `identity.email_aliases`: logins at `from` are matched to HR emails at
/// `to`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct EmailAlias {
    pub from: String,
    pub to: String,
}

/// Every setting that changes what a check or a sync says
/// (docs/reference/events.md#settings-events), as `SettingsChanged` records it. No floats in
/// events: the removal fraction is in millionths.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct SettingsRecord {
    /// `identity.email_aliases`, lower-cased and in `from` order.
    pub email_aliases: Vec<EmailAlias>,
    /// `tailscale.include_shared_users`.
    pub include_shared_users: bool,
    /// `tailscale.max_removal_fraction` × 1,000,000, rounded.
    pub max_removal_fraction_millionths: u64,
    /// `tailscale.removal_guard_hold` in seconds; 0 releases withheld removals only by an admin.
    pub removal_guard_hold_seconds: u64,
    /// `tailscale.suspended_is_removed`.
    pub suspended_is_removed: bool,
    /// `tailscale.sync_interval` in seconds.
    pub sync_interval_seconds: u64,
    /// `roster.timezone`, an IANA name.
    pub timezone: String,
}

impl SettingsRecord {
    /// The names of the settings, as the configuration file spells them, whose values differ
    /// between `self` and the settings `before` it; every name when nothing was before.
    pub fn changed_from(&self, before: Option<&SettingsRecord>) -> Vec<String> {
        let differs = |same: fn(&SettingsRecord, &SettingsRecord) -> bool| {
            before.is_none_or(|before| !same(self, before))
        };
        [
            (
                "identity.email_aliases",
                differs(|a, b| a.email_aliases == b.email_aliases),
            ),
            ("roster.timezone", differs(|a, b| a.timezone == b.timezone)),
            (
                "tailscale.include_shared_users",
                differs(|a, b| a.include_shared_users == b.include_shared_users),
            ),
            (
                "tailscale.max_removal_fraction",
                differs(|a, b| {
                    a.max_removal_fraction_millionths == b.max_removal_fraction_millionths
                }),
            ),
            (
                "tailscale.removal_guard_hold",
                differs(|a, b| a.removal_guard_hold_seconds == b.removal_guard_hold_seconds),
            ),
            (
                "tailscale.suspended_is_removed",
                differs(|a, b| a.suspended_is_removed == b.suspended_is_removed),
            ),
            (
                "tailscale.sync_interval",
                differs(|a, b| a.sync_interval_seconds == b.sync_interval_seconds),
            ),
        ]
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

/// A device of a system as one listing described it, as `DeviceSeen` and `DeviceChanged` record
/// it (docs/reference/events.md#device-snapshot). Raw values are kept verbatim; an absent field is
/// empty.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct DeviceSnapshot {
    /// The system's preferred stable id (Tailscale's `nodeId`, else its legacy numeric `id`).
    pub id: String,
    pub name: String,
    /// The login name of the user who registered the device, verbatim. For a tagged device this
    /// is not its owner (the tags are), and Tailscale may send a placeholder instead.
    pub user: String,
    /// The device's tags; a tagged device belongs to its tags, never to a person.
    pub tags: Vec<String>,
    pub authorized: bool,
    pub key_expiry_disabled: bool,
    /// When the device's node key expires, if the system said.
    #[bincode(with_serde)]
    pub expires: Option<Timestamp>,
    pub os: String,
    #[bincode(with_serde)]
    pub created: Option<Timestamp>,
}

/// A key of a system (an auth key, API token, OAuth client or federated identity) as one
/// listing described it, as `KeySeen` and `KeyChanged` record it
/// (docs/reference/events.md#key-snapshot). Never the secret.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct KeySnapshot {
    pub id: String,
    /// The raw key type, e.g. `auth` or `client`; unknown values are kept verbatim.
    pub key_type: String,
    pub description: String,
    /// The account id of the user who created the key; empty for keys a trust credential made.
    pub user_id: String,
    #[bincode(with_serde)]
    pub created: Option<Timestamp>,
    #[bincode(with_serde)]
    pub expires: Option<Timestamp>,
    /// When the key was revoked, if the system said it was.
    #[bincode(with_serde)]
    pub revoked: Option<Timestamp>,
    /// Whether the system reported the key invalid (revoked or expired).
    pub invalid: bool,
    /// Whether an auth key can register more than one device.
    pub reusable: bool,
    /// The tags an auth key gives the devices it registers.
    pub tags: Vec<String>,
}

/// A part of a sync that lists something besides the users (docs/reference/sync.md#devices-keys),
/// each switchable off. A part that fails is recorded as a `SyncFailed` of its own, whose sync id
/// is the sync's followed by `/` and the part's name, in the batch of the sync that kept the rest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    Devices,
    Keys,
    AuditLog,
}

impl Coverage {
    pub const ALL: [Coverage; 3] = [Coverage::Devices, Coverage::Keys, Coverage::AuditLog];

    /// The part's name, as a `SyncFailed` sync id ends with it.
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Devices => "devices",
            Coverage::Keys => "keys",
            Coverage::AuditLog => "audit_log",
        }
    }

    /// The sync id of this part of the sync `sync_id`.
    pub fn sync_id(self, sync_id: &str) -> String {
        format!("{sync_id}/{}", self.as_str())
    }

    /// The sync and the part a part's sync id names, or `None` for a whole sync's id.
    pub fn of_sync_id(sync_id: &str) -> Option<(&str, Coverage)> {
        let (sync, part) = sync_id.rsplit_once('/')?;
        let coverage = Coverage::ALL
            .into_iter()
            .find(|coverage| coverage.as_str() == part)?;
        Some((sync, coverage))
    }

    /// The OAuth scope a credential needs for this part.
    pub fn scope(self) -> &'static str {
        match self {
            Coverage::Devices => "devices:core:read",
            Coverage::Keys => "all:read",
            Coverage::AuditLog => "logs:configuration:read",
        }
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a change, as the system's audit log names them.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct ChangeActor {
    pub id: String,
    /// The raw actor type, e.g. `USER` or `OAUTH_CLIENT`; unknown values are kept verbatim.
    pub actor_type: String,
    pub login_name: String,
}

/// What a change was made to, as the system's audit log names it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct ChangeTarget {
    pub id: String,
    pub name: String,
    /// The raw target type, e.g. `USER`, `NODE` or `API_KEY`.
    pub target_type: String,
    /// The property changed, e.g. `USER_ROLE`, when the entry names one.
    pub property: Option<String>,
}

/// Which accounts an access review covers (docs/reference/checks.md#reviews).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum ReviewScope {
    /// Every account holding access.
    All,
    /// Only the accounts holding a privileged Tailscale role.
    Privileged,
}

impl ReviewScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewScope::All => "all",
            ReviewScope::Privileged => "privileged",
        }
    }
}

impl fmt::Display for ReviewScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReviewScope {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "all" => Ok(ReviewScope::All),
            "privileged" => Ok(ReviewScope::Privileged),
            other => Err(format!(
                "`{other}` is not a review scope (all or privileged)"
            )),
        }
    }
}

/// What a reviewer decided about one account of a review.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// The access stays as it is.
    Keep,
    /// The account's role is to become the decision's `new_role`.
    Modify,
    /// The account is to lose its access.
    Revoke,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Keep => "keep",
            ReviewDecision::Modify => "modify",
            ReviewDecision::Revoke => "revoke",
        }
    }
}

impl fmt::Display for ReviewDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReviewDecision {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "keep" => Ok(ReviewDecision::Keep),
            "modify" => Ok(ReviewDecision::Modify),
            "revoke" => Ok(ReviewDecision::Revoke),
            other => Err(format!(
                "`{other}` is not a decision (keep, modify or revoke)"
            )),
        }
    }
}

/// The most accounts one `AccessReviewStarted` records: a larger population is split over
/// several in one batch, so no event (nor a page of events an rpc answers) grows without bound.
pub const POPULATION_PART: usize = 500;

/// One account of an access review's population, as it stood at the seq the review is pinned
/// to; the population's SHA-256 is over the RFC 8785 form of the list of these.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub struct ReviewedAccount {
    pub account_id: String,
    pub login_name: String,
    /// The raw Tailscale role.
    pub role: String,
    /// The employee it belonged to, if any.
    pub employee_id: Option<String>,
    /// How: `manual` (an admin's link) or `email` (matched).
    pub link: Option<String>,
    /// That employee's org role on the roster.
    pub org_role: Option<String>,
    /// The reason codes of the checks' findings about the account then, in check order.
    pub findings: Vec<String>,
}

/// Every fact the ledger can record (docs/reference/events.md).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, Encode, Decode)]
pub enum Event {
    /// An account appeared for the first time, reappeared after removal, or its identity
    /// attributes (login name, display name, type) changed.
    UserSeen {
        system: SystemId,
        account: AccountSnapshot,
    },
    /// An account present in the previous state is absent from a successful listing.
    UserRemoved {
        system: SystemId,
        account_id: String,
        login_name: String,
        /// For a removal the removal guard withheld and then released: the start of the first
        /// sync that no longer listed the account. Absent for a removal recorded by the sync
        /// that first missed the account.
        #[bincode(with_serde)]
        observed_at: Option<Timestamp>,
    },
    /// An account's role differs from the previous state.
    RoleChanged {
        system: SystemId,
        account_id: String,
        login_name: String,
        from: String,
        to: String,
    },
    /// An account's access status moved between classes (active and idle are one class).
    StatusChanged {
        system: SystemId,
        account_id: String,
        login_name: String,
        /// The last raw status the ledger recorded for the account, not necessarily the one
        /// Tailscale reported in the previous listing: a move within a class (`active` ↔
        /// `idle`) is never recorded, so after `active` → `idle` → `suspended` this is `active`.
        from: String,
        /// The raw status of this listing, verbatim.
        to: String,
    },
    /// A new employee appeared on the roster or via the API.
    EmployeeOnboarded { employee: EmployeeRecord },
    /// Name, email or org role of an employee changed; only changed fields are present.
    EmployeeUpdated {
        employee_id: String,
        name: Option<FieldChange<Option<String>>>,
        email: Option<FieldChange<String>>,
        org_role: Option<FieldChange<String>>,
    },
    /// An employee got an end date or the offboarded status. `effective_at` is when the person
    /// left, which may be before or after the entry's `recorded_at`.
    EmployeeOffboarded {
        employee_id: String,
        #[bincode(with_serde)]
        effective_at: Timestamp,
        reason: Option<String>,
    },
    /// An offboarding was withdrawn (HR correction or rehire).
    EmployeeReinstated {
        employee_id: String,
        reason: Option<String>,
    },
    /// An admin linked an account to an employee by hand; this wins over an email match.
    AccountLinked {
        system: SystemId,
        account_id: String,
        employee_id: String,
        reason: String,
    },
    /// An admin removed a manual link.
    AccountUnlinked {
        system: SystemId,
        account_id: String,
        employee_id: String,
        reason: String,
    },
    /// An admin stated that an account is not a person on the roster.
    AccountClassified {
        system: SystemId,
        account_id: String,
        classification: Classification,
        owner_employee_id: Option<String>,
        reason: String,
    },
    /// An admin withdrew a classification.
    AccountDeclassified {
        system: SystemId,
        account_id: String,
        reason: String,
    },
    /// A system's access policy was set or changed.
    AccessPolicySet {
        system: SystemId,
        allowed_org_roles: Vec<String>,
        privileged_org_roles: Vec<String>,
        offboarding_grace_seconds: u64,
        reason: Option<String>,
    },
    /// A sync finished; appended in the same batch as the events it produced.
    SyncCompleted {
        system: SystemId,
        sync_id: String,
        #[bincode(with_serde)]
        started_at: Timestamp,
        #[bincode(with_serde)]
        finished_at: Timestamp,
        accounts_observed: u64,
        /// SHA-256 of the normalised listing.
        listing_sha256: Hash256,
        /// How many other events this sync appended in its batch.
        events_appended: u64,
    },
    /// A sync could not complete; no account event was appended.
    SyncFailed {
        system: SystemId,
        sync_id: String,
        #[bincode(with_serde)]
        started_at: Timestamp,
        #[bincode(with_serde)]
        finished_at: Timestamp,
        error_class: SyncErrorClass,
        /// A human explanation; never contains a secret.
        message: String,
    },
    /// A listing would have removed too many accounts; the removals were withheld.
    SyncAnomaly {
        system: SystemId,
        sync_id: String,
        accounts_before: u64,
        removals_withheld: u64,
        withheld_account_ids: Vec<String>,
    },
    /// The id or expiry of the credential in use was learned or changed (never the secret).
    CredentialObserved {
        system: SystemId,
        credential_id: String,
        credential_kind: CredentialKind,
        #[bincode(with_serde)]
        expires_at: Option<Timestamp>,
        /// `Some(true)` when the system reported the credential invalid (revoked or expired);
        /// absent otherwise, so entries recorded before the flag existed keep their hash.
        invalid: Option<bool>,
    },
    /// An admin confirmed that removals the removal guard withheld are real; the `UserRemoved`
    /// events that release them follow in the same batch.
    RemovalsConfirmed {
        system: SystemId,
        /// The sync whose `SyncAnomaly` withheld them.
        sync_id: String,
        account_ids: Vec<String>,
        reason: String,
    },
    /// The configured roster file was refused, so nothing of it was recorded. Appended once per
    /// distinct file: a file refused again with the same bytes appends nothing.
    RosterRejected {
        /// SHA-256 of the file's bytes.
        sha256: Hash256,
        /// How many problems the file has; `problems` holds the first of them.
        problem_count: u64,
        problems: Vec<RosterProblem>,
    },
    /// The configured roster file was accepted again after a `RosterRejected`.
    RosterAccepted {
        /// SHA-256 of the file's bytes.
        sha256: Hash256,
    },
    /// A correctly signed webhook delivery from a system was accepted
    /// (docs/reference/events.md#webhook-events). It records what arrived, never the secret: the
    /// sync it starts, not the delivery, decides the account events.
    WebhookReceived {
        system: SystemId,
        /// SHA-256 of the body exactly as received; an identical body within 25 hours is not
        /// recorded again.
        body_sha256: Hash256,
        body_bytes: u64,
        /// The signature's `t`: when the system signed the delivery.
        #[bincode(with_serde)]
        signed_at: Timestamp,
        /// How many events the delivery held.
        event_count: u64,
        /// The delivery's events in order, the first `webhook::MAX_RECORDED_EVENTS` of them.
        events: Vec<DeliveredEvent>,
        /// The body verbatim when it is at most 4 KiB; larger bodies are known by their digest.
        body: Option<String>,
        /// Whether an event of the delivery started a sync.
        starts_sync: bool,
    },
    /// The settings in force for a system changed (docs/reference/events.md#settings-events):
    /// recorded at start of `serve` and `sync` when the configured ones differ from the last
    /// recorded ones. Reads as of an instant use the settings in force then.
    SettingsChanged {
        system: SystemId,
        /// Every setting in force from this entry on.
        settings: SettingsRecord,
        /// The names of the settings that differ from the last recorded ones; every name in the
        /// first `SettingsChanged` of a system.
        changed: Vec<String>,
    },
    /// An admin accepted one finding (docs/reference/events.md#exception-events): while the
    /// exception is in force the finding is reported `EXCEPTED` and does not make its check
    /// `FAILING` or `DUE`.
    ExceptionGranted {
        /// `EX-<n>`, numbered in the order exceptions were granted.
        exception_id: String,
        system: SystemId,
        check_id: String,
        /// The subject: an account, or an employee (exactly one of the two).
        account_id: Option<String>,
        employee_id: Option<String>,
        reason: String,
        /// Where the justification is kept, e.g. a ticket.
        evidence_ref: Option<String>,
        /// When the exception lapses and the finding returns; absent: never.
        #[bincode(with_serde)]
        expires_at: Option<Timestamp>,
    },
    /// An admin withdrew an exception before it expired; the finding returns now.
    ExceptionRevoked {
        exception_id: String,
        system: SystemId,
        reason: String,
    },
    /// A device appeared in a listing for the first time, or reappeared after its removal.
    DeviceSeen {
        system: SystemId,
        device: DeviceSnapshot,
    },
    /// A listed device's owner (`user`), tags, authorization or key expiry changed; carries the
    /// device as now listed.
    DeviceChanged {
        system: SystemId,
        device: DeviceSnapshot,
    },
    /// A device present in the previous state is absent from a successful devices listing.
    DeviceRemoved {
        system: SystemId,
        device_id: String,
        name: String,
    },
    /// A key appeared in a listing for the first time, or reappeared after its removal.
    KeySeen { system: SystemId, key: KeySnapshot },
    /// A listed key's revocation, validity or expiry changed; carries the key as now listed.
    KeyChanged { system: SystemId, key: KeySnapshot },
    /// A key present in the previous state is absent from a successful keys listing. Tailscale
    /// lists only active keys, so this says the key dropped out, not that it was revoked.
    KeyRemoved {
        system: SystemId,
        key_id: String,
        description: String,
    },
    /// The system's configuration audit log says who made a change to a user, device or key,
    /// and when (docs/reference/events.md#leftover-events). Recorded once per entry (event group,
    /// target, action).
    ChangeAttributed {
        system: SystemId,
        /// The system's own time of the change.
        #[bincode(with_serde)]
        event_time: Timestamp,
        event_group_id: String,
        /// Where the change came from, e.g. `ADMIN_CONSOLE`, verbatim.
        origin: String,
        /// Who made it; absent when the entry names no actor.
        actor: Option<ChangeActor>,
        /// The raw action, e.g. `DELETE` or `SUSPEND`.
        action: String,
        target: ChangeTarget,
        /// The value before and after, as the JSON text the entry held.
        old: Option<String>,
        new: Option<String>,
        /// The entry's `error` as JSON text when the change failed: a failed change is not done.
        error: Option<String>,
    },
    /// An access review started (docs/reference/events.md#review-events): its population is every
    /// account holding access (of its scope) at `pinned_seq`, the ledger's head when it started. A
    /// population longer than [`POPULATION_PART`] accounts is recorded over several of these in one
    /// batch, `part` 1 to `parts`, each repeating the review's other fields; the digest is of the
    /// whole list.
    AccessReviewStarted {
        /// `AR-<n>`, numbered in the order reviews were started.
        review_id: String,
        system: SystemId,
        pinned_seq: u64,
        scope: ReviewScope,
        /// SHA-256 of the RFC 8785 form of the whole population list, in account id order.
        population_sha256: Hash256,
        population_count: u64,
        part: u64,
        parts: u64,
        /// This part's accounts, in account id order.
        population: Vec<ReviewedAccount>,
        #[bincode(with_serde)]
        due_at: Timestamp,
        /// The employee ids of those who may decide.
        reviewers: Vec<String>,
        /// How long after a decision a revoke or modify may take before it is `FAILING`.
        action_grace_seconds: u64,
        /// How long this review, once completed, keeps its scope reviewed.
        interval_seconds: u64,
    },
    /// A reviewer decided about one account of a review. A later decision on the same account
    /// supersedes it; both stay recorded.
    AccessReviewDecided {
        review_id: String,
        system: SystemId,
        account_id: String,
        decision: ReviewDecision,
        reason: String,
        /// The intended role of a `modify`.
        new_role: Option<String>,
        /// The reviewer, as their token names them.
        reviewer_employee_id: String,
    },
    /// Every account of a review had a decision and the review was closed.
    AccessReviewCompleted {
        review_id: String,
        system: SystemId,
        /// How many accounts were decided.
        decided: u64,
    },
    /// An admin handed a reviewer's part of an open review to another employee: from then on
    /// `to_employee_id` decides instead of `from_employee_id`, whose decisions stay in force.
    AccessReviewReviewerReassigned {
        review_id: String,
        system: SystemId,
        from_employee_id: String,
        to_employee_id: String,
        reason: String,
    },
    /// An admin withdrew an open review: it takes no more decisions, is never completed, and its
    /// decisions call for no action from then on.
    AccessReviewCancelled {
        review_id: String,
        system: SystemId,
        reason: String,
    },
    /// A destination acknowledged a notification: a finding or check changing state
    /// (docs/reference/events.md#alert-events). One event per notification; a digest's are one
    /// batch with the same `digest_id`.
    AlertDelivered {
        system: SystemId,
        /// The configured route that sent it.
        route: String,
        /// The configured destination that acknowledged it.
        destination: String,
        /// The notification's stable id: the same change always has the same id.
        notification_id: String,
        check_id: String,
        reason: String,
        /// What the finding is about, as text (login name, employee, device or key).
        subject: String,
        /// `DUE`, `FAILING`, `EXCEPTED` or `RESOLVED`.
        state: String,
        /// When the finding changed state.
        #[bincode(with_serde)]
        changed_at: Timestamp,
        /// When the destination acknowledged the delivery.
        #[bincode(with_serde)]
        delivered_at: Timestamp,
        /// The digest message that carried it, for a digest route.
        digest_id: Option<String>,
    },
    /// A configured witness refused to cosign a checkpoint as inconsistent with one it cosigned
    /// before (`422`), or holds a larger tree than the ledger: a fork of the log, or a bug
    /// (docs/reference/events.md#witness-refused).
    WitnessRefused {
        /// The witness, as `[[witness]] name` calls it.
        witness: String,
        /// The size the ledger offered as the one the witness last cosigned.
        old_size: u64,
        /// The refused checkpoint's tree size and root.
        size: u64,
        root: Hash256,
        /// The witness's answer, as it sent it (at most 512 bytes; untrusted text).
        answer: String,
    },
}

impl Event {
    /// The event's name as it appears in `"type"` of the canonical JSON and in the API.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::UserSeen { .. } => "UserSeen",
            Event::UserRemoved { .. } => "UserRemoved",
            Event::RoleChanged { .. } => "RoleChanged",
            Event::StatusChanged { .. } => "StatusChanged",
            Event::EmployeeOnboarded { .. } => "EmployeeOnboarded",
            Event::EmployeeUpdated { .. } => "EmployeeUpdated",
            Event::EmployeeOffboarded { .. } => "EmployeeOffboarded",
            Event::EmployeeReinstated { .. } => "EmployeeReinstated",
            Event::AccountLinked { .. } => "AccountLinked",
            Event::AccountUnlinked { .. } => "AccountUnlinked",
            Event::AccountClassified { .. } => "AccountClassified",
            Event::AccountDeclassified { .. } => "AccountDeclassified",
            Event::AccessPolicySet { .. } => "AccessPolicySet",
            Event::SyncCompleted { .. } => "SyncCompleted",
            Event::SyncFailed { .. } => "SyncFailed",
            Event::SyncAnomaly { .. } => "SyncAnomaly",
            Event::CredentialObserved { .. } => "CredentialObserved",
            Event::RemovalsConfirmed { .. } => "RemovalsConfirmed",
            Event::RosterRejected { .. } => "RosterRejected",
            Event::RosterAccepted { .. } => "RosterAccepted",
            Event::WebhookReceived { .. } => "WebhookReceived",
            Event::SettingsChanged { .. } => "SettingsChanged",
            Event::ExceptionGranted { .. } => "ExceptionGranted",
            Event::ExceptionRevoked { .. } => "ExceptionRevoked",
            Event::DeviceSeen { .. } => "DeviceSeen",
            Event::DeviceChanged { .. } => "DeviceChanged",
            Event::DeviceRemoved { .. } => "DeviceRemoved",
            Event::KeySeen { .. } => "KeySeen",
            Event::KeyChanged { .. } => "KeyChanged",
            Event::KeyRemoved { .. } => "KeyRemoved",
            Event::ChangeAttributed { .. } => "ChangeAttributed",
            Event::AccessReviewStarted { .. } => "AccessReviewStarted",
            Event::AccessReviewDecided { .. } => "AccessReviewDecided",
            Event::AccessReviewCompleted { .. } => "AccessReviewCompleted",
            Event::AccessReviewReviewerReassigned { .. } => "AccessReviewReviewerReassigned",
            Event::AccessReviewCancelled { .. } => "AccessReviewCancelled",
            Event::AlertDelivered { .. } => "AlertDelivered",
            Event::WitnessRefused { .. } => "WitnessRefused",
        }
    }
}

#[cfg(test)]
impl Event {
    /// An `AccountDeclassified` of a tailnet account: the smallest event about one account,
    /// which unit tests append in numbers.
    pub(crate) fn declassified(account_id: &str) -> Self {
        Event::AccountDeclassified {
            system: SystemId::tailscale(),
            account_id: account_id.to_owned(),
            reason: "test".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip_through_text() {
        for text in [
            "sync:tailscale",
            "roster",
            "config",
            "api:audit-bot",
            "webhook:tailscale",
            "demo",
            "roster:truto",
            "alerts",
        ] {
            let actor: Actor = text.parse().unwrap();
            assert_eq!(actor.to_string(), text);
        }
    }

    #[test]
    fn error_class_text_matches_its_serialised_form() {
        for class in [
            SyncErrorClass::Auth,
            SyncErrorClass::Permission,
            SyncErrorClass::NotFound,
            SyncErrorClass::RateLimited,
            SyncErrorClass::Unavailable,
            SyncErrorClass::Timeout,
            SyncErrorClass::Malformed,
        ] {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{class}\""));
        }
    }

    #[test]
    fn malformed_actors_are_refused() {
        for text in ["", "api:", "sync:", "roster:", "admin", "robot:x"] {
            assert!(text.parse::<Actor>().is_err(), "{text:?}");
        }
    }
}
