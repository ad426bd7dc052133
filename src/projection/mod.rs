//! Projections: the state the ledger's events add up to, a pure fold over the entries it is
//! handed.
//!
//! `apply` is infallible and pure: every event that was appended is a fact, so applying it
//! can only change state, never fail. Nothing here reads the store or the clock: `ledger/` hands
//! the entries in, in seq order. A projection built incrementally equals one rebuilt by
//! replaying the ledger from seq 1 (a property test holds this).

mod accounts;
mod devices;
mod employees;
mod exceptions;
mod lookup;
mod reviews;
mod roster_sources;
mod settings;
mod subjects;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use accounts::{
    AccessChange, AccountState, ClassificationState, CredentialState, DEFAULT_GRACE_SECONDS,
    FailedSync, ManualLink, Mark, PolicyState, SystemState, WithheldRemoval,
};
pub use devices::{Attribution, DeviceState, KeyState, Leftovers, MissingCoverage};
pub use employees::{EmployeeState, EmployeeStatus, Employees, Offboarding, RosterRejection};
pub use exceptions::{ExceptionState, Exceptions};
pub use lookup::lowercase;
pub use reviews::{DecisionState, ReviewState, Reviews};
pub use roster_sources::{RosterSources, Said, Statement, source_of};
pub use settings::{InForce, SettingsHistory};
pub use subjects::{SubjectIndex, Subjects, subjects_of};

use crate::entry::Entry;
use crate::event::{Event, SystemId};
use crate::hash::{Digest, Hash256};

/// Everything the ledger knows, as of the last applied entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projections {
    systems: BTreeMap<SystemId, SystemState>,
    employees: Employees,
    /// The settings recorded per system, with their history.
    settings: BTreeMap<SystemId, SettingsHistory>,
    /// Every exception granted, with its revocation.
    exceptions: Exceptions,
    /// Every access review started, with its decisions and completion.
    reviews: Reviews,
    /// The last applied entry, if any.
    last: Option<Mark>,
    /// The hash of the last applied entry.
    last_hash: Option<Hash256>,
    /// The entries about each account and employee, for `GetHistory`. Not in the projections'
    /// checkpoint: it grows with every entry, so it is checkpointed apart, in parts
    /// ([`Projections::subjects_after`]), and given back with [`Projections::with_subjects`].
    #[serde(skip)]
    subjects: SubjectIndex,
    /// Whether `subjects` is empty and not kept: set by [`Projections::for_checks`], and true
    /// of projections read from a checkpoint until their index is given back.
    #[serde(skip, default = "without_subjects")]
    for_checks: bool,
}

/// Projections read from a checkpoint hold no subject index until it is given back.
fn without_subjects() -> bool {
    true
}

impl Projections {
    /// Folds one entry into the state.
    pub fn apply(&mut self, entry: &Entry) {
        self.last = Some(Mark::of(entry));
        self.last_hash = Some(entry.hash);
        if !self.for_checks {
            self.subjects.apply(entry.seq, &entry.event);
        }
        match &entry.event {
            Event::UserSeen { system, .. }
            | Event::UserRemoved { system, .. }
            | Event::RoleChanged { system, .. }
            | Event::StatusChanged { system, .. }
            | Event::AccountLinked { system, .. }
            | Event::AccountUnlinked { system, .. }
            | Event::AccountClassified { system, .. }
            | Event::AccountDeclassified { system, .. }
            | Event::AccessPolicySet { system, .. }
            | Event::SyncCompleted { system, .. }
            | Event::SyncFailed { system, .. }
            | Event::SyncAnomaly { system, .. }
            | Event::CredentialObserved { system, .. }
            | Event::RemovalsConfirmed { system, .. }
            | Event::DeviceSeen { system, .. }
            | Event::DeviceChanged { system, .. }
            | Event::DeviceRemoved { system, .. }
            | Event::KeySeen { system, .. }
            | Event::KeyChanged { system, .. }
            | Event::KeyRemoved { system, .. }
            | Event::ChangeAttributed { system, .. } => self.system_mut(system).apply(entry),
            Event::EmployeeOnboarded { .. }
            | Event::EmployeeUpdated { .. }
            | Event::EmployeeOffboarded { .. }
            | Event::EmployeeReinstated { .. }
            | Event::RosterRejected { .. }
            | Event::RosterAccepted { .. } => self.employees.apply(entry),
            // A delivery changes no state: the sync it starts records what changed. The
            // receiver's memory of recent deliveries is read from the log, not kept here.
            Event::WebhookReceived { .. } => {}
            // A delivery changes no state: the alerts read who was told from the log.
            Event::AlertDelivered { .. } => {}
            // A refusal changes no state: the witness client's live status raises the finding.
            Event::WitnessRefused { .. } => {}
            Event::SettingsChanged {
                system, settings, ..
            } => self
                .settings
                .entry(system.clone())
                .or_default()
                .record(Mark::of(entry), settings),
            Event::ExceptionGranted {
                exception_id,
                system,
                check_id,
                account_id,
                employee_id,
                reason,
                evidence_ref,
                expires_at,
            } => self.exceptions.grant(ExceptionState {
                exception_id: exception_id.clone(),
                system: system.clone(),
                check_id: check_id.clone(),
                account_id: account_id.clone(),
                employee_id: employee_id.clone(),
                reason: reason.clone(),
                evidence_ref: evidence_ref.clone(),
                expires_at: *expires_at,
                granted: Mark::of(entry),
                revoked: None,
            }),
            Event::ExceptionRevoked {
                exception_id,
                reason,
                ..
            } => self
                .exceptions
                .revoke(exception_id, Mark::of(entry), reason),
            Event::AccessReviewStarted {
                review_id,
                system,
                pinned_seq,
                scope,
                population_sha256,
                population,
                due_at,
                reviewers,
                action_grace_seconds,
                interval_seconds,
                ..
            } => self.reviews.start(
                ReviewState {
                    reassignments: Vec::new(),
                    cancelled: None,
                    review_id: review_id.clone(),
                    system: system.clone(),
                    pinned_seq: *pinned_seq,
                    scope: *scope,
                    population_sha256: *population_sha256,
                    population: Vec::new(),
                    due_at: *due_at,
                    reviewers: reviewers.clone(),
                    action_grace_seconds: *action_grace_seconds,
                    interval_seconds: *interval_seconds,
                    started: Mark::of(entry),
                    decisions: Vec::new(),
                    completed: None,
                },
                population,
            ),
            Event::AccessReviewDecided {
                review_id,
                account_id,
                decision,
                reason,
                new_role,
                reviewer_employee_id,
                ..
            } => self.reviews.decide(
                review_id,
                DecisionState {
                    account_id: account_id.clone(),
                    decision: *decision,
                    reason: reason.clone(),
                    new_role: new_role.clone(),
                    reviewer_employee_id: reviewer_employee_id.clone(),
                    actor: entry.actor.clone(),
                    decided: Mark::of(entry),
                },
            ),
            Event::AccessReviewCompleted { review_id, .. } => {
                self.reviews.complete(review_id, Mark::of(entry))
            }
            Event::AccessReviewReviewerReassigned {
                review_id,
                from_employee_id,
                to_employee_id,
                ..
            } => {
                self.reviews
                    .reassign(review_id, from_employee_id, to_employee_id, Mark::of(entry))
            }
            Event::AccessReviewCancelled { review_id, .. } => {
                self.reviews.cancel(review_id, Mark::of(entry))
            }
        }
    }

    /// The state of one system, if anything was recorded about it.
    pub fn system(&self, system: &SystemId) -> Option<&SystemState> {
        self.systems.get(system)
    }

    /// The state of `system`, created empty the first time; a known system's id is looked up
    /// borrowed, since nearly every entry is about one and a clone would allocate per entry.
    fn system_mut(&mut self, system: &SystemId) -> &mut SystemState {
        if !self.systems.contains_key(system) {
            self.systems.insert(system.clone(), SystemState::default());
        }
        self.systems
            .get_mut(system)
            .expect("the system was just inserted")
    }

    /// The systems something was recorded about.
    pub fn systems(&self) -> impl Iterator<Item = &SystemId> {
        self.systems.keys()
    }

    /// The settings recorded for `system`, with their history.
    pub fn settings(&self, system: &SystemId) -> Option<&SettingsHistory> {
        self.settings.get(system)
    }

    /// Every exception granted, with its revocation: those in force at an instant, and the
    /// instants at which each lapses (`expires_at`, or its revocation).
    pub fn exceptions(&self) -> &Exceptions {
        &self.exceptions
    }

    /// Every access review started, with its population, decisions and completion.
    pub fn reviews(&self) -> &Reviews {
        &self.reviews
    }

    pub fn employees(&self) -> &Employees {
        &self.employees
    }

    /// The entries about each account and employee; `None` in projections folded
    /// [`Projections::for_checks`].
    pub fn subjects(&self) -> Option<&SubjectIndex> {
        (!self.for_checks).then_some(&self.subjects)
    }

    /// These projections without the per-subject index, which they stop keeping: for a fold
    /// whose product is the checks' answers (a timeline), which never read the index, and to
    /// which keeping it would add a third of applying each entry.
    pub fn for_checks(mut self) -> Self {
        self.subjects = SubjectIndex::default();
        self.for_checks = true;
        self
    }

    /// The subject index's part for the entries after seq `after`, which a checkpoint of the
    /// index keeps; `None` for projections that keep no index.
    pub fn subjects_after(&self, after: u64) -> Option<SubjectIndex> {
        self.subjects().map(|index| index.after(after))
    }

    /// These projections with `index` as their subject index: for projections read from a
    /// checkpoint, `index` must hold the subjects of every entry up to their last seq.
    pub fn with_subjects(mut self, index: SubjectIndex) -> Self {
        self.subjects = index;
        self.for_checks = false;
        self
    }

    /// The seq of the last applied entry, 0 before any.
    pub fn last_seq(&self) -> u64 {
        self.last.map_or(0, |mark| mark.seq)
    }

    /// The digest of the last applied entry: what an answer from these projections is based on.
    pub fn last_digest(&self) -> Option<Digest> {
        Some(Digest {
            seq: self.last?.seq,
            hash: self.last_hash?,
        })
    }

    /// How many accounts and employees the projections hold: the size of a checkpoint.
    pub fn size(&self) -> usize {
        self.employees.len()
            + self
                .systems
                .values()
                .map(|system| system.accounts.len())
                .sum::<usize>()
    }
}

#[cfg(test)]
impl Projections {
    /// The projections after `events`, one entry each, recorded at the epoch by the demo: the
    /// projection modules' unit tests start from these.
    pub(crate) fn after_events(events: Vec<Event>) -> Self {
        let mut projections = Projections::default();
        let mut previous = None;
        for event in events {
            let entry = Entry::seal(
                previous,
                crate::time::Timestamp::UNIX_EPOCH,
                crate::event::Actor::Demo,
                event,
            );
            previous = Some(entry.digest());
            projections.apply(&entry);
        }
        projections
    }
}
