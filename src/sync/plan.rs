//! The sync planner: a pure function from (what the ledger knows, a listing, now, options) to
//! the batch of events that listing means (docs/reference/sync.md#diff).
//!
//! Per account, in id order: `UserSeen` when it is new, reappears, or its identity attributes
//! (login name, display name, type) changed; `RoleChanged` when its role differs;
//! `StatusChanged` when its status moved to another class (never for `active` ↔ `idle`). Then
//! `UserRemoved` for every present account the listing lacks, unless the removal guard holds them
//! back as one `SyncAnomaly`. A withheld removal is released, with the `observed_at` of the
//! first sync that missed the account, once the account has stayed absent from every successful
//! listing for the guard's hold; every later sync that still misses the others withholds them
//! again. Then the devices and keys parts (`leftovers`: their events, or the `SyncFailed` of a
//! part that could not be listed), `CredentialObserved` when the credential changed, and last
//! the `SyncCompleted` that closes the batch. Each planner returns its batch together with the
//! [`SyncOutcome`] it decided, so nobody has to read the outcome back out of the events.

use crate::access::StatusClass;
use crate::event::{
    AccountSnapshot, Coverage, CredentialKind, DeviceSnapshot, Event, KeySnapshot, SyncErrorClass,
    SystemId,
};
use crate::projection::{AccountState, CredentialState, SystemState};
use crate::tailscale::{AttributedChange, FetchError};
use crate::time::Timestamp;

use super::leftovers::{Part, plan_leftovers};
use super::listing::{Joined, Listing};

/// How a sync decides.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOptions {
    /// Removals are withheld when they exceed this fraction of the accounts present before the
    /// sync (and number at least [`SyncOptions::min_guarded_removals`]).
    pub max_removal_fraction: f64,
    /// Fewer removals than this are never withheld.
    pub min_guarded_removals: usize,
    /// How long a withheld removal must stay absent from every successful listing before a
    /// sync releases it; `None` leaves releasing to an admin.
    pub removal_guard_hold_seconds: Option<u64>,
}

/// The removal guard's hold when the configuration does not set one (24 hours,
/// docs/reference/sync.md#removal-guard).
pub const DEFAULT_REMOVAL_GUARD_HOLD_SECONDS: u64 = 24 * 3600;

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            max_removal_fraction: 0.5,
            min_guarded_removals: 5,
            removal_guard_hold_seconds: Some(DEFAULT_REMOVAL_GUARD_HOLD_SECONDS),
        }
    }
}

/// The sync being planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncContext {
    pub system: SystemId,
    pub sync_id: String,
    pub started_at: Timestamp,
}

impl SyncContext {
    /// The next sync of `system`, numbered after the syncs `state` has seen finish.
    pub fn next(system: &SystemId, state: &SystemState, started_at: Timestamp) -> Self {
        SyncContext {
            system: system.clone(),
            sync_id: format!("{system}-{:06}", state.syncs_finished + 1),
            started_at,
        }
    }
}

/// How a sync ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    Completed {
        accounts_observed: u64,
        /// Events appended besides `SyncCompleted`.
        events_appended: u64,
        /// Whether the removal guard withheld removals.
        anomaly: bool,
        /// The parts of the sync that could not be listed (each recorded as its own
        /// `SyncFailed`), in order.
        not_listed: Vec<Coverage>,
    },
    Failed {
        error_class: SyncErrorClass,
        message: String,
    },
}

/// How a sync ended, in words: `completed: …` or `FAILED (class): message`.
impl std::fmt::Display for SyncOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncOutcome::Completed {
                accounts_observed,
                events_appended,
                anomaly,
                not_listed,
            } => {
                write!(
                    f,
                    "completed: {accounts_observed} accounts observed, {events_appended} change(s) recorded{}",
                    if *anomaly { ", removals withheld" } else { "" }
                )?;
                if !not_listed.is_empty() {
                    let parts: Vec<&str> = not_listed.iter().map(|part| part.as_str()).collect();
                    write!(f, "; not listed: {}", parts.join(", "))?;
                }
                Ok(())
            }
            SyncOutcome::Failed {
                error_class,
                message,
            } => write!(f, "FAILED ({error_class}): {message}"),
        }
    }
}

/// What one successful fetch observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub listing: Listing,
    /// The credential in use, if its metadata could be read.
    pub credential: Option<CredentialState>,
    /// The devices, unless listing them is switched off.
    pub devices: Part<DeviceSnapshot>,
    /// The keys, unless listing them is switched off.
    pub keys: Part<KeySnapshot>,
    /// The audit log's entries about users, devices and keys, unless reading it is switched
    /// off, in the log's order.
    pub audit_log: Option<Result<Vec<AttributedChange>, FetchError>>,
}

impl Observation {
    /// An observation of the users (and credential) alone, its other parts switched off.
    pub fn of_users(listing: Listing, credential: Option<CredentialState>) -> Self {
        Observation {
            listing,
            credential,
            devices: None,
            keys: None,
            audit_log: None,
        }
    }
}

/// The batch a successful fetch appends, ending with `SyncCompleted`, and its outcome.
pub fn plan_sync(
    state: &SystemState,
    observation: &Observation,
    context: &SyncContext,
    now: Timestamp,
    options: &SyncOptions,
) -> (Vec<Event>, SyncOutcome) {
    let system = &context.system;
    let listing = &observation.listing;
    let mut events = Vec::new();
    let mut unlisted = Vec::new();
    // The accounts present before the sync, counted on the way rather than in another pass.
    let mut accounts_before = 0;
    for joined in listing.join(&state.accounts) {
        match joined {
            Joined::Listed(listed, known) => {
                accounts_before += usize::from(known.is_some_and(|known| known.present));
                account_events(&mut events, system, known, listed);
            }
            Joined::Unlisted(known) => unlisted.extend(known.present.then_some(known)),
        }
    }
    accounts_before += unlisted.len();
    let (released, removed): (Vec<&AccountState>, Vec<&AccountState>) = unlisted
        .into_iter()
        .partition(|known| hold_passed(state, &known.snapshot.id, context.started_at, options));
    events.extend(
        released
            .into_iter()
            .map(|account| user_removed(system, state, account)),
    );
    let anomaly = is_suspicious(removed.len(), accounts_before, options);
    if anomaly {
        events.push(Event::SyncAnomaly {
            system: system.clone(),
            sync_id: context.sync_id.clone(),
            accounts_before: accounts_before as u64,
            removals_withheld: removed.len() as u64,
            withheld_account_ids: removed.iter().map(|a| a.snapshot.id.clone()).collect(),
        });
    } else {
        events.extend(
            removed
                .into_iter()
                .map(|account| user_removed(system, state, account)),
        );
    }

    events.extend(plan_leftovers(&state.leftovers, observation, context, now));

    if let Some(observed) = &observation.credential
        && let credential = credential_seen(state.credential.as_ref(), observed)
        && state.credential.as_ref() != Some(&credential)
    {
        events.push(Event::CredentialObserved {
            system: system.clone(),
            credential_id: credential.id.clone(),
            credential_kind: credential.kind,
            expires_at: credential.expires_at,
            invalid: credential.invalid.then_some(true),
        });
    }

    let events_appended = events.len() as u64;
    events.push(Event::SyncCompleted {
        system: system.clone(),
        sync_id: context.sync_id.clone(),
        started_at: context.started_at,
        finished_at: now,
        accounts_observed: listing.len() as u64,
        listing_sha256: listing.sha256(),
        events_appended,
    });
    let not_listed = [
        (
            Coverage::Devices,
            matches!(observation.devices, Some(Err(_))),
        ),
        (Coverage::Keys, matches!(observation.keys, Some(Err(_)))),
        (
            Coverage::AuditLog,
            matches!(observation.audit_log, Some(Err(_))),
        ),
    ]
    .into_iter()
    .filter_map(|(coverage, failed)| failed.then_some(coverage))
    .collect();
    let outcome = SyncOutcome::Completed {
        accounts_observed: listing.len() as u64,
        events_appended,
        anomaly,
        not_listed,
    };
    (events, outcome)
}

/// The `UserRemoved` of `account`; a removal the guard withheld says when it was first observed.
pub fn user_removed(system: &SystemId, state: &SystemState, account: &AccountState) -> Event {
    Event::UserRemoved {
        system: system.clone(),
        account_id: account.snapshot.id.clone(),
        login_name: account.snapshot.login_name.clone(),
        observed_at: state
            .withheld
            .get(&account.snapshot.id)
            .map(|withheld| withheld.observed_at),
    }
}

/// Whether the removal of `account_id` is withheld, and has been absent from every successful
/// listing for the guard's hold by the sync that starts at `started_at`.
fn hold_passed(
    state: &SystemState,
    account_id: &str,
    started_at: Timestamp,
    options: &SyncOptions,
) -> bool {
    let (Some(withheld), Some(hold)) = (
        state.withheld.get(account_id),
        options.removal_guard_hold_seconds,
    ) else {
        return false;
    };
    let hold = i64::try_from(hold).unwrap_or(i64::MAX);
    started_at >= withheld.observed_at.saturating_add_seconds(hold)
}

/// The batch a failed sync appends: `SyncFailed` alone, so no account state changes.
pub fn plan_failure(
    context: &SyncContext,
    now: Timestamp,
    error: FetchError,
) -> (Vec<Event>, SyncOutcome) {
    let event = Event::SyncFailed {
        system: context.system.clone(),
        sync_id: context.sync_id.clone(),
        started_at: context.started_at,
        finished_at: now,
        error_class: error.class,
        message: error.message.clone(),
    };
    let outcome = SyncOutcome::Failed {
        error_class: error.class,
        message: error.message,
    };
    (vec![event], outcome)
}

/// What `observed` says about the credential, given what was `recorded`. An API token always
/// expires, so a lookup of the same token that gives no expiry means the expiry is unknown, not
/// that there is none: the known expiry (and the warning it leads to) stays.
fn credential_seen(
    recorded: Option<&CredentialState>,
    observed: &CredentialState,
) -> CredentialState {
    let mut seen = observed.clone();
    if let Some(recorded) = recorded
        && observed.kind == CredentialKind::ApiToken
        && observed.expires_at.is_none()
        && recorded.id == observed.id
        && recorded.kind == observed.kind
    {
        seen.expires_at = recorded.expires_at;
    }
    seen
}

/// Adds the events that one listed account means, given what was known of it.
fn account_events(
    events: &mut Vec<Event>,
    system: &SystemId,
    known: Option<&AccountState>,
    listed: &AccountSnapshot,
) {
    let seen = || Event::UserSeen {
        system: system.clone(),
        account: listed.clone(),
    };
    let Some(known) = known.filter(|known| known.present) else {
        // New or reappearing: the snapshot carries the role and status it has now.
        events.push(seen());
        return;
    };
    let before = &known.snapshot;
    if before.role != listed.role {
        events.push(Event::RoleChanged {
            system: system.clone(),
            account_id: listed.id.clone(),
            login_name: listed.login_name.clone(),
            from: before.role.clone(),
            to: listed.role.clone(),
        });
    }
    if StatusClass::of(&before.status) != StatusClass::of(&listed.status) {
        events.push(Event::StatusChanged {
            system: system.clone(),
            account_id: listed.id.clone(),
            login_name: listed.login_name.clone(),
            from: before.status.clone(),
            to: listed.status.clone(),
        });
    }
    let identity_changed = before.login_name != listed.login_name
        || before.display_name != listed.display_name
        || before.account_type != listed.account_type;
    if identity_changed {
        // The snapshot keeps the recorded status when only its class-internal value moved
        // (active ↔ idle), so that replaying it does not look like a status change.
        let mut account = listed.clone();
        if StatusClass::of(&before.status) == StatusClass::of(&listed.status) {
            account.status = before.status.clone();
        }
        events.push(Event::UserSeen {
            system: system.clone(),
            account,
        });
    }
}

/// The removal guard: at least `min_guarded_removals` removals that are also more than
/// `max_removal_fraction` of the accounts present before the sync.
fn is_suspicious(removals: usize, accounts_before: usize, options: &SyncOptions) -> bool {
    removals >= options.min_guarded_removals
        && removals as f64 > options.max_removal_fraction * accounts_before as f64
}
