//! The archiver: a task beside the service under `serve` that copies the log to the bucket as it
//! grows.
//!
//! It wakes at each new head (the ledger's follow channel, as the metrics and `StreamEvents`
//! followers do), reads what the [`ObjectSource`] gives for the next step (at most
//! [`STEP`] entries), writes the full objects, then the mutable ones with the `checkpoint`
//! last (a reader never sees a checkpoint the objects under it do not back), and only then saves
//! the new size durably. It never holds the ledger's lock and appends nothing, so an append
//! never waits for it. A failure (the store is down, a disk is full) is tried again after a
//! wait that doubles from [`RETRY_FIRST`] up to `retry_max`, logged when it starts, at most once
//! per [`LOG_EVERY`] while it lasts, and when the archive has caught up; meanwhile the backlog
//! grows, and the lag shows it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::progress::save_progress;
use super::{ArchiveError, ArchiveStatus, Bucket, CHECKPOINT, ObjectSource};
use crate::service::{Service, ServiceError, SignedCheckpoint};

/// The most entries one step archives before its progress is saved.
pub const STEP: u64 = 4_096;

/// The first wait after a failure.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);

/// How often a failure that goes on is logged again.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Copies the ledger's log to a bucket.
pub struct Archiver<S> {
    pub service: Arc<Service>,
    pub source: S,
    pub bucket: Bucket,
    /// Where the progress file is kept: the ledger's data directory.
    pub data_dir: PathBuf,
    pub status: Arc<ArchiveStatus>,
    /// The longest wait between two tries.
    pub retry_max: Duration,
    /// With witnesses, each publication: the archived `checkpoint` is replaced by the newly
    /// published one even when no entry came with it.
    pub published: Option<watch::Receiver<Option<SignedCheckpoint>>>,
}

/// Ends when `published` (if any) changes; never without witnesses.
async fn publication(published: &mut Option<watch::Receiver<Option<SignedCheckpoint>>>) {
    let changed = match published {
        Some(receiver) => receiver.changed().await.is_ok(),
        None => false,
    };
    if !changed {
        std::future::pending::<()>().await;
    }
}

impl<S: ObjectSource> Archiver<S> {
    /// Archives every new head until `stopping` turns true; a step under way then is dropped
    /// (its progress unsaved: the next start does it again, writing no full object twice).
    pub async fn run(mut self, mut stopping: watch::Receiver<bool>) {
        let mut heads = self.service.follow();
        let mut retry = RETRY_FIRST;
        let mut failed_tries = 0_u64;
        let mut last_logged: Option<tokio::time::Instant> = None;
        let where_to = self.bucket.describe();
        tracing::info!(archive = %where_to, archived = self.status.archived(), "archiving the log");
        loop {
            // Marked seen before reading the head, so an append made while catching up wakes
            // the wait below at once.
            heads.borrow_and_update();
            let caught_up = tokio::select! {
                result = self.catch_up() => result,
                _ = stopping.wait_for(|stop| *stop) => return,
            };
            let wait = match caught_up {
                Ok(()) => {
                    if failed_tries > 0 {
                        tracing::info!(archive = %where_to, archived = self.status.archived(), "the archive has caught up after {failed_tries} failed tries");
                    }
                    failed_tries = 0;
                    last_logged = None;
                    retry = RETRY_FIRST;
                    None
                }
                Err(error) => {
                    failed_tries += 1;
                    let now = tokio::time::Instant::now();
                    if last_logged.is_none_or(|at| now.duration_since(at) >= LOG_EVERY) {
                        tracing::error!(
                            archive = %where_to,
                            archived = self.status.archived(),
                            "the archive is not keeping up ({failed_tries} failed tries so far), trying again with backoff up to {}: {error}",
                            humantime::format_duration(self.retry_max)
                        );
                        last_logged = Some(now);
                    }
                    let wait = retry.min(self.retry_max);
                    retry = retry.saturating_mul(2).min(self.retry_max);
                    Some(wait)
                }
            };
            let mut published = self.published.take();
            let mut newly_published = false;
            let stop = match wait {
                None => tokio::select! {
                    changed = heads.changed() => changed.is_err(),
                    () = publication(&mut published) => {
                        newly_published = true;
                        false
                    }
                    _ = stopping.wait_for(|stop| *stop) => true,
                },
                Some(wait) => tokio::select! {
                    () = tokio::time::sleep(wait) => false,
                    _ = stopping.wait_for(|stop| *stop) => true,
                },
            };
            self.published = published;
            if stop {
                return;
            }
            if newly_published && let Err(error) = self.archive_published().await {
                tracing::error!(archive = %where_to, "the newly published checkpoint could not be archived: {error}");
            }
        }
    }

    /// Replaces the archived `checkpoint` with the published one, if it covers no more than is
    /// archived.
    async fn archive_published(&self) -> Result<(), ArchiveError> {
        match self
            .service
            .published_checkpoint(Some(self.status.archived()))
            .await
        {
            Ok(signed) => {
                self.bucket
                    .put_mutable(CHECKPOINT, signed.note.as_bytes())
                    .await
            }
            Err(ServiceError::NotPublished(_)) => Ok(()),
            Err(error) => Err(ArchiveError::Source(error.to_string())),
        }
    }

    /// Archives step by step up to the head.
    async fn catch_up(&self) -> Result<(), ArchiveError> {
        loop {
            let head = self.service.head().map_or(0, |head| head.seq);
            let archived = self.status.archived();
            if head <= archived {
                self.status.set(archived, None);
                return Ok(());
            }
            let waiting_since = self
                .service
                .events(archived, 1)
                .await
                .map_err(|error| ArchiveError::Source(error.to_string()))?
                .entries
                .first()
                .map(|entry| entry.recorded_at);
            self.status.set(archived, waiting_since);
            let to = head.min(archived + STEP);
            self.step(archived, to).await?;
            let next = self
                .service
                .events(to, 1)
                .await
                .ok()
                .and_then(|page| page.entries.first().map(|entry| entry.recorded_at));
            self.status.set(to, next);
        }
    }

    /// Writes what grows the archive from `from` entries to `to`, then saves `to`.
    async fn step(&self, from: u64, to: u64) -> Result<(), ArchiveError> {
        let mut objects = self.source.objects(from, to).await?;
        // Full objects first; then the mutable ones, the checkpoint last of all.
        objects.sort_by_key(|object| (!object.full, object.path == CHECKPOINT));
        let now = self.service.now();
        for object in &objects {
            if object.full {
                self.bucket
                    .put_full(&object.path, &object.bytes, now)
                    .await?;
            } else {
                self.bucket.put_mutable(&object.path, &object.bytes).await?;
            }
        }
        save_progress(&self.data_dir, &self.bucket.describe(), to).await
    }
}
