//! The pack's C2SP `tlog-proof` files (docs/auditing.md#the-evidence-pack): one per entry the
//! offboarding table cites, `proofs/<seq>.tlog-proof`, each the entry's index (its seq − 1), the
//! RFC 9162 inclusion proof of its leaf in the tree of the pack's published checkpoint, a blank
//! line and that checkpoint, signature lines and all. `check_proof.py tlog-proof` checks one
//! offline against the entry's line of `ledger.jsonl` and the ledger's pinned key.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::Pack;
use crate::ledger::InclusionProof;

/// The directory of the proofs in a pack.
pub const DIR: &str = "proofs";

/// The first line of a `tlog-proof` file.
const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The seqs of the entries the offboarding table cites: when HR told the ledger, since when the
/// link held, the last observation with access and the first without, and the audit log's
/// removal.
pub fn cited(pack: &Pack) -> BTreeSet<u64> {
    pack.offboarding
        .iter()
        .flat_map(|row| {
            [
                Some(row.hr_recorded.seq),
                Some(row.link_since.seq),
                row.last_with_access.map(|mark| mark.seq),
                row.first_without_access.map(|mark| mark.seq),
                row.removed_by.as_ref().map(|removal| removal.seq),
            ]
        })
        .flatten()
        .collect()
}

/// The file name of the proof of the entry at `seq`, in the pack's directory.
pub fn file_name(seq: u64) -> String {
    format!("{DIR}/{seq}.tlog-proof")
}

/// The `tlog-proof` file of `proof`, ending with the signed checkpoint `note` of its tree.
pub fn tlog_proof(proof: &InclusionProof, note: &str) -> String {
    let mut file = format!("{HEADER}\nindex {}\n", proof.leaf_index);
    for hash in &proof.hashes {
        file.push_str(&BASE64.encode(hash.0));
        file.push('\n');
    }
    file.push('\n');
    file.push_str(note);
    file
}
