//! Checkpoint files (docs/reference/ledger.md#checkpoints): the signed checkpoint of the tree at
//! the head, written to `[checkpoint] checkpoint_dir` every `checkpoint_interval` and once more at
//! shutdown, outside the database, so that a copy can be shipped where the ledger's operator cannot
//! rewrite it.
//!
//! Each file is named by its tree size, `checkpoint-<size, 20 digits>.txt`, so the files sort in
//! the order they were taken, and holds the signed note exactly as `GetCheckpoint` returns it. A
//! file is written whole or not at all ([`AtomicFile`]: a temporary file beside it, synced,
//! renamed, and the directory synced), so a crash leaves at most a `.tmp…` file, never a
//! partial checkpoint. A size already written is not written again: the tree of that size never
//! changes and Ed25519 signatures are deterministic, so the file would be the same.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::CheckpointSettings;
use crate::export::AtomicFile;
use crate::service::{Service, ServiceError, SignedCheckpoint};

/// The file a checkpoint of `size` leaves is written to in `dir`.
pub fn path_for(dir: &Path, size: u64) -> PathBuf {
    dir.join(format!("checkpoint-{size:020}.txt"))
}

/// Writes `signed` to its file in `dir` unless that size is there already; returns the file.
pub fn write(dir: &Path, signed: &SignedCheckpoint) -> std::io::Result<PathBuf> {
    let path = path_for(dir, signed.checkpoint.size);
    if path.exists() {
        return Ok(path);
    }
    let mut file = AtomicFile::create(&path)?;
    file.writer().write_all(signed.note.as_bytes())?;
    file.commit()?;
    Ok(path)
}

/// Takes a checkpoint now and writes it to `dir`, logging the outcome; an empty ledger has none.
pub async fn write_now(service: &Service, dir: &Path) {
    let signed = match service.checkpoint(None).await {
        Ok(signed) => signed,
        Err(ServiceError::EmptyTree) => return,
        Err(error) => {
            tracing::error!(
                "could not take a checkpoint to write to {}: {error}",
                dir.display()
            );
            return;
        }
    };
    let dir = dir.to_path_buf();
    let written = tokio::task::spawn_blocking(move || {
        // Checkpoints are public (they carry no entry), so the directory is not made private.
        std::fs::create_dir_all(&dir)
            .and_then(|()| write(&dir, &signed))
            .map_err(|error| format!("{}: {error}", dir.display()))
    })
    .await;
    match written {
        Ok(Ok(path)) => tracing::info!("checkpoint written to {}", path.display()),
        Ok(Err(error)) => tracing::error!("could not write a checkpoint file: {error}"),
        Err(error) => tracing::error!("could not write a checkpoint file: {error}"),
    }
}

/// Writes a checkpoint file every `settings.interval` until `stopping` turns true. The one at
/// shutdown is the caller's, once nothing else can append.
pub async fn keep_writing(
    service: Arc<Service>,
    settings: Option<CheckpointSettings>,
    mut stopping: watch::Receiver<bool>,
) {
    let Some((dir, interval)) =
        settings.and_then(|settings| Some((settings.dir?, settings.interval)))
    else {
        return;
    };
    loop {
        let stop = tokio::select! {
            () = tokio::time::sleep(interval) => false,
            _ = stopping.wait_for(|stop| *stop) => true,
        };
        if stop {
            return;
        }
        write_now(&service, &dir).await;
    }
}
