//! The JSON Lines export (docs/reference/ledger.md#export): one canonical entry object per line,
//! with its `"hash"`.
//!
//! An export is what an auditor takes away and verifies without trusting this program; see
//! `verify::verify_export` and the script in the README.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::hash::Digest;
use crate::store::{Store, StoreError, scanned_entry};

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not write the export to {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How many entries an export writes between two reports to its `done`.
const REPORT_EVERY: u64 = 1_024;

/// Writes every entry of `store`, in seq order, and returns the digest of the last one.
/// `destination` names the writer in errors; `done` is told how many more entries were written,
/// every [`REPORT_EVERY`] and at the end.
pub fn write_export(
    store: &dyn Store,
    out: &mut impl Write,
    destination: &Path,
    done: &dyn Fn(u64),
) -> Result<Option<Digest>, ExportError> {
    let io_error = |source| ExportError::Io {
        path: destination.to_path_buf(),
        source,
    };
    let mut last: Option<Digest> = None;
    for record in store.scan(1) {
        let entry = scanned_entry(record)?;
        writeln!(out, "{}", entry.export_line()).map_err(io_error)?;
        if entry.seq % REPORT_EVERY == 0 {
            done(REPORT_EVERY);
        }
        last = Some(entry.digest());
    }
    out.flush().map_err(io_error)?;
    if let Some(last) = last {
        done(last.seq % REPORT_EVERY);
    }
    Ok(last)
}

/// A file written in full or not at all: the bytes go to a temporary file beside the target,
/// which replaces the target only on [`AtomicFile::commit`], after it reached the disk.
pub struct AtomicFile {
    path: PathBuf,
    writer: BufWriter<tempfile::NamedTempFile>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(AtomicFile {
            path: path.to_path_buf(),
            writer: BufWriter::new(tempfile::NamedTempFile::new_in(directory_of(path))?),
        })
    }

    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.writer
    }

    /// Makes the written bytes durable and puts them in place of the target, durably: the
    /// directory is synced after the rename, so the new name survives a power cut too.
    pub fn commit(self) -> std::io::Result<()> {
        let file = self
            .writer
            .into_inner()
            .map_err(|error| error.into_error())?;
        file.as_file().sync_all()?;
        file.persist(&self.path).map_err(|error| error.error)?;
        std::fs::File::open(directory_of(&self.path))?.sync_all()
    }
}

/// The directory a file is in (`.` for a bare name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Writes the export to `path` atomically: a reader sees the old file or the whole new one.
/// `done` is told of the entries written, as by [`write_export`].
pub fn export_to_file(
    store: &dyn Store,
    path: &Path,
    done: &dyn Fn(u64),
) -> Result<Option<Digest>, ExportError> {
    let io_error = |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = AtomicFile::create(path).map_err(io_error)?;
    let head = write_export(store, file.writer(), path, done)?;
    file.commit().map_err(io_error)?;
    Ok(head)
}
