//! An in-memory [`Store`]: a vector of entries and a map of checkpoints.
//!
//! It is deliberately the simplest correct store, so that the property tests can use it as the
//! model the sled store must agree with.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::{Encode, Scan, Store, StoreError, check_follows};
use crate::entry::Entry;
use crate::hash::Digest;

/// A store that lives and dies with the process.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: Vec<Entry>,
    /// Entries staged beyond the head, not yet committed.
    staged: Vec<Entry>,
    checkpoints: BTreeMap<u64, Vec<u8>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain data behind, never a half-applied batch
        // (appends extend the vector in one call), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemoryStore {
    fn head(&self) -> Result<Option<Digest>, StoreError> {
        Ok(self.lock().entries.last().map(Entry::digest))
    }

    fn stage(&self, entries: &[Entry]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let next = (inner.entries.len() + inner.staged.len()) as u64 + 1;
        check_follows(next, entries)?;
        inner.staged.extend_from_slice(entries);
        Ok(())
    }

    fn commit(&self, head: Digest) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let staged_head = inner.staged.last().map(Entry::digest);
        if staged_head != Some(head) {
            return Err(StoreError::NotStaged {
                head: head.seq,
                staged: staged_head.map_or(0, |digest| digest.seq),
            });
        }
        let staged = std::mem::take(&mut inner.staged);
        inner.entries.extend(staged);
        Ok(())
    }

    fn scan(&self, from: u64) -> Scan<'_> {
        let start = usize::try_from(from.saturating_sub(1)).unwrap_or(usize::MAX);
        let entries: Vec<Entry> = self.lock().entries.iter().skip(start).cloned().collect();
        Box::new(entries.into_iter().map(|entry| Ok((entry.seq, Ok(entry)))))
    }

    fn put_checkpoint(&self, seq: u64, encode: &mut Encode<'_>) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        encode(&mut bytes).map_err(|source| StoreError::Io {
            action: "encode a checkpoint for",
            path: "memory".into(),
            source,
        })?;
        self.lock().checkpoints.insert(seq, bytes);
        Ok(())
    }

    fn checkpoint_at_or_before(&self, seq: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self
            .lock()
            .checkpoints
            .range(..=seq)
            .next_back()
            .map(|(seq, bytes)| (*seq, bytes.clone())))
    }
}
