//! The archive (docs/operating.md#backup): the log copied off the machine, as it grows, to a
//! [`Bucket`] the ledger's operator cannot rewrite — an S3-compatible store with Object Lock
//! (`s3.rs`) or a local directory for backup tools and NFS (`dir.rs`).
//!
//! What is copied is the log as C2SP tiles (`crate::tiles`), so that an archive is a tiled log
//! any reader of the format can check: the entry bundles and hash tiles the tree gained, then
//! the log's published checkpoint. Full tiles and bundles never change: each is written once,
//! under Object Lock retention, and never written twice. Partial tiles and the `checkpoint` are
//! mutable, and the checkpoint is written after every tile it covers. The [`Archiver`]
//! (`run.rs`) runs beside the service under `serve`, woken by each new head and never in the
//! append's way, and makes a last pass at shutdown; its progress (`progress.rs`) is a small
//! synced file in the data directory, saved only once everything up to that size is in the
//! bucket, so a restart resumes with no gap, and finds the full objects a crash left unrecorded
//! already there (same bytes: nothing is written again). `tailledger restore` reads a bucket
//! back through [`Bucket::get`], whichever kind it is.

mod dir;
mod progress;
mod run;
mod s3;

use crate::time::Timestamp;

pub use dir::DirBucket;
pub use progress::{ArchiveStatus, Lag, PROGRESS_FILE, read_progress};
pub use run::{Archiver, FINAL_PASS, RETRY_FIRST};
pub use s3::{Retention, RetentionMode, S3Bucket, S3Settings};

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
    #[error(
        "{path} is larger than the {limit} bytes any object of a tiled log can be: it is not part of a tailledger archive"
    )]
    TooLarge { path: String, limit: usize },
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

    /// The bytes at `path`, or `None` when there is no such object; an object larger than any
    /// of a tiled log ([`crate::tiles::MAX_OBJECT_BYTES`]) is refused unread.
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

    /// Where the object at `path` is, for messages: its file, or `s3://bucket/key at endpoint`.
    pub fn location_of(&self, path: &str) -> String {
        match self {
            Bucket::Dir(dir) => dir.root().join(path).display().to_string(),
            Bucket::S3(s3) => s3.location_of(path),
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
        for good in ["checkpoint", "tile/0/x001/234", "tile/entries/x001/234.p/5"] {
            assert!(check_path(good).is_ok(), "{good}");
        }
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a/", "a b", "ä"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
