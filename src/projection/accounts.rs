//! The state of one audited system: its accounts, the admins' statements about them (manual
//! links, classifications), its access policy, its credential, and the health of its syncs.

use std::collections::BTreeMap;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::entry::Entry;
use crate::event::{AccountSnapshot, Classification, CredentialKind, Event, SyncErrorClass};
use crate::time::Timestamp;

use super::devices::{Attribution, Leftovers};
use super::lookup::{Lookup, login_key};

/// When and by which entry something was recorded: the evidence behind a piece of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub at: Timestamp,
    pub seq: u64,
}

impl Mark {
    pub fn of(entry: &Entry) -> Self {
        Mark {
            at: entry.recorded_at,
            seq: entry.seq,
        }
    }
}

/// A change in whether an account could have access: it appeared, disappeared, or its status
/// moved to another class. Kept per account so that access at any observation can be told
/// afterwards, whichever way `suspended_is_removed` is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChange {
    /// The entry that recorded the change, and when the change was observed: the entry's
    /// `recorded_at`, or for a withheld removal released later, its `observed_at`.
    pub mark: Mark,
    /// Whether the account was in the listing after the change.
    pub present: bool,
    /// The raw status after the change. Held inline (a status is a short word): an account
    /// keeps one per change for its whole life, and a heap copy each was a tenth of the
    /// projections' allocations and of the frees when they are dropped.
    pub status: CompactString,
    /// The last successful sync before the one that observed the change.
    pub previous_sync: Option<Mark>,
}

/// One account as last observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// The latest attributes; role and status follow `RoleChanged` and `StatusChanged`.
    pub snapshot: AccountSnapshot,
    /// Whether the account was in the last successful listing.
    pub present: bool,
    /// When the ledger first recorded the account.
    pub first_seen: Timestamp,
    /// When the ledger recorded the account's latest removal, while it is absent.
    pub removed_at: Option<Timestamp>,
    /// The entry that made the account present, the last time it became present.
    pub present_since: Mark,
    /// The entry that set the current role.
    pub role_since: Mark,
    /// The entry that set the current login name, which an auto link matches.
    pub login_since: Mark,
    /// The latest entry about this account.
    pub last_change: Mark,
    /// Every change of access, oldest first.
    pub access_changes: Vec<AccessChange>,
}

/// A link an admin set by hand from an account to an employee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualLink {
    pub employee_id: String,
    pub reason: String,
    pub since: Mark,
}

/// An admin's statement that an account is not a person on the roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassificationState {
    pub classification: Classification,
    pub owner_employee_id: Option<String>,
    pub reason: String,
    pub since: Mark,
}

/// A system's access policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyState {
    pub allowed_org_roles: Vec<String>,
    pub privileged_org_roles: Vec<String>,
    pub offboarding_grace_seconds: u64,
    pub since: Mark,
}

/// The credential a system integration was last seen using.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialState {
    pub id: String,
    pub kind: CredentialKind,
    pub expires_at: Option<Timestamp>,
    /// Whether the system reported the credential invalid (revoked or expired).
    pub invalid: bool,
}

/// A removal the removal guard withholds: the account is still counted as present until the
/// removal is released (by an admin, or when the guard's hold has passed) or the account is
/// listed again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithheldRemoval {
    pub login_name: String,
    /// The sync whose `SyncAnomaly` first withheld it, and that entry.
    pub sync_id: String,
    pub since: Mark,
    /// The start of the first sync that no longer listed the account.
    pub observed_at: Timestamp,
    /// The last successful sync that still listed it.
    pub previous_sync: Option<Mark>,
    /// The latest sync that withheld it; every successful sync since `sync_id` did.
    pub latest_sync_id: String,
}

/// A failed sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedSync {
    pub mark: Mark,
    pub error_class: SyncErrorClass,
    pub message: String,
}

/// What the ledger knows about one system.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemState {
    /// Every account ever seen, by the system's own id, including removed ones.
    pub accounts: BTreeMap<String, AccountState>,
    /// Manual links, by account id.
    pub links: BTreeMap<String, ManualLink>,
    /// Classifications, by account id.
    pub classifications: BTreeMap<String, ClassificationState>,
    /// When the latest manual link or classification of an account was withdrawn, by account id.
    pub identity_withdrawn: BTreeMap<String, Mark>,
    pub policy: Option<PolicyState>,
    pub credential: Option<CredentialState>,
    /// The entry that recorded the current credential.
    pub credential_since: Option<Mark>,
    /// How many syncs have finished, successfully or not.
    pub syncs_finished: u64,
    pub last_completed_sync: Option<Mark>,
    /// The latest sync, if it failed.
    pub last_failed_sync: Option<FailedSync>,
    /// Removals the removal guard withholds, by account id.
    pub withheld: BTreeMap<String, WithheldRemoval>,
    /// The `SyncAnomaly` entries that withheld any of them, by sync id.
    pub withholding_syncs: BTreeMap<String, Mark>,
    /// The first entry about this system.
    pub first_recorded: Option<Mark>,
    /// Its devices and keys, and the parts of the listing the last sync could not read.
    pub leftovers: Leftovers,
    /// The ids in `accounts` by login name, lower-cased.
    logins: Lookup,
}

/// The offboarding grace period when no policy says otherwise (24 hours,
/// docs/reference/checks.md#durations).
pub const DEFAULT_GRACE_SECONDS: u64 = 24 * 3600;

impl SystemState {
    /// The offboarding grace period in force: the policy's, or the default.
    pub fn offboarding_grace_seconds(&self) -> u64 {
        self.policy
            .as_ref()
            .map_or(DEFAULT_GRACE_SECONDS, |policy| {
                policy.offboarding_grace_seconds
            })
    }

    /// The accounts in the last successful listing.
    pub fn present_accounts(&self) -> impl Iterator<Item = &AccountState> {
        self.accounts.values().filter(|account| account.present)
    }

    /// The accounts whose login name is `login_name`, compared case-insensitively, removed ones
    /// included, in id order: usually one, but an account removed keeps its last login name,
    /// which a new account may take.
    pub fn accounts_with_login(
        &self,
        login_name: &str,
    ) -> impl DoubleEndedIterator<Item = &AccountState> {
        self.logins
            .ids(&login_key(login_name))
            .filter_map(|id| self.accounts.get(id))
    }

    pub(super) fn apply(&mut self, entry: &Entry) {
        let mark = Mark::of(entry);
        self.first_recorded.get_or_insert(mark);
        match &entry.event {
            Event::UserSeen { account, .. } => self.seen(account, mark),
            Event::UserRemoved {
                account_id,
                observed_at,
                ..
            } => {
                let withheld = self.withheld.remove(account_id);
                let previous_sync = match &withheld {
                    Some(withheld) => withheld.previous_sync,
                    None => self.last_completed_sync,
                };
                if let Some(known) = self.accounts.get_mut(account_id) {
                    known.present = false;
                    known.removed_at = Some(mark.at);
                    known.last_change = mark;
                    let observed = Mark {
                        at: observed_at.unwrap_or(mark.at),
                        seq: mark.seq,
                    };
                    known.record_access_change(observed, previous_sync);
                }
                self.forget_finished_withholdings();
            }
            Event::RoleChanged { account_id, to, .. } => {
                if let Some(known) = self.accounts.get_mut(account_id) {
                    // Into the old value's buffer: a role or status rarely outgrows it.
                    known.snapshot.role.clone_from(to);
                    known.role_since = mark;
                    known.last_change = mark;
                }
            }
            Event::StatusChanged { account_id, to, .. } => {
                let previous_sync = self.last_completed_sync;
                if let Some(known) = self.accounts.get_mut(account_id) {
                    known.snapshot.status.clone_from(to);
                    known.last_change = mark;
                    known.record_access_change(mark, previous_sync);
                }
            }
            Event::AccountLinked {
                account_id,
                employee_id,
                reason,
                ..
            } => {
                self.links.insert(
                    account_id.clone(),
                    ManualLink {
                        employee_id: employee_id.clone(),
                        reason: reason.clone(),
                        since: mark,
                    },
                );
            }
            Event::AccountUnlinked { account_id, .. } => {
                self.links.remove(account_id);
                self.identity_withdrawn.insert(account_id.clone(), mark);
            }
            Event::AccountClassified {
                account_id,
                classification,
                owner_employee_id,
                reason,
                ..
            } => {
                self.classifications.insert(
                    account_id.clone(),
                    ClassificationState {
                        classification: *classification,
                        owner_employee_id: owner_employee_id.clone(),
                        reason: reason.clone(),
                        since: mark,
                    },
                );
            }
            Event::AccountDeclassified { account_id, .. } => {
                self.classifications.remove(account_id);
                self.identity_withdrawn.insert(account_id.clone(), mark);
            }
            Event::AccessPolicySet {
                allowed_org_roles,
                privileged_org_roles,
                offboarding_grace_seconds,
                ..
            } => {
                self.policy = Some(PolicyState {
                    allowed_org_roles: allowed_org_roles.clone(),
                    privileged_org_roles: privileged_org_roles.clone(),
                    offboarding_grace_seconds: *offboarding_grace_seconds,
                    since: mark,
                });
            }
            Event::CredentialObserved {
                credential_id,
                credential_kind,
                expires_at,
                invalid,
                ..
            } => {
                self.credential = Some(CredentialState {
                    id: credential_id.clone(),
                    kind: *credential_kind,
                    expires_at: *expires_at,
                    invalid: *invalid == Some(true),
                });
                self.credential_since = Some(mark);
            }
            Event::SyncCompleted {
                sync_id,
                started_at,
                ..
            } => {
                self.leftovers.sync_completed(sync_id, *started_at);
                self.syncs_finished += 1;
                self.last_completed_sync = Some(mark);
                self.last_failed_sync = None;
                // A withheld account that this sync did not withhold again was listed again, or
                // its removal was recorded: either way it is no longer withheld.
                self.withheld
                    .retain(|_, withheld| withheld.latest_sync_id == *sync_id);
                for withheld in self.withheld.values_mut() {
                    if withheld.sync_id == *sync_id {
                        withheld.observed_at = *started_at;
                    }
                }
                self.forget_finished_withholdings();
            }
            Event::SyncFailed {
                sync_id,
                error_class,
                message,
                ..
            } => {
                let failed = FailedSync {
                    mark,
                    error_class: *error_class,
                    message: message.clone(),
                };
                // A part of a sync that failed leaves the sync itself to its `SyncCompleted`.
                if !self.leftovers.part_failed(sync_id, &failed) {
                    self.syncs_finished += 1;
                    self.last_failed_sync = Some(failed);
                }
            }
            // Withheld removals change no account: the accounts stay present until the removal
            // is released or the account is listed again. When the anomaly's sync first missed
            // the account is its `SyncCompleted`'s `started_at`, which follows in the batch.
            Event::SyncAnomaly {
                sync_id,
                withheld_account_ids,
                ..
            } => {
                for account_id in withheld_account_ids {
                    let Some(account) = self.accounts.get(account_id) else {
                        continue;
                    };
                    let withheld = self.withheld.entry(account_id.clone()).or_insert_with(|| {
                        WithheldRemoval {
                            login_name: account.snapshot.login_name.clone(),
                            sync_id: sync_id.clone(),
                            since: mark,
                            observed_at: mark.at,
                            previous_sync: self.last_completed_sync,
                            latest_sync_id: sync_id.clone(),
                        }
                    });
                    withheld.latest_sync_id = sync_id.clone();
                }
                self.withholding_syncs.insert(sync_id.clone(), mark);
            }
            // The `UserRemoved` events of the same batch release the accounts.
            Event::RemovalsConfirmed { .. } => {}
            // Facts about employees: `Employees::apply` folds them. Listed, not wildcarded, so
            // that a new event is a compile error here until someone decides what it means.
            Event::EmployeeOnboarded { .. }
            | Event::EmployeeUpdated { .. }
            | Event::EmployeeOffboarded { .. }
            | Event::EmployeeReinstated { .. }
            | Event::RosterRejected { .. }
            | Event::RosterAccepted { .. } => {}
            // A webhook delivery is a reason to sync, not a fact about an account.
            Event::WebhookReceived { .. } => {}
            // Settings are kept with their history beside the systems (`settings.rs`).
            Event::SettingsChanged { .. } => {}
            // Exceptions are kept beside the systems (`exceptions.rs`), for the checks to read.
            Event::ExceptionGranted { .. } | Event::ExceptionRevoked { .. } => {}
            // Reviews are kept beside the systems (`reviews.rs`); a decision changes no account,
            // a later sync does.
            Event::AccessReviewStarted { .. }
            | Event::AccessReviewDecided { .. }
            | Event::AccessReviewCompleted { .. }
            | Event::AccessReviewReviewerReassigned { .. }
            | Event::AccessReviewCancelled { .. } => {}
            // An alert delivery says who was told, not what changed.
            Event::AlertDelivered { .. } | Event::WitnessRefused { .. } => {}
            Event::DeviceSeen { device, .. } | Event::DeviceChanged { device, .. } => {
                self.leftovers.device_listed(device, mark)
            }
            Event::DeviceRemoved { device_id, .. } => {
                self.leftovers.device_removed(device_id, mark)
            }
            Event::KeySeen { key, .. } | Event::KeyChanged { key, .. } => {
                self.leftovers.key_listed(key, mark)
            }
            Event::KeyRemoved { key_id, .. } => self.leftovers.key_removed(key_id, mark),
            Event::ChangeAttributed {
                event_time,
                event_group_id,
                actor,
                action,
                target,
                error,
                ..
            } => self.leftovers.change_attributed(
                Attribution {
                    event_time: *event_time,
                    actor: actor.clone(),
                    action: action.clone(),
                    target: target.clone(),
                    failed: error.is_some(),
                    mark,
                },
                event_group_id,
            ),
        }
    }

    /// Drops the anomalies older than every removal still withheld: no account they withheld
    /// is withheld any more.
    fn forget_finished_withholdings(&mut self) {
        let oldest = self
            .withheld
            .values()
            .map(|withheld| withheld.since.seq)
            .min();
        self.withholding_syncs
            .retain(|_, mark| oldest.is_some_and(|oldest| mark.seq >= oldest));
    }

    fn seen(&mut self, account: &AccountSnapshot, mark: Mark) {
        let previous_sync = self.last_completed_sync;
        match self.accounts.get_mut(&account.id) {
            Some(known) => {
                let reappeared = !known.present;
                let status_changed = known.snapshot.status != account.status;
                if known.snapshot.role != account.role || reappeared {
                    known.role_since = mark;
                }
                if reappeared {
                    known.present_since = mark;
                }
                if known.snapshot.login_name != account.login_name {
                    known.login_since = mark;
                    self.logins.file(
                        &account.id,
                        Some(&login_key(&known.snapshot.login_name)),
                        &login_key(&account.login_name),
                    );
                }
                known.snapshot = account.clone();
                known.present = true;
                known.removed_at = None;
                known.last_change = mark;
                if reappeared || status_changed {
                    known.record_access_change(mark, previous_sync);
                }
            }
            None => {
                let mut state = AccountState {
                    snapshot: account.clone(),
                    present: true,
                    first_seen: mark.at,
                    removed_at: None,
                    present_since: mark,
                    role_since: mark,
                    login_since: mark,
                    last_change: mark,
                    access_changes: Vec::new(),
                };
                state.record_access_change(mark, previous_sync);
                self.logins
                    .file(&account.id, None, &login_key(&account.login_name));
                self.accounts.insert(account.id.clone(), state);
            }
        }
    }
}

impl AccountState {
    fn record_access_change(&mut self, mark: Mark, previous_sync: Option<Mark>) {
        self.access_changes.push(AccessChange {
            mark,
            present: self.present,
            status: CompactString::from(self.snapshot.status.as_str()),
            previous_sync,
        });
    }
}
