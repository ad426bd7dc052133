//! The directory bucket: the archive as files under a directory (a backup tool's or an NFS
//! mount's), each object at its path.
//!
//! Every write is atomic and durable: the bytes go to a temporary file beside the object, synced,
//! renamed into place, and the directory synced (new directories too, up to the root), so a power
//! cut leaves the old object or the whole new one. A full object's file is never written twice:
//! finding it with the same bytes is success, with other bytes an error that changes nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ArchiveError, blocking, check_path};
use crate::export::AtomicFile;
use crate::tiles::MAX_OBJECT_BYTES;

/// An archive kept in a local directory.
#[derive(Clone, Debug)]
pub struct DirBucket {
    root: PathBuf,
}

impl DirBucket {
    pub fn new(root: PathBuf) -> Self {
        DirBucket { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn file(&self, path: &str) -> Result<PathBuf, ArchiveError> {
        check_path(path)?;
        Ok(self.root.join(path))
    }

    pub async fn put_full(&self, path: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        let file = self.file(path)?;
        let (root, bytes_owned) = (self.root.clone(), bytes.to_vec());
        let existing = blocking(path, move || {
            match std::fs::read(&file) {
                Ok(existing) => return Ok(Some(existing)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
            write_atomically(&root, &file, &bytes_owned)?;
            Ok(None)
        })
        .await?;
        match existing {
            Some(existing) if existing != bytes => Err(ArchiveError::Conflict {
                path: path.to_owned(),
                existing: existing.len(),
                new: bytes.len(),
            }),
            _ => Ok(()),
        }
    }

    pub async fn put_mutable(&self, path: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        let file = self.file(path)?;
        let (root, bytes) = (self.root.clone(), bytes.to_vec());
        blocking(path, move || write_atomically(&root, &file, &bytes)).await
    }

    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        let file = self.file(path)?;
        let read = blocking(path, move || {
            match crate::bounded::read_file(&file, MAX_OBJECT_BYTES) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(error),
            }
        })
        .await;
        match read {
            Err(ArchiveError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::FileTooLarge =>
            {
                Err(ArchiveError::TooLarge {
                    path: self.root.join(path).display().to_string(),
                    limit: MAX_OBJECT_BYTES,
                })
            }
            read => read,
        }
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, ArchiveError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        blocking(&prefix.clone(), move || {
            let mut found = Vec::new();
            walk(&root, &root, &mut found)?;
            found.retain(|path| path.starts_with(&prefix));
            found.sort();
            Ok(found)
        })
        .await
    }
}

/// Writes `bytes` to `file` under `root` in full or not at all, creating and syncing the
/// directories between.
fn write_atomically(root: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = file.parent().unwrap_or(root);
    if !parent.is_dir() {
        std::fs::create_dir_all(parent)?;
        // Each new directory's name must reach the disk too: sync every directory from the
        // object's up to the archive's parent.
        let mut dir = parent;
        loop {
            std::fs::File::open(dir)?.sync_all()?;
            if dir == root {
                break;
            }
            match dir.parent() {
                Some(up) => dir = up,
                None => break,
            }
        }
        if let Some(above) = root.parent().filter(|above| !above.as_os_str().is_empty()) {
            std::fs::File::open(above)?.sync_all()?;
        }
    }
    let mut atomic = AtomicFile::create(file)?;
    atomic.writer().write_all(bytes)?;
    atomic.commit()
}

/// Every file under `dir`, as a path relative to `root` with `/` between parts; temporary files
/// a crash left (`.tmp…`) are not objects.
fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && dir == root => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, found)?;
        } else if !entry.file_name().to_string_lossy().starts_with(".tmp") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            found.push(
                relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
}
