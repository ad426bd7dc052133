//! `tailledger restore` (docs/reference/tiles.md#restore): a ledger rebuilt from a tiled log in
//! a [`Bucket`](crate::archive::Bucket) (`tiles.rs`: a directory or an S3 prefix, read the same
//! way) or from an export (`export.rs`), checked against a signed checkpoint under a pinned key.
//!
//! Every entry is checked before it counts: it is the canonical form of an entry, its seq is its
//! place, its `prev_hash` is the hash of the one before, and (from tiles) its leaf hash is the one
//! the archived level-0 tile holds; every archived hash tile is recomputed; the root of the
//! entries must be the checkpoint's, and the checkpoint's origin the one the entries name
//! (`tailledger/<ledger id>`). The first failure is refused with the entry index (and seq) it
//! is at.
//!
//! The entries are appended through a [`Ledger`] (the only writer) opened in a private staging
//! directory beside the target, in batches of one instant and actor as they were recorded, so the
//! restored ledger seals the same hashes and folds the same projections. Only once every check
//! held is the staging directory renamed to the target, which must not exist or be empty: a
//! refused restore leaves nothing behind.

mod export;
mod tiles;

use std::path::{Path, PathBuf};

pub use export::restore_from_export;
pub use tiles::restore_from_tiles;

use crate::archive::ArchiveError;
use crate::entry::Entry;
use crate::event::{Actor, Event};
use crate::hash::{Digest, Hash256};
use crate::ledger::Ledger;
use crate::merkle::{self, Checkpoint, Frontier, VerifierKey};
use crate::store::StoreError;
use crate::time::Timestamp;

/// Events appended per batch at most, so a long batch of one instant is never all in memory.
const BATCH_EVENTS: usize = 4_096;

/// What a restore rebuilt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The checkpoint the entries were checked against (its signature verified).
    pub checkpoint: Checkpoint,
    /// The restored ledger's head.
    pub head: Digest,
    /// Where it is.
    pub data_dir: PathBuf,
}

/// Why a restore was refused; nothing was written to the target.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The target cannot take a restored ledger.
    #[error("cannot restore into {path}: {reason}")]
    Target { path: PathBuf, reason: String },
    /// The signed checkpoint is missing, malformed, or not signed by the pinned key.
    #[error("the checkpoint {location}: {reason}")]
    Checkpoint { location: String, reason: String },
    /// The checkpoint is of another log than the entries.
    #[error(
        "the checkpoint is of the log `{checkpoint}`, but the entries are of `{entries}` (from the hash of entry index 0, seq 1): it is another ledger's checkpoint"
    )]
    ForeignCheckpoint { checkpoint: String, entries: String },
    /// The first entry or tile that does not check, by entry index.
    #[error("refused at entry index {index} (seq {seq}): {reason}", seq = index + 1)]
    Refused { index: u64, reason: String },
    /// The entries check one by one but are not the tree the checkpoint signed.
    #[error(
        "the root of the {size} entries is {computed}, not the checkpoint's {signed}: the checkpoint does not sign these entries"
    )]
    RootMismatch {
        size: u64,
        computed: Hash256,
        signed: Hash256,
    },
    #[error(transparent)]
    Read(#[from] ArchiveError),
    #[error("cannot read the export {path}: {source}")]
    Export {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the restored ledger failed: {0}")]
    Store(#[from] StoreError),
}

/// The checkpoint in `note`, if it is signed by `key` and of a non-empty tree.
fn open_checkpoint(
    note: &[u8],
    key: &VerifierKey,
    location: &str,
) -> Result<Checkpoint, RestoreError> {
    let refuse = |reason: String| RestoreError::Checkpoint {
        location: location.to_owned(),
        reason,
    };
    let text = std::str::from_utf8(note).map_err(|_| refuse("is not UTF-8 text".to_owned()))?;
    let checkpoint = merkle::verify_checkpoint(text, key).map_err(|error| {
        refuse(format!(
            "does not verify under the pinned key {}+{:08x}: {error}",
            key.name(),
            key.key_id()
        ))
    })?;
    if checkpoint.size == 0 {
        return Err(refuse(
            "is of the empty tree: there is nothing to restore".to_owned(),
        ));
    }
    Ok(checkpoint)
}

/// The staging directory beside the target, and the target.
struct Target {
    staging: tempfile::TempDir,
    path: PathBuf,
}

impl Target {
    /// Checks that `path` does not exist or is an empty directory, and makes a private staging
    /// directory beside it (on the same filesystem, so the final rename is atomic).
    fn prepare(path: &Path) -> Result<Target, RestoreError> {
        let refuse = |reason: String| RestoreError::Target {
            path: path.to_path_buf(),
            reason,
        };
        match std::fs::read_dir(path) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(refuse(
                        "it is not empty: a restore never writes over an existing directory"
                            .to_owned(),
                    ));
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(refuse(error.to_string())),
        }
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let staging = tempfile::Builder::new()
            .prefix(".tailledger-restore-")
            .tempdir_in(parent)
            .map_err(|error| {
                refuse(format!(
                    "cannot make a staging directory in {}: {error}",
                    parent.display()
                ))
            })?;
        Ok(Target {
            staging,
            path: path.to_path_buf(),
        })
    }

    /// Puts the staged ledger (closed) in place of the target, durably.
    fn commit(self) -> Result<PathBuf, RestoreError> {
        let refuse = |reason: String| RestoreError::Target {
            path: self.path.clone(),
            reason,
        };
        let staged = self.staging.keep();
        let renamed = std::fs::rename(&staged, &self.path).and_then(|()| {
            let parent = match self.path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            std::fs::File::open(parent)?.sync_all()
        });
        if let Err(error) = renamed {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(refuse(format!(
                "the checked ledger could not be moved there: {error}"
            )));
        }
        Ok(self.path)
    }
}

/// Checked entries of one instant and actor, not yet appended, and the digest they end at.
struct Pending {
    recorded_at: Timestamp,
    actor: Actor,
    events: Vec<Event>,
    last: Digest,
}

/// The entries, checked one at a time and appended to a ledger in the staging directory.
struct Restorer {
    checkpoint: Checkpoint,
    ledger: Ledger,
    frontier: Frontier,
    previous: Option<Digest>,
    batch: Option<Pending>,
}

impl Restorer {
    fn new(checkpoint: Checkpoint, target: &Target) -> Result<Restorer, RestoreError> {
        Ok(Restorer {
            checkpoint,
            ledger: Ledger::open(target.staging.path())?,
            frontier: Frontier::new(),
            previous: None,
            batch: None,
        })
    }

    /// How many entries were taken.
    fn taken(&self) -> u64 {
        self.frontier.size()
    }

    /// Checks the entry at the next index from its canonical form, `leaf` being the leaf hash an
    /// archived tile holds for it, and appends it. Returns its leaf hash.
    fn take(&mut self, canonical: &[u8], leaf: Option<Hash256>) -> Result<Hash256, RestoreError> {
        let index = self.taken();
        let refuse = |reason: String| RestoreError::Refused { index, reason };
        let text = std::str::from_utf8(canonical)
            .map_err(|_| refuse("the entry is not UTF-8 text".to_owned()))?;
        let hash = Hash256::of(canonical);
        let entry = Entry::from_canonical_json(text, hash)
            .map_err(|error| refuse(format!("the bytes are {error}")))?;
        if entry.seq != index + 1 {
            return Err(refuse(format!(
                "the entry of seq {} stands where seq {} should: the archive is reordered or incomplete",
                entry.seq,
                index + 1
            )));
        }
        let computed = merkle::leaf_hash(canonical);
        if let Some(archived) = leaf
            && archived != computed
        {
            return Err(refuse(format!(
                "its leaf hash is {computed}, but the level-0 tile holds {archived}: the entry or the tile was altered"
            )));
        }
        let expected_prev = self.previous.map_or(Hash256::ZERO, |digest| digest.hash);
        if entry.prev_hash != expected_prev {
            return Err(refuse(format!(
                "its prev_hash is {}, not the hash {expected_prev} of the entry before: the chain is broken",
                entry.prev_hash
            )));
        }
        if index == 0 {
            let entries = crate::tiles::log_origin(&hash);
            if entries != self.checkpoint.origin {
                return Err(RestoreError::ForeignCheckpoint {
                    checkpoint: self.checkpoint.origin.clone(),
                    entries,
                });
            }
        }
        let digest = entry.digest();
        self.previous = Some(digest);
        self.frontier.append(&[computed]);
        match &mut self.batch {
            Some(pending)
                if pending.recorded_at == entry.recorded_at
                    && pending.actor == entry.actor
                    && pending.events.len() < BATCH_EVENTS =>
            {
                pending.events.push(entry.event);
                pending.last = digest;
            }
            _ => {
                self.flush()?;
                self.batch = Some(Pending {
                    recorded_at: entry.recorded_at,
                    actor: entry.actor,
                    events: vec![entry.event],
                    last: digest,
                });
            }
        }
        Ok(computed)
    }

    /// Appends the pending batch; the ledger must seal exactly the entries taken.
    fn flush(&mut self) -> Result<(), RestoreError> {
        let Some(pending) = self.batch.take() else {
            return Ok(());
        };
        let appended = self
            .ledger
            .append(pending.recorded_at, pending.actor, pending.events)?;
        if appended.last != Some(pending.last) {
            return Err(RestoreError::Refused {
                index: pending.last.seq - 1,
                reason: format!(
                    "appending it sealed {:?}, not its hash: it is not an entry as tailledger writes them",
                    appended.last
                ),
            });
        }
        Ok(())
    }

    /// Checks the root against the checkpoint and closes the staged ledger.
    fn finish(mut self) -> Result<(Checkpoint, Digest), RestoreError> {
        let size = self.checkpoint.size;
        if self.taken() != size {
            return Err(RestoreError::Refused {
                index: self.taken(),
                reason: format!(
                    "the archive ends here, but the checkpoint signs {size} entries: it is incomplete"
                ),
            });
        }
        let computed = self.frontier.root();
        if computed != self.checkpoint.root {
            return Err(RestoreError::RootMismatch {
                size,
                computed,
                signed: self.checkpoint.root,
            });
        }
        self.flush()?;
        let head = self
            .previous
            .expect("a checked non-empty tree has a last entry");
        let (tree_size, root) = self.ledger.log().tree_head()?;
        if self.ledger.log().head() != Some(head) || tree_size != size || root != computed {
            return Err(RestoreError::Refused {
                index: size - 1,
                reason: "the restored ledger does not end at the checked head and root".to_owned(),
            });
        }
        Ok((self.checkpoint, head))
    }
}
