//! The archiver: a task beside the service under `serve` that copies the log to the bucket as it
//! grows, as tiles.
//!
//! It wakes at each new head (the ledger's follow channel, as the metrics and `StreamEvents`
//! followers do) and takes the log's published checkpoint (`Service::published_checkpoint`, the
//! one `GET /checkpoint` serves). It copies the objects the tree gained up to that checkpoint's
//! size in steps of at most [`STEP`] entries: each step writes its full tiles and bundles and
//! saves its size durably; the last step writes the partial tiles of the checkpoint's size too,
//! then the checkpoint itself, last of all (a reader never sees a checkpoint the tiles under it
//! do not back). It never holds the ledger's lock and appends nothing, so an append never waits
//! for it. A failure (the store is down, a disk is full) is tried again after a wait that
//! doubles from [`RETRY_FIRST`] up to `retry_max`, logged when it starts, at most once per
//! [`LOG_EVERY`] while it lasts, and when the archive has caught up; meanwhile the backlog
//! grows, and the lag shows it. At shutdown, once nothing appends any more, [`Archiver::finish`]
//! makes one last pass, within [`FINAL_PASS`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::progress::save_progress;
use super::{ArchiveError, ArchiveStatus, Bucket};
use crate::service::{Service, ServiceError, SignedCheckpoint};
use crate::tiles::CHECKPOINT_PATH;

/// The most entries one step archives before its progress is saved.
pub const STEP: u64 = 4_096;

/// The first wait after a failure.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);

/// How long the last pass at shutdown may take before it is cut short (and logged so): what it
/// leaves, the next start archives.
pub const FINAL_PASS: Duration = Duration::from_secs(30);

/// How often a failure that goes on is logged again.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Copies the ledger's log to a bucket.
pub struct Archiver {
    pub service: Arc<Service>,
    pub bucket: Bucket,
    /// Where the progress file is kept: the ledger's data directory.
    pub data_dir: PathBuf,
    pub status: Arc<ArchiveStatus>,
    /// The longest wait between two tries.
    pub retry_max: Duration,
    /// With witnesses, each publication: it wakes the archiver even when no entry came with it.
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

impl Archiver {
    /// Archives every new head until `stopping` turns true. A step under way then stops after
    /// the object it is writing (never abandoned mid-write, so no write of it can land after
    /// those of [`Archiver::finish`]); its progress is unsaved, and the last pass or the next
    /// start does it again, writing no full object twice.
    pub async fn run(&self, mut stopping: watch::Receiver<bool>) {
        let mut heads = self.service.follow();
        let mut published = self.published.clone();
        let mut retry = RETRY_FIRST;
        let mut failed_tries = 0_u64;
        let mut last_logged: Option<tokio::time::Instant> = None;
        let where_to = self.bucket.describe();
        tracing::info!(archive = %where_to, archived = self.status.archived(), "archiving the log");
        loop {
            // Marked seen before reading the head, so an append made while catching up wakes
            // the wait below at once.
            heads.borrow_and_update();
            let caught_up = self.catch_up(Some(&stopping)).await;
            if *stopping.borrow() {
                return;
            }
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
            let stop = match wait {
                None => tokio::select! {
                    changed = heads.changed() => changed.is_err(),
                    () = publication(&mut published) => false,
                    _ = stopping.wait_for(|stop| *stop) => true,
                },
                Some(wait) => tokio::select! {
                    () = tokio::time::sleep(wait) => false,
                    _ = stopping.wait_for(|stop| *stop) => true,
                },
            };
            if stop {
                return;
            }
        }
    }

    /// The last pass at shutdown, once nothing appends any more: everything up to the head,
    /// within `within`; logged when it fails or is cut short (the next start resumes from what
    /// it saved).
    pub async fn finish(&self, within: Duration) {
        let where_to = self.bucket.describe();
        let head = self.service.head().map_or(0, |head| head.seq);
        match tokio::time::timeout(within, self.catch_up(None)).await {
            Ok(Ok(())) => {
                tracing::info!(archive = %where_to, archived = self.status.archived(), head, "the archive is up to date at shutdown");
            }
            Ok(Err(error)) => {
                tracing::warn!(archive = %where_to, archived = self.status.archived(), head, "the last archive pass at shutdown failed; the next start archives what is missing: {error}");
            }
            Err(_) => {
                tracing::warn!(archive = %where_to, archived = self.status.archived(), head, "the last archive pass at shutdown was cut short after {}; the next start archives what is missing", humantime::format_duration(within));
            }
        }
    }

    /// Archives up to the published checkpoint, again while the head moves past it; returns
    /// early, between two objects, once `stopping` turns true.
    async fn catch_up(&self, stopping: Option<&watch::Receiver<bool>>) -> Result<(), ArchiveError> {
        let stopped = || stopping.is_some_and(|stopping| *stopping.borrow());
        loop {
            let head = self.service.head().map_or(0, |head| head.seq);
            let archived = self.status.archived();
            if head <= archived {
                self.status.set(archived, None);
                return Ok(());
            }
            self.status
                .set(archived, self.recorded_at(archived + 1).await?);
            let published = match self.service.published_checkpoint(None).await {
                Ok(published) => published,
                // The witnesses have cosigned nothing yet: a publication wakes the archiver.
                Err(ServiceError::NotPublished(_)) => return Ok(()),
                Err(error) => return Err(from_service(error)),
            };
            let target = published.checkpoint.size;
            if target <= archived {
                // Nothing is published beyond what the archive holds yet.
                return Ok(());
            }
            let mut from = archived;
            while from < target {
                let to = target.min(from + STEP);
                let checkpoint = (to == target).then_some(published.note.as_bytes());
                if !self.step(from, to, checkpoint, &stopped).await? {
                    return Ok(());
                }
                self.status
                    .set(to, self.recorded_at(to + 1).await.ok().flatten());
                from = to;
            }
        }
    }

    /// When the entry at `seq` was recorded, if there is one.
    async fn recorded_at(&self, seq: u64) -> Result<Option<crate::time::Timestamp>, ArchiveError> {
        Ok(self
            .service
            .events(seq - 1, 1)
            .await
            .map_err(from_service)?
            .entries
            .first()
            .map(|entry| entry.recorded_at))
    }

    /// Writes the full tiles and bundles that grow the archive from `from` entries to `to`; with
    /// the `checkpoint` of size `to`, the partial tiles of that size and then the checkpoint;
    /// then saves `to`. Returns false, with `to` unsaved, when `stopped` says so before an object.
    async fn step(
        &self,
        from: u64,
        to: u64,
        checkpoint: Option<&[u8]>,
        stopped: &impl Fn() -> bool,
    ) -> Result<bool, ArchiveError> {
        let objects = self
            .service
            .tiles_between(from, to)
            .await
            .map_err(from_service)?;
        let now = self.service.now();
        for object in objects.iter().filter(|object| object.full) {
            if stopped() {
                return Ok(false);
            }
            self.bucket
                .put_full(&object.path, &object.bytes, now)
                .await?;
        }
        if let Some(note) = checkpoint {
            for object in objects.iter().filter(|object| !object.full) {
                if stopped() {
                    return Ok(false);
                }
                self.bucket.put_mutable(&object.path, &object.bytes).await?;
            }
            if stopped() {
                return Ok(false);
            }
            self.bucket.put_mutable(CHECKPOINT_PATH, note).await?;
        }
        save_progress(&self.data_dir, &self.bucket.describe(), to).await?;
        Ok(true)
    }
}

/// A failure to read the ledger, as the archive reports it.
fn from_service(error: ServiceError) -> ArchiveError {
    ArchiveError::Source(error.to_string())
}
