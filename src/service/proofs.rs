//! The service's part of the ledger's Merkle tree: signed checkpoints of it
//! (docs/reference/ledger.md#checkpoints), and the inclusion and consistency proofs an auditor
//! checks against them (docs/reference/ledger.md#proofs).
//!
//! A checkpoint's origin is `tailledger/<ledger id>`, the ledger id being the first 16 hex
//! digits of the hash of entry 1: fixed for the ledger's life, different for every ledger, and
//! known to anyone holding its export.

use std::sync::Arc;

use super::{Service, ServiceError};
use crate::hash::Hash256;
use crate::ledger::InclusionProof;
use crate::merkle::{Checkpoint, SigningKey, sign_checkpoint};

/// A checkpoint of the tree at the head, and the signed note that carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// The C2SP signed note: the checkpoint body, a blank line, the signature line.
    pub note: String,
}

impl Service {
    /// Signs checkpoints with `key` (`[checkpoint] signing_key_path`).
    pub fn set_signing_key(&mut self, key: Arc<SigningKey>) {
        self.signing_key = Some(key);
    }

    /// The key checkpoints are signed with, if one is configured.
    pub fn signing_key(&self) -> Option<Arc<SigningKey>> {
        self.signing_key.clone()
    }

    /// The signed checkpoint of the tree of the ledger's first `size` entries (1 to the head's
    /// seq: the tree an export of those entries has), or of the tree at the head.
    pub async fn checkpoint(&self, size: Option<u64>) -> Result<SignedCheckpoint, ServiceError> {
        let key = self.signing_key.clone().ok_or(ServiceError::NoSigningKey)?;
        let checkpoint = self.tree_checkpoint(size).await?;
        let note = sign_checkpoint(&checkpoint, &key).map_err(ServiceError::Sign)?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// The published checkpoint of the tree of the first `size` entries, or at the head: the
    /// one evidence packs carry and their `tlog-proof` files end with. Today it is the signed
    /// checkpoint itself; a checkpoint cosigned by witnesses carries their signature lines after
    /// the ledger's, which the packs' scripts list by key name.
    pub async fn published_checkpoint(
        &self,
        size: Option<u64>,
    ) -> Result<SignedCheckpoint, ServiceError> {
        self.checkpoint(size).await
    }

    /// The checkpoint of the tree of the first `size` entries, or at the head, unsigned: what a
    /// checkpoint signed elsewhere is compared with.
    pub async fn tree_checkpoint(&self, size: Option<u64>) -> Result<Checkpoint, ServiceError> {
        self.blocking(move |service| {
            let log = service.ledger.log();
            let (size, root) = match size {
                Some(size) => (size, log.tree_root(size)?),
                None => log.tree_head()?,
            };
            let first = log.get(1)?.ok_or(ServiceError::EmptyTree)?;
            Ok(Checkpoint {
                origin: crate::tiles::log_origin(&first.hash),
                size,
                root,
                extensions: Vec::new(),
            })
        })
        .await
    }

    /// The inclusion proof of the entry at `seq` in the tree of `tree_size` leaves.
    pub async fn inclusion_proof(
        &self,
        seq: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ServiceError> {
        self.blocking(move |service| Ok(service.ledger.log().inclusion_proof(seq, tree_size)?))
            .await
    }

    /// The consistency proof from the tree of `from_size` leaves to the tree of `to_size`.
    pub async fn consistency_proof(
        &self,
        from_size: u64,
        to_size: u64,
    ) -> Result<Vec<Hash256>, ServiceError> {
        self.blocking(move |service| {
            Ok(service.ledger.log().consistency_proof(from_size, to_size)?)
        })
        .await
    }
}
