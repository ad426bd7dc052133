//! The signed checkpoint a pack carries (docs/reference/ledger.md#evidence-pack): a signed note of
//! the ledger's Merkle tree at least as large as the pack's export, and the RFC 9162 consistency
//! proof from the tree of the export's entries to it. An auditor who pinned the ledger's public key
//! then checks, with the pack's `verify_checkpoint.py` and `check_proof.py`, that `ledger.jsonl` is
//! the start of the history the key signed.
//!
//! A pack has one in two ways: signed by the ledger's own key over exactly the export's tree
//! (`evidence --data-dir --signing-key`, and the demo), or the server's signed checkpoint taken
//! after its export, with the server's consistency proof (`evidence --server --public-key`,
//! which checks the signature). Either way the proof is checked here against the root of the
//! replayed export, so a pack never carries a checkpoint its export does not match.

use serde::Serialize;

use super::EvidenceError;
use crate::hash::Hash256;
use crate::merkle::{Checkpoint, verify_consistency};
use crate::service::Service;

/// A pack's signed checkpoint and the proof that the pack's export is the start of its tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackCheckpoint {
    /// The C2SP signed note, as `GetCheckpoint` returns it (`checkpoint.txt`).
    pub note: String,
    /// What the note says.
    pub checkpoint: Checkpoint,
    /// The number of entries in the pack's `ledger.jsonl`: the size of the export's tree.
    pub export_size: u64,
    /// The consistency proof from the export's tree to the checkpoint's (empty when they are
    /// one tree).
    pub proof: Vec<Hash256>,
}

/// `consistency_proof.json`: the sizes and hex hashes, as `GetConsistencyProof` answers in
/// proto3 JSON (`hashes`), which `check_proof.py` reads.
#[derive(Serialize)]
struct ProofFile {
    from_size: u64,
    to_size: u64,
    hashes: Vec<String>,
}

impl PackCheckpoint {
    /// The checkpoint of the export's first `export_size` entries, signed by `service`'s key
    /// (`service` reads the replayed export).
    pub async fn signed(service: &Service, export_size: u64) -> Result<Self, EvidenceError> {
        let signed = service.published_checkpoint(Some(export_size)).await?;
        Ok(PackCheckpoint {
            note: signed.note,
            checkpoint: signed.checkpoint,
            export_size,
            proof: Vec::new(),
        })
    }

    /// A checkpoint signed elsewhere (its signature already checked) of a tree at least as
    /// large as the export's first `export_size` entries, kept when `proof` shows that those
    /// entries, as `service` read them from the export, are the start of its tree.
    pub async fn extending(
        service: &Service,
        export_size: u64,
        note: String,
        checkpoint: Checkpoint,
        proof: Vec<Hash256>,
    ) -> Result<Self, EvidenceError> {
        let refuse = |reason: String| EvidenceError::Checkpoint { reason };
        let ours = service.tree_checkpoint(Some(export_size)).await?;
        if checkpoint.origin != ours.origin {
            return Err(refuse(format!(
                "it is of the log `{}`, the export's is `{}`",
                checkpoint.origin, ours.origin
            )));
        }
        if checkpoint.size < export_size {
            return Err(refuse(format!(
                "its tree of size {} is smaller than the export's {export_size} entries",
                checkpoint.size
            )));
        }
        verify_consistency(
            export_size,
            checkpoint.size,
            &ours.root,
            &checkpoint.root,
            &proof,
        )
        .map_err(|error| {
            refuse(format!(
                "the export's {export_size} entries are not the start of its tree of size {}: {error}",
                checkpoint.size
            ))
        })?;
        Ok(PackCheckpoint {
            note,
            checkpoint,
            export_size,
            proof,
        })
    }

    /// The text of `consistency_proof.json`.
    pub fn proof_json(&self) -> String {
        let file = ProofFile {
            from_size: self.export_size,
            to_size: self.checkpoint.size,
            hashes: self.proof.iter().map(Hash256::to_string).collect(),
        };
        serde_json::to_string_pretty(&file).expect("sizes and strings serialize") + "\n"
    }
}
