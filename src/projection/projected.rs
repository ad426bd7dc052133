//! A ledger together with its projections, kept in step on every append.

use std::sync::{Mutex, PoisonError, RwLock};

use super::Projections;
use crate::entry::Entry;
use crate::event::{Actor, Event};
use crate::ledger::Ledger;
use crate::store::StoreError;
use crate::time::Timestamp;

/// The ledger and what its events add up to. Every append goes through [`ProjectedLedger::append`],
/// which applies the new entries to the projections before the next append can start, so the
/// projections always describe a prefix of the ledger and catch up with each batch in order.
pub struct ProjectedLedger {
    ledger: Ledger,
    projections: RwLock<Projections>,
    /// Held across a durable append and its application, so batches are applied in seq order.
    writer: Mutex<()>,
}

impl ProjectedLedger {
    /// Wraps a ledger, building its projections by replay.
    pub fn new(ledger: Ledger) -> Result<Self, StoreError> {
        let projections = Projections::replay(&ledger)?;
        Ok(ProjectedLedger {
            ledger,
            projections: RwLock::new(projections),
            writer: Mutex::new(()),
        })
    }

    /// Appends one batch durably, then applies it to the projections.
    pub fn append(
        &self,
        recorded_at: Timestamp,
        actor: Actor,
        events: Vec<Event>,
    ) -> Result<Vec<Entry>, StoreError> {
        // The guarded unit carries no data, so a poisoned lock is as good as a clean one.
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let entries = self.ledger.append(recorded_at, actor, events)?;
        let mut projections = self
            .projections
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        entries.iter().for_each(|entry| projections.apply(entry));
        Ok(entries)
    }

    /// Reads the projections as of the last applied batch.
    pub fn read<R>(&self, read: impl FnOnce(&Projections) -> R) -> R {
        // `apply` cannot panic halfway in a way that matters: a poisoned lock still holds
        // projections of a ledger prefix, because each entry is applied whole.
        read(
            &self
                .projections
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// The underlying ledger, for reads and verification.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}
