//! The objects archived until the C2SP tile layout takes over: the ledger's export lines in
//! bundles of 256 entries, and the signed checkpoint.
//!
//! Bundle `N` holds entries `256·N + 1` to `256·N + 256`, one export line each (the bytes
//! `tailledger export` writes for them, each ending in a newline). A whole bundle is full,
//! `export/<N, 12 digits>.jsonl`, and never changes; the entries after the last whole bundle are
//! the mutable `export/last.jsonl`, and `checkpoint` is the published checkpoint: the signed note
//! of the archived size, or with witnesses the newest cosigned one no larger. The
//! full bundles in order, then `last.jsonl`, begin with the export of that size (a step cut
//! short may have written more, never less): `tailledger verify-export` and `replay` read it,
//! and the root of its first `size` entries is the checkpoint's.

use std::sync::Arc;

use super::{ArchiveError, ArchiveObject, CHECKPOINT, ObjectSource};
use crate::service::{Service, ServiceError};

/// Entries per bundle.
pub const BUNDLE: u64 = 256;

/// The mutable object holding the entries after the last whole bundle.
pub const LAST: &str = "export/last.jsonl";

/// The path of whole bundle `index`.
pub fn bundle_path(index: u64) -> String {
    format!("export/{index:012}.jsonl")
}

/// Bundles and checkpoints read from the service's ledger.
pub struct ExportSource {
    service: Arc<Service>,
}

impl ExportSource {
    pub fn new(service: Arc<Service>) -> Self {
        ExportSource { service }
    }

    /// The export lines of entries `first` to `last`.
    async fn lines(&self, first: u64, last: u64) -> Result<Vec<u8>, ArchiveError> {
        let mut bytes = Vec::new();
        let mut after = first - 1;
        while after < last {
            let wanted = usize::try_from(last - after)
                .unwrap_or(usize::MAX)
                .min(1_000);
            let page = self
                .service
                .events(after, wanted)
                .await
                .map_err(|error| ArchiveError::Source(error.to_string()))?;
            if page.entries.is_empty() {
                return Err(ArchiveError::Source(format!(
                    "entry {} is not in the ledger",
                    after + 1
                )));
            }
            for entry in page.entries.iter().filter(|entry| entry.seq <= last) {
                bytes.extend_from_slice(entry.export_line().as_bytes());
                bytes.push(b'\n');
            }
            after = page.next_after_seq;
        }
        Ok(bytes)
    }
}

impl ObjectSource for ExportSource {
    async fn objects(&self, from: u64, to: u64) -> Result<Vec<ArchiveObject>, ArchiveError> {
        let mut objects = Vec::new();
        if to <= from {
            return Ok(objects);
        }
        // Every whole bundle that gains an entry in (from, to], then the tail after them.
        for index in from / BUNDLE..to / BUNDLE {
            objects.push(ArchiveObject {
                path: bundle_path(index),
                bytes: self.lines(index * BUNDLE + 1, (index + 1) * BUNDLE).await?,
                full: true,
            });
        }
        let tail_start = to / BUNDLE * BUNDLE;
        objects.push(ArchiveObject {
            path: LAST.to_owned(),
            bytes: if tail_start < to {
                self.lines(tail_start + 1, to).await?
            } else {
                Vec::new()
            },
            full: false,
        });
        // The published checkpoint: with witnesses, the newest their quorum cosigned, which may be
        // of fewer entries than archived (never more: until one is, the old one stays).
        match self.service.published_checkpoint(Some(to)).await {
            Ok(signed) => objects.push(ArchiveObject {
                path: CHECKPOINT.to_owned(),
                bytes: signed.note.into_bytes(),
                full: false,
            }),
            Err(ServiceError::NotPublished(_)) => {}
            Err(error) => return Err(ArchiveError::Source(error.to_string())),
        }
        Ok(objects)
    }
}
