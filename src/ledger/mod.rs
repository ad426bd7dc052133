//! The ledger: the only writer of the hash chain, and what its events add up to.
//!
//! [`Ledger`] owns the [`Log`] (the hash chain over the store), the projections folded from it,
//! their checkpoints and the point-in-time reads. Every append goes through
//! [`Ledger::append`] or [`Ledger::decide_and_append`], which apply the new entries to the
//! projections before the next append can start, so the projections always describe a prefix of
//! the log and catch up with each batch in order. A batch the store could not write is never
//! applied, and the store is opened again before the next append ([`Reopen`]).
//!
//! The raw append of the log is private to this module, and the log never hands out its store
//! (a `Store` can append too), so code outside `ledger/` cannot write behind the projections'
//! back:
//!
//! ```compile_fail,E0624
//! use tailledger::event::{Actor, Event};
//! use tailledger::ledger::Ledger;
//! use tailledger::time::Timestamp;
//!
//! let ledger = Ledger::in_memory();
//! // `Log::append` is private to `ledger/`: this does not compile.
//! ledger.log().append(Timestamp::UNIX_EPOCH, Actor::Demo, Vec::<Event>::new());
//! ```
//!
//! ```compile_fail,E0624
//! use tailledger::ledger::Log;
//!
//! let log = Log::in_memory();
//! // Neither does reaching the store to append to it.
//! let _ = log.store();
//! ```

mod ahead;
mod checkpoint;
mod log;
mod reopen;
mod tiles;
mod tree;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

pub use ahead::{Read, ReadAhead};
pub use checkpoint::CHECKPOINT_MIN_INTERVAL;
pub use log::{Appended, Log, SEGMENT};
pub use reopen::{Reopen, SledReopen};
pub use tree::{InclusionProof, ProofError};

use crate::event::{Actor, Event};
use crate::projection::Projections;
use crate::skew::{self, ClockBehind, DEFAULT_MAX_CLOCK_SKEW};
use crate::store::{Checkpointed, Store as _, StoreError};
use crate::time::Timestamp;

/// Why a decided batch was not appended: the store failed, or the clock reads too far before
/// the last entry to stamp it.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ClockBehind(#[from] ClockBehind),
}

/// What the writer lock guards.
struct Writer {
    /// The seq of the latest checkpoint.
    last_checkpoint: u64,
    /// The last seq the stored parts of the subject index cover without a gap: the next part
    /// holds the entries after it.
    indexed: u64,
    /// A durable batch could not be read back into the projections: they are rebuilt from the
    /// store before the next decision or append.
    behind: bool,
}

/// The log and what its events add up to: the one writer of a ledger.
pub struct Ledger {
    log: Log,
    projections: RwLock<Projections>,
    /// Held across a durable append and its application, so batches are applied in seq order.
    writer: Mutex<Writer>,
    /// The fewest entries between two checkpoints.
    checkpoint_min_interval: u64,
    /// `[server] max_clock_skew` in microseconds: how far before the last entry's instant the
    /// clock may read when a batch is decided.
    max_clock_skew: AtomicU64,
}

impl Ledger {
    /// Opens the durable ledger in `data_dir`, creating it if needed, with its projections.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::new(Log::open(data_dir)?)
    }

    /// Like [`Ledger::open`], with sled's page cache of `cache_capacity` bytes
    /// (`[store] cache_capacity`).
    pub fn open_with_cache(data_dir: &Path, cache_capacity: u64) -> Result<Self, StoreError> {
        Self::new(Log::open_with_cache(data_dir, cache_capacity)?)
    }

    /// A ledger that lives in memory only.
    pub fn in_memory() -> Self {
        // An empty log has nothing to replay, so this cannot fail.
        Self::new(Log::in_memory()).expect("an empty in-memory ledger projects")
    }

    /// Wraps a log, building its projections from the latest checkpoint and the entries after
    /// it.
    pub fn new(log: Log) -> Result<Self, StoreError> {
        Self::with_checkpoint_interval(log, CHECKPOINT_MIN_INTERVAL)
    }

    /// Like [`Ledger::new`], with checkpoints at least every `min_interval` entries (tests use a
    /// small one so that short histories exercise checkpoints).
    pub fn with_checkpoint_interval(log: Log, min_interval: u64) -> Result<Self, StoreError> {
        let head = log.head().map_or(0, |digest| digest.seq);
        let (projections, indexed) = checkpoint::at_seq(&log, head)?;
        let last_checkpoint = log
            .store()?
            .checkpoint_at_or_before(Checkpointed::Projections, head)?
            .map_or(0, |(seq, _)| seq);
        Ok(Ledger {
            log,
            projections: RwLock::new(projections),
            writer: Mutex::new(Writer {
                last_checkpoint,
                indexed,
                behind: false,
            }),
            checkpoint_min_interval: min_interval.max(1),
            max_clock_skew: AtomicU64::new(
                u64::try_from(DEFAULT_MAX_CLOCK_SKEW.as_micros()).unwrap_or(u64::MAX),
            ),
        })
    }

    /// How far the local clock may be from the last entry's instant, and from the `Date` of a
    /// source's answers (`[server] max_clock_skew`).
    pub fn max_clock_skew(&self) -> Duration {
        Duration::from_micros(self.max_clock_skew.load(Ordering::Relaxed))
    }

    /// Sets [`Ledger::max_clock_skew`].
    pub fn set_max_clock_skew(&self, tolerance: Duration) {
        let micros = u64::try_from(tolerance.as_micros()).unwrap_or(u64::MAX);
        self.max_clock_skew.store(micros, Ordering::Relaxed);
    }

    /// Appends one batch durably, then applies it to the projections, and takes a checkpoint
    /// when enough entries have passed since the last one. A batch that cannot be stored changes
    /// nothing: neither the head nor the projections; the next append first opens the store
    /// again (docs/reference/time-and-durability.md#append-failure).
    pub fn append(
        &self,
        recorded_at: Timestamp,
        actor: Actor,
        events: Vec<Event>,
    ) -> Result<Appended, StoreError> {
        let mut writer = self.lock_writer();
        self.catch_up(&mut writer)?;
        self.append_locked(&mut writer, recorded_at, actor, events)
    }

    /// The writer lock. What it guards is only replaced whole, so a poisoned lock is usable.
    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Brings the projections up to what is durable, when they may differ: after a failed
    /// append (the store is opened again, and a batch whose acknowledgement failed may turn out
    /// durable) or a batch that could not be read back.
    fn catch_up(&self, writer: &mut Writer) -> Result<(), StoreError> {
        let reopened = self.log.reopen_if_failed()?;
        if reopened.is_none() && !writer.behind {
            return Ok(());
        }
        let head = self.log.head();
        let (rebuilt, indexed) =
            checkpoint::at_seq(&self.log, head.map_or(0, |digest| digest.seq))?;
        writer.indexed = indexed;
        *self
            .projections
            .write()
            .unwrap_or_else(PoisonError::into_inner) = rebuilt;
        writer.behind = false;
        self.log.announce(head);
        Ok(())
    }

    /// Appends and applies a batch while the caller holds the writer lock.
    fn append_locked(
        &self,
        writer: &mut Writer,
        recorded_at: Timestamp,
        actor: Actor,
        events: Vec<Event>,
    ) -> Result<Appended, StoreError> {
        let appended = self.log.append(recorded_at, actor, events)?;
        let Some(last) = appended.last else {
            return Ok(appended);
        };
        let mut projections = self
            .projections
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if appended.is_whole() {
            appended
                .entries
                .iter()
                .for_each(|entry| projections.apply(entry));
        } else if let Err(error) = checkpoint::replay_until(&mut projections, &self.log, last.seq) {
            // The batch is durable; only the projections lack part of it. They are rebuilt
            // before anything else is decided or written, and the head is not announced until
            // they hold it.
            tracing::error!(
                "the batch up to seq {} is recorded, but could not be read back into the projections; they are rebuilt before the next write: {error}",
                last.seq
            );
            writer.behind = true;
            return Ok(appended);
        }
        let projections = std::sync::RwLockWriteGuard::downgrade(projections);
        self.log.announce(Some(last));
        if projections.last_seq() - writer.last_checkpoint
            >= checkpoint::interval(&projections, self.checkpoint_min_interval)
        {
            // The batch is durable already; a checkpoint that cannot be written only makes later
            // point-in-time reads replay more, so it is logged rather than failing the append.
            match checkpoint::save(&self.log, &projections, writer.indexed) {
                Ok(()) => {
                    writer.last_checkpoint = projections.last_seq();
                    writer.indexed = projections.last_seq();
                }
                Err(error) => tracing::warn!("could not store a projection checkpoint: {error}"),
            }
        }
        Ok(appended)
    }

    /// Decides a batch from the current projections and appends it, with no other append in
    /// between, so the decision cannot be made on stale state. `decide` returns the events and
    /// what it decided besides (a sync's outcome, an import's counts), or a refusal: a refusal
    /// appends nothing, and so does an empty batch. The outer error is the store's (or the
    /// clock's, [`ClockBehind`], when `now` reads further before the last entry's instant than
    /// [`Ledger::max_clock_skew`]: nothing is decided), the inner one the decision's, so a
    /// refusal is never mistaken for a storage failure. The batch is recorded at `now`, or at
    /// the last entry's instant when `now` is before it.
    pub fn decide_and_append<T, E>(
        &self,
        now: Timestamp,
        actor: Actor,
        decide: impl FnOnce(&Projections) -> Result<(Vec<Event>, T), E>,
    ) -> Result<Result<(Appended, T), E>, WriteError> {
        let mut writer = self.lock_writer();
        self.catch_up(&mut writer)?;
        let recorded_at = match self.log.head_recorded_at() {
            Some(head) => skew::stamp(now, head, self.max_clock_skew())?,
            None => now,
        };
        let (events, decided) = match self.read(decide) {
            Ok(decision) => decision,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let appended = self.append_locked(&mut writer, recorded_at, actor, events)?;
        Ok(Ok((appended, decided)))
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
    /// `None` means now. Projections of the past keep no subject index
    /// ([`Projections::subjects`] is `None`): a history is read from the live one.
    pub fn read_as_of<R>(
        &self,
        instant: Option<Timestamp>,
        read: impl FnOnce(&Projections) -> R,
    ) -> Result<R, StoreError> {
        let Some(instant) = instant else {
            return Ok(self.read(read));
        };
        let until = checkpoint::last_seq_recorded_by(&self.log, instant)?;
        let current = self.read(|projections| projections.last_seq());
        if until >= current {
            return Ok(self.read(read));
        }
        Ok(read(&checkpoint::for_checks_at_seq(&self.log, until)?))
    }

    /// The projections as of `instant` (the entries recorded at or before it, from the nearest
    /// checkpoint) and the entries after them in seq order, up to the head: what a reader folds
    /// to follow the state through a window that starts at `instant`. The projections keep no
    /// subject index ([`Projections::for_checks`]).
    pub fn state_and_entries_after(
        &self,
        instant: Timestamp,
    ) -> Result<
        (
            Projections,
            impl Iterator<Item = Result<Read, StoreError>> + use<>,
        ),
        StoreError,
    > {
        let until = checkpoint::last_seq_recorded_by(&self.log, instant)?;
        let projections = checkpoint::for_checks_at_seq(&self.log, until)?;
        Ok((projections, self.log.read_ahead(until + 1).entries()))
    }

    /// The log, for reads: pages, scans, the head and its subscribers, verification, export.
    pub fn log(&self) -> &Log {
        &self.log
    }
}

impl Log {
    /// The projections of the whole log, replayed from seq 1 without checkpoints: the plain
    /// replay that incremental and checkpointed projections are compared with.
    pub fn replay(&self) -> Result<Projections, StoreError> {
        let mut projections = Projections::default();
        checkpoint::replay_until(&mut projections, self, u64::MAX)?;
        Ok(projections)
    }

    /// The last seq recorded at or before `instant` (0 if none), found by binary search: the
    /// webhook receiver reads the deliveries of the last 25 hours from the one after it.
    pub fn last_seq_recorded_by(&self, instant: Timestamp) -> Result<u64, StoreError> {
        checkpoint::last_seq_recorded_by(self, instant)
    }

    /// The seq of the latest checkpoint at or before `seq`, if any (the benches look for the
    /// slowest point-in-time read with it).
    pub fn checkpoint_seq_at_or_before(&self, seq: u64) -> Result<Option<u64>, StoreError> {
        Ok(self
            .store()?
            .checkpoint_at_or_before(Checkpointed::Projections, seq)?
            .map(|(found, _)| found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SystemId;

    /// A batch longer than a segment is applied by reading it back from the store: the
    /// projections then equal a replay of the whole log, and the head is announced.
    #[test]
    fn a_batch_longer_than_a_segment_reaches_the_projections_whole() {
        let ledger = Ledger::in_memory();
        let heads = ledger.log().subscribe();
        let events = (0..SEGMENT + 10).map(|index| Event::AccountDeclassified {
            system: SystemId::tailscale(),
            account_id: format!("a{index}"),
            reason: "test".to_owned(),
        });
        let appended = ledger
            .append(Timestamp::UNIX_EPOCH, Actor::Demo, events.collect())
            .unwrap();
        assert!(!appended.is_whole());
        assert_eq!(*heads.borrow(), appended.last);
        let projections = ledger.read(Clone::clone);
        assert_eq!(projections.last_digest(), appended.last);
        assert_eq!(projections, ledger.log().replay().unwrap());
    }

    /// A subscriber that hears of a head and then reads the projections finds that head in them.
    #[test]
    fn subscribers_hear_of_a_head_once_the_projections_hold_it() {
        let ledger = Ledger::in_memory();
        let mut heads = ledger.log().subscribe();
        let entries = ledger
            .append(
                Timestamp::UNIX_EPOCH,
                Actor::Demo,
                vec![Event::AccountDeclassified {
                    system: SystemId::tailscale(),
                    account_id: "a".to_owned(),
                    reason: "test".to_owned(),
                }],
            )
            .unwrap();
        assert!(heads.has_changed().unwrap());
        let heard = *heads.borrow_and_update();
        assert_eq!(heard, Some(entries.entries[0].digest()));
        assert_eq!(ledger.read(|projections| projections.last_digest()), heard);
    }
}
