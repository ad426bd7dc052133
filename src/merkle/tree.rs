//! RFC 9162 §2.1 hashing, the addresses of the tree's complete subtrees, the store that holds
//! them, and the frontier that extends the tree one batch at a time.
//!
//! Only complete (perfect) subtrees are ever stored: once the leaves under a node are all
//! there, its hash never changes, so a stored node is written once and never updated. The
//! hash of any other range the RFC's recursion needs (the ragged right edge of a tree whose size
//! is not a power of two) is folded from at most 64 complete subtrees, one per set bit of its
//! size, so the root of any size and every proof hash are a few point lookups.

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};

use super::Error;
use crate::hash::Hash256;

/// The Merkle Tree Hash of the empty tree: SHA-256 of nothing (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash256 = Hash256([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// The hash of a leaf: `SHA-256(0x00 || data)`. For the ledger, `data` is the entry's canonical
/// form (docs/reference/ledger.md#merkle-tree), so the tree commits to exactly the bytes the hash
/// chain does.
pub fn leaf_hash(data: &[u8]) -> Hash256 {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    Hash256(hasher.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`. The distinct prefixes keep a
/// leaf from ever being taken for a node (second-preimage resistance, RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash256, right: &Hash256) -> Hash256 {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash256(hasher.finalize().into())
}

/// The address of a complete subtree: the `2^level` leaves from `index * 2^level`.
///
/// Level 0 nodes are the leaf hashes themselves; the node at `(level + 1, i)` is
/// [`node_hash`] of `(level, 2i)` and `(level, 2i + 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

/// Why a [`NodeStore`] could not answer; kept opaque so any storage can report its own error.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// Where the hashes of the tree's complete subtrees live.
///
/// `Ok(None)` means the node is not stored (the tree is smaller than that, or damaged); the
/// functions of this module turn it into [`Error::MissingNode`].
pub trait NodeStore {
    /// The hash of the complete subtree at `node`.
    fn node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError>;
}

impl<S: NodeStore + ?Sized> NodeStore for &S {
    fn node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError> {
        (**self).node(node)
    }
}

/// A [`NodeStore`] in memory, for tests and for rebuilding a tree to compare with a stored one.
#[derive(Clone, Debug, Default)]
pub struct MemoryNodeStore {
    nodes: HashMap<NodeId, Hash256>,
}

impl MemoryNodeStore {
    /// How many nodes are stored.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is stored.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl Extend<(NodeId, Hash256)> for MemoryNodeStore {
    fn extend<I: IntoIterator<Item = (NodeId, Hash256)>>(&mut self, nodes: I) {
        self.nodes.extend(nodes);
    }
}

impl NodeStore for MemoryNodeStore {
    fn node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError> {
        Ok(self.nodes.get(&node).copied())
    }
}

/// The right edge of a tree: the roots of the complete subtrees that make up leaves `0..size`,
/// one per set bit of `size`, largest first (a "compact range").
///
/// It is all that appending needs, so the writer keeps one in memory and the store never has to
/// be read on the append path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash256>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of the stored tree of `size` leaves: one lookup per set bit of `size`.
    pub fn load(store: &impl NodeStore, size: u64) -> Result<Self, Error> {
        let peaks = peaks(0, size)
            .map(|node| lookup(store, node))
            .collect::<Result<_, _>>()?;
        Ok(Frontier { size, peaks })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The Merkle Tree Hash of the tree ([`EMPTY_ROOT`] when it is empty).
    pub fn root(&self) -> Hash256 {
        fold_right(self.peaks.iter().copied()).unwrap_or(EMPTY_ROOT)
    }

    /// Appends leaves (their [`leaf_hash`]es, in order) and returns every complete subtree they
    /// complete, leaves included, in the order they were made: the nodes to store in the same
    /// atomic batch as the entries: `k` leaves make `k` level-0 nodes and fewer than `k`
    /// interior ones.
    pub fn append(&mut self, leaf_hashes: &[Hash256]) -> Vec<(NodeId, Hash256)> {
        let mut made = Vec::with_capacity(2 * leaf_hashes.len() + 64);
        for &leaf in leaf_hashes {
            let index = self.size;
            let mut hash = leaf;
            made.push((NodeId { level: 0, index }, hash));
            // Each set low bit of the old size is a peak of that level, ending just where the
            // new leaf starts: merge until a level has no peak (a binary carry).
            let mut level = 0u8;
            while index >> level & 1 == 1 {
                let left = self.peaks.pop().expect("a set bit of the size has a peak");
                hash = node_hash(&left, &hash);
                level += 1;
                made.push((
                    NodeId {
                        level,
                        index: index >> level,
                    },
                    hash,
                ));
            }
            self.peaks.push(hash);
            self.size += 1;
        }
        made
    }
}

/// The Merkle Tree Hash of the stored tree's first `size` leaves, from one lookup per set bit of
/// `size` (RFC 9162 §2.1.1; [`EMPTY_ROOT`] for 0).
pub fn root(store: &impl NodeStore, size: u64) -> Result<Hash256, Error> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    range_hash(store, 0, size)
}

/// MTH of leaves `start..end` (non-empty) as the RFC's recursion defines it: the left part is the
/// largest power of two smaller than the range. For the ranges proofs ask about (`start` a
/// multiple of that power), that is a fold of [`peaks`], so one lookup per set bit of the length.
pub(super) fn range_hash(store: &impl NodeStore, start: u64, end: u64) -> Result<Hash256, Error> {
    debug_assert!(start < end, "range {start}..{end} is empty");
    let n = end - start;
    if start.is_multiple_of(largest_power_of_two_at_most(n)) {
        let hashes = peaks(start, end)
            .map(|node| lookup(store, node))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(fold_right(hashes.into_iter()).expect("a non-empty range has a peak"));
    }
    // Not reached by this module's proofs; kept so the function means MTH for any range.
    let k = largest_power_of_two_at_most(n - 1);
    Ok(node_hash(
        &range_hash(store, start, start + k)?,
        &range_hash(store, start + k, end)?,
    ))
}

/// The largest power of two `<= n` (`n >= 1`).
pub(super) fn largest_power_of_two_at_most(n: u64) -> u64 {
    1 << (63 - n.leading_zeros())
}

/// The complete subtrees that tile `start..end`, largest first, when `start` is a multiple of
/// the largest power of two not above the length: one per set bit of `end - start`.
fn peaks(start: u64, end: u64) -> impl Iterator<Item = NodeId> {
    let n = end - start;
    let mut at = start;
    (0..64u8)
        .rev()
        .filter(move |level| n >> level & 1 == 1)
        .map(move |level| {
            let node = NodeId {
                level,
                index: at >> level,
            };
            at += 1 << level;
            node
        })
}

/// Folds complete subtrees, largest first, into the hash of their concatenation: the RFC's
/// recursion puts the ragged part on the right, so the fold runs from the smallest.
fn fold_right(hashes: impl DoubleEndedIterator<Item = Hash256>) -> Option<Hash256> {
    hashes.rev().reduce(|right, left| node_hash(&left, &right))
}

fn lookup(store: &impl NodeStore, node: NodeId) -> Result<Hash256, Error> {
    store
        .node(node)
        .map_err(|source| Error::Store { node, source })?
        .ok_or(Error::MissingNode { node })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, Hash256::of(b""));
    }

    #[test]
    fn leaf_and_node_hashes_match_rfc6962_test_vectors() {
        // transparency-dev/merkle rfc6962/rfc6962_test.go: `echo -n 004C313233343536 | xxd -r -p
        // | sha256sum`, and the empty leaf, which must differ from the empty tree.
        assert_eq!(
            leaf_hash(b"L123456").to_string(),
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
        );
        assert_eq!(
            leaf_hash(b"").to_string(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut preimage = vec![0x01];
        preimage.extend(a.0);
        preimage.extend(b.0);
        assert_eq!(node_hash(&a, &b), Hash256::of(&preimage));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }

    #[test]
    fn append_returns_each_complete_subtree_once_and_load_restores_the_frontier() {
        let mut frontier = Frontier::new();
        let mut store = MemoryNodeStore::default();
        let leaves: Vec<_> = (0u8..13).map(|i| leaf_hash(&[i])).collect();
        // Three uneven batches: the frontier must carry across batch boundaries.
        for batch in [&leaves[..1], &leaves[1..6], &leaves[6..]] {
            let made = frontier.append(batch);
            let before = store.len();
            store.extend(made.iter().copied());
            assert_eq!(store.len(), before + made.len(), "a node was made twice");
        }
        // 13 leaves have 13 + 6 + 3 + 1 complete subtrees.
        assert_eq!(store.len(), 23);
        assert_eq!(
            store.node(NodeId { level: 1, index: 5 }).unwrap(),
            Some(node_hash(&leaves[10], &leaves[11]))
        );
        assert_eq!(store.node(NodeId { level: 1, index: 6 }).unwrap(), None);
        for size in 0..=13 {
            let loaded = Frontier::load(&store, size).unwrap();
            assert_eq!(loaded.size(), size);
            assert_eq!(loaded.root(), root(&store, size).unwrap());
        }
        assert_eq!(Frontier::load(&store, 13).unwrap(), frontier);
    }

    #[test]
    fn a_tree_larger_than_the_store_is_a_missing_node() {
        let mut store = MemoryNodeStore::default();
        store.extend(Frontier::new().append(&[leaf_hash(b"only")]));
        let err = root(&store, 2).unwrap_err();
        assert!(
            matches!(err, Error::MissingNode { node } if node == NodeId { level: 1, index: 0 }),
            "{err}"
        );
        assert!(err.to_string().contains("level 1, index 0"), "{err}");
    }

    #[test]
    fn range_hash_of_an_unaligned_range_follows_the_rfc_recursion() {
        let mut store = MemoryNodeStore::default();
        let leaves: Vec<_> = (0u8..8).map(|i| leaf_hash(&[i])).collect();
        store.extend(Frontier::new().append(&leaves));
        // Three leaves split 2 + 1: MTH(D[1:4]) = node(node(leaf 1, leaf 2), leaf 3), though no
        // complete subtree covers leaves 1 and 2.
        let want = node_hash(&node_hash(&leaves[1], &leaves[2]), &leaves[3]);
        assert_eq!(range_hash(&store, 1, 4).unwrap(), want);
    }
}
