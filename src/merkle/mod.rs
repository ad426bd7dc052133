//! The ledger's RFC 9162 Merkle tree, its proofs, and signed checkpoints
//! (docs/reference/ledger.md#merkle-tree).
//!
//! Beside the hash chain, every entry is a leaf of an RFC 9162 Merkle tree: leaf `seq` is at
//! index `seq - 1` and its hash is [`leaf_hash`] of the entry's canonical form (the same bytes
//! the chain hashes). A tree of `n` leaves is identified by its size and [`root`]; an auditor
//! who keeps a signed [`Checkpoint`] (size and root) can then check, with a logarithmic proof
//! and nothing else, that one entry is in the history ([`inclusion_proof`],
//! [`verify_inclusion`]) and that a later history extends it without rewriting it
//! ([`consistency_proof`], [`verify_consistency`]).
//!
//! The module is pure: no I/O, no clock, no randomness. Storage is behind [`NodeStore`], which
//! answers one question, "the hash of the complete subtree at (level, index)", so that every
//! proof is a handful of point lookups. A [`Frontier`] keeps the tree incrementally: given the
//! leaf hashes of a batch it returns the new complete-subtree nodes, which the store stages with
//! the entries they cover and makes part of the tree with the same commit of the head.
//!
//! - `tree.rs`: hashing, node addresses, the store trait and an in-memory store, the frontier,
//!   roots of any size.
//! - `proof.rs`: inclusion and consistency proofs, generated from a store and verified exactly
//!   as RFC 9162 §2.1.3.2 and §2.1.4.2 say.
//! - `note.rs`: C2SP `tlog-checkpoint` bodies inside C2SP `signed-note`s with Ed25519 keys,
//!   interoperable with Go's `golang.org/x/mod/sumdb/note`.
//! - `cosignature.rs`: witnesses' C2SP `tlog-cosignature` `cosignature/v1` lines, Ed25519.

mod cosignature;
mod note;
mod proof;
mod tree;

pub use cosignature::{Cosignature, CosignerKey, cosign, find_cosignature, note_cosignature};
pub use note::{
    Checkpoint, SigningKey, VerifierKey, note_signers, sign_checkpoint, sign_note,
    verify_checkpoint,
};
pub use proof::{consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
pub use tree::{
    EMPTY_ROOT, Frontier, MemoryNodeStore, NodeId, NodeStore, StoreError, leaf_hash, node_hash,
    root,
};

use crate::hash::Hash256;

/// Everything that can go wrong in this module: bad arguments, a damaged or short store, a
/// proof or checkpoint that does not verify, and malformed notes and keys.
///
/// Messages say what was wrong, where, and why, and never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A proof was asked for a leaf the tree does not have.
    #[error(
        "leaf index {leaf_index} is beyond the tree: a tree of size {tree_size} has leaves 0..{tree_size}"
    )]
    LeafBeyondTree { leaf_index: u64, tree_size: u64 },
    /// A consistency proof was asked for, or given, from the empty tree.
    #[error("from_size is 0: every tree extends the empty tree, so there is nothing to prove")]
    ConsistencyFromEmpty,
    /// A consistency proof was asked for, or given, from a larger tree to a smaller one.
    #[error("from_size {from_size} is greater than to_size {to_size}: a tree can only be extended")]
    ConsistencyBackwards { from_size: u64, to_size: u64 },
    /// The store has no hash for a node the tree of the requested size must have.
    #[error("the Merkle tree store has no node at level {}, index {}: the tree is smaller than asked or damaged", .node.level, .node.index)]
    MissingNode { node: NodeId },
    /// The store failed to read a node.
    #[error("reading Merkle tree node at level {}, index {} failed", .node.level, .node.index)]
    Store {
        node: NodeId,
        #[source]
        source: StoreError,
    },
    /// A proof has the wrong number of hashes for its sizes and index.
    #[error("the proof has {got} hashes but the sizes and index given need {want}")]
    ProofLength { got: usize, want: usize },
    /// A proof does not lead to the root it claims.
    #[error("the proof does not verify: it leads to {which} {calculated}, not {expected}")]
    RootMismatch {
        which: &'static str,
        calculated: Hash256,
        expected: Hash256,
    },
    /// A text is not a checkpoint body of C2SP `tlog-checkpoint`.
    #[error("checkpoint line {line}: {reason}")]
    MalformedCheckpoint { line: usize, reason: &'static str },
    /// A text is not a C2SP signed note.
    #[error("malformed signed note: {reason}")]
    MalformedNote { reason: String },
    /// A verifier key string is not `<name>+<hex key id>+<base64 key>`.
    #[error("malformed verifier key: {reason}")]
    MalformedVerifierKey { reason: &'static str },
    /// A signing key string or seed is unusable (the message never shows the key).
    #[error("malformed signing key: {reason}")]
    MalformedSigningKey { reason: &'static str },
    /// A key name is empty or has a space or a `+`, which the note format cannot carry.
    #[error("key name `{name}` is invalid: it must be non-empty, without spaces or `+`")]
    InvalidKeyName { name: String },
    /// A signature by the trusted key is present but wrong: the note was altered.
    #[error(
        "the signature by {name}+{key_id:08x} does not verify: the note was altered or not signed by this key"
    )]
    InvalidSignature { name: String, key_id: u32 },
    /// No signature in the note is by the trusted key.
    #[error("the note has no signature by {name}+{key_id:08x}")]
    NoTrustedSignature { name: String, key_id: u32 },
}
