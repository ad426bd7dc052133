//! The ledger: the single writer of the hash chain over a [`Store`].
//!
//! The ledger seals each batch of events into entries (assigning gap-free seqs and chaining
//! hashes), has the store write them atomically and durably, and only then tells anyone: the
//! caller gets the entries back, and subscribers see the new head on a watch channel. Appends are
//! serialised by a mutex, so there is exactly one writer per ledger.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use crate::entry::Entry;
use crate::event::{Actor, Event};
use crate::hash::Digest;
use crate::store::{MemoryStore, Scan, SledStore, Store, StoreError};
use crate::time::Timestamp;

/// An append-only, hash-chained event log.
pub struct Ledger {
    store: Box<dyn Store>,
    /// The head as of the last durable append; the mutex is also the writer lock.
    head: Mutex<Option<Digest>>,
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

    /// A ledger that lives in memory only.
    pub fn in_memory() -> Self {
        // An empty in-memory store has no head to read, so this cannot fail.
        Self::with_store(Box::new(MemoryStore::new())).expect("a memory store opens")
    }

    /// A ledger over any store.
    pub fn with_store(store: Box<dyn Store>) -> Result<Self, StoreError> {
        let head = store.head()?;
        Ok(Ledger {
            store,
            head: Mutex::new(head),
            appended: watch::Sender::new(head),
        })
    }

    /// The head digest, or `None` while the ledger is empty.
    pub fn head(&self) -> Option<Digest> {
        *self.lock_head()
    }

    /// Seals `events` as one batch recorded at `recorded_at` by `actor`, writes it atomically and
    /// durably, and returns the entries. An empty batch appends nothing.
    pub fn append(
        &self,
        recorded_at: Timestamp,
        actor: Actor,
        events: Vec<Event>,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut head = self.lock_head();
        let mut entries: Vec<Entry> = Vec::with_capacity(events.len());
        for event in events {
            let prev = entries.last().map(Entry::digest).or(*head);
            entries.push(Entry::seal(prev, recorded_at, actor.clone(), event));
        }
        let Some(last) = entries.last() else {
            return Ok(entries);
        };
        self.store.append(&entries)?;
        *head = Some(last.digest());
        self.appended.send_replace(*head);
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

    fn lock_head(&self) -> MutexGuard<'_, Option<Digest>> {
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
    fn an_empty_batch_appends_nothing() {
        let ledger = Ledger::in_memory();
        let entries = ledger
            .append(Timestamp::UNIX_EPOCH, Actor::Demo, vec![])
            .unwrap();
        assert!(entries.is_empty());
        assert_eq!(ledger.head(), None);
    }
}
