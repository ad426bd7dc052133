//! How far the archive has got: the archived size, durable in a small file of the data
//! directory, and shared live with the service (the `archive-behind` finding) and the metrics.
//!
//! The file (`archive-progress`) holds the size and the bucket it is the size *of*; it is
//! replaced atomically (a synced temporary file renamed, the directory synced) and only once
//! every object up to that size is in the bucket. A power cut therefore leaves a size at or
//! below what the bucket holds: the archiver starts again from it, finds the full objects
//! already there with the same bytes, and writes none of them twice. A file naming another
//! bucket (the configuration moved the archive) counts as nothing archived, so the new bucket
//! gets the whole log, with no gap.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::{ArchiveError, blocking};
use crate::export::AtomicFile;
use crate::time::Timestamp;

/// The progress file's name in the data directory.
pub const PROGRESS_FILE: &str = "archive-progress";

/// The first line of the file.
const HEADER: &str = "tailledger archive progress 1";

/// How far the archive is behind the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lag {
    /// Entries appended and not yet archived.
    pub entries: u64,
    /// How long the oldest of them has waited (0 when none waits).
    pub seconds: i64,
}

#[derive(Debug, Default)]
struct Progress {
    archived: u64,
    /// When the first entry not yet archived was recorded.
    waiting_since: Option<Timestamp>,
}

/// The archive's progress as the running archiver knows it, for the service and the metrics.
#[derive(Debug)]
pub struct ArchiveStatus {
    /// `s3` or `dir`, the metrics' label.
    pub kind: &'static str,
    /// Past this, `integration-healthy` reports `archive-behind`.
    pub max_lag: Duration,
    progress: Mutex<Progress>,
}

impl ArchiveStatus {
    pub fn new(kind: &'static str, max_lag: Duration, archived: u64) -> Self {
        ArchiveStatus {
            kind,
            max_lag,
            progress: Mutex::new(Progress {
                archived,
                waiting_since: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The size the bucket holds.
    pub fn archived(&self) -> u64 {
        self.lock().archived
    }

    /// Records that the bucket holds `archived` entries, the first entry after them (if any)
    /// recorded at `next_recorded_at`.
    pub fn set(&self, archived: u64, next_recorded_at: Option<Timestamp>) {
        let mut progress = self.lock();
        progress.archived = archived;
        progress.waiting_since = next_recorded_at;
    }

    /// How far the archive is behind a ledger of `head` entries, at `now`.
    pub fn lag(&self, head: u64, now: Timestamp) -> Lag {
        let progress = self.lock();
        let entries = head.saturating_sub(progress.archived);
        let seconds = match progress.waiting_since {
            Some(since) if entries > 0 => now.seconds_since(since).max(0),
            _ => 0,
        };
        Lag { entries, seconds }
    }

    /// Whether the lag is past `max_lag`: the oldest entry not archived has waited longer.
    pub fn is_behind(&self, lag: Lag) -> bool {
        lag.entries > 0 && u64::try_from(lag.seconds).unwrap_or(0) > self.max_lag.as_secs()
    }
}

/// The size archived to `bucket` according to the progress file in `data_dir`: 0 when there is
/// none, or when it names another bucket.
pub async fn read_progress(data_dir: &Path, bucket: &str) -> Result<u64, ArchiveError> {
    let path = data_dir.join(PROGRESS_FILE);
    let shown = path.display().to_string();
    let text = blocking(&shown.clone(), move || {
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    })
    .await?;
    let Some(text) = text else {
        return Ok(0);
    };
    let mut lines = text.lines();
    let (Some(HEADER), Some(size), Some(named)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(ArchiveError::Progress {
            path: shown,
            message: "is not a progress file this version writes; remove it to archive the whole log again".to_owned(),
        });
    };
    let size = size.parse::<u64>().map_err(|_| ArchiveError::Progress {
        path: shown.clone(),
        message: format!("`{size}` is not a size; remove the file to archive the whole log again"),
    })?;
    if named != bucket {
        tracing::warn!(
            "the archive progress in {shown} is that of {named}, not of {bucket}: archiving the whole log to {bucket}"
        );
        return Ok(0);
    }
    Ok(size)
}

/// Saves durably that `bucket` holds the first `size` entries.
pub async fn save_progress(data_dir: &Path, bucket: &str, size: u64) -> Result<(), ArchiveError> {
    let path: PathBuf = data_dir.join(PROGRESS_FILE);
    let text = format!("{HEADER}\n{size}\n{bucket}\n");
    blocking(&path.display().to_string(), move || {
        let mut file = AtomicFile::create(&path)?;
        file.writer().write_all(text.as_bytes())?;
        file.commit()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_counts_waiting_entries_and_the_oldest_ones_wait() {
        let status = ArchiveStatus::new("dir", Duration::from_secs(60), 10);
        let at = Timestamp::from_micros(1_000_000_000_000).unwrap();
        status.set(10, Some(at));
        let later = at.saturating_add_seconds(61);
        let lag = status.lag(15, later);
        assert_eq!(
            lag,
            Lag {
                entries: 5,
                seconds: 61
            }
        );
        assert!(status.is_behind(lag));
        assert!(!status.is_behind(status.lag(15, at.saturating_add_seconds(60))));
        // Caught up: nothing waits, however old the last entry.
        assert_eq!(
            status.lag(10, later),
            Lag {
                entries: 0,
                seconds: 0
            }
        );
        assert!(!status.is_behind(status.lag(10, later)));
    }

    #[tokio::test]
    async fn progress_survives_and_belongs_to_its_bucket() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_progress(dir.path(), "b1").await.unwrap(), 0);
        save_progress(dir.path(), "b1", 512).await.unwrap();
        assert_eq!(read_progress(dir.path(), "b1").await.unwrap(), 512);
        assert_eq!(read_progress(dir.path(), "b2").await.unwrap(), 0);
        std::fs::write(dir.path().join(PROGRESS_FILE), "garbage").unwrap();
        let error = read_progress(dir.path(), "b1").await.unwrap_err();
        assert!(error.to_string().contains("archive-progress"), "{error}");
    }
}
