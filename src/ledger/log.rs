//! The log: the hash chain over a [`Store`], and the raw append that only [`super::Ledger`]
//! calls.
//!
//! The log seals each batch of events into entries (assigning gap-free seqs and chaining
//! hashes), has the store write them atomically and durably, and only then tells anyone: the
//! caller gets the entries back, and subscribers see the new head on a watch channel. Appends are
//! serialised by a mutex. `append` and `store` are visible inside `ledger/` only, so nothing
//! outside can write behind the projections' back; everything public here reads.
//!
//! A failed append changes nothing the log says
//! (docs/reference/time-and-durability.md#append-failure): the head stays at the last durable
//! entry, every read goes through a [`View`] bounded by it, and the log is marked as not writable
//! (a watch channel the health service follows) until an append succeeds again. Before the next
//! append, a log opened with a [`Reopen`] opens its store anew from what is durable
//! ([`reopen`](super::reopen) says why sled needs that).
//!
//! The log also keeps the Merkle tree over its entries (docs/reference/ledger.md#merkle-tree,
//! [`tree`](super::tree)): the nodes each segment of a batch completes are staged with that
//! segment's entries and become part of the tree only when the batch's head is committed, and the
//! tree's frontier moves with the head, so it too stays at the last durable entry when an append
//! fails.
//!
//! `recorded_at` never decreases along the seq: a batch stamped earlier than the entry before it
//! (a clock stepped back) is recorded at that entry's time instead. The entries recorded at or
//! before any instant are therefore a prefix of the ledger, which point-in-time reads rely on.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use tokio::sync::watch;

use crate::entry::Entry;
use crate::event::{Actor, Event};
use crate::export::{ExportError, export_to_file, write_export};
use crate::hash::Digest;
use crate::merkle::Frontier;
use crate::store::{
    CACHE_CAPACITY, MemoryStore, Scan, SledStore, Store, StoreError, scanned_entry,
};
use crate::time::Timestamp;
use crate::verify::{Report, verify_store};

use super::ahead::ReadAhead;
use super::reopen::{Reopen, SledReopen, View};
use super::tree;

/// The last entry's digest and recording time, and the tree up to it.
pub(super) struct Head {
    digest: Option<Digest>,
    recorded_at: Timestamp,
    /// The last append failed: the store may hold more in memory than is durable, and is opened
    /// again before the next append.
    failed: bool,
    /// The Merkle tree's frontier at `digest`; `None` until it is read from the store (at open,
    /// or when a reopened store's head moved), or while the tree cannot be built.
    tree: Option<Frontier>,
}

impl Head {
    pub(super) fn seq(&self) -> u64 {
        self.digest.map_or(0, |digest| digest.seq)
    }
}

/// How many entries of a batch are sealed and staged at a time. A longer batch (a large roster
/// import, the first sync of a large tailnet) is written a segment at a time and committed
/// once, so that its entries are never all in memory together
/// (docs/reference/time-and-durability.md#durability).
pub const SEGMENT: usize = 8_192;

/// What one append recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    /// The batch's entries: all of them when it holds at most [`SEGMENT`], else its first
    /// [`SEGMENT`] (the others are read from the ledger like any entry).
    pub entries: Vec<Entry>,
    /// The digest of the batch's last entry; `None` for an empty batch.
    pub last: Option<Digest>,
}

impl Appended {
    /// A whole batch of `entries`, as an answer that carries them describes it.
    pub fn whole(entries: Vec<Entry>) -> Self {
        Appended {
            last: entries.last().map(Entry::digest),
            entries,
        }
    }

    /// The seqs of the batch, first and last, unless it was empty.
    pub fn seqs(&self) -> Option<(u64, u64)> {
        Some((self.entries.first()?.seq, self.last?.seq))
    }

    /// How many entries of the batch [`Appended::entries`] leaves out.
    pub fn omitted(&self) -> u64 {
        self.seqs().map_or(0, |(first, last)| {
            last - first + 1 - self.entries.len() as u64
        })
    }

    /// Whether [`Appended::entries`] holds the whole batch.
    pub fn is_whole(&self) -> bool {
        self.omitted() == 0
    }
}

/// Seals `events` after `prev` and has `store` write them, a [`SEGMENT`] at a time with the
/// Merkle tree nodes each segment completes (grown on `frontier`), then commit them at once; a
/// small batch is one segment, which the store writes with its head in one step.
fn write(
    store: &dyn Store,
    prev: Option<Digest>,
    frontier: &mut Frontier,
    recorded_at: Timestamp,
    actor: &Actor,
    events: Vec<Event>,
) -> Result<Appended, StoreError> {
    let capacity = events.len().min(SEGMENT);
    let mut kept = Vec::new();
    let mut segment = Vec::with_capacity(capacity);
    let mut leaves = Vec::with_capacity(capacity);
    let mut last = prev;
    let mut events = events.into_iter();
    loop {
        for event in events.by_ref().take(SEGMENT) {
            let (entry, leaf) = Entry::seal_with_leaf_hash(last, recorded_at, actor.clone(), event);
            last = Some(entry.digest());
            segment.push(entry);
            leaves.push(leaf);
        }
        if segment.is_empty() {
            break;
        }
        let nodes = frontier.append(&leaves);
        leaves.clear();
        store.stage(&segment, &nodes)?;
        if kept.is_empty() {
            kept = std::mem::replace(&mut segment, Vec::with_capacity(capacity));
        } else {
            segment.clear();
        }
    }
    let last = last.filter(|_| !kept.is_empty());
    if let Some(last) = last {
        store.commit(last)?;
    }
    Ok(Appended {
        entries: kept,
        last,
    })
}

/// An append-only, hash-chained event log.
pub struct Log {
    /// The store; `None` after a reopening that failed, until one succeeds.
    store: RwLock<Option<Arc<dyn Store>>>,
    reopen: Option<Box<dyn Reopen>>,
    /// The head as of the last durable append; the mutex is also the writer lock.
    head: Mutex<Head>,
    appended: watch::Sender<Option<Digest>>,
    /// Whether the last append succeeded (or none was tried yet).
    writable: watch::Sender<bool>,
}

impl Log {
    /// Opens the durable ledger in `data_dir`, creating it if needed; after a failed append it is
    /// opened again there.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(data_dir, CACHE_CAPACITY)
    }

    /// Like [`Log::open`], with sled's page cache of `cache_capacity` bytes.
    pub fn open_with_cache(data_dir: &Path, cache_capacity: u64) -> Result<Self, StoreError> {
        Self::reopenable(Box::new(SledReopen {
            dir: data_dir.to_path_buf(),
            cache_capacity,
        }))
    }

    /// Opens the durable ledger in `data_dir`, which must already hold one.
    pub fn open_existing(data_dir: &Path) -> Result<Self, StoreError> {
        Self::with_store(Box::new(SledStore::open_existing(data_dir)?))
    }

    /// A ledger over the store `reopen` opens, opened by it again after a failed append.
    pub fn reopenable(reopen: Box<dyn Reopen>) -> Result<Self, StoreError> {
        let mut log = Self::with_store(reopen.open()?)?;
        log.reopen = Some(reopen);
        Ok(log)
    }

    /// Opens a private copy of the durable ledger in `data_dir`, leaving `data_dir` untouched:
    /// for readers of evidence, which must never change it
    /// (docs/reference/time-and-durability.md#offline-reads).
    pub fn open_copy(data_dir: &Path) -> Result<Self, StoreError> {
        Self::with_store(Box::new(SledStore::open_copy_of(data_dir)?))
    }

    /// Like [`Log::open_copy`], for verification: a store that lost acknowledged entries opens,
    /// for [`Log::verify`] to report the loss.
    pub fn open_copy_to_verify(data_dir: &Path) -> Result<Self, StoreError> {
        Self::with_store(Box::new(SledStore::open_copy_to_verify(data_dir)?))
    }

    /// A ledger that lives in memory only.
    pub fn in_memory() -> Self {
        // An empty in-memory store has no head to read, so this cannot fail.
        Self::with_store(Box::new(MemoryStore::new())).expect("a memory store opens")
    }

    /// A ledger over any store. A ledger written before the Merkle tree was kept has it built
    /// now; if it cannot be (an entry no longer decodes), the ledger still opens, for
    /// verification to report the entry, and refuses appends.
    pub fn with_store(store: Box<dyn Store>) -> Result<Self, StoreError> {
        let digest = store.head()?;
        // An unreadable last entry is for verification to report; it must not stop the ledger
        // from opening, so the floor for new timestamps falls back to the earliest instant.
        let recorded_at = digest
            .and_then(|head| store.get(head.seq).ok().flatten())
            .map_or(Timestamp::MIN, |entry| entry.recorded_at);
        let size = digest.map_or(0, |digest| digest.seq);
        let tree = tree::catch_up(&*store, size)
            .and_then(|()| tree::frontier_at(&*store, size))
            .inspect_err(|error| tracing::warn!("the ledger's Merkle tree is not usable: {error}"))
            .ok();
        Ok(Log {
            store: RwLock::new(Some(Arc::from(store))),
            reopen: None,
            head: Mutex::new(Head {
                digest,
                recorded_at,
                failed: false,
                tree,
            }),
            appended: watch::Sender::new(digest),
            writable: watch::Sender::new(true),
        })
    }

    /// The head digest, or `None` while the ledger is empty.
    pub fn head(&self) -> Option<Digest> {
        self.lock_head().digest
    }

    /// When the head was recorded; `None` while the log is empty.
    pub fn head_recorded_at(&self) -> Option<Timestamp> {
        let head = self.lock_head();
        head.digest.map(|_| head.recorded_at)
    }

    /// A receiver that sees whether the last append succeeded: false from a failed append until
    /// one succeeds again.
    pub fn writable(&self) -> watch::Receiver<bool> {
        self.writable.subscribe()
    }

    /// After a failed append, opens the store again from what is durable, once its medium takes
    /// writes. Returns the new head when the reopened store's differs from the log's (a batch
    /// whose acknowledgement failed turned out durable after all), so the ledger can rebuild its
    /// projections; `None` when nothing changed or there was nothing to do.
    pub(super) fn reopen_if_failed(&self) -> Result<Option<Option<Digest>>, StoreError> {
        let mut head = self.lock_head();
        let Some(reopen) = self.reopen.as_ref().filter(|_| head.failed) else {
            return Ok(None);
        };
        reopen.ready()?;
        let mut slot = self.store.write().unwrap_or_else(PoisonError::into_inner);
        // The old store must be closed (its file lock released) before it can be opened again.
        *slot = None;
        let store: Arc<dyn Store> = Arc::from(reopen.open()?);
        let digest = store.head()?;
        *slot = Some(store.clone());
        drop(slot);
        head.failed = false;
        if digest == head.digest {
            return Ok(None);
        }
        tracing::warn!(
            "the reopened ledger holds entries up to seq {} that were not acknowledged; they are kept, as after a crash",
            digest.map_or(0, |digest| digest.seq)
        );
        let recorded_at = digest
            .and_then(|digest| store.get(digest.seq).ok().flatten())
            .map_or(Timestamp::MIN, |entry| entry.recorded_at);
        head.digest = digest;
        head.recorded_at = recorded_at;
        // The reopened store's tree is read again for its head, when it is next needed.
        head.tree = None;
        Ok(Some(digest))
    }

    /// Seals `events` as one batch recorded at `recorded_at` (or at the previous entry's time, if
    /// that is later) by `actor`, writes it atomically and durably, and returns what it appended.
    /// An empty batch appends nothing. Only [`super::Ledger`] calls this, so that its projections
    /// see every batch.
    pub(super) fn append(
        &self,
        recorded_at: Timestamp,
        actor: Actor,
        events: Vec<Event>,
    ) -> Result<Appended, StoreError> {
        let mut head = self.lock_head();
        let recorded_at = recorded_at.max(head.recorded_at);
        if events.is_empty() {
            return Ok(Appended::default());
        }
        let mut frontier = self.frontier(&mut head)?.clone();
        let written = self.current_store().and_then(|store| {
            write(
                store.as_ref(),
                head.digest,
                &mut frontier,
                recorded_at,
                &actor,
                events,
            )
        });
        let appended = match written {
            Ok(appended) => appended,
            Err(error) => {
                tracing::error!(
                    "the ledger could not append a batch; nothing of it is recorded: {error}"
                );
                head.failed = true;
                self.writable.send_replace(false);
                return Err(error);
            }
        };
        if let Some(last) = appended.last {
            // The frontier moves only now, with the head, after a durable commit.
            *head = Head {
                digest: Some(last),
                recorded_at,
                failed: false,
                tree: Some(frontier),
            };
            self.writable
                .send_if_modified(|writable| !std::mem::replace(writable, true));
        }
        Ok(appended)
    }

    /// Tells subscribers that the head is now `digest`. Only [`super::Ledger`] calls it, once the
    /// projections hold everything up to it, so whoever hears of a new head and then reads the
    /// state sees that head in it.
    pub(super) fn announce(&self, digest: Option<Digest>) {
        self.appended.send_replace(digest);
    }

    /// The store in use, unless a reopening failed.
    fn current_store(&self) -> Result<Arc<dyn Store>, StoreError> {
        self.store
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(StoreError::Closed)
    }

    /// A receiver that sees the head after every durable append.
    pub fn subscribe(&self) -> watch::Receiver<Option<Digest>> {
        self.appended.subscribe()
    }

    /// The store up to the head, for the checkpoints of `ledger/`. It is not handed out: a
    /// `Store` can take checkpoints.
    pub(super) fn store(&self) -> Result<View, StoreError> {
        // The head is read first: a store read after it holds at least as much.
        let head = self.head();
        Ok(View {
            store: self.current_store()?,
            head,
        })
    }

    /// Walks stored records from seq `from` up to the head, undecodable ones included
    /// (verification reports them).
    pub fn scan(&self, from: u64) -> Scan<'static> {
        match self.store() {
            Ok(view) => view.scan(from),
            Err(error) => Box::new(std::iter::once(Err(error))),
        }
    }

    /// Like [`Log::scan`], with the reading and decoding done by another thread a few batches
    /// ahead of the caller ([`ReadAhead`]): a long fold (a replay, a timeline) then costs about
    /// what the slower of the two halves costs, not their sum.
    pub fn read_ahead(&self, from: u64) -> ReadAhead {
        // Without a store to hand over or a thread to read it, the plain scan (and its error).
        self.store()
            .ok()
            .and_then(|view| ReadAhead::start(move || view.scan(from)))
            .unwrap_or_else(|| ReadAhead::here(self.scan(from)))
    }

    /// Up to `limit` entries from seq `from` on, up to the head; an undecodable record is an
    /// error.
    pub fn read(&self, from: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.store()?.read(from, limit)
    }

    /// The entry at `seq`, if there is one at or before the head.
    pub fn get(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        self.store()?.get(seq)
    }

    /// Every entry from seq 1 on, decoded; the first undecodable record ends the walk with an
    /// error.
    pub fn entries(&self) -> impl Iterator<Item = Result<Entry, StoreError>> + '_ {
        self.entries_from(1)
    }

    /// The entries from seq `from` on, up to the head; an undecodable record is an error.
    pub fn entries_from(&self, from: u64) -> impl Iterator<Item = Result<Entry, StoreError>> + '_ {
        self.scan(from).map(scanned_entry)
    }

    /// Recomputes every hash and checks every link.
    pub fn verify(&self) -> Result<Report, StoreError> {
        self.verify_telling(&|_| {})
    }

    /// Like [`Log::verify`], telling `done` how many more entries were checked as it goes.
    pub fn verify_telling(&self, done: &dyn Fn(u64)) -> Result<Report, StoreError> {
        verify_store(&self.store()?, done)
    }

    /// Writes the JSON Lines export to `out` (`destination` names it in errors); returns the
    /// digest it ends with. `done` is told how many more entries were written as it goes.
    pub fn export_to(
        &self,
        out: &mut impl std::io::Write,
        destination: &Path,
        done: &dyn Fn(u64),
    ) -> Result<Option<Digest>, ExportError> {
        write_export(&self.store()?, out, destination, done)
    }

    /// Writes the JSON Lines export to `path`, atomically; returns the digest it ends with.
    /// `done` is told how many more entries were written as it goes.
    pub fn export_to_file(
        &self,
        path: &Path,
        done: &dyn Fn(u64),
    ) -> Result<Option<Digest>, ExportError> {
        export_to_file(&self.store()?, path, done)
    }

    /// The tree's frontier at `head`, read from the store (built first, for an older ledger)
    /// if the log does not hold it.
    pub(super) fn frontier<'h>(&self, head: &'h mut Head) -> Result<&'h Frontier, StoreError> {
        if head.tree.is_none() {
            let size = head.seq();
            let store = self.current_store()?;
            tree::catch_up(&*store, size)?;
            head.tree = Some(tree::frontier_at(&*store, size)?);
        }
        Ok(head.tree.as_ref().expect("the frontier was just read"))
    }

    pub(super) fn lock_head(&self) -> MutexGuard<'_, Head> {
        // The guarded value is only replaced after a successful append, in one assignment, so
        // a panic elsewhere while holding the lock cannot leave it half-updated.
        self.head
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_chain_on_from_the_head() {
        let ledger = Log::in_memory();
        let heads = ledger.subscribe();
        let first = ledger
            .append(
                Timestamp::UNIX_EPOCH,
                Actor::Demo,
                vec![Event::declassified("a")],
            )
            .unwrap()
            .entries;
        let second = ledger
            .append(
                Timestamp::UNIX_EPOCH,
                Actor::Demo,
                vec![Event::declassified("b"), Event::declassified("c")],
            )
            .unwrap()
            .entries;
        assert_eq!(second[0].prev_hash, first[0].hash);
        assert_eq!(second[1].prev_hash, second[0].hash);
        assert_eq!(ledger.head(), Some(second[1].digest()));
        assert!(
            !heads.has_changed().unwrap(),
            "the log announces nothing itself"
        );
    }

    #[test]
    fn recorded_at_never_goes_back() {
        let ledger = Log::in_memory();
        let later = Timestamp::UNIX_EPOCH.saturating_add_micros(10);
        ledger
            .append(later, Actor::Demo, vec![Event::declassified("a")])
            .unwrap();
        let entries = ledger
            .append(
                Timestamp::UNIX_EPOCH,
                Actor::Demo,
                vec![Event::declassified("b")],
            )
            .unwrap()
            .entries;
        assert_eq!(entries[0].recorded_at, later);
        let reopened = Log::with_store(Box::new(MemoryStore::new())).unwrap();
        assert_eq!(reopened.lock_head().recorded_at, Timestamp::MIN);
    }

    #[test]
    fn an_empty_batch_appends_nothing() {
        let ledger = Log::in_memory();
        let appended = ledger
            .append(Timestamp::UNIX_EPOCH, Actor::Demo, vec![])
            .unwrap();
        assert_eq!(appended, Appended::default());
        assert_eq!(ledger.head(), None);
    }

    #[test]
    fn a_batch_longer_than_a_segment_is_committed_whole_and_answers_with_its_first_segment() {
        let ledger = Log::in_memory();
        ledger
            .append(
                Timestamp::UNIX_EPOCH,
                Actor::Demo,
                vec![Event::declassified("a")],
            )
            .unwrap();
        let events = (0..2 * SEGMENT + 3).map(|index| Event::declassified(&format!("b{index}")));
        let appended = ledger
            .append(Timestamp::UNIX_EPOCH, Actor::Demo, events.collect())
            .unwrap();
        let last = 1 + 2 * SEGMENT as u64 + 3;
        assert_eq!(appended.entries.len(), SEGMENT);
        assert_eq!(appended.seqs(), Some((2, last)));
        assert_eq!(appended.omitted(), SEGMENT as u64 + 3);
        assert!(!appended.is_whole());
        assert_eq!(ledger.head(), appended.last);
        let stored: Vec<Entry> = ledger.entries().map(Result::unwrap).collect();
        assert_eq!(stored.len() as u64, last);
        assert_eq!(&stored[1..=SEGMENT], &appended.entries[..]);
        assert_eq!(stored.last().map(Entry::digest), appended.last);
        assert!(ledger.verify().unwrap().is_ok());
    }
}
