//! The client's checks against signed checkpoints (docs/reference/ledger.md#proofs): a checkpoint
//! is taken only with a valid signature by the key the caller pins, and its size and root are then
//! the ones every proof is checked against (a proof alone does not bind a size to a root). Leaf
//! hashes are computed here from the canonical forms received, never taken from the server.

use super::{ApiClient, ClientError, unusable};
use crate::entry::Entry;
use crate::hash::Hash256;
use crate::merkle::{
    Checkpoint, VerifierKey, verify_checkpoint, verify_consistency, verify_inclusion,
};

use super::super::pb;

/// Hex hashes of a proof as hashes.
fn hashes(hex: &[String]) -> Result<Vec<Hash256>, ClientError> {
    hex.iter()
        .map(|hash| hash.parse().map_err(unusable))
        .collect()
}

fn not_proven(what: impl std::fmt::Display) -> ClientError {
    ClientError::NotProven(what.to_string())
}

/// Reads a signed checkpoint note, which must carry a valid signature by `key`.
pub fn open_checkpoint(note: &str, key: &VerifierKey) -> Result<Checkpoint, ClientError> {
    verify_checkpoint(note, key).map_err(not_proven)
}

impl ApiClient {
    /// The server's checkpoint at its head, as a note and its checked content.
    pub async fn checkpoint(
        &mut self,
        key: &VerifierKey,
    ) -> Result<(String, Checkpoint), ClientError> {
        let note = self
            .ledger
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await?
            .into_inner()
            .checkpoint;
        let checkpoint = open_checkpoint(&note, key)?;
        Ok((note, checkpoint))
    }

    /// Checks that each entry is in the tree of `checkpoint`, by an inclusion proof each.
    pub async fn check_inclusion(
        &mut self,
        entries: &[Entry],
        checkpoint: &Checkpoint,
    ) -> Result<(), ClientError> {
        for entry in entries {
            let proof = self
                .ledger
                .get_inclusion_proof(pb::GetInclusionProofRequest {
                    seq: entry.seq,
                    tree_size: checkpoint.size,
                })
                .await?
                .into_inner();
            verify_inclusion(
                entry.seq - 1,
                checkpoint.size,
                &entry.leaf_hash(),
                &hashes(&proof.hashes)?,
                &checkpoint.root,
            )
            .map_err(|error| not_proven(format!("seq {}: {error}", entry.seq)))?;
        }
        Ok(())
    }

    /// Checks that the tree of `to` extends the tree of `from`, by the server's consistency
    /// proof.
    pub async fn check_consistency(
        &mut self,
        from: &Checkpoint,
        to: &Checkpoint,
    ) -> Result<(), ClientError> {
        if from.origin != to.origin {
            return Err(not_proven(format!(
                "the checkpoints are of two logs, `{}` and `{}`",
                from.origin, to.origin
            )));
        }
        if from.size > to.size {
            return Err(not_proven(format!(
                "the previous checkpoint's tree ({}) is larger than the later one's ({})",
                from.size, to.size
            )));
        }
        let proof = self.consistency_proof(from.size, to.size).await?;
        verify_consistency(from.size, to.size, &from.root, &to.root, &proof).map_err(not_proven)
    }

    /// The server's consistency proof from the tree of `from_size` leaves to the tree of
    /// `to_size`, unchecked (the caller checks it against roots it trusts); empty between two
    /// trees of one size, which the server is not asked about.
    pub async fn consistency_proof(
        &mut self,
        from_size: u64,
        to_size: u64,
    ) -> Result<Vec<Hash256>, ClientError> {
        if from_size == to_size {
            return Ok(Vec::new());
        }
        let answer = self
            .ledger
            .get_consistency_proof(pb::GetConsistencyProofRequest { from_size, to_size })
            .await?
            .into_inner();
        hashes(&answer.hashes)
    }
}
