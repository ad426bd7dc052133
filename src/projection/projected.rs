//! A ledger together with its projections, kept in step on every append, and readable as of any
//! past instant.

use std::sync::{Mutex, PoisonError, RwLock};

use super::{Projections, checkpoint};

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
    /// Held across a durable append and its application, so batches are applied in seq order;
    /// it guards the seq of the latest checkpoint.
    writer: Mutex<u64>,
    /// The fewest entries between two checkpoints.
    checkpoint_min_interval: u64,
}

impl ProjectedLedger {
    /// Wraps a ledger, building its projections from the latest checkpoint and the entries after
    /// it.
    pub fn new(ledger: Ledger) -> Result<Self, StoreError> {
        Self::with_checkpoint_interval(ledger, checkpoint::CHECKPOINT_MIN_INTERVAL)
    }

    /// Like [`ProjectedLedger::new`], with checkpoints at least every `min_interval` entries
    /// (tests use a small one so that short histories exercise checkpoints).
    pub fn with_checkpoint_interval(ledger: Ledger, min_interval: u64) -> Result<Self, StoreError> {
        let head = ledger.head().map_or(0, |digest| digest.seq);
        let projections = checkpoint::at_seq(&ledger, head)?;
        let last_checkpoint = ledger
            .store()
            .checkpoint_at_or_before(head)?
            .map_or(0, |(seq, _)| seq);
        Ok(ProjectedLedger {
            ledger,
            projections: RwLock::new(projections),
            writer: Mutex::new(last_checkpoint),
            checkpoint_min_interval: min_interval.max(1),
        })
    }

    /// Appends one batch durably, then applies it to the projections, and takes a checkpoint
    /// when enough entries have passed since the last one.
    pub fn append(
        &self,
        recorded_at: Timestamp,
        actor: Actor,
        events: Vec<Event>,
    ) -> Result<Vec<Entry>, StoreError> {
        // The guarded value is a plain seq, only replaced whole, so a poisoned lock is usable.
        let mut last_checkpoint = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.append_locked(&mut last_checkpoint, recorded_at, actor, events)
    }

    /// Appends and applies a batch while the caller holds the writer lock.
    fn append_locked(
        &self,
        last_checkpoint: &mut u64,
        recorded_at: Timestamp,
        actor: Actor,
        events: Vec<Event>,
    ) -> Result<Vec<Entry>, StoreError> {
        let entries = self.ledger.append(recorded_at, actor, events)?;
        let mut projections = self
            .projections
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        entries.iter().for_each(|entry| projections.apply(entry));
        let projections = std::sync::RwLockWriteGuard::downgrade(projections);
        if projections.last_seq() - *last_checkpoint
            >= checkpoint::interval(&projections, self.checkpoint_min_interval)
        {
            // The batch is durable already; a checkpoint that cannot be written only makes later
            // point-in-time reads replay more, so it is logged rather than failing the append.
            match checkpoint::save(&self.ledger, &projections) {
                Ok(()) => *last_checkpoint = projections.last_seq(),
                Err(error) => tracing::warn!("could not store a projection checkpoint: {error}"),
            }
        }
        Ok(entries)
    }

    /// Decides a batch from the current projections and appends it, with no other append in
    /// between, so the decision cannot be made on stale state. A refusal appends nothing; an
    /// empty decision appends nothing either.
    pub fn decide_and_append<E>(
        &self,
        recorded_at: Timestamp,
        actor: Actor,
        decide: impl FnOnce(&Projections) -> Result<Vec<Event>, E>,
    ) -> Result<Result<Vec<Entry>, E>, StoreError> {
        let mut last_checkpoint = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let events = match self.read(decide) {
            Ok(events) => events,
            Err(refusal) => return Ok(Err(refusal)),
        };
        self.append_locked(&mut last_checkpoint, recorded_at, actor, events)
            .map(Ok)
    }

    /// Reads the projections as of the last applied batch.
    pub fn read<R>(&self, read: impl FnOnce(&Projections) -> R) -> R {
        // A panic inside `apply` would be a bug; the projections it leaves behind still describe
        // whole entries, and reading them beats taking the service down.
        read(
            &self
                .projections
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Reads the projections as of `instant`: built from the entries recorded at or before it.
    /// `None` means now.
    pub fn read_as_of<R>(
        &self,
        instant: Option<Timestamp>,
        read: impl FnOnce(&Projections) -> R,
    ) -> Result<R, StoreError> {
        let Some(instant) = instant else {
            return Ok(self.read(read));
        };
        let until = checkpoint::last_seq_recorded_by(&self.ledger, instant)?;
        let current = self.read(|projections| projections.last_seq());
        if until >= current {
            return Ok(self.read(read));
        }
        Ok(read(&checkpoint::at_seq(&self.ledger, until)?))
    }

    /// The underlying ledger, for reads and verification.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}
