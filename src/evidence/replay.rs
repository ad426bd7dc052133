//! `tailledger replay --pack DIR` (docs/reference/cli.md#replay): every file of a pack that is
//! derived from its `ledger.jsonl` computed again from it alone and compared byte for byte with
//! the pack's, each difference named by file and first differing line.
//!
//! The window, when the pack was written and by which version are read from its
//! `MANIFEST.note`; its checkpoint (`checkpoint.txt`, `consistency_proof.json`) is taken as it
//! is, after checking that the export is the start of its tree, since the page shows it and the
//! proofs end with it (its signature is `verify_checkpoint.py`'s to check, against the key the
//! auditor pinned). The rest is recomputed: the page, each CSV file, the scripts, the
//! `tlog-proof` files and the statement's tree size and root; and `MANIFEST.sha256` must be the
//! one the statement names, listing the files as they are.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::statement::{self, Statement, StatementError};
use super::{Derived, EvidenceError, Pack, PackCheckpoint, Replayed, proofs};
use crate::as_of::AsOf;
use crate::event::SystemId;
use crate::hash::Hash256;
use crate::merkle::Checkpoint;
use crate::time::Clock;

/// A file of the pack that is not what its `ledger.jsonl` gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The file, relative to the pack's directory.
    pub file: String,
    /// The first line that differs (1-based), and what it is and should be; `None` when the
    /// file is missing or should not be there.
    pub line: Option<(usize, String, String)>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |text: &str| {
            let text: String = text.chars().take(160).collect();
            text.escape_debug().to_string()
        };
        match &self.line {
            Some((number, found, expected)) => write!(
                f,
                "{} differs from what ledger.jsonl gives, first at line {number}:\n  the pack has  \"{}\"\n  the ledger gives \"{}\"",
                self.file,
                shown(found),
                shown(expected)
            ),
            None => write!(
                f,
                "{}: missing, or not a file ledger.jsonl gives",
                self.file
            ),
        }
    }
}

/// Why a pack cannot be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayPackError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Statement(#[from] StatementError),
    #[error("{file} is not what a pack holds: {reason}")]
    Malformed { file: &'static str, reason: String },
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
}

/// The JSON of `consistency_proof.json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofFile {
    from_size: u64,
    to_size: u64,
    hashes: Vec<String>,
}

/// Recomputes the pack in `dir` from its `ledger.jsonl`: the files that differ, none when it
/// is exactly what its export gives.
pub async fn replay_pack(
    dir: &Path,
    clock: Arc<dyn Clock>,
) -> Result<Vec<Difference>, ReplayPackError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| ReplayPackError::Read { path, source })
    };
    let text = |name: &'static str| {
        read(name).and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| ReplayPackError::Malformed {
                file: name,
                reason: "it is not UTF-8".to_owned(),
            })
        })
    };
    let statement = Statement::parse(&text(statement::FILE)?)?;
    let ledger_path = dir.join("ledger.jsonl");
    let mut ledger = std::fs::File::open(&ledger_path).map_err(|source| ReplayPackError::Read {
        path: ledger_path,
        source,
    })?;
    let replayed = Replayed::from_export(&mut ledger, clock, dir)?;
    let (from, to) = statement.window;
    let mut pack = replayed
        .gather(
            SystemId::tailscale(),
            (AsOf::Instant(from), AsOf::Instant(to)),
        )
        .await?;
    pack.written_at = statement.written_at;
    pack.version = statement.version.clone();
    if dir.join(super::CHECKPOINT_FILES[0]).exists() {
        pack.checkpoint = Some(pack_checkpoint(&replayed, &pack, &text).await?);
    }
    let derived = replayed.derived(&pack).await?;
    let mut differences = Vec::new();
    for (name, expected) in files(&pack, &derived) {
        let found = std::fs::read(dir.join(&name)).ok();
        if let Some(difference) = compare(name, found.as_deref(), &expected) {
            differences.push(difference);
        }
    }
    differences.extend(unexpected_proofs(dir, &derived));
    if statement.entries != pack.export_size() || statement.root != derived.root {
        differences.push(Difference {
            file: statement::FILE.to_owned(),
            line: Some((
                4,
                format!("entries {} {}", statement.entries, statement.root),
                format!("entries {} {}", pack.export_size(), derived.root),
            )),
        });
    }
    let manifest = read("MANIFEST.sha256")?;
    if Hash256(Sha256::digest(&manifest).into()) != statement.manifest {
        differences.push(Difference {
            file: "MANIFEST.sha256".to_owned(),
            line: Some((
                1,
                "a manifest whose SHA-256 is not the one MANIFEST.note names".to_owned(),
                format!("the manifest of SHA-256 {}", statement.manifest),
            )),
        });
    }
    differences.extend(manifest_mismatches(
        dir,
        &String::from_utf8_lossy(&manifest),
    ));
    Ok(differences)
}

/// The pack's checkpoint as it holds it, kept only when its consistency proof shows the
/// export is the start of its tree.
async fn pack_checkpoint(
    replayed: &Replayed,
    pack: &Pack,
    text: &impl Fn(&'static str) -> Result<String, ReplayPackError>,
) -> Result<PackCheckpoint, ReplayPackError> {
    let [note_file, proof_file] = super::CHECKPOINT_FILES;
    let note = text(note_file)?;
    let malformed = |file, reason: String| ReplayPackError::Malformed { file, reason };
    let body = note
        .rsplit_once("\n\n")
        .map(|(body, _)| format!("{body}\n"))
        .ok_or_else(|| malformed(note_file, "it is not a signed note".to_owned()))?;
    let checkpoint =
        Checkpoint::parse(&body).map_err(|error| malformed(note_file, error.to_string()))?;
    let proof: ProofFile = serde_json::from_str(&text(proof_file)?)
        .map_err(|error| malformed(proof_file, error.to_string()))?;
    let hashes = proof
        .hashes
        .iter()
        .map(|hash| hash.parse())
        .collect::<Result<Vec<Hash256>, _>>()
        .map_err(|_| malformed(proof_file, "a hash is not 64 hex digits".to_owned()))?;
    if proof.from_size != pack.export_size() || proof.to_size != checkpoint.size {
        return Err(malformed(
            proof_file,
            format!(
                "it proves {} to {}, not the export's {} entries to the checkpoint's {}",
                proof.from_size,
                proof.to_size,
                pack.export_size(),
                checkpoint.size
            ),
        ));
    }
    Ok(replayed
        .extending_checkpoint(pack, note, checkpoint, hashes)
        .await?)
}

/// Every file of `pack` computed from its export, by name: the page, the CSV files, the
/// scripts, its checkpoint's files and the proofs.
fn files(pack: &Pack, derived: &Derived) -> Vec<(String, Vec<u8>)> {
    super::derived_files(pack, derived)
        .into_iter()
        .map(|(name, bytes)| (name.into_owned(), bytes))
        .collect()
}

/// The proof files in the pack that its offboarding table does not cite.
fn unexpected_proofs(dir: &Path, derived: &Derived) -> Vec<Difference> {
    let Ok(listing) = std::fs::read_dir(dir.join(proofs::DIR)) else {
        return Vec::new();
    };
    let mut extra: Vec<String> = listing
        .filter_map(Result::ok)
        .map(|entry| format!("{}/{}", proofs::DIR, entry.file_name().to_string_lossy()))
        .filter(|name| {
            !derived
                .proofs
                .iter()
                .any(|(seq, _)| proofs::file_name(*seq) == *name)
        })
        .collect();
    extra.sort();
    extra
        .into_iter()
        .map(|file| Difference { file, line: None })
        .collect()
}

/// The files `MANIFEST.sha256` lists whose SHA-256 is not the one it gives.
fn manifest_mismatches(dir: &Path, manifest: &str) -> Vec<Difference> {
    manifest
        .lines()
        .filter_map(|line| {
            let (hash, name) = line.split_once("  ")?;
            let actual = std::fs::read(dir.join(name))
                .map(|bytes| hex::encode(Sha256::digest(&bytes)))
                .unwrap_or_default();
            (actual != hash).then(|| Difference {
                file: name.to_owned(),
                line: Some((
                    1,
                    format!("a file of SHA-256 {actual}"),
                    format!("the file of SHA-256 {hash} that MANIFEST.sha256 lists"),
                )),
            })
        })
        .collect()
}

/// The first line at which `found` (absent: the file is missing) differs from `expected`.
fn compare(file: String, found: Option<&[u8]>, expected: &[u8]) -> Option<Difference> {
    let Some(found) = found else {
        return Some(Difference { file, line: None });
    };
    if found == expected {
        return None;
    }
    let found = String::from_utf8_lossy(found);
    let expected = String::from_utf8_lossy(expected);
    let mut found_lines = found.split('\n');
    let mut expected_lines = expected.split('\n');
    let mut number = 0;
    loop {
        number += 1;
        match (found_lines.next(), expected_lines.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (a, b) => {
                return Some(Difference {
                    file,
                    line: Some((
                        number,
                        a.unwrap_or("(the end of the file)").to_owned(),
                        b.unwrap_or("(the end of the file)").to_owned(),
                    )),
                });
            }
        }
    }
}
