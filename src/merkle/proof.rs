//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4).
//!
//! Generation walks the RFC's recursive definitions (PATH and SUBPROOF) top-down without
//! recursion; every hash they name is a complete subtree, except the one range that reaches the
//! tree's ragged right edge, so a proof costs at most about `2 log2(n)` point lookups.
//! Verification is the RFC's iterative algorithm, step by step, so that it can be compared with
//! the text (and with the README's script, which follows the same steps).

use super::Error;
use super::tree::{NodeStore, largest_power_of_two_at_most, node_hash, range_hash};
use crate::hash::Hash256;

/// The inclusion proof of leaf `leaf_index` in the tree of the first `tree_size` leaves:
/// PATH(m, D\[n\]) of RFC 9162 §2.1.3.1, from the leaf's sibling up to the root's child.
pub fn inclusion_proof(
    store: &impl NodeStore,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<Hash256>, Error> {
    if leaf_index >= tree_size {
        return Err(Error::LeafBeyondTree {
            leaf_index,
            tree_size,
        });
    }
    let (mut start, mut end) = (0, tree_size);
    let mut path = Vec::with_capacity(64);
    // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) if m < k, else PATH(m - k, D[k:n]) :
    // MTH(D[0:k]). The deepest sibling comes first, so collect top-down and reverse.
    while end - start > 1 {
        let k = largest_power_of_two_at_most(end - start - 1);
        if leaf_index < start + k {
            path.push(range_hash(store, start + k, end)?);
            end = start + k;
        } else {
            path.push(range_hash(store, start, start + k)?);
            start += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof that the tree of `to_size` leaves extends the tree of `from_size`
/// leaves: PROOF(m, D\[n\]) of RFC 9162 §2.1.4.1 (empty when the sizes are equal).
pub fn consistency_proof(
    store: &impl NodeStore,
    from_size: u64,
    to_size: u64,
) -> Result<Vec<Hash256>, Error> {
    check_consistency_sizes(from_size, to_size)?;
    let mut path = Vec::with_capacity(64);
    walk_subproof(from_size, to_size, |start, end| {
        path.push(range_hash(store, start, end)?);
        Ok(())
    })?;
    path.reverse();
    Ok(path)
}

/// Checks an inclusion proof exactly as RFC 9162 §2.1.3.2 says: `leaf_hash` is leaf
/// `leaf_index` of the tree of `tree_size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash256,
    proof: &[Hash256],
    root: &Hash256,
) -> Result<(), Error> {
    let wrong_length = || Error::ProofLength {
        got: proof.len(),
        want: inclusion_proof_len(leaf_index, tree_size),
    };
    // 1. If leaf_index >= tree_size, fail.
    if leaf_index >= tree_size {
        return Err(Error::LeafBeyondTree {
            leaf_index,
            tree_size,
        });
    }
    // 2. fn = leaf_index, sn = tree_size - 1. 3. r = hash.
    let (mut fn_, mut sn) = (leaf_index, tree_size - 1);
    let mut r = *leaf_hash;
    // 4. For each p in inclusion_path:
    for p in proof {
        // a. If sn is 0, fail.
        if sn == 0 {
            return Err(wrong_length());
        }
        // b. If LSB(fn) is set or fn == sn: r = HASH(0x01 || p || r), and if LSB(fn) is not set,
        //    right-shift fn and sn until LSB(fn) is set or fn is 0. Otherwise r = HASH(0x01 || r || p).
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        // c. Right-shift fn and sn once.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Verified if sn is 0 and r equals root_hash.
    if sn != 0 {
        return Err(wrong_length());
    }
    if r != *root {
        return Err(Error::RootMismatch {
            which: "the tree's root",
            calculated: r,
            expected: *root,
        });
    }
    Ok(())
}

/// Checks a consistency proof exactly as RFC 9162 §2.1.4.2 says: the tree of `to_size` leaves
/// with root `to_root` extends the tree of `from_size` leaves with root `from_root`.
///
/// The RFC's algorithm covers `0 < from_size < to_size`; equal sizes are consistent when the
/// proof is empty and the roots are equal, and a proof from the empty tree is refused as
/// meaningless (as transparency-dev's verifier and its test vectors do).
pub fn verify_consistency(
    from_size: u64,
    to_size: u64,
    from_root: &Hash256,
    to_root: &Hash256,
    proof: &[Hash256],
) -> Result<(), Error> {
    check_consistency_sizes(from_size, to_size)?;
    let wrong_length = || Error::ProofLength {
        got: proof.len(),
        want: consistency_proof_len(from_size, to_size),
    };
    if from_size == to_size {
        if !proof.is_empty() {
            return Err(wrong_length());
        }
        if from_root != to_root {
            return Err(Error::RootMismatch {
                which: "to_size's root",
                calculated: *from_root,
                expected: *to_root,
            });
        }
        return Ok(());
    }
    // 1. If consistency_path is empty, fail.
    if proof.is_empty() {
        return Err(wrong_length());
    }
    // 2. If first is an exact power of 2, prepend first_hash to consistency_path.
    let prefix = from_size.is_power_of_two().then_some(from_root);
    let mut path = prefix.into_iter().chain(proof);
    // 3. fn = first - 1, sn = second - 1.
    let (mut fn_, mut sn) = (from_size - 1, to_size - 1);
    // 4. While LSB(fn) is set, right-shift fn and sn.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. fr = sr = the first value of consistency_path.
    let first = *path.next().expect("the path is not empty");
    let (mut fr, mut sr) = (first, first);
    // 6. For each subsequent value c:
    for c in path {
        // a. If sn is 0, fail.
        if sn == 0 {
            return Err(wrong_length());
        }
        // b. If LSB(fn) is set or fn == sn: fr = HASH(0x01 || c || fr), sr = HASH(0x01 || c || sr),
        //    and if LSB(fn) is not set, right-shift fn and sn until LSB(fn) is set or fn is 0.
        //    Otherwise sr = HASH(0x01 || sr || c).
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        // c. Right-shift fn and sn once.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. Verified if fr equals first_hash, sr equals second_hash and sn is 0.
    if sn != 0 {
        return Err(wrong_length());
    }
    if fr != *from_root {
        return Err(Error::RootMismatch {
            which: "from_size's root",
            calculated: fr,
            expected: *from_root,
        });
    }
    if sr != *to_root {
        return Err(Error::RootMismatch {
            which: "to_size's root",
            calculated: sr,
            expected: *to_root,
        });
    }
    Ok(())
}

fn check_consistency_sizes(from_size: u64, to_size: u64) -> Result<(), Error> {
    if from_size > to_size {
        return Err(Error::ConsistencyBackwards { from_size, to_size });
    }
    if from_size == 0 {
        return Err(Error::ConsistencyFromEmpty);
    }
    Ok(())
}

/// Calls `visit(start, end)` for each range whose MTH is in SUBPROOF(m, D\[n\], true) (RFC 9162
/// §2.1.4.1), root first; the proof lists them in the reverse order. `0 < m <= n`.
fn walk_subproof(
    m: u64,
    n: u64,
    mut visit: impl FnMut(u64, u64) -> Result<(), Error>,
) -> Result<(), Error> {
    let (mut start, mut end, mut whole_old_tree) = (0, n, true);
    loop {
        // SUBPROOF(m, D[m], b) = [] if b (the verifier has the old root), else [MTH(D[m])].
        if m - start == end - start {
            if !whole_old_tree {
                visit(start, end)?;
            }
            return Ok(());
        }
        // SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) if m <= k,
        //                      = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) otherwise.
        let k = largest_power_of_two_at_most(end - start - 1);
        if m - start <= k {
            visit(start + k, end)?;
            end = start + k;
        } else {
            visit(start, start + k)?;
            start += k;
            whole_old_tree = false;
        }
    }
}

/// How many hashes PATH(leaf_index, D\[tree_size\]) has (for error messages; 0 when undefined).
fn inclusion_proof_len(leaf_index: u64, tree_size: u64) -> usize {
    if leaf_index >= tree_size {
        return 0;
    }
    let (mut start, mut end, mut len) = (0, tree_size, 0);
    while end - start > 1 {
        let k = largest_power_of_two_at_most(end - start - 1);
        if leaf_index < start + k {
            end = start + k;
        } else {
            start += k;
        }
        len += 1;
    }
    len
}

/// How many hashes PROOF(from_size, D\[to_size\]) has (for error messages; 0 when undefined).
fn consistency_proof_len(from_size: u64, to_size: u64) -> usize {
    if from_size == 0 || from_size > to_size {
        return 0;
    }
    let mut len = 0;
    walk_subproof(from_size, to_size, |_, _| {
        len += 1;
        Ok(())
    })
    .expect("counting does not fail");
    len
}

#[cfg(test)]
mod tests {
    use super::super::tree::{Frontier, MemoryNodeStore, leaf_hash, root};
    use super::*;

    fn tree(size: u8) -> MemoryNodeStore {
        let leaves: Vec<_> = (0..size).map(|i| leaf_hash(&[i])).collect();
        let mut store = MemoryNodeStore::default();
        store.extend(Frontier::new().append(&leaves));
        store
    }

    #[test]
    fn every_proof_of_a_small_tree_verifies_and_has_the_predicted_length() {
        let store = tree(17);
        for size in 1..=17u64 {
            let size_root = root(&store, size).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(&store, index, size).unwrap();
                assert_eq!(proof.len(), inclusion_proof_len(index, size));
                let leaf = leaf_hash(&[index as u8]);
                verify_inclusion(index, size, &leaf, &proof, &size_root).unwrap();
            }
            for from in 1..=size {
                let proof = consistency_proof(&store, from, size).unwrap();
                assert_eq!(proof.len(), consistency_proof_len(from, size));
                let from_root = root(&store, from).unwrap();
                verify_consistency(from, size, &from_root, &size_root, &proof).unwrap();
            }
        }
    }

    #[test]
    fn bad_arguments_are_refused_naming_the_values() {
        let store = tree(4);
        let err = inclusion_proof(&store, 4, 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "leaf index 4 is beyond the tree: a tree of size 4 has leaves 0..4"
        );
        assert!(matches!(
            inclusion_proof(&store, 0, 0),
            Err(Error::LeafBeyondTree { .. })
        ));
        assert!(matches!(
            consistency_proof(&store, 0, 4),
            Err(Error::ConsistencyFromEmpty)
        ));
        let err = consistency_proof(&store, 4, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "from_size 4 is greater than to_size 3: a tree can only be extended"
        );
        assert_eq!(consistency_proof(&store, 3, 3).unwrap(), vec![]);
    }

    #[test]
    fn a_proof_of_the_wrong_length_says_how_long_it_should_be() {
        let store = tree(8);
        let size_root = root(&store, 8).unwrap();
        let mut proof = inclusion_proof(&store, 5, 8).unwrap();
        proof.pop();
        let err = verify_inclusion(5, 8, &leaf_hash(&[5]), &proof, &size_root).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the proof has 2 hashes but the sizes and index given need 3"
        );
    }
}
