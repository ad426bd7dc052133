//! What a witness answers an `add-checkpoint` request (c2sp.org/tlog-witness): the checks, in
//! the specification's order, against the logs it knows and the latest tree it cosigned for
//! each. Pure: the state comes in, the caller cosigns and stores.

use std::collections::BTreeMap;

use super::protocol::AddCheckpoint;
use crate::hash::Hash256;
use crate::merkle::{
    Checkpoint, EMPTY_ROOT, Error, VerifierKey, verify_checkpoint, verify_consistency,
};

/// Why a witness refuses a request, with the status code the specification gives each.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the request is malformed, or its old size is beyond the checkpoint's.
    #[error("{0}")]
    BadRequest(String),
    /// 403: no valid signature by the log's trusted key.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the witness does not know the checkpoint's origin.
    #[error("unknown log origin `{0}`: this witness cosigns only the logs it was started with")]
    UnknownOrigin(String),
    /// 409: the old size is not the size this witness last cosigned (the body carries it).
    #[error("the old size is not the size this witness last cosigned, {0}")]
    Conflict(u64),
    /// 422: the checkpoint is not consistent with the last one cosigned: a fork, or a bug.
    #[error("{0}")]
    Inconsistent(String),
}

impl Refusal {
    /// The HTTP status code of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Forbidden(_) => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::Conflict(_) => 409,
            Refusal::Inconsistent(_) => 422,
        }
    }
}

/// The checkpoint of `request` if the witness may cosign it: `logs` are the trusted keys by
/// origin, `latest` the size and root last cosigned for an origin.
pub fn judge(
    logs: &BTreeMap<String, VerifierKey>,
    latest: Option<(u64, Hash256)>,
    request: &AddCheckpoint,
) -> Result<Checkpoint, Refusal> {
    let origin = request.note.split('\n').next().unwrap_or_default();
    let key = logs
        .get(origin)
        .ok_or_else(|| Refusal::UnknownOrigin(origin.escape_debug().to_string()))?;
    let checkpoint = verify_checkpoint(&request.note, key).map_err(|error| match error {
        Error::InvalidSignature { .. } | Error::NoTrustedSignature { .. } => {
            Refusal::Forbidden(error.to_string())
        }
        other => Refusal::BadRequest(format!("the checkpoint is malformed: {other}")),
    })?;
    if request.old_size > checkpoint.size {
        return Err(Refusal::BadRequest(format!(
            "the old size {} is beyond the checkpoint's size {}",
            request.old_size, checkpoint.size
        )));
    }
    let (latest_size, latest_root) = latest.unwrap_or((0, EMPTY_ROOT));
    if request.old_size != latest_size {
        return Err(Refusal::Conflict(latest_size));
    }
    if checkpoint.size == 0 && checkpoint.root != EMPTY_ROOT {
        return Err(Refusal::Inconsistent(
            "a checkpoint of size 0 must have the empty tree's root".to_owned(),
        ));
    }
    if request.old_size == 0 {
        if !request.proof.is_empty() {
            return Err(Refusal::Inconsistent(
                "the proof must be empty from the old size 0".to_owned(),
            ));
        }
        return Ok(checkpoint);
    }
    verify_consistency(
        request.old_size,
        checkpoint.size,
        &latest_root,
        &checkpoint.root,
        &request.proof,
    )
    .map_err(|error| {
        Refusal::Inconsistent(format!(
            "the checkpoint of size {} is not consistent with the one of size {} this witness cosigned: {error}",
            checkpoint.size, request.old_size
        ))
    })?;
    Ok(checkpoint)
}
