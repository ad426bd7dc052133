//! The Merkle tree, its proofs and signed checkpoints (docs/reference/ledger.md#merkle-tree): known
//! answers (the classic Certificate Transparency tree and transparency-dev's verification probes,
//! in `tests/merkle/`; Go's and C2SP's signed notes), a naive recursive model of RFC 9162 §2.1 for
//! random trees, mutations that every verifier must catch, and the lookup cost of proofs on a
//! million leaves.

use std::cell::Cell;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;
use serde_json::Value;
use tailledger::hash::Hash256;
use tailledger::merkle::{
    Checkpoint, EMPTY_ROOT, Error, Frontier, MemoryNodeStore, NodeId, NodeStore, SigningKey,
    StoreError, VerifierKey, consistency_proof, inclusion_proof, leaf_hash, node_hash, root,
    sign_checkpoint, verify_checkpoint, verify_consistency, verify_inclusion,
};

// ---------------------------------------------------------------------------------------------
// Reading the vector files

/// The JSON objects of a file in `tests/merkle/`, one a line, `#` lines being comments.
fn vectors(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/merkle")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn hex_hash(value: &Value) -> Hash256 {
    value.as_str().unwrap().parse().unwrap()
}

fn hex_hashes(value: &Value) -> Vec<Hash256> {
    value.as_array().unwrap().iter().map(hex_hash).collect()
}

fn number(value: &Value) -> u64 {
    value.as_u64().unwrap()
}

/// A hash of a probe. transparency-dev's probes (for a Go verifier that takes byte slices and
/// checks only the leaf hash's length) use short placeholders for roots and proof hashes where
/// only equality matters ("don't care 1") or garbage is the point (""). Our verifiers take
/// 32-byte hashes, so each placeholder becomes a distinct 32-byte value derived from it: every
/// comparison the probe relies on comes out the same.
fn probe_hash(value: &Value) -> Hash256 {
    let bytes = BASE64.decode(value.as_str().unwrap()).unwrap();
    match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(hash) => Hash256(hash),
        Err(_) => Hash256::of(&[b"placeholder:".as_slice(), &bytes].concat()),
    }
}

fn probe_hashes(value: &Value) -> Vec<Hash256> {
    match value {
        Value::Null => Vec::new(),
        value => value.as_array().unwrap().iter().map(probe_hash).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Known answers

#[test]
fn the_classic_tree_has_the_known_nodes_roots_and_proofs() {
    let vectors = vectors("tree.jsonl");
    let of_kind = |kind: &'static str| vectors.iter().filter(move |v| v["kind"] == kind);
    let inputs = of_kind("leaves").next().unwrap()["inputs"]
        .as_array()
        .unwrap();
    let leaves: Vec<Hash256> = inputs
        .iter()
        .map(|input| leaf_hash(&hex::decode(input.as_str().unwrap()).unwrap()))
        .collect();
    let roots: Vec<Hash256> = of_kind("root").map(|v| hex_hash(&v["hash"])).collect();
    assert_eq!((leaves.len(), roots.len()), (8, 9));

    // One leaf at a time: the frontier's root is the known root of every size.
    let mut frontier = Frontier::new();
    let mut store = MemoryNodeStore::default();
    assert_eq!(frontier.root(), roots[0]);
    for (size, leaf) in leaves.iter().enumerate() {
        store.extend(frontier.append(&[*leaf]));
        assert_eq!(frontier.root(), roots[size + 1], "size {}", size + 1);
    }
    // The store holds exactly the tree's complete subtrees, with the known hashes.
    let nodes: Vec<_> = of_kind("node").collect();
    assert_eq!(store.len(), nodes.len());
    for node in nodes {
        let id = NodeId {
            level: number(&node["level"]) as u8,
            index: number(&node["index"]),
        };
        assert_eq!(
            store.node(id).unwrap(),
            Some(hex_hash(&node["hash"])),
            "{id:?}"
        );
    }
    for (size, want) in roots.iter().enumerate() {
        assert_eq!(root(&store, size as u64).unwrap(), *want, "size {size}");
    }

    for v in of_kind("inclusion") {
        let (index, size) = (number(&v["leaf_index"]), number(&v["tree_size"]));
        let proof = inclusion_proof(&store, index, size).unwrap();
        assert_eq!(
            proof,
            hex_hashes(&v["proof"]),
            "inclusion {index} in {size}"
        );
        verify_inclusion(
            index,
            size,
            &leaves[index as usize],
            &proof,
            &roots[size as usize],
        )
        .unwrap();
    }
    for v in of_kind("consistency") {
        let (from, to) = (number(&v["from_size"]), number(&v["to_size"]));
        let proof = consistency_proof(&store, from, to).unwrap();
        assert_eq!(proof, hex_hashes(&v["proof"]), "consistency {from} to {to}");
        verify_consistency(from, to, &roots[from as usize], &roots[to as usize], &proof).unwrap();
    }
}

#[test]
fn transparency_dev_inclusion_probes_are_accepted_or_rejected_as_expected() {
    let probes = vectors("inclusion-probes.jsonl");
    assert_eq!(probes.len(), 98);
    let mut accepted = 0;
    for p in &probes {
        // Go's verifier refuses a leaf hash that is not 32 bytes; ours cannot be given one.
        let leaf = BASE64.decode(p["leafHash"].as_str().unwrap()).unwrap();
        let outcome = match <[u8; 32]>::try_from(leaf) {
            Ok(leaf) => verify_inclusion(
                number(&p["leafIdx"]),
                number(&p["treeSize"]),
                &Hash256(leaf),
                &probe_hashes(&p["proof"]),
                &probe_hash(&p["root"]),
            )
            .map_err(|err| err.to_string()),
            Err(_) => Err("the leaf hash is not 32 bytes".to_owned()),
        };
        let want_err = p["wantErr"].as_bool().unwrap();
        assert_eq!(outcome.is_err(), want_err, "{}: {outcome:?}", p["source"]);
        accepted += usize::from(!want_err);
    }
    // The happy paths of the five proofs and the single-entry tree.
    assert_eq!(accepted, 6);
}

#[test]
fn transparency_dev_consistency_probes_are_accepted_or_rejected_as_expected() {
    let probes = vectors("consistency-probes.jsonl");
    assert_eq!(probes.len(), 98);
    let mut accepted = 0;
    for p in &probes {
        let outcome = verify_consistency(
            number(&p["size1"]),
            number(&p["size2"]),
            &probe_hash(&p["root1"]),
            &probe_hash(&p["root2"]),
            &probe_hashes(&p["proof"]),
        );
        let want_err = p["wantErr"].as_bool().unwrap();
        assert_eq!(outcome.is_err(), want_err, "{}: {outcome:?}", p["source"]);
        accepted += usize::from(!want_err);
    }
    // The happy paths of the five proofs and "sizes are equal (one) and proof is empty".
    assert_eq!(accepted, 6);
}

// ---------------------------------------------------------------------------------------------
// The naive model: RFC 9162 §2.1's recursive definitions over a list of leaf hashes

/// The largest power of two smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]), §2.1.1.
fn mth(leaves: &[Hash256]) -> Hash256 {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]), §2.1.3.1.
fn path(m: usize, leaves: &[Hash256]) -> Vec<Hash256> {
    let n = leaves.len();
    if n == 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        [path(m, &leaves[..k]), vec![mth(&leaves[k..])]].concat()
    } else {
        [path(m - k, &leaves[k..]), vec![mth(&leaves[..k])]].concat()
    }
}

/// SUBPROOF(m, D[n], b), §2.1.4.1; PROOF(m, D[n]) is SUBPROOF(m, D[n], true).
fn subproof(m: usize, leaves: &[Hash256], b: bool) -> Vec<Hash256> {
    let n = leaves.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(leaves)] };
    }
    let k = split(n);
    if m <= k {
        [subproof(m, &leaves[..k], b), vec![mth(&leaves[k..])]].concat()
    } else {
        [
            subproof(m - k, &leaves[k..], false),
            vec![mth(&leaves[..k])],
        ]
        .concat()
    }
}

/// For each hash of PATH(m, D[n]), from the leaf up, whether it is the left child: all that the
/// verifier's arithmetic on `(leaf_index, tree_size)` decides.
fn path_sides(m: usize, n: usize) -> Vec<bool> {
    if n == 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        [path_sides(m, k), vec![false]].concat()
    } else {
        [path_sides(m - k, n - k), vec![true]].concat()
    }
}

/// The leaf ranges whose MTH PROOF(m, D[n]) lists, in its order, and whether the verifier puts
/// the old root first (the RFC's step 2: when the old tree is a complete subtree). Together they
/// tile `0..n`, and those inside `0..m` tile the old tree.
fn consistency_layout(m: usize, n: usize) -> (Vec<(usize, usize)>, bool) {
    fn walk(m: usize, start: usize, end: usize, b: bool, out: &mut Vec<(usize, usize)>) {
        if m == end - start {
            if !b {
                out.push((start, end));
            }
            return;
        }
        let k = split(end - start);
        if m <= k {
            walk(m, start, start + k, b, out);
            out.push((start + k, end));
        } else {
            walk(m - k, start + k, end, false, out);
            out.push((start, start + k));
        }
    }
    let mut ranges = Vec::new();
    walk(m, 0, n, true, &mut ranges);
    (ranges, m.is_power_of_two())
}

/// What a consistency proof means by the recursive definition alone: `proof` proves `m -> n` if
/// it has one hash per range of the layout and the trees of sizes `m` and `n` built from those
/// hashes (and the old root where the layout uses it) have the two roots.
fn model_accepts_consistency(
    m: u64,
    n: u64,
    old: &Hash256,
    new: &Hash256,
    proof: &[Hash256],
) -> bool {
    if m == 0 || m > n || n > 1 << 12 {
        return false;
    }
    if m == n {
        return proof.is_empty() && old == new;
    }
    let (m, n) = (m as usize, n as usize);
    let (ranges, old_first) = consistency_layout(m, n);
    if proof.len() != ranges.len() {
        return false;
    }
    let hash_of = |start: usize, end: usize| -> Option<Hash256> {
        fn build(
            start: usize,
            end: usize,
            known: &dyn Fn(usize, usize) -> Option<Hash256>,
        ) -> Option<Hash256> {
            if let Some(hash) = known(start, end) {
                return Some(hash);
            }
            if end - start == 1 {
                return None;
            }
            let k = split(end - start);
            Some(node_hash(
                &build(start, start + k, known)?,
                &build(start + k, end, known)?,
            ))
        }
        let known = |s: usize, e: usize| {
            if old_first && (s, e) == (0, m) {
                return Some(*old);
            }
            ranges.iter().position(|&r| r == (s, e)).map(|i| proof[i])
        };
        build(start, end, &known)
    };
    hash_of(0, m) == Some(*old) && hash_of(0, n) == Some(*new)
}

fn leaves(count: usize) -> Vec<Hash256> {
    (0..count as u64)
        .map(|i| leaf_hash(&i.to_be_bytes()))
        .collect()
}

/// A store holding the tree of `leaves`, appended in batches of the given sizes (cycled).
fn build(leaves: &[Hash256], batches: &[usize]) -> MemoryNodeStore {
    let mut store = MemoryNodeStore::default();
    let mut frontier = Frontier::new();
    let mut rest = leaves;
    for batch in batches.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at((*batch).min(rest.len()));
        store.extend(frontier.append(now));
        rest = later;
    }
    assert_eq!(frontier.root(), mth(leaves));
    store
}

proptest! {
    #[test]
    fn tree_and_proofs_match_the_naive_model(
        count in 1usize..300,
        batches in prop::collection::vec(1usize..50, 1..8),
        picks in prop::collection::vec((any::<u64>(), any::<u64>(), any::<u64>()), 1..6),
    ) {
        let leaves = leaves(count);
        let store = build(&leaves, &batches);
        for (a, b, c) in picks {
            let size = (a % count as u64) + 1;
            let prefix = &leaves[..size as usize];
            let size_root = root(&store, size).unwrap();
            prop_assert_eq!(size_root, mth(prefix));

            let index = b % size;
            let proof = inclusion_proof(&store, index, size).unwrap();
            prop_assert_eq!(&proof, &path(index as usize, prefix));
            prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &proof, &size_root).is_ok());

            let from = (c % size) + 1;
            let proof = consistency_proof(&store, from, size).unwrap();
            prop_assert_eq!(&proof, &subproof(from as usize, prefix, true));
            let from_root = mth(&leaves[..from as usize]);
            prop_assert!(verify_consistency(from, size, &from_root, &size_root, &proof).is_ok());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// Every way this test changes a proof's list of hashes: each hash with one bit flipped, each
/// hash removed, a hash inserted at each position, and neighbours swapped.
fn changed_proofs(proof: &[Hash256]) -> Vec<(String, Vec<Hash256>)> {
    let mut changed = Vec::new();
    for i in 0..proof.len() {
        for bit in [0, 77, 255] {
            let mut p = proof.to_vec();
            p[i].0[bit / 8] ^= 1 << (bit % 8);
            changed.push((format!("bit {bit} of hash {i} flipped"), p));
        }
        let mut p = proof.to_vec();
        p.remove(i);
        changed.push((format!("hash {i} removed"), p));
        if i + 1 < proof.len() && proof[i] != proof[i + 1] {
            let mut p = proof.to_vec();
            p.swap(i, i + 1);
            changed.push((format!("hashes {i} and {} swapped", i + 1), p));
        }
    }
    for i in 0..=proof.len() {
        let mut p = proof.to_vec();
        p.insert(i, leaf_hash(b"extra"));
        changed.push((format!("a hash inserted at {i}"), p));
    }
    changed
}

fn flip(hash: &Hash256) -> Hash256 {
    let mut changed = *hash;
    changed.0[31] ^= 1;
    changed
}

#[test]
fn any_changed_hash_index_or_size_in_an_inclusion_proof_is_rejected() {
    // Proofs in trees of up to 33 leaves (six levels, ragged edges), and the roots of up to
    // twice that for claims of another size.
    let leaves = leaves(67);
    let store = build(&leaves, &[5]);
    let roots: Vec<_> = (0..=67).map(|n| root(&store, n).unwrap()).collect();
    let mut same_root_accepted = 0;
    for size in 1..=33u64 {
        let size_root = roots[size as usize];
        for index in 0..size {
            let leaf = leaves[index as usize];
            let proof = inclusion_proof(&store, index, size).unwrap();
            verify_inclusion(index, size, &leaf, &proof, &size_root).unwrap();
            for (what, changed) in changed_proofs(&proof) {
                let outcome = verify_inclusion(index, size, &leaf, &changed, &size_root);
                assert!(outcome.is_err(), "{index} in {size}: {what}");
            }
            assert!(verify_inclusion(index, size, &flip(&leaf), &proof, &size_root).is_err());
            assert!(verify_inclusion(index, size, &leaf, &proof, &flip(&size_root)).is_err());
            // The index is bound: the sides of the path spell it out.
            for other in (0..size + 3).chain([u64::MAX]).filter(|&i| i != index) {
                let outcome = verify_inclusion(other, size, &leaf, &proof, &size_root);
                assert!(outcome.is_err(), "{index} in {size} claimed as {other}");
            }
            // Another size with that size's root, as a checkpoint of that size signs it.
            for other in (1..=size * 2 + 1).filter(|&n| n != size) {
                let outcome = verify_inclusion(index, other, &leaf, &proof, &roots[other as usize]);
                assert!(outcome.is_err(), "{index} in {size} claimed in {other}");
            }
            // Another size with this size's root: RFC 9162 binds the size only through the order
            // in which the path is hashed (leaf 0 of 3 and leaf 0 of 4 both take two right
            // siblings), so the verifier must accept exactly when the recursive definition hashes
            // in the same order; it is the signed checkpoint that ties a root to one size.
            let sides = path_sides(index as usize, size as usize);
            for other in (0..=size * 2 + 1).chain([u64::MAX]).filter(|&n| n != size) {
                let outcome = verify_inclusion(index, other, &leaf, &proof, &size_root);
                let same_order = index < other
                    && other <= 1 << 20
                    && path_sides(index as usize, other as usize) == sides;
                assert_eq!(
                    outcome.is_ok(),
                    same_order,
                    "{index} in {size} claimed in {other}"
                );
                same_root_accepted += usize::from(outcome.is_ok());
            }
        }
    }
    assert!(same_root_accepted > 0);
}

#[test]
fn any_changed_hash_or_size_in_a_consistency_proof_is_rejected() {
    let leaves = leaves(67);
    let store = build(&leaves, &[3, 8]);
    let roots: Vec<_> = (0..=67).map(|n| root(&store, n).unwrap()).collect();
    let mut same_roots_accepted = 0;
    for to in 1..=33u64 {
        for from in 1..=to {
            let (from_root, to_root) = (&roots[from as usize], &roots[to as usize]);
            let proof = consistency_proof(&store, from, to).unwrap();
            verify_consistency(from, to, from_root, to_root, &proof).unwrap();
            for (what, changed) in changed_proofs(&proof) {
                let outcome = verify_consistency(from, to, from_root, to_root, &changed);
                assert!(outcome.is_err(), "{from} to {to}: {what}");
            }
            assert!(verify_consistency(from, to, &flip(from_root), to_root, &proof).is_err());
            assert!(verify_consistency(from, to, from_root, &flip(to_root), &proof).is_err());
            // Other sizes with their own roots, as checkpoints of those sizes sign them.
            for other in (1..=to + 3).filter(|&m| m != from) {
                let outcome =
                    verify_consistency(other, to, &roots[other as usize], to_root, &proof);
                assert!(outcome.is_err(), "{from} to {to} claimed from {other}");
            }
            for other in (from..=to * 2 + 1).filter(|&n| n != to) {
                let outcome =
                    verify_consistency(from, other, from_root, &roots[other as usize], &proof);
                assert!(outcome.is_err(), "{from} to {to} claimed to {other}");
            }
            // Other sizes with these roots: as for inclusion, accepted exactly when the recursive
            // definition reads the same hashes the same way (from 1 to 3 and from 1 to 4).
            let claims = (0..=to + 3)
                .chain([u64::MAX])
                .filter(|&m| m != from)
                .map(|m| (m, to))
                .chain(
                    (0..=to * 2 + 1)
                        .chain([u64::MAX])
                        .filter(|&n| n != to)
                        .map(|n| (from, n)),
                );
            for (m, n) in claims {
                let outcome = verify_consistency(m, n, from_root, to_root, &proof);
                let model = model_accepts_consistency(m, n, from_root, to_root, &proof);
                assert_eq!(
                    outcome.is_ok(),
                    model,
                    "{from} to {to} claimed as {m} to {n}"
                );
                same_roots_accepted += usize::from(outcome.is_ok());
            }
        }
    }
    assert!(same_roots_accepted > 0);
}

// ---------------------------------------------------------------------------------------------
// Cost on a million leaves

/// A store that answers every lookup with a hash made from the node's address and counts the
/// lookups: the cost of a proof depends on the sizes only, so no tree needs building.
#[derive(Default)]
struct CountingStore {
    lookups: Cell<usize>,
}

impl NodeStore for CountingStore {
    fn node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError> {
        self.lookups.set(self.lookups.get() + 1);
        Ok(Some(Hash256::of(
            &[[node.level].as_slice(), &node.index.to_be_bytes()].concat(),
        )))
    }
}

impl CountingStore {
    fn count<T>(&self, f: impl FnOnce(&Self) -> T) -> usize {
        self.lookups.set(0);
        f(self);
        self.lookups.get()
    }
}

#[test]
fn proofs_on_a_million_leaves_cost_a_few_dozen_point_lookups() {
    const N: u64 = 1_000_000;
    let store = CountingStore::default();
    // log2(1,000,000) < 20 and 1,000,000 has 7 set bits.
    assert_eq!(store.count(|s| root(s, N).unwrap()), 7);
    assert_eq!(store.count(|s| Frontier::load(s, N).unwrap()), 7);
    let mut worst = (0, 0);
    for index in [0, 1, 499_999, 524_287, 524_288, 999_423, 999_998, N - 1] {
        let lookups = store.count(|s| inclusion_proof(s, index, N).unwrap());
        worst.0 = worst.0.max(lookups);
    }
    for from in [1, 2, 3, 1_000, 65_536, 524_288, 524_289, 999_999] {
        let lookups = store.count(|s| consistency_proof(s, from, N).unwrap());
        worst.1 = worst.1.max(lookups);
    }
    assert!(worst.0 <= 20 + 7 && worst.1 <= 20 + 7 + 1, "{worst:?}");
}

#[test]
fn a_tree_of_seventy_thousand_leaves_proves_its_last_leaf_and_its_growth() {
    // Past 2^16, in uneven batches, checked against an independent fold of all leaves.
    let leaves = leaves(70_001);
    let store = build(&leaves, &[1_000, 7, 333]);
    let size = leaves.len() as u64;
    let size_root = root(&store, size).unwrap();
    for index in [0, 65_535, 65_536, size - 1] {
        let proof = inclusion_proof(&store, index, size).unwrap();
        verify_inclusion(index, size, &leaves[index as usize], &proof, &size_root).unwrap();
    }
    for from in [1, 65_536, 69_999, size] {
        let proof = consistency_proof(&store, from, size).unwrap();
        let from_root = root(&store, from).unwrap();
        verify_consistency(from, size, &from_root, &size_root, &proof).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Signed checkpoints

fn test_key() -> SigningKey {
    SigningKey::from_seed("tailledger/test-ledger", &[42; 32]).unwrap()
}

fn checkpoint(size: u64) -> Checkpoint {
    let leaves = leaves(size as usize);
    Checkpoint {
        origin: "tailledger/test-ledger".to_owned(),
        size,
        root: mth(&leaves),
        extensions: Vec::new(),
    }
}

#[test]
fn a_signed_checkpoint_matches_an_independent_ed25519_implementation() {
    // Computed with Python's hashlib and `cryptography` (Ed25519) from the C2SP signed-note and
    // tlog-checkpoint formulas: seed 00 01 .. 1f, the classic 8-leaf tree's root.
    let key = SigningKey::from_seed(
        "example.com/tailledger-test",
        &std::array::from_fn(|i| i as u8),
    )
    .unwrap();
    let vkey = "example.com/tailledger-test+629135b3+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    let note = "example.com/tailledger-test\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\
                \u{2014} example.com/tailledger-test YpE1s9z7rxJtiVAFZfYqsj96iT3nUQXjxwR8xDf9VsLo5aVT2vGGBkxOvf2KMkN2GgRImgj2sWHGWAuuDLWqT1PdFQ4=\n";
    assert_eq!(key.verifier_key().to_string(), vkey);
    let checkpoint = Checkpoint {
        origin: "example.com/tailledger-test".to_owned(),
        size: 8,
        root: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
            .parse()
            .unwrap(),
        extensions: Vec::new(),
    };
    assert_eq!(sign_checkpoint(&checkpoint, &key).unwrap(), note);
    let verifier = VerifierKey::parse(vkey).unwrap();
    assert_eq!(verify_checkpoint(note, &verifier).unwrap(), checkpoint);
}

#[test]
fn the_c2sp_checkpoint_example_parses() {
    // c2sp.org/tlog-checkpoint, the example at the top (its key is not published).
    let body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let checkpoint = Checkpoint::parse(body).unwrap();
    assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
    assert_eq!(checkpoint.size, 20_852_163);
    assert_eq!(
        BASE64.encode(checkpoint.root.0),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    assert_eq!(checkpoint.body().unwrap(), body);
}

#[test]
fn a_checkpoint_round_trips_with_extensions_and_cosignatures_from_other_keys() {
    let key = test_key();
    let verifier = VerifierKey::parse(&key.verifier_key().to_string()).unwrap();
    let mut checkpoint = checkpoint(5);
    checkpoint.extensions = vec!["an extension".to_owned()];
    let note = sign_checkpoint(&checkpoint, &key).unwrap();
    assert!(note.starts_with("tailledger/test-ledger\n5\n"), "{note}");
    assert_eq!(verify_checkpoint(&note, &verifier).unwrap(), checkpoint);
    // A witness's cosignature appended by someone else does not disturb verification.
    let witness = SigningKey::from_seed("witness.example/w1", &[9; 32]).unwrap();
    let cosigned = sign_checkpoint(&checkpoint, &witness).unwrap();
    let cosignature = cosigned.rsplit_once("\n\n").unwrap().1;
    let both = format!("{note}{cosignature}");
    assert_eq!(verify_checkpoint(&both, &verifier).unwrap(), checkpoint);
    // But the witness's key alone does not vouch for the log.
    let err = verify_checkpoint(&cosigned, &verifier).unwrap_err();
    assert!(matches!(err, Error::NoTrustedSignature { .. }), "{err}");
}

#[test]
fn a_checkpoint_with_a_changed_size_root_origin_or_signature_is_rejected() {
    let key = test_key();
    let verifier = key.verifier_key();
    let checkpoint = checkpoint(10);
    let note = sign_checkpoint(&checkpoint, &key).unwrap();
    let (body, signature_line) = note.split_once("\n\n").unwrap();
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();

    let mut tampered = Vec::new();
    for size in [0, 9, 11, 100, u64::MAX] {
        let mut l = lines.clone();
        l[1] = size.to_string();
        tampered.push((format!("size {size}"), l));
    }
    for at in 0..lines[2].len() {
        let mut l = lines.clone();
        let mut root = l[2].clone().into_bytes();
        root[at] = if root[at] == b'A' { b'B' } else { b'A' };
        l[2] = String::from_utf8(root).unwrap();
        tampered.push((format!("root character {at}"), l));
    }
    let mut l = lines.clone();
    l[2] = BASE64.encode(mth(&leaves(11)).0);
    tampered.push(("the root of another size".to_owned(), l));
    let mut l = lines.clone();
    l[0] = "tailledger/other-ledger".to_owned();
    tampered.push(("origin".to_owned(), l));
    let mut l = lines.clone();
    l.push("an extension".to_owned());
    tampered.push(("an added extension".to_owned(), l));
    for (what, l) in tampered {
        let changed = format!("{}\n\n{signature_line}", l.join("\n"));
        assert!(verify_checkpoint(&changed, &verifier).is_err(), "{what}");
    }

    // Every character of the signature's base64 (the key id's too) changed.
    let (prefix, b64) = signature_line.trim_end().rsplit_once(' ').unwrap();
    for at in 0..b64.len() - 1 {
        let mut sig = b64.as_bytes().to_vec();
        sig[at] = if sig[at] == b'A' { b'B' } else { b'A' };
        let changed = format!("{body}\n\n{prefix} {}\n", String::from_utf8(sig).unwrap());
        assert!(
            verify_checkpoint(&changed, &verifier).is_err(),
            "signature character {at}"
        );
    }
    // No signature, another key's, a different name for ours.
    lines.push(String::new());
    let unsigned = lines.join("\n");
    assert!(verify_checkpoint(&unsigned, &verifier).is_err());
    let other = SigningKey::from_seed("tailledger/test-ledger", &[43; 32]).unwrap();
    let by_other = sign_checkpoint(&checkpoint, &other).unwrap();
    assert!(verify_checkpoint(&by_other, &verifier).is_err());
    let renamed = note.replacen(
        "\u{2014} tailledger/test-ledger ",
        "\u{2014} tailledger/test ",
        1,
    );
    assert!(verify_checkpoint(&renamed, &verifier).is_err());
    // The genuine note still verifies.
    assert_eq!(verify_checkpoint(&note, &verifier).unwrap(), checkpoint);
}

#[test]
fn malformed_checkpoint_bodies_are_refused_naming_the_line() {
    let root = BASE64.encode([7u8; 32]);
    let cases = [
        (
            "o\n1\n".to_owned(),
            "checkpoint line 3: missing: a checkpoint has an origin, a tree size and a root hash line",
        ),
        (
            format!("o\n1\n{root}"),
            "checkpoint line 3: the text does not end with a newline",
        ),
        (
            format!("\n1\n{root}\n"),
            "checkpoint line 1: the origin is empty",
        ),
        (
            format!("o\n\n{root}\n"),
            "checkpoint line 2: the tree size is empty",
        ),
        (
            format!("o\n01\n{root}\n"),
            "checkpoint line 2: the tree size must be decimal digits without leading zeros",
        ),
        (
            format!("o\n+1\n{root}\n"),
            "checkpoint line 2: the tree size must be decimal digits without leading zeros",
        ),
        (
            format!("o\n-1\n{root}\n"),
            "checkpoint line 2: the tree size must be decimal digits without leading zeros",
        ),
        (
            format!("o\n18446744073709551616\n{root}\n"),
            "checkpoint line 2: the tree size does not fit in 64 bits",
        ),
        (
            "o\n1\nAAAA\n".to_owned(),
            "checkpoint line 3: the root hash is not the base64 of 32 bytes",
        ),
        // The same 32 bytes with non-zero trailing bits: not the canonical spelling.
        (
            format!("o\n1\n{}F=\n", &root[..42]),
            "checkpoint line 3: the root hash is not the base64 of 32 bytes",
        ),
        (
            format!("o\n1\n{root}\n\n"),
            "checkpoint line 4: an extension line is empty",
        ),
        (
            format!("o\tx\n1\n{root}\n"),
            "checkpoint line 1: the line has a control character or newline",
        ),
    ];
    for (body, message) in cases {
        let err = Checkpoint::parse(&body).unwrap_err();
        assert_eq!(err.to_string(), message, "{body:?}");
    }
    assert_eq!(
        Checkpoint::parse(&format!("o\n0\n{root}\n")).unwrap().size,
        0
    );

    // A checkpoint that cannot be written as a body is refused before it is signed.
    let mut bad = checkpoint(1);
    bad.origin = "two\nlines".to_owned();
    let err = sign_checkpoint(&bad, &test_key()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "checkpoint line 1: the line has a control character or newline"
    );
}
