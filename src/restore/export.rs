//! Restoring from an export (JSON Lines, as `tailledger export` writes it): each line's hash
//! checked against its canonical form, then the same checks as from tiles, up to the signed
//! checkpoint's size; lines after it are not restored.

use std::io::BufRead;
use std::path::Path;

use super::{RestoreError, Restored, Restorer, Target, open_checkpoint};
use crate::hash::Hash256;
use crate::merkle::VerifierKey;
use crate::verify::read_export_line;

/// Restores the first `checkpoint`'s size entries of `export` (read from `export_path`) into
/// `target`, checked against `checkpoint_note` (signed by `key`, named `checkpoint_location`).
pub fn restore_from_export(
    export: impl BufRead,
    export_path: &Path,
    checkpoint_note: &[u8],
    checkpoint_location: &str,
    key: &VerifierKey,
    target: &Path,
    done: &dyn Fn(u64),
) -> Result<Restored, RestoreError> {
    let checkpoint = open_checkpoint(checkpoint_note, key, checkpoint_location)?;
    let size = checkpoint.size;
    let staging = Target::prepare(target)?;
    let mut restorer = Restorer::new(checkpoint, &staging)?;
    for line in export.lines() {
        if restorer.taken() == size {
            break;
        }
        let index = restorer.taken();
        let line = line.map_err(|source| RestoreError::Export {
            path: export_path.to_path_buf(),
            source,
        })?;
        let (link, _) = read_export_line(&line).map_err(|reason| RestoreError::Refused {
            index,
            reason: format!("line {} of the export: {reason}", index + 1),
        })?;
        let computed = Hash256::of(&link.canonical_form);
        if link.hash != computed {
            return Err(RestoreError::Refused {
                index,
                reason: format!(
                    "its `hash` is {}, but its canonical form hashes to {computed}: the line was altered",
                    link.hash
                ),
            });
        }
        restorer.take(&link.canonical_form, None)?;
        if restorer.taken() % 4_096 == 0 {
            done(restorer.taken());
        }
    }
    done(restorer.taken());
    let (checkpoint, head) = restorer.finish()?;
    let data_dir = staging.commit()?;
    Ok(Restored {
        checkpoint,
        head,
        data_dir,
    })
}
