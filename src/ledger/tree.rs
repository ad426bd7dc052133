//! The ledger's Merkle tree (docs/reference/ledger.md#merkle-tree) as the log keeps it: built once
//! for a ledger written before it was kept, extended with every append, and read for tree heads and
//! proofs.
//!
//! The log keeps the tree's [`Frontier`] beside its head, under the writer lock, so an append
//! computes the nodes its entries complete without reading the store (a segment at a time, for a
//! long batch), and the store stages them with those entries and commits them with the head. A ledger written before the tree was kept (format 1
//! of 0.1, and format 2 before this build) has its tree built from its entries when it is opened,
//! in batches of [`BUILD_BATCH`] leaves, each written atomically and durably with how far the
//! tree then reaches, so an interrupted build resumes where it stopped. A tree that cannot be
//! built (an entry no longer decodes) leaves the ledger readable and verifiable, and refuses
//! appends until it can.

use crate::hash::Hash256;
use crate::merkle::{self, Frontier};
use crate::store::{Store, StoreError, TreeNodes};

use super::Log;

/// Leaves the tree of an older ledger is built by per durable step: a bounded batch of some 4,096
/// stored nodes.
const BUILD_BATCH: usize = 65_536;

/// Why a proof could not be given.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// An argument is outside the tree: `` `field` reason ``.
    #[error("`{field}` {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An inclusion proof as the log gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's position, from 0 (its seq − 1).
    pub leaf_index: u64,
    pub tree_size: u64,
    /// The entry's leaf hash.
    pub leaf_hash: Hash256,
    /// RFC 9162 PATH, from the leaf's sibling up.
    pub hashes: Vec<Hash256>,
}

/// Builds the stored tree of `store` up to `head` leaves, if it covers fewer.
pub(super) fn catch_up(store: &dyn Store, head: u64) -> Result<(), StoreError> {
    let mut size = store.tree_size()?;
    if size >= head {
        return Ok(());
    }
    tracing::info!(
        "building the Merkle tree of the ledger's {head} entries (it covers {size}); this happens once"
    );
    let incomplete = |size, reason: String| StoreError::TreeIncomplete {
        tree_size: size,
        head,
        reason,
    };
    let mut frontier = frontier_at(store, size)?;
    while size < head {
        let want = usize::try_from(head - size).map_or(BUILD_BATCH, |left| left.min(BUILD_BATCH));
        let entries = store
            .read(size + 1, want)
            .map_err(|error| incomplete(size, error.to_string()))?;
        let mut leaves = Vec::with_capacity(entries.len());
        for (offset, entry) in entries.iter().enumerate() {
            let seq = size + 1 + offset as u64;
            if entry.seq != seq {
                return Err(incomplete(
                    size,
                    format!("seq {} stands where seq {seq} should", entry.seq),
                ));
            }
            leaves.push(entry.leaf_hash());
        }
        if leaves.is_empty() {
            return Err(incomplete(
                size,
                format!("the entries end before seq {}", size + 1),
            ));
        }
        let made = frontier.append(&leaves);
        size += leaves.len() as u64;
        store.extend_tree(&made, size)?;
    }
    tracing::info!("the Merkle tree covers the ledger's {head} entries");
    Ok(())
}

/// The frontier of the stored tree of `size` leaves.
pub(super) fn frontier_at(store: &dyn Store, size: u64) -> Result<Frontier, StoreError> {
    Frontier::load(&TreeNodes(store), size).map_err(from_merkle)
}

/// A failure of the merkle functions over a store, once their arguments are known to be good:
/// the store's own error, or a node the store should have and has not.
fn from_merkle(error: merkle::Error) -> StoreError {
    match error {
        merkle::Error::Store { source, node } => match source.downcast::<StoreError>() {
            Ok(store) => *store,
            Err(other) => StoreError::CorruptTree {
                node,
                reason: other.to_string(),
            },
        },
        merkle::Error::MissingNode { node } => StoreError::CorruptTree {
            node,
            reason: "the node is missing".to_owned(),
        },
        other => StoreError::CorruptTree {
            node: merkle::NodeId { level: 0, index: 0 },
            reason: other.to_string(),
        },
    }
}

impl Log {
    /// The size and root of the tree at the head, read together.
    pub fn tree_head(&self) -> Result<(u64, Hash256), StoreError> {
        let mut head = self.lock_head();
        let size = head.seq();
        let frontier = self.frontier(&mut head)?;
        Ok((size, frontier.root()))
    }

    /// The root of the tree of the first `size` leaves (1 to the head's seq).
    pub fn tree_root(&self, size: u64) -> Result<Hash256, ProofError> {
        let head = self.head().map_or(0, |digest| digest.seq);
        check_size("tree_size", size, head)?;
        let store = self.store()?;
        Ok(merkle::root(&TreeNodes(&store), size).map_err(from_merkle)?)
    }

    /// The inclusion proof of the entry at `seq` in the tree of `tree_size` leaves.
    pub fn inclusion_proof(&self, seq: u64, tree_size: u64) -> Result<InclusionProof, ProofError> {
        let head = self.head().map_or(0, |digest| digest.seq);
        check_size("tree_size", tree_size, head)?;
        if seq == 0 || seq > tree_size {
            return Err(ProofError::InvalidArgument {
                field: "seq",
                reason: format!(
                    "is {seq}, beyond the tree: a tree of size {tree_size} holds seqs 1 to {tree_size}"
                ),
            });
        }
        let store = self.store()?;
        let entry = store.get(seq)?.ok_or(StoreError::TreeIncomplete {
            tree_size,
            head,
            reason: format!("the entry at seq {seq} is missing"),
        })?;
        let hashes =
            merkle::inclusion_proof(&TreeNodes(&store), seq - 1, tree_size).map_err(from_merkle)?;
        Ok(InclusionProof {
            leaf_index: seq - 1,
            tree_size,
            leaf_hash: entry.leaf_hash(),
            hashes,
        })
    }

    /// The consistency proof from the tree of `from_size` leaves to the tree of `to_size`.
    pub fn consistency_proof(
        &self,
        from_size: u64,
        to_size: u64,
    ) -> Result<Vec<Hash256>, ProofError> {
        let head = self.head().map_or(0, |digest| digest.seq);
        check_size("from_size", from_size, head)?;
        check_size("to_size", to_size, head)?;
        if from_size > to_size {
            return Err(ProofError::InvalidArgument {
                field: "from_size",
                reason: format!(
                    "{from_size} is greater than to_size {to_size}: a tree can only be extended"
                ),
            });
        }
        let store = self.store()?;
        Ok(
            merkle::consistency_proof(&TreeNodes(&store), from_size, to_size)
                .map_err(from_merkle)?,
        )
    }
}

/// A tree size must be between 1 and the head's seq.
fn check_size(field: &'static str, size: u64, head: u64) -> Result<(), ProofError> {
    if size == 0 {
        return Err(ProofError::InvalidArgument {
            field,
            reason: "is 0: give a tree size from 1 to the ledger's head seq".to_owned(),
        });
    }
    if size > head {
        return Err(ProofError::InvalidArgument {
            field,
            reason: format!("{size} is beyond the tree, which has {head} leaves"),
        });
    }
    Ok(())
}
