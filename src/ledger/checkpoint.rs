//! Projection checkpoints and point-in-time reads.
//!
//! A checkpoint is the whole projection state at some seq, kept in the store. Reading the state
//! as of an instant loads the latest checkpoint at or before the last entry recorded by then and
//! replays only the entries after it, so no answer needs a replay from seq 1 once the ledger is
//! large. A checkpoint is taken once the entries since the previous one reach the size of the
//! state itself (and at least [`CHECKPOINT_MIN_INTERVAL`]), so checkpoints together take about as
//! much space as the events, and a point-in-time read replays at most that many entries.

use serde::{Deserialize, Serialize};

use super::Log;
use crate::projection::Projections;
use crate::store::{Store as _, StoreError, decode_checkpoint, encode_checkpoint_into};
use crate::time::Timestamp;

/// The fewest entries between two checkpoints.
pub const CHECKPOINT_MIN_INTERVAL: u64 = 1_000;

/// The layout version of [`Projections`] in a checkpoint. Bump it whenever a projection type
/// changes shape: older checkpoints are then skipped (and rebuilt by replay), never misread.
const PROJECTION_LAYOUT: u32 = 5;

#[derive(Serialize)]
struct CheckpointRef<'a> {
    layout: u32,
    projections: &'a Projections,
}

#[derive(Deserialize)]
struct Checkpoint {
    layout: u32,
    projections: Projections,
}

/// How many entries may pass before the next checkpoint of `projections`.
pub(super) fn interval(projections: &Projections, min_interval: u64) -> u64 {
    (projections.size() as u64).max(min_interval)
}

/// Stores `projections` as the checkpoint at its last seq.
pub(super) fn save(log: &Log, projections: &Projections) -> Result<(), StoreError> {
    let checkpoint = CheckpointRef {
        layout: PROJECTION_LAYOUT,
        projections,
    };
    log.store()?
        .put_checkpoint(projections.last_seq(), &mut |writer| {
            encode_checkpoint_into(&checkpoint, writer)
        })
}

/// The projections as of seq `until`, from the nearest usable checkpoint plus a replay.
pub(super) fn at_seq(log: &Log, until: u64) -> Result<Projections, StoreError> {
    let mut projections = usable_checkpoint(log, until)?.unwrap_or_default();
    replay_until(&mut projections, log, until)?;
    Ok(projections)
}

/// Folds the log's entries after the last one `projections` applied into them, up to and
/// including `until`.
pub(super) fn replay_until(
    projections: &mut Projections,
    log: &Log,
    until: u64,
) -> Result<(), StoreError> {
    for record in log.read_ahead(projections.last_seq() + 1) {
        let (seq, entry) = record?;
        if seq > until {
            break;
        }
        projections.apply(&*entry.map_err(|source| StoreError::Corrupt { seq, source })?);
    }
    Ok(())
}

/// The latest checkpoint at or before `seq` that decodes with the current layout. Checkpoints
/// are derived data, so one that does not decode is passed over rather than reported.
fn usable_checkpoint(log: &Log, seq: u64) -> Result<Option<Projections>, StoreError> {
    let mut below = seq;
    let store = log.store()?;
    while let Some((found, bytes)) = store.checkpoint_at_or_before(below)? {
        match decode_checkpoint::<Checkpoint>(&bytes) {
            Ok(checkpoint) if checkpoint.layout == PROJECTION_LAYOUT => {
                return Ok(Some(checkpoint.projections));
            }
            _ if found == 0 => return Ok(None),
            _ => below = found - 1,
        }
    }
    Ok(None)
}

/// The last seq recorded at or before `instant` (0 if none). Recording times never decrease
/// along the seq, so a binary search over the ledger finds it in a few lookups.
pub(super) fn last_seq_recorded_by(log: &Log, instant: Timestamp) -> Result<u64, StoreError> {
    let Some(head) = log.head() else {
        return Ok(0);
    };
    let store = log.store()?;
    let (mut low, mut high) = (0, head.seq);
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        let recorded_at = store
            .get(middle)?
            .map_or(Timestamp::MAX, |entry| entry.recorded_at);
        if recorded_at <= instant {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    Ok(low)
}
