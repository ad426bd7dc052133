//! Getting a store back after a failed append, and reading only what is durable meanwhile.
//!
//! sled 0.34.7 applies a batch in memory before writing it; when the write fails (a full disk, a
//! read-only remount, an I/O error) the batch stays visible in memory although it is not
//! durable, and sled refuses every later write until the database is opened again. So after a
//! failed append the [`Log`](super::Log) reads through a [`View`] bounded by its own head (the
//! last durable entry), and before the next append it asks its [`Reopen`] whether the medium
//! takes writes again and, if so, closes the store and opens it anew (nothing needs a restart:
//! docs/reference/time-and-durability.md#append-failure).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::entry::Entry;
use crate::hash::{Digest, Hash256};
use crate::merkle::NodeId;
use crate::store::{
    Checkpointed, Encode, Scan, SledStore, Store, StoreError, make_private, tree_node_within,
};

/// How a log opens its store again after an append failed.
pub trait Reopen: Send + Sync {
    /// Whether the medium takes writes again; checked before the store in use is closed, so a
    /// medium that is still full keeps the old store serving reads.
    fn ready(&self) -> Result<(), StoreError>;

    /// Opens the store again, from what is durable.
    fn open(&self) -> Result<Box<dyn Store>, StoreError>;
}

/// The bytes a readiness probe writes and syncs: room for sled to open (it may write a snapshot
/// and start a log segment) and take a batch.
const PROBE_BYTES: usize = 2 << 20;

/// Opens a [`SledStore`] in its directory, owner-only ([`make_private`]), and again after a
/// failed append.
pub struct SledReopen {
    pub dir: PathBuf,
    /// sled's page cache, in bytes (`[store] cache_capacity`).
    pub cache_capacity: u64,
}

impl Reopen for SledReopen {
    fn ready(&self) -> Result<(), StoreError> {
        probe(&self.dir.join("write-probe"))
    }

    fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        let store = SledStore::open_with_cache(&self.dir, self.cache_capacity)?;
        make_private(&self.dir)?;
        Ok(Box::new(store))
    }
}

/// Writes, syncs and removes a file of [`PROBE_BYTES`] at `path`.
fn probe(path: &Path) -> Result<(), StoreError> {
    let written = std::fs::File::create(path)
        .and_then(|mut file| {
            file.write_all(&vec![0; PROBE_BYTES])?;
            file.sync_all()
        })
        .map_err(|source| StoreError::Io {
            action: "write a test file to see if the disk takes writes again at",
            path: path.to_path_buf(),
            source,
        });
    // The probe goes whether or not it could be written whole.
    let _ = std::fs::remove_file(path);
    written
}

/// The store as far as the log's head: what is durable. Entries and tree nodes a failed append
/// left in the store's memory are beyond the head and never read.
pub struct View {
    pub(super) store: Arc<dyn Store>,
    pub(super) head: Option<Digest>,
}

impl View {
    fn last_seq(&self) -> u64 {
        self.head.map_or(0, |digest| digest.seq)
    }
}

impl Store for View {
    fn acknowledged(&self) -> Option<Digest> {
        self.store.acknowledged()
    }

    fn head(&self) -> Result<Option<Digest>, StoreError> {
        Ok(self.head)
    }

    fn stage(&self, _entries: &[Entry], _nodes: &[(NodeId, Hash256)]) -> Result<(), StoreError> {
        Err(StoreError::ReadOnlyView)
    }

    fn commit(&self, _head: Digest) -> Result<(), StoreError> {
        Err(StoreError::ReadOnlyView)
    }

    fn tree_size(&self) -> Result<u64, StoreError> {
        Ok(self.store.tree_size()?.min(self.last_seq()))
    }

    fn extend_tree(&self, _nodes: &[(NodeId, Hash256)], _size: u64) -> Result<(), StoreError> {
        Err(StoreError::ReadOnlyView)
    }

    fn kept_node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError> {
        if !tree_node_within(node, self.last_seq()) {
            return Ok(None);
        }
        self.store.kept_node(node)
    }

    fn scan(&self, from: u64) -> Scan<'static> {
        let last = self.last_seq();
        Box::new(
            self.store
                .scan(from)
                .take_while(move |record| record.as_ref().map_or(true, |(seq, _)| *seq <= last)),
        )
    }

    fn put_checkpoint(
        &self,
        kind: Checkpointed,
        seq: u64,
        encode: &mut Encode<'_>,
    ) -> Result<(), StoreError> {
        self.store.put_checkpoint(kind, seq, encode)
    }

    fn checkpoint_at_or_before(
        &self,
        kind: Checkpointed,
        seq: u64,
    ) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.store
            .checkpoint_at_or_before(kind, seq.min(self.last_seq()))
    }
}
