//! Restoring from a tiled log in a bucket (a directory or an S3 prefix, the archive's or a copy
//! of it): the checkpoint, then bundle by bundle each entry against its level-0 tile, and every
//! hash tile above recomputed from the ones below.

use std::path::Path;

use super::{RestoreError, Restored, Restorer, Target, open_checkpoint};
use crate::archive::Bucket;
use crate::hash::Hash256;
use crate::merkle::VerifierKey;
use crate::tiles::{self, CHECKPOINT_PATH, TILE_WIDTH, TileError, TileKind, TilePath, bundle};

/// The bytes of `tile`, or of the full tile at its place cut to its width (a tiled log may keep
/// only the full tile once it exists); `None` when neither is there.
async fn read_tile(
    reader: &Bucket,
    tile: TilePath,
) -> Result<Option<(Vec<u8>, bool)>, RestoreError> {
    if let Some(bytes) = reader.get(&tile.to_string()).await? {
        return Ok(Some((bytes, false)));
    }
    if tile.is_full() {
        return Ok(None);
    }
    let full = TilePath {
        width: TILE_WIDTH as u16,
        ..tile
    };
    Ok(reader
        .get(&full.to_string())
        .await?
        .map(|bytes| (bytes, true)))
}

/// The hashes of hash tile `tile`, refused at `index` (the first entry it covers) when missing
/// or malformed.
async fn hashes(reader: &Bucket, tile: TilePath) -> Result<Vec<Hash256>, RestoreError> {
    let index = tile.first_leaf().unwrap_or(u64::MAX);
    let refuse = |reason: String| RestoreError::Refused { index, reason };
    let (bytes, from_full) = read_tile(reader, tile)
        .await?
        .ok_or_else(|| refuse(format!("{tile} is missing: the archive is incomplete")))?;
    let read_as = if from_full {
        TilePath {
            width: TILE_WIDTH as u16,
            ..tile
        }
    } else {
        tile
    };
    let mut hashes =
        tiles::decode_hashes(&read_as, &bytes).map_err(|error| refuse(error.to_string()))?;
    hashes.truncate(usize::from(tile.width));
    Ok(hashes)
}

/// The hash tiles above level 0, filled as their hashes are computed and checked against the
/// archive as each one is complete.
struct Levels {
    /// Per level from 1: the index of the tile being filled and its hashes so far.
    filling: Vec<(u64, Vec<Hash256>)>,
}

impl Levels {
    /// Adds the root of a full tile of level `level - 1` as the next hash of level `level`,
    /// checking each tile it completes against the archive.
    async fn push(
        &mut self,
        reader: &Bucket,
        mut level: u8,
        mut hash: Hash256,
    ) -> Result<(), RestoreError> {
        loop {
            let slot = usize::from(level - 1);
            if self.filling.len() <= slot {
                self.filling.push((0, Vec::new()));
            }
            let (index, filled) = &mut self.filling[slot];
            filled.push(hash);
            if filled.len() as u64 != TILE_WIDTH {
                return Ok(());
            }
            let tile = TilePath {
                kind: TileKind::Hashes(level),
                index: *index,
                width: TILE_WIDTH as u16,
            };
            let computed = std::mem::take(filled);
            *index += 1;
            compare(reader, tile, &computed).await?;
            hash = tiles::full_tile_root(&computed);
            level += 1;
        }
    }

    /// Checks the partial tile of each level against the archive.
    async fn finish(&self, reader: &Bucket) -> Result<(), RestoreError> {
        for (slot, (index, filled)) in self.filling.iter().enumerate() {
            if filled.is_empty() {
                continue;
            }
            let tile = TilePath {
                kind: TileKind::Hashes(slot as u8 + 1),
                index: *index,
                width: filled.len() as u16,
            };
            compare(reader, tile, filled).await?;
        }
        Ok(())
    }
}

/// Compares the archived hash tile `tile` with the hashes computed from the entries, refusing
/// at the first entry under the first hash that differs.
async fn compare(
    reader: &Bucket,
    tile: TilePath,
    computed: &[Hash256],
) -> Result<(), RestoreError> {
    let archived = hashes(reader, tile).await?;
    if let Some(at) = computed.iter().zip(&archived).position(|(a, b)| a != b) {
        let covered = TILE_WIDTH.pow(u32::from(tile.tree_level() / 8));
        let index = tile.first_leaf().unwrap_or(u64::MAX) + at as u64 * covered;
        return Err(RestoreError::Refused {
            index,
            reason: format!(
                "hash {at} of {tile} is {}, but the entries under it hash to {}: the tile was altered",
                archived[at], computed[at]
            ),
        });
    }
    Ok(())
}

/// Restores the log the bucket `reader` holds into `target`, checked against its `checkpoint` under `key`.
/// `done` is told how many entries were checked so far.
pub async fn restore_from_tiles(
    reader: &Bucket,
    key: &VerifierKey,
    target: &Path,
    done: &dyn Fn(u64),
) -> Result<Restored, RestoreError> {
    let location = reader.location_of(CHECKPOINT_PATH);
    let note = reader
        .get(CHECKPOINT_PATH)
        .await?
        .ok_or_else(|| RestoreError::Checkpoint {
            location: location.clone(),
            reason: "is missing".to_owned(),
        })?;
    let checkpoint = open_checkpoint(&note, key, &location)?;
    let size = checkpoint.size;
    let staging = Target::prepare(target)?;
    let mut restorer = Restorer::new(checkpoint, &staging)?;
    let mut levels = Levels {
        filling: Vec::new(),
    };
    let mut bundle_index = 0u64;
    while restorer.taken() < size {
        let first = bundle_index * TILE_WIDTH;
        let width = (size - first).min(TILE_WIDTH) as u16;
        let tile = |kind| TilePath {
            kind,
            index: bundle_index,
            width,
        };
        let leaves = hashes(reader, tile(TileKind::Hashes(0))).await?;
        let bundle_tile = tile(TileKind::Entries);
        let (bytes, from_full) =
            read_tile(reader, bundle_tile)
                .await?
                .ok_or_else(|| RestoreError::Refused {
                    index: first,
                    reason: format!("{bundle_tile} is missing: the archive is incomplete"),
                })?;
        let stored_width = if from_full {
            TILE_WIDTH as usize
        } else {
            usize::from(width)
        };
        let entries = bundle::decode(first, stored_width, &bytes).map_err(|error| match error {
            TileError::Bundle { index, reason } => RestoreError::Refused {
                index,
                reason: format!("{bundle_tile}: {reason}"),
            },
            other => RestoreError::Refused {
                index: first,
                reason: other.to_string(),
            },
        })?;
        for (entry, leaf) in entries.iter().zip(&leaves) {
            restorer.take(entry, Some(*leaf))?;
        }
        if usize::from(width) == TILE_WIDTH as usize {
            levels
                .push(reader, 1, tiles::full_tile_root(&leaves))
                .await?;
        }
        done(restorer.taken());
        bundle_index += 1;
    }
    levels.finish(reader).await?;
    let (checkpoint, head) = restorer.finish()?;
    let data_dir = staging.commit()?;
    Ok(Restored {
        checkpoint,
        head,
        data_dir,
    })
}
