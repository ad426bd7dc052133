//! The ledger: the single writer of the hash chain over a [`Store`].
//!
//! The ledger seals each batch of events into entries (assigning gap-free seqs and chaining
//! hashes), has the store write them atomically and durably, and only then tells anyone: the
//! caller gets the entries back, and subscribers see the new head on a watch channel. Appends are
//! serialised by a mutex, so there is exactly one writer per ledger.
//!
//! `recorded_at` never decreases along the seq: a batch stamped earlier than the entry before it
//! (a clock stepped back) is recorded at that entry's time instead. The entries recorded at or
//! before any instant are therefore a prefix of the ledger, which point-in-time reads rely on.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use crate::entry::Entry;
use crate::event::{Actor, Event};
use crate::hash::Digest;
use crate::store::{MemoryStore, Scan, SledStore, Store, StoreError};
use crate::time::Timestamp;

/// The last entry's digest and recording time.
#[derive(Clone, Copy)]
struct Head {
    digest: Option<Digest>,
    recorded_at: Timestamp,
}

/// An append-only, hash-chained event log.
pub struct Ledger {
    store: Box<dyn Store>,
    /// The head as of the last durable append; the mutex is also the writer lock.
    head: Mutex<Head>,
    appended: watch::Sender<Option<Digest>>,
}

impl Ledger {
    /// Opens the durable ledger in `data_dir`, creating it if needed.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::with_store(Box::new(SledStore::open(data_dir)?))
    }

    /// Opens the durable ledger in `data_dir`, which must already hold one.
    pub fn open_existing(data_dir: &Path) -> Result<Self, StoreError> {
        Self::with_store(Box::new(SledStore::open_existing(data_dir)?))
    }

    /// Opens a private copy of the durable ledger in `data_dir`, leaving `data_dir` untouched:
    /// for readers of evidence, which must never change it (SPEC §18).
    pub fn open_copy(data_dir: &Path) -> Result<Self, StoreError> {
        Self::with_store(Box::new(SledStore::open_copy_of(data_dir)?))
    }

    /// A ledger that lives in memory only.
    pub fn in_memory() -> Self {
        // An empty in-memory store has no head to read, so this cannot fail.
        Self::with_store(Box::new(MemoryStore::new())).expect("a memory store opens")
    }

    /// A ledger over any store.
    pub fn with_store(store: Box<dyn Store>) -> Result<Self, StoreError> {
        let digest = store.head()?;
        // An unreadable last entry is for verification to report; it must not stop the ledger
        // from opening, so the floor for new timestamps falls back to the earliest instant.
        let recorded_at = digest
            .and_then(|head| store.get(head.seq).ok().flatten())
            .map_or(Timestamp::MIN, |entry| entry.recorded_at);
        Ok(Ledger {
            store,
            head: Mutex::new(Head {
                digest,
                recorded_at,
            }),
            appended: watch::Sender::new(digest),
        })
    }

    /// The head digest, or `None` while the ledger is empty.
    pub fn head(&self) -> Option<Digest> {
        self.lock_head().digest
    }

    /// Seals `events` as one batch recorded at `recorded_at` (or at the previous entry's time, if
    /// that is later) by `actor`, writes it atomically and durably, and returns the entries. An
    /// empty batch appends nothing.
    pub fn append(
        &self,
        recorded_at: Timestamp,
        actor: Actor,
        events: Vec<Event>,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut head = self.lock_head();
        let recorded_at = recorded_at.max(head.recorded_at);
        let mut entries: Vec<Entry> = Vec::with_capacity(events.len());
        for event in events {
            let prev = entries.last().map(Entry::digest).or(head.digest);
            entries.push(Entry::seal(prev, recorded_at, actor.clone(), event));
        }
        let Some(last) = entries.last() else {
            return Ok(entries);
        };
        self.store.append(&entries)?;
        *head = Head {
            digest: Some(last.digest()),
            recorded_at,
        };
        self.appended.send_replace(head.digest);
        Ok(entries)
    }

    /// A receiver that sees the head after every durable append.
    pub fn subscribe(&self) -> watch::Receiver<Option<Digest>> {
        self.appended.subscribe()
    }

    /// The underlying store, for reads.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Walks stored records from seq `from` on.
    pub fn scan(&self, from: u64) -> Scan<'_> {
        self.store.scan(from)
    }

    fn lock_head(&self) -> MutexGuard<'_, Head> {
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
    use crate::event::SystemId;

    fn declassified(account_id: &str) -> Event {
        Event::AccountDeclassified {
            system: SystemId::tailscale(),
            account_id: account_id.to_owned(),
            reason: "test".to_owned(),
        }
    }

    #[test]
    fn batches_chain_on_from_the_head_and_notify_subscribers() {
        let ledger = Ledger::in_memory();
        let mut heads = ledger.subscribe();
        let first = ledger
            .append(Timestamp::UNIX_EPOCH, Actor::Demo, vec![declassified("a")])
            .unwrap();
        let second = ledger
            .append(
                Timestamp::UNIX_EPOCH,
                Actor::Demo,
                vec![declassified("b"), declassified("c")],
            )
            .unwrap();
        assert_eq!(second[0].prev_hash, first[0].hash);
        assert_eq!(second[1].prev_hash, second[0].hash);
        assert_eq!(ledger.head(), Some(second[1].digest()));
        assert!(heads.has_changed().unwrap());
        assert_eq!(*heads.borrow_and_update(), Some(second[1].digest()));
    }

    #[test]
    fn recorded_at_never_goes_back() {
        let ledger = Ledger::in_memory();
        let later = Timestamp::UNIX_EPOCH.saturating_add_micros(10);
        ledger
            .append(later, Actor::Demo, vec![declassified("a")])
            .unwrap();
        let entries = ledger
            .append(Timestamp::UNIX_EPOCH, Actor::Demo, vec![declassified("b")])
            .unwrap();
        assert_eq!(entries[0].recorded_at, later);
        let reopened = Ledger::with_store(Box::new(MemoryStore::new())).unwrap();
        assert_eq!(reopened.lock_head().recorded_at, Timestamp::MIN);
    }

    #[test]
    fn an_empty_batch_appends_nothing() {
        let ledger = Ledger::in_memory();
        let entries = ledger
            .append(Timestamp::UNIX_EPOCH, Actor::Demo, vec![])
            .unwrap();
        assert!(entries.is_empty());
        assert_eq!(ledger.head(), None);
    }
}
