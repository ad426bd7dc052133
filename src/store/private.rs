//! Who may read a ledger directory: its owner only
//! (docs/reference/time-and-durability.md#file-modes). The ledger holds HR personal data (names,
//! emails, departures), so the directory is made mode 0700 and every file in it 0600. sled creates
//! its files with the process's umask, so the modes are set once it has opened them; the
//! directory's own mode is what keeps later files (snapshots) private too.

use std::fs::Permissions;
use std::io::ErrorKind;
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
        let made = if path.is_dir() {
            make_private(&path)
        } else {
            set(&path, 0o600)
        };
        match made {
            // Gone since it was listed (the head record's temporary file is renamed away while
            // the store runs): nothing is left to protect.
            Err(StoreError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            made => made?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gone_since_the_listing_is_no_failure_and_the_rest_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("db");
        std::fs::write(&kept, b"entries").unwrap();
        std::fs::set_permissions(&kept, Permissions::from_mode(0o644)).unwrap();
        // What a listing meets when a file is renamed away before its turn: a name whose file is
        // not there (a link to nothing stands in for the race).
        std::os::unix::fs::symlink(dir.path().join("renamed away"), dir.path().join("gone"))
            .unwrap();
        make_private(dir.path()).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&kept), 0o600);
        assert_eq!(mode(dir.path()), 0o700);
    }
}
