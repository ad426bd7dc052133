//! Durable storage of ledger entries behind a narrow trait.
//!
//! A [`Store`] keeps entries by seq, the head digest, and projection checkpoints. It knows
//! nothing of hashing rules or projections: the `ledger` module seals entries and checks that a
//! batch follows the head; the store only writes a batch atomically and durably, and reads it
//! back. [`SledStore`] is the real one; [`MemoryStore`] is the simple model the property tests
//! compare it with, and a store for tests that need no disk.

mod codec;
mod copy;
mod disk;
mod head_record;
mod memory;
mod pieces;
mod private;
mod sled_store;
mod tree;
mod v1;

use std::path::PathBuf;

pub use codec::{
    CURRENT_FORMAT, CodecError, decode_checkpoint, decode_entries, decode_entry,
    encode_checkpoint_into, encode_chunk, encode_chunks,
};
pub use copy::private_copy;
pub use disk::SyncObserver;
pub use head_record::FILE as HEAD_RECORD_FILE;
pub use memory::MemoryStore;
pub use pieces::{MAX_VALUE, PieceError};
pub use private::{create_private_dir, make_private};
pub use sled_store::{CACHE_CAPACITY, SledStore, open_waiting_for_lock};
pub use tree::{KEPT_LEVEL, TreeNodes, within as tree_node_within};

use crate::entry::Entry;
use crate::hash::{Digest, Hash256};
use crate::merkle::NodeId;

/// A stored record as a scan meets it: its position, and the entry if it decodes.
pub type ScannedRecord = (u64, Result<Entry, CodecError>);

/// The entry of a record a scan met (however it is held), or why there is none: the walk broke,
/// or the record at that seq does not decode.
pub fn scanned_entry<E>(
    record: Result<(u64, Result<E, CodecError>), StoreError>,
) -> Result<E, StoreError> {
    let (seq, entry) = record?;
    entry.map_err(|source| StoreError::Corrupt { seq, source })
}

/// What a checkpoint holds. Both kinds are derived data, kept so that no read replays the whole
/// log; whatever is missing or unreadable is rebuilt from the entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Checkpointed {
    /// The projections as of the seq, without their subject index.
    Projections,
    /// The subject index's part for the entries after the previous such checkpoint, up to the
    /// seq: kept apart and in parts so that a checkpoint costs what changed since the last one,
    /// not the whole history the index grows with.
    Subjects,
}

/// Writes a value to the writer it is given (a checkpoint, to the store that keeps it).
pub type Encode<'a> = dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()> + 'a;

/// A lazy walk over stored records in seq order; it can be handed to another thread, which
/// reads ahead of a long fold ([`Log::read_ahead`](crate::ledger::Log::read_ahead)).
pub type Scan<'a> = Box<dyn Iterator<Item = Result<ScannedRecord, StoreError>> + Send + 'a>;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the ledger at {path} is in use by another process; stop that process or ask the running server instead"
    )]
    Locked { path: PathBuf },
    #[error("there is no ledger at {path} (a ledger directory holds sled's `db` file)")]
    NotFound { path: PathBuf },
    #[error(
        "the ledger database at {path} could not be used: {}",
        describe_sled(source)
    )]
    Database {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was being done, as a verb phrase: "sync", "copy the ledger from", ….
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the record at seq {seq} cannot be read: {source}")]
    Corrupt {
        seq: u64,
        #[source]
        source: CodecError,
    },
    #[error("the record at seq {seq} cannot be put back together: {source}")]
    Pieces {
        seq: u64,
        #[source]
        source: PieceError,
    },
    #[error("the stored head cannot be read: {0}")]
    CorruptHead(String),
    #[error(
        "the head record {path} cannot be read: {detail}; it is written by tailledger alone, so check the ledger with `tailledger verify --digest` and a digest noted elsewhere before removing it"
    )]
    HeadRecord { path: PathBuf, detail: String },
    #[error(
        "the ledger at {path} has lost acknowledged entries: {loss}; it is refused for writing; see docs/operating.md#when-the-store-is-damaged",
        path = .0.path.display(),
        loss = .0
    )]
    Lost(Box<Loss>),
    #[error("a batch must start at seq {expected}, but it starts at seq {found}")]
    NotContiguous { expected: u64, found: u64 },
    #[error(
        "the ledger store is closed after a failed write and could not be opened again yet; it is retried with the next write"
    )]
    Closed,
    #[error(
        "the head cannot move to seq {head}: the entries staged beyond the head end at seq {staged}"
    )]
    NotStaged { head: u64, staged: u64 },
    #[error("a view of the ledger up to its head cannot append")]
    ReadOnlyView,
    #[error("the stored Merkle tree cannot be read at level {}, index {}: {reason}", .node.level, .node.index)]
    CorruptTree { node: NodeId, reason: String },
    #[error(
        "the Merkle tree covers {tree_size} of the ledger's {head} entries and cannot be built further: {reason}"
    )]
    TreeIncomplete {
        tree_size: u64,
        head: u64,
        reason: String,
    },
}

/// A store whose chain does not reach the head its head record says it acknowledged, or holds
/// another hash there.
#[derive(Debug)]
pub struct Loss {
    pub path: PathBuf,
    /// The head the database holds now.
    pub head: Option<Digest>,
    /// The head its head record says it acknowledged.
    pub acknowledged: Digest,
    /// The hash the database holds at the acknowledged seq, when it reaches it.
    pub found: Option<Hash256>,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let acknowledged = self.acknowledged;
        match (self.found, self.head) {
            (Some(found), _) => write!(
                f,
                "it acknowledged {acknowledged}, but holds {found} at seq {}",
                acknowledged.seq
            ),
            (None, Some(head)) => write!(
                f,
                "it acknowledged {acknowledged} (its head record), but its chain ends at {head}"
            ),
            (None, None) => write!(
                f,
                "it acknowledged {acknowledged} (its head record), but holds no entry"
            ),
        }
    }
}

/// A sled error in words. sled 0.34.7 turns an I/O error into the `Debug` text of the original
/// (`Os { code: 28, kind: StorageFull, … }`) when it hands it on, so what such an error says is
/// its kind; any other text is sled's own.
fn describe_sled(error: &sled::Error) -> String {
    match error {
        sled::Error::Io(io) => describe_io(io),
        other => other.to_string(),
    }
}

/// An I/O error in words: the operating system's sentence, or the kind of error when the text
/// is a `Debug` value.
pub fn describe_io(error: &std::io::Error) -> String {
    let text = error.to_string();
    if error.raw_os_error().is_some() || !text.contains(" { ") {
        return text;
    }
    match error.kind() {
        std::io::ErrorKind::StorageFull => "no space left on the device".to_owned(),
        std::io::ErrorKind::ReadOnlyFilesystem => "the filesystem is read-only".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        kind => kind.to_string(),
    }
}

/// Durable storage of entries, the head digest, the Merkle tree over the entries, and
/// checkpoints.
///
/// Implementations must make [`Store::commit`] and [`Store::extend_tree`] all-or-nothing and
/// durable before they return. Callers (the ledger) guarantee a single writer.
pub trait Store: Send + Sync {
    /// The head digest written with the last durable batch, or `None` for an empty ledger.
    fn head(&self) -> Result<Option<Digest>, StoreError>;

    /// The head this store last recorded outside itself as acknowledged (its head record), if it
    /// keeps one: the chain must reach it, with the same hash, or entries were lost.
    fn acknowledged(&self) -> Option<Digest>;

    /// Writes entries beyond the head without moving it, with the Merkle tree nodes they
    /// complete (`nodes`, as [`Frontier::append`](crate::merkle::Frontier::append) returns them;
    /// the store keeps those of level [`KEPT_LEVEL`] and up): they are not part of the ledger or
    /// its tree, and need not be durable, until [`Store::commit`]. The entries must be contiguous
    /// and start right after the head, or right after the entries staged since it, and the tree
    /// must cover the entries before them ([`Store::tree_size`] equal to the head's seq). A large
    /// batch is staged a part at a time, so it is never all in memory at once (imports in
    /// bounded memory: docs/reference/time-and-durability.md#durability).
    fn stage(&self, entries: &[Entry], nodes: &[(NodeId, Hash256)]) -> Result<(), StoreError>;

    /// Moves the head to `head`, the last staged entry, in one atomic, durable step: every
    /// staged entry and tree node becomes part of the ledger at once, and the tree then covers
    /// the new head, or none does. Entries and nodes staged but never committed (a crash, a
    /// failed write) stay beyond the head, where no read reaches them.
    fn commit(&self, head: Digest) -> Result<(), StoreError>;

    /// Writes the entries, the tree nodes they complete and the new head in one atomic, durable
    /// step. The entries must be contiguous and start right after the current head.
    fn append(&self, entries: &[Entry], nodes: &[(NodeId, Hash256)]) -> Result<(), StoreError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        self.stage(entries, nodes)?;
        self.commit(last.digest())
    }

    /// How many leaves (entries from seq 1) the stored Merkle tree covers: the head's seq, except
    /// in a ledger written before the tree was kept, until it is built.
    fn tree_size(&self) -> Result<u64, StoreError>;

    /// Stores the nodes of a tree built after the fact (for a ledger written before the tree was
    /// kept), which then covers `size` leaves, in one atomic, durable step.
    fn extend_tree(&self, nodes: &[(NodeId, Hash256)], size: u64) -> Result<(), StoreError>;

    /// The stored hash of the complete subtree `node`, of level [`KEPT_LEVEL`] or above.
    fn kept_node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError>;

    /// The hash of the complete subtree `node` of the stored tree, if it has one: a stored node,
    /// or below [`KEPT_LEVEL`] one folded from the entries under it.
    fn tree_node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError> {
        tree::node(self, node)
    }

    /// Walks the stored records from seq `from` on, in seq order. The walk borrows nothing from
    /// the store, so a log can hand it out while its store may be replaced.
    fn scan(&self, from: u64) -> Scan<'static>;

    /// Keeps the opaque checkpoint of `kind` taken at `seq` that `encode` writes, replacing one
    /// at the same seq. The store takes the bytes as they are written, so a large checkpoint
    /// is never in memory whole besides the state it encodes.
    fn put_checkpoint(
        &self,
        kind: Checkpointed,
        seq: u64,
        encode: &mut Encode<'_>,
    ) -> Result<(), StoreError>;

    /// The checkpoint of `kind` with the greatest seq not above `seq`.
    fn checkpoint_at_or_before(
        &self,
        kind: Checkpointed,
        seq: u64,
    ) -> Result<Option<(u64, Vec<u8>)>, StoreError>;

    /// Up to `limit` entries from seq `from` on; an undecodable record is an error.
    fn read(&self, from: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.scan(from).take(limit).map(scanned_entry).collect()
    }

    /// The entry at `seq`, if there is one.
    fn get(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .read(seq, 1)?
            .into_iter()
            .find(|entry| entry.seq == seq))
    }
}

/// Checks the precondition of [`Store::stage`]: `entries` start at seq `expected` (the one after
/// the head, or after what was staged since) and have no gaps.
fn check_follows(expected: u64, entries: &[Entry]) -> Result<(), StoreError> {
    for (offset, entry) in entries.iter().enumerate() {
        let wanted = expected + offset as u64;
        if entry.seq != wanted {
            return Err(StoreError::NotContiguous {
                expected: wanted,
                found: entry.seq,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sled_io_error_reads_as_words_not_as_a_debug_value() {
        // What sled 0.34.7 hands on for a full disk: the original error's `Debug` text.
        let original = std::io::Error::from_raw_os_error(28);
        let sled = sled::Error::Io(std::io::Error::new(
            original.kind(),
            format!("{original:?}"),
        ));
        let error = StoreError::Database {
            path: PathBuf::from("/var/lib/tailledger"),
            source: sled,
        };
        assert_eq!(
            error.to_string(),
            "the ledger database at /var/lib/tailledger could not be used: no space left on the device"
        );
        let plain = std::io::Error::from_raw_os_error(30);
        assert_eq!(describe_io(&plain), "Read-only file system (os error 30)");
    }
}
