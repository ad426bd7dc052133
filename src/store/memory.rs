//! An in-memory [`Store`]: a vector of entries, a map of the Merkle tree's kept nodes and a map
//! of checkpoints.
//!
//! It is deliberately the simplest correct store, so that the property tests can use it as the
//! model the sled store must agree with.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::tree::KEPT_LEVEL;
use super::{Checkpointed, Encode, Scan, Store, StoreError, check_follows};
use crate::entry::Entry;
use crate::hash::{Digest, Hash256};
use crate::merkle::NodeId;

/// A store that lives and dies with the process.
#[derive(Default)]
pub struct MemoryStore {
    /// Shared with the scans it hands out, which outlive a borrow of the store.
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    entries: Vec<Entry>,
    nodes: HashMap<NodeId, Hash256>,
    tree_size: u64,
    /// Entries staged beyond the head, not yet committed.
    staged: Vec<Entry>,
    /// Tree nodes staged with them, kept only when they are committed.
    staged_nodes: Vec<(NodeId, Hash256)>,
    checkpoints: BTreeMap<(Checkpointed, u64), Vec<u8>>,
}

impl Inner {
    fn keep(&mut self, nodes: &[(NodeId, Hash256)]) {
        let kept = nodes
            .iter()
            .filter(|(node, _)| node.level >= KEPT_LEVEL)
            .copied();
        self.nodes.extend(kept);
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding this lock leaves plain data behind, never a half-applied batch
    // (appends extend the vector in one call), so a poisoned lock is still usable.
    inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store for MemoryStore {
    /// A store in memory records no head outside itself.
    fn acknowledged(&self) -> Option<Digest> {
        None
    }

    fn head(&self) -> Result<Option<Digest>, StoreError> {
        Ok(self.lock().entries.last().map(Entry::digest))
    }

    fn stage(&self, entries: &[Entry], nodes: &[(NodeId, Hash256)]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let next = (inner.entries.len() + inner.staged.len()) as u64 + 1;
        check_follows(next, entries)?;
        inner.staged.extend_from_slice(entries);
        let kept = nodes.iter().filter(|(node, _)| node.level >= KEPT_LEVEL);
        inner.staged_nodes.extend(kept.copied());
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
        let staged_nodes = std::mem::take(&mut inner.staged_nodes);
        inner.keep(&staged_nodes);
        inner.tree_size = inner.entries.len() as u64;
        Ok(())
    }

    fn tree_size(&self) -> Result<u64, StoreError> {
        Ok(self.lock().tree_size)
    }

    fn extend_tree(&self, nodes: &[(NodeId, Hash256)], size: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.keep(nodes);
        inner.tree_size = size;
        Ok(())
    }

    fn kept_node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError> {
        Ok(self.lock().nodes.get(&node).copied())
    }

    fn scan(&self, from: u64) -> Scan<'static> {
        // One entry at a time, so that a reader taking a page pays for the page, not for every
        // entry after it. Committed entries never change, so the walk reads a growing prefix.
        let start = usize::try_from(from.saturating_sub(1)).unwrap_or(usize::MAX);
        let inner = Arc::clone(&self.inner);
        Box::new((start..).map_while(move |index| {
            let entry = lock(&inner).entries.get(index).cloned()?;
            Some(Ok((entry.seq, Ok(entry))))
        }))
    }

    fn put_checkpoint(
        &self,
        kind: Checkpointed,
        seq: u64,
        encode: &mut Encode<'_>,
    ) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        encode(&mut bytes).map_err(|source| StoreError::Io {
            action: "encode a checkpoint for",
            path: "memory".into(),
            source,
        })?;
        self.lock().checkpoints.insert((kind, seq), bytes);
        Ok(())
    }

    fn checkpoint_at_or_before(
        &self,
        kind: Checkpointed,
        seq: u64,
    ) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self
            .lock()
            .checkpoints
            .range((kind, 0)..=(kind, seq))
            .next_back()
            .map(|((_, seq), bytes)| (*seq, bytes.clone())))
    }
}
