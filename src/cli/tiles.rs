//! `tailledger restore` and `tailledger tiles export` (docs/reference/cli.md#restore): a ledger
//! rebuilt from a tiled log or an export, checked against a checkpoint signed by a pinned key;
//! and a ledger's tiles written to a directory, for a backup or a restore drill.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Failure, Outcome, progress, runtime};
use crate::config::read_signing_key;
use crate::ledger::Log;
use crate::merkle::{VerifierKey, sign_checkpoint};
use crate::restore::{self, RestoreError, Restored};
use crate::tiles::{self, CHECKPOINT_PATH, DirReader, TileObject};

#[derive(clap::Subcommand, Debug)]
pub enum TilesCommand {
    /// Write the ledger's tiles, entry bundles and a signed checkpoint of its head into a
    /// directory, as `[tiles] listen` serves them: full tiles already there are kept, the rest
    /// is written whole or not at all. The ledger directory is only read (a copy of it is
    /// opened).
    Export {
        /// The ledger directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// The ledger's signing key (`[checkpoint] signing_key_path`, mode 0600).
        #[arg(long, value_name = "FILE")]
        signing_key: PathBuf,
        /// The directory to write into (made if needed).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
}

/// `tiles export`.
pub fn run(command: TilesCommand) -> Outcome {
    let TilesCommand::Export {
        data_dir,
        signing_key,
        to,
    } = command;
    let key = read_signing_key(&signing_key).map_err(|reason| {
        Failure::input(format!("--signing-key {} {reason}", signing_key.display()))
    })?;
    let log = Log::open_copy(&data_dir).map_err(Failure::input)?;
    let (size, root) = log.tree_head().map_err(Failure::input)?;
    let first = log
        .get(1)
        .map_err(Failure::input)?
        .ok_or_else(|| Failure::input(format!("{}: the ledger is empty", data_dir.display())))?;
    let checkpoint = crate::merkle::Checkpoint {
        origin: tiles::log_origin(&first.hash),
        size,
        root,
        extensions: Vec::new(),
    };
    let note = sign_checkpoint(&checkpoint, &key).map_err(Failure::input)?;
    let write = |object: &TileObject| {
        tiles::write_dir(&to, object).map_err(|error| {
            Failure::input(format!(
                "cannot write {}/{}: {error}",
                to.display(),
                object.path
            ))
        })
    };
    let bar = progress::bar(size, "writing tiles", false);
    let mut written = 0usize;
    for object in tiles::objects_between(&log, 0, size) {
        let object = object.map_err(Failure::input)?;
        if object.path.starts_with("tile/entries/") {
            bar.inc(tiles::TILE_WIDTH.min(size));
        }
        written += usize::from(write(&object)?);
    }
    // The checkpoint last: a reader never sees one whose tiles are not all there.
    write(&TileObject {
        path: CHECKPOINT_PATH.to_owned(),
        bytes: note.into_bytes(),
        full: false,
    })?;
    bar.finish_and_clear();
    println!(
        "wrote the tiles of tree size {size} (root {root}) to {}: {written} objects written, and the checkpoint",
        to.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `restore`: from a directory of tiles, or from an export (a file) with `--checkpoint`.
pub fn restore(
    from: &Path,
    data_dir: &Path,
    key: &VerifierKey,
    checkpoint: Option<&Path>,
) -> Outcome {
    if !from.exists() {
        return Err(Failure::input(format!(
            "{} does not exist: give a directory of tiles or an export file",
            from.display()
        )));
    }
    let bar = progress::bar(0, "restoring", false);
    let done = |taken: u64| bar.set_position(taken);
    let restored = if from.is_dir() {
        if checkpoint.is_some() {
            return Err(Failure::input(
                "--checkpoint is for an export: a directory of tiles holds its own `checkpoint`",
            ));
        }
        let reader = DirReader::new(from);
        runtime()?.block_on(restore::restore_from_tiles(&reader, key, data_dir, &done))
    } else {
        let checkpoint = checkpoint.ok_or_else(|| {
            Failure::input(format!(
                "{} is a file, so it is read as an export: give --checkpoint FILE, a checkpoint signed by the ledger's key (from `checkpoint_dir`) whose tree the export starts with",
                from.display()
            ))
        })?;
        let note = crate::bounded::read_file(checkpoint, crate::bounded::SMALL_FILE_BYTES)
            .map_err(|error| {
                Failure::input(format!("cannot read {}: {error}", checkpoint.display()))
            })?;
        let file = std::fs::File::open(from).map_err(|error| {
            Failure::input(format!(
                "cannot read the export {}: {error}",
                from.display()
            ))
        })?;
        restore::restore_from_export(
            BufReader::new(file),
            from,
            &note,
            &checkpoint.display().to_string(),
            key,
            data_dir,
            &done,
        )
    };
    bar.finish_and_clear();
    let Restored {
        checkpoint,
        head,
        data_dir,
    } = restored.map_err(|error| refused(from, error))?;
    println!(
        "restored {} entries into {}: digest {head}, root {} (origin {}), checked against the checkpoint signed by {}+{:08x}",
        checkpoint.size,
        data_dir.display(),
        checkpoint.root,
        checkpoint.origin,
        key.name(),
        key.key_id()
    );
    Ok(ExitCode::SUCCESS)
}

/// A refused restore: what does not verify is exit 1, what cannot be read or written 2.
fn refused(from: &Path, error: RestoreError) -> Failure {
    let message = format!("{}: {error}; nothing was restored", from.display());
    match error {
        RestoreError::Checkpoint { .. }
        | RestoreError::ForeignCheckpoint { .. }
        | RestoreError::Refused { .. }
        | RestoreError::RootMismatch { .. } => Failure { code: 1, message },
        RestoreError::Target { .. }
        | RestoreError::Read(_)
        | RestoreError::Export { .. }
        | RestoreError::Store(_) => Failure::input(message),
    }
}
