//! Reading a tiled log back, for `tailledger restore` (docs/reference/tiles.md#restore): the
//! [`TileReader`] trait, one object by its path, and [`DirReader`], a directory laid out as the
//! paths say (what `tailledger tiles export` and a local archive write, and what a copy of an
//! object store's prefix looks like). [`write_dir`] writes objects into such a directory.
//!
//! Every read is bounded: no object of a tiled log is larger than a bundle of 256 entries of
//! 65,535 bytes each.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::TileObject;
use super::bundle::MAX_ENTRY_BYTES;
use super::path::TILE_WIDTH;
use crate::export::AtomicFile;

/// The largest object a tiled log has: a full bundle of the longest entries.
pub const MAX_OBJECT_BYTES: usize = TILE_WIDTH as usize * (2 + MAX_ENTRY_BYTES);

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a path of a tiled log")]
    BadPath { path: String },
}

/// Where a tiled log is read from: a directory now; an object store later.
pub trait TileReader {
    /// The object at `path` (`checkpoint`, `tile/0/000`, …), or `None` when there is none.
    fn get(&self, path: &str) -> impl Future<Output = Result<Option<Vec<u8>>, ReadError>> + Send;

    /// Where the log is, for messages.
    fn location(&self) -> String;
}

/// A tiled log in a directory: object `tile/0/000` is the file `<dir>/tile/0/000`.
#[derive(Clone, Debug)]
pub struct DirReader {
    dir: PathBuf,
}

impl DirReader {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirReader { dir: dir.into() }
    }
}

/// The file of `path` under `dir`, if `path` is a relative path of plain names (no `..`, no
/// leading `/`): object paths never leave the directory.
fn file_of(dir: &Path, path: &str) -> Result<PathBuf, ReadError> {
    let plain = !path.is_empty()
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !plain {
        return Err(ReadError::BadPath {
            path: path.to_owned(),
        });
    }
    Ok(dir.join(path))
}

impl TileReader for DirReader {
    fn get(&self, path: &str) -> impl Future<Output = Result<Option<Vec<u8>>, ReadError>> + Send {
        let read = file_of(&self.dir, path).and_then(|file| {
            match crate::bounded::read_file(&file, MAX_OBJECT_BYTES) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(ReadError::Io {
                    path: file.display().to_string(),
                    source,
                }),
            }
        });
        std::future::ready(read)
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

/// Writes `object` under `dir` whole or not at all (a synced temporary file renamed into place);
/// a full object already there is left as it is, since it never changes. Returns whether it was
/// written.
pub fn write_dir(dir: &Path, object: &TileObject) -> std::io::Result<bool> {
    let file = file_of(dir, &object.path).map_err(std::io::Error::other)?;
    if object.full && file.exists() {
        return Ok(false);
    }
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut written = AtomicFile::create(&file)?;
    written.writer().write_all(&object.bytes)?;
    written.commit()?;
    Ok(true)
}
