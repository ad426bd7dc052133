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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{
        Frontier, MemoryNodeStore, SigningKey, consistency_proof, leaf_hash, sign_checkpoint,
    };

    fn tree(size: u64) -> (MemoryNodeStore, Hash256) {
        let mut store = MemoryNodeStore::default();
        let mut frontier = Frontier::new();
        let leaves: Vec<_> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        store.extend(frontier.append(&leaves));
        (store, frontier.root())
    }

    #[test]
    fn each_check_gives_its_status_in_the_specifications_order() {
        let key = SigningKey::from_seed("log.example", &[1; 32]).unwrap();
        let logs = BTreeMap::from([("log.example".to_owned(), key.verifier_key())]);
        let (store, root8) = tree(8);
        let note = |size: u64, root: Hash256| {
            sign_checkpoint(
                &Checkpoint {
                    origin: "log.example".to_owned(),
                    size,
                    root,
                    extensions: Vec::new(),
                },
                &key,
            )
            .unwrap()
        };
        let (_, root5) = tree(5);
        let request = |old_size, proof, note| AddCheckpoint {
            old_size,
            proof,
            note,
        };
        let proof = consistency_proof(&store, 5, 8).unwrap();
        let at5 = Some((5, root5));
        // Cosignable: extends the tree of 5 with the right proof; or first sight from 0.
        assert!(judge(&logs, at5, &request(5, proof.clone(), note(8, root8))).is_ok());
        assert!(judge(&logs, None, &request(0, Vec::new(), note(8, root8))).is_ok());
        // 404, 403, 400, 409, 422.
        let other = note(8, root8).replacen("log.example", "other.example", 1);
        assert_eq!(
            judge(&logs, at5, &request(5, proof.clone(), other))
                .unwrap_err()
                .status(),
            404
        );
        let stranger = SigningKey::from_seed("log.example", &[2; 32]).unwrap();
        let forged = sign_checkpoint(
            &Checkpoint::parse(&format!("log.example\n8\n{}\n", base64_of(&root8))).unwrap(),
            &stranger,
        )
        .unwrap();
        assert_eq!(
            judge(&logs, at5, &request(5, proof.clone(), forged))
                .unwrap_err()
                .status(),
            403
        );
        assert_eq!(
            judge(&logs, at5, &request(9, proof.clone(), note(8, root8))).unwrap_err(),
            Refusal::BadRequest("the old size 9 is beyond the checkpoint's size 8".to_owned())
        );
        assert_eq!(
            judge(&logs, at5, &request(4, proof.clone(), note(8, root8))).unwrap_err(),
            Refusal::Conflict(5)
        );
        assert_eq!(
            judge(&logs, at5, &request(5, proof, note(8, root5)))
                .unwrap_err()
                .status(),
            422
        );
        assert_eq!(
            judge(&logs, at5, &request(5, Vec::new(), note(5, root8)))
                .unwrap_err()
                .status(),
            422
        );
        assert_eq!(
            judge(&logs, None, &request(0, vec![root5], note(8, root8)))
                .unwrap_err()
                .status(),
            422
        );
    }

    fn base64_of(hash: &Hash256) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(hash.0)
    }
}
