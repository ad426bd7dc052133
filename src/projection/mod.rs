//! Projections: the state the ledger's events add up to, updated one entry at a time.
//!
//! `apply` is infallible and pure: every event that was appended is a fact, so applying it
//! can only change state, never fail. A projection built incrementally equals one rebuilt by
//! replaying the ledger from seq 1.

mod accounts;
mod projected;

use std::collections::BTreeMap;

pub use accounts::{AccountState, CredentialState, SystemState};
pub use projected::ProjectedLedger;

use crate::entry::Entry;
use crate::event::{Event, SystemId};
use crate::ledger::Ledger;
use crate::store::StoreError;

/// Everything the ledger knows, as of the last applied entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Projections {
    systems: BTreeMap<SystemId, SystemState>,
    /// The seq of the last applied entry (0 before any).
    last_seq: u64,
}

impl Projections {
    /// Replays the whole ledger.
    pub fn replay(ledger: &Ledger) -> Result<Self, StoreError> {
        let mut projections = Projections::default();
        for record in ledger.scan(1) {
            let (seq, entry) = record?;
            projections.apply(&entry.map_err(|source| StoreError::Corrupt { seq, source })?);
        }
        Ok(projections)
    }

    /// Folds one entry into the state.
    pub fn apply(&mut self, entry: &Entry) {
        self.last_seq = entry.seq;
        let system = match &entry.event {
            Event::UserSeen { system, .. }
            | Event::UserRemoved { system, .. }
            | Event::RoleChanged { system, .. }
            | Event::StatusChanged { system, .. }
            | Event::SyncCompleted { system, .. }
            | Event::SyncFailed { system, .. }
            | Event::SyncAnomaly { system, .. }
            | Event::CredentialObserved { system, .. } => system,
            _ => return,
        };
        self.systems.entry(system.clone()).or_default().apply(entry);
    }

    /// The state of one system (empty if nothing was recorded about it).
    pub fn system(&self, system: &SystemId) -> SystemState {
        self.systems.get(system).cloned().unwrap_or_default()
    }

    /// The seq of the last applied entry, 0 before any.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }
}
