//! The published checkpoint kept durably in the data directory, `witnessed-checkpoint.json`:
//! `{"format": 1, "note": <the signed note with the quorum's cosignature lines>}`, replaced whole
//! ([`AtomicFile`]) at each publication, so a restart serves what was published before it rather
//! than nothing until the witnesses answer again. It is read back only if the ledger's signature
//! and a quorum of the configured witnesses' cosignatures verify.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::WitnessPeer;
use crate::export::AtomicFile;
use crate::merkle::{VerifierKey, note_cosignature, verify_checkpoint};
use crate::service::SignedCheckpoint;

/// The file's name in the data directory.
pub const PUBLISHED_FILE: &str = "witnessed-checkpoint.json";
/// The file's format; another is refused rather than guessed at.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishedFile {
    format: u32,
    note: String,
}

/// Replaces the published checkpoint in `data_dir` with `note`, durably.
pub(super) fn save_published(data_dir: &Path, note: &str) -> std::io::Result<()> {
    let text = serde_json::to_string(&PublishedFile {
        format: FORMAT,
        note: note.to_owned(),
    })
    .map_err(std::io::Error::other)?;
    let mut file = AtomicFile::create(&data_dir.join(PUBLISHED_FILE))?;
    file.writer().write_all(text.as_bytes())?;
    file.writer().write_all(b"\n")?;
    file.commit()
}

/// The checkpoint published before, if `data_dir` has one that `ledger` signed and at least
/// `quorum` of `peers` cosigned; an error says why a file there is not one.
pub fn load_published(
    data_dir: &Path,
    ledger: &VerifierKey,
    peers: &[WitnessPeer],
    quorum: usize,
) -> Result<Option<SignedCheckpoint>, String> {
    let path = data_dir.join(PUBLISHED_FILE);
    let text = match crate::bounded::read_text_file(&path, crate::bounded::SMALL_FILE_BYTES) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    let bad = |why: String| format!("{}: {why}", path.display());
    let file: PublishedFile = serde_json::from_str(&text)
        .map_err(|error| bad(format!("not a published checkpoint file: {error}")))?;
    if file.format != FORMAT {
        return Err(bad(format!(
            "format {}, this version reads format {FORMAT}",
            file.format
        )));
    }
    let checkpoint =
        verify_checkpoint(&file.note, ledger).map_err(|error| bad(error.to_string()))?;
    let mut cosigned = 0;
    for peer in peers {
        if note_cosignature(&file.note, &peer.key)
            .map_err(|error| bad(error.to_string()))?
            .is_some()
        {
            cosigned += 1;
        }
    }
    if cosigned < quorum {
        return Err(bad(format!(
            "{cosigned} of the configured witnesses cosigned it, the quorum is {quorum}"
        )));
    }
    Ok(Some(SignedCheckpoint {
        checkpoint,
        note: file.note,
    }))
}
