//! Who may read a ledger directory: its owner only
//! (docs/reference/time-and-durability.md#file-modes). The ledger holds HR personal data (names,
//! emails, departures), so the directory is made mode 0700 and every file in it 0600. sled creates
//! its files with the process's umask, so the modes are set once it has opened them; the
//! directory's own mode is what keeps later files (snapshots) private too.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::StoreError;

/// Creates `dir` (and any missing parent) for a ledger, mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io {
            action: "create the ledger directory",
            path: dir.to_path_buf(),
            source,
        })
}

/// Makes `dir` mode 0700 and everything under it 0700 (directories) or 0600 (files).
pub fn make_private(dir: &Path) -> Result<(), StoreError> {
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, Permissions::from_mode(mode)).map_err(|source| {
            StoreError::Io {
                action: "make private (owner-only)",
                path: path.to_path_buf(),
                source,
            }
        })
    };
    set(dir, 0o700)?;
    let listing = std::fs::read_dir(dir).map_err(|source| StoreError::Io {
        action: "list",
        path: dir.to_path_buf(),
        source,
    })?;
    for item in listing {
        let path = item
            .map_err(|source| StoreError::Io {
                action: "list",
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_dir() {
            make_private(&path)?;
        } else {
            set(&path, 0o600)?;
        }
    }
    Ok(())
}
