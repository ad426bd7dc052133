//! The archive (docs/operating.md#backup): the log copied off the machine, as it grows, to a
//! [`Bucket`] the ledger's operator cannot rewrite — an S3-compatible store with Object Lock
//! (`s3.rs`) or a local directory for backup tools and NFS (`dir.rs`).
//!
//! What is copied comes from an [`ObjectSource`]: every object new or changed between the size
//! the archive holds and the head, each either *full* (its bytes never change again: written once
//! under Object Lock retention, and never written twice) or mutable (the `checkpoint`, partial
//! bundles), which is written after the full objects it covers. The [`Archiver`] (`run.rs`) runs
//! beside the service under `serve`, woken by each new head and never in the append's way; its
//! progress (`progress.rs`) is a small synced file in the data directory, saved only once
//! everything up to that size is in the bucket, so a restart resumes with no gap, and finds the
//! full objects a crash left unrecorded already there (same bytes: nothing is written again).

mod dir;
mod export_source;
mod progress;
mod run;
mod s3;

use std::future::Future;

use crate::time::Timestamp;

pub use dir::DirBucket;
pub use export_source::ExportSource;
pub use progress::{ArchiveStatus, Lag, PROGRESS_FILE, read_progress};
pub use run::{Archiver, RETRY_FIRST};
pub use s3::{Retention, RetentionMode, S3Bucket, S3Settings};

/// One object to archive, at `path` under the bucket's prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveObject {
    pub path: String,
    pub bytes: Vec<u8>,
    /// Whether the bytes never change again: such an object is retained and written only once.
    pub full: bool,
}

/// Where the archiver takes its objects from: everything new or changed when the archive grows
/// from `from` entries to `to`, the `checkpoint` of size `to` among them (the archiver writes it
/// last, whatever its place).
pub trait ObjectSource: Send + Sync + 'static {
    fn objects(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<ArchiveObject>, ArchiveError>> + Send;
}

/// The name of the mutable object that holds the signed checkpoint of the archived size.
pub const CHECKPOINT: &str = "checkpoint";

/// Why an object could not be archived or read back.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is already archived with other bytes ({existing} bytes there, {new} now): a full object is never written twice; the archive and this ledger disagree"
    )]
    Conflict {
        path: String,
        existing: usize,
        new: usize,
    },
    #[error("{path} is not a path the archive can hold: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("the S3 store at {endpoint} refused or failed {operation} of {path}: {message}")]
    S3 {
        endpoint: String,
        operation: &'static str,
        path: String,
        message: String,
    },
    #[error("the objects to archive could not be read from the ledger: {0}")]
    Source(String),
    #[error("the archive's progress file {path}: {message}")]
    Progress { path: String, message: String },
}

/// Where the archive is kept.
#[derive(Clone, Debug)]
pub enum Bucket {
    Dir(DirBucket),
    S3(S3Bucket),
}

impl Bucket {
    /// Writes a full object once: success when it is there already with the same bytes (written
    /// before a crash), a [`ArchiveError::Conflict`] when it is there with others. In S3 it is
    /// retained from `now` for the configured days.
    pub async fn put_full(
        &self,
        path: &str,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<(), ArchiveError> {
        match self {
            Bucket::Dir(dir) => dir.put_full(path, bytes).await,
            Bucket::S3(s3) => s3.put_full(path, bytes, now).await,
        }
    }

    /// Writes (or replaces) a mutable object.
    pub async fn put_mutable(&self, path: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        match self {
            Bucket::Dir(dir) => dir.put_mutable(path, bytes).await,
            Bucket::S3(s3) => s3.put_mutable(path, bytes).await,
        }
    }

    /// The bytes at `path`, or `None` when there is no such object (for a restore).
    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        match self {
            Bucket::Dir(dir) => dir.get(path).await,
            Bucket::S3(s3) => s3.get(path).await,
        }
    }

    /// Every object's path under `prefix` (relative to the bucket's own prefix), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, ArchiveError> {
        match self {
            Bucket::Dir(dir) => dir.list(prefix).await,
            Bucket::S3(s3) => s3.list(prefix).await,
        }
    }

    /// Where the archive is, for logs: a directory, or the endpoint, bucket and prefix (never a
    /// credential).
    pub fn describe(&self) -> String {
        match self {
            Bucket::Dir(dir) => dir.root().display().to_string(),
            Bucket::S3(s3) => s3.describe(),
        }
    }
}

/// Refuses a path that is empty, absolute, or walks out of the archive (`..`, `.`, empty parts).
pub fn check_path(path: &str) -> Result<(), ArchiveError> {
    let bad = |why| {
        Err(ArchiveError::BadPath {
            path: path.to_owned(),
            why,
        })
    };
    if path.is_empty() {
        return bad("it is empty");
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return bad("each part between slashes must be a name (no empty part, `.` or `..`)");
    }
    if !path
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"/._-".contains(&byte))
    {
        return bad("only letters, digits and `/ . _ -` are allowed");
    }
    Ok(())
}

/// Runs blocking file work on tokio's blocking pool (the directory bucket, the progress file).
pub(crate) async fn blocking<T: Send + 'static>(
    path: &str,
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ArchiveError> {
    let io = |source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    };
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| io(std::io::Error::other(error.to_string())))?
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn paths_stay_inside_the_archive() {
        for good in [
            "checkpoint",
            "tile/0/x001/234",
            "export/00000000000000000000.jsonl",
        ] {
            assert!(check_path(good).is_ok(), "{good}");
        }
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a/", "a b", "ä"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
