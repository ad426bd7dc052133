//! Private copies of a ledger directory, for the offline readers (`verify`, `export --data-dir`).
//!
//! Opening a sled database runs its recovery, which may write: it rewrites `conf`, truncates or
//! zeroes a torn log tail, writes a snapshot. A reader checking evidence must never change it,
//! and must work on read-only media or a full disk, so offline readers open a copy in a private
//! temporary directory (under `TMPDIR`) instead of the directory itself
//! (docs/reference/time-and-durability.md#offline-reads). The original is only read: its `db` file
//! is share-locked with `flock` while it is copied. sled locks it exclusively, so the copy is never
//! taken while a server or another writer is changing the ledger, nothing starts writing while it
//! is copied, and readers do not hold each other up.

use std::fs::{File, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::StoreError;

/// Copies the ledger in `dir` into a new private temporary directory, which is deleted when the
/// returned handle is dropped.
pub fn private_copy(dir: &Path) -> Result<tempfile::TempDir, StoreError> {
    let log_path = dir.join("db");
    if !log_path.is_file() {
        return Err(StoreError::NotFound {
            path: dir.to_path_buf(),
        });
    }
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    };
    let log = File::open(&log_path).map_err(io("open", &log_path))?;
    // Shared: readers copying at the same time do not hold each other up, while sled's exclusive
    // lock (a writer) and this one exclude each other.
    match log.try_lock_shared() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
            });
        }
        Err(std::fs::TryLockError::Error(source)) => {
            return Err(io("lock", &log_path)(source));
        }
    }
    let copy = tempfile::Builder::new()
        .prefix("tailledger-copy-")
        .tempdir()
        .map_err(io("create a private copy in", &std::env::temp_dir()))?;
    copy_tree(dir, copy.path()).map_err(io("copy the ledger from", dir))?;
    // The lock is released when `log` is dropped, after the copy is complete.
    drop(log);
    Ok(copy)
}

/// Copies the files under `from` into `to`, owner-only (0600 files, 0700 directories, inside
/// the private 0700 temporary directory): writable whatever their mode on a read-only original,
/// since sled opens its files for writing, and readable by nobody else (they hold HR data).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for item in std::fs::read_dir(from)? {
        let item = item?;
        let target = to.join(item.file_name());
        if item.file_type()?.is_dir() {
            std::fs::create_dir(&target)?;
            std::fs::set_permissions(&target, Permissions::from_mode(0o700))?;
            copy_tree(&item.path(), &target)?;
        } else {
            std::fs::copy(item.path(), &target)?;
            std::fs::set_permissions(&target, Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}
