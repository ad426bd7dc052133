//! How a store keeps the ledger's Merkle tree (docs/reference/ledger.md#store-layout): which nodes
//! are stored, how they are laid out, and the ones rebuilt from the entries instead.
//!
//! Only the complete subtrees of level [`KEPT_LEVEL`] (16 leaves) and above are stored: about one
//! hash per 16 entries, so keeping the tree adds some 2 bytes per entry to a batch and a sled
//! value per 2,000 entries, not a value per entry (sled's cost is per key). A node below
//! that level is the fold of at most 16 leaf hashes, each the hash of an entry's canonical form,
//! so it is rebuilt from one or two entry chunks: still a point lookup.
//!
//! Stored nodes are grouped by the leaf whose append completed them: leaf `L` completes the nodes
//! of levels `0..=t` where `t` is the number of trailing one bits of `L`, and the stored ones are
//! those of level `KEPT_LEVEL` and up, lowest first, exactly as [`Frontier::append`] makes them.
//! The nodes completed by leaves `0..n` that are stored number [`kept_before`]`(n)`, so within a
//! run of stored nodes that starts at leaf `first`, node `(level, index)`, completed by leaf
//! `L = (index + 1) * 2^level - 1`, is at position `kept_before(L) - kept_before(first) + level -
//! KEPT_LEVEL`. The sled store keeps such runs as values of at most 127 hashes keyed by `first`,
//! so a stored node is one `..=L` lookup, as an entry is.
//!
//! [`Frontier::append`]: crate::merkle::Frontier::append

use super::{Store, StoreError};
use crate::hash::Hash256;
use crate::merkle::{self, NodeId};

/// The lowest level of the stored nodes.
pub const KEPT_LEVEL: u8 = 4;

/// Hashes per stored run: with its format byte, a run stays under the store's 4 KiB values.
pub(super) const RUN_HASHES: usize = (super::MAX_VALUE - 1) / 32;

/// The format byte of a stored run of hashes.
const RUN_FORMAT: u8 = 1;

/// The leaf whose append completes `node`, or `None` when the node lies beyond any `u64` tree.
pub fn completing_leaf(node: NodeId) -> Option<u64> {
    let end = u128::from(node.index + 1) << node.level;
    u64::try_from(end - 1).ok()
}

/// Whether `node` is a complete subtree of the tree of `size` leaves.
pub fn within(node: NodeId, size: u64) -> bool {
    completing_leaf(node).is_some_and(|leaf| leaf < size)
}

/// How many stored nodes the leaves `0..n` complete: the complete subtrees of level
/// `KEPT_LEVEL` and up in a tree of `n` leaves.
pub(super) fn kept_before(n: u64) -> u64 {
    (KEPT_LEVEL..64).map(|level| n >> level).sum()
}

/// The nodes of `made` (as [`Frontier::append`](crate::merkle::Frontier::append) returns them)
/// that a store keeps, split into runs of at most [`RUN_HASHES`] at leaf boundaries, each with the
/// leaf its first node was completed by.
pub(super) fn runs(made: &[(NodeId, Hash256)]) -> Vec<(u64, Vec<Hash256>)> {
    let mut runs: Vec<(u64, Vec<Hash256>)> = Vec::new();
    for &(node, hash) in made.iter().filter(|(node, _)| node.level >= KEPT_LEVEL) {
        let leaf = completing_leaf(node).expect("a node the frontier made completes a leaf");
        // A leaf's nodes stay in one run: a new run starts only at a leaf's lowest kept node,
        // when the run has no room for all of that leaf's.
        let of_leaf = (leaf.trailing_ones() + 1) as usize - usize::from(KEPT_LEVEL);
        match runs.last_mut() {
            Some((_, hashes))
                if node.level > KEPT_LEVEL || hashes.len() + of_leaf <= RUN_HASHES =>
            {
                hashes.push(hash)
            }
            _ => runs.push((leaf, vec![hash])),
        }
    }
    runs
}

/// The stored bytes of a run: its format byte and the hashes, 32 bytes each.
pub(super) fn encode_run(hashes: &[Hash256]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + 32 * hashes.len());
    bytes.push(RUN_FORMAT);
    for hash in hashes {
        bytes.extend_from_slice(&hash.0);
    }
    bytes
}

/// Node `node` out of the run stored under `first`, if the run holds it; `Err` names what is
/// wrong with the stored bytes.
pub(super) fn node_in_run(
    bytes: &[u8],
    first: u64,
    node: NodeId,
) -> Result<Option<Hash256>, String> {
    let Some((&RUN_FORMAT, hashes)) = bytes.split_first() else {
        return Err(format!(
            "a stored run of tree nodes has format {:?}, not {RUN_FORMAT}",
            bytes.first()
        ));
    };
    if !hashes.len().is_multiple_of(32) {
        return Err(format!(
            "a stored run of tree nodes is {} bytes long, not a multiple of 32",
            hashes.len()
        ));
    }
    let Some(leaf) = completing_leaf(node).filter(|&leaf| leaf >= first) else {
        return Ok(None);
    };
    let position = kept_before(leaf) - kept_before(first) + u64::from(node.level - KEPT_LEVEL);
    let Some(at) = usize::try_from(position)
        .ok()
        .and_then(|position| position.checked_mul(32))
        .filter(|&at| at < hashes.len())
    else {
        return Ok(None);
    };
    let hash: [u8; 32] = hashes[at..at + 32].try_into().expect("32 bytes");
    Ok(Some(Hash256(hash)))
}

/// The hash of `node` in the tree `store` keeps: a stored node, or one below [`KEPT_LEVEL`]
/// folded from the leaf hashes of the entries under it. `None` when the store has no such node.
pub fn node<S: Store + ?Sized>(store: &S, node: NodeId) -> Result<Option<Hash256>, StoreError> {
    if node.level >= KEPT_LEVEL {
        return store.kept_node(node);
    }
    let width = 1u64 << node.level;
    let first_seq = node.index * width + 1;
    let entries = store.read(first_seq, width as usize)?;
    if entries.len() as u64 != width {
        return Ok(None);
    }
    let mut level: Vec<Hash256> = entries.iter().map(|entry| entry.leaf_hash()).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| merkle::node_hash(&pair[0], &pair[1]))
            .collect();
    }
    Ok(level.pop())
}

/// A store's tree as the [`merkle`] functions read it.
pub struct TreeNodes<'a, S: ?Sized>(pub &'a S);

impl<S: Store + ?Sized> merkle::NodeStore for TreeNodes<'_, S> {
    fn node(&self, id: NodeId) -> Result<Option<Hash256>, merkle::StoreError> {
        Ok(self.0.tree_node(id)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{Frontier, leaf_hash};

    #[test]
    fn every_stored_node_is_found_at_its_computed_position() {
        let leaves: Vec<_> = (0..5_000u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut frontier = Frontier::new();
        let mut stored: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut all = Vec::new();
        // Uneven batches, so runs start at leaves that complete no stored node.
        for batch in leaves.chunks(777) {
            let made = frontier.append(batch);
            all.extend(made.iter().copied().filter(|(n, _)| n.level >= KEPT_LEVEL));
            for (first, hashes) in runs(&made) {
                assert!(hashes.len() <= RUN_HASHES);
                let bytes = encode_run(&hashes);
                assert!(bytes.len() <= crate::store::MAX_VALUE);
                stored.push((first, bytes));
            }
        }
        assert_eq!(all.len() as u64, kept_before(5_000));
        for (node, hash) in all {
            let leaf = completing_leaf(node).unwrap();
            let (first, bytes) = stored
                .iter()
                .rev()
                .find(|(first, _)| *first <= leaf)
                .unwrap();
            assert_eq!(
                node_in_run(bytes, *first, node).unwrap(),
                Some(hash),
                "{node:?}"
            );
        }
        let (first, bytes) = stored.last().unwrap();
        let beyond = NodeId {
            level: KEPT_LEVEL,
            index: 5_000 >> KEPT_LEVEL,
        };
        assert_eq!(node_in_run(bytes, *first, beyond).unwrap(), None);
        assert!(node_in_run(&bytes[..5], *first, beyond).is_err());
    }
}
