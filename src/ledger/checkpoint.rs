//! Projection checkpoints and point-in-time reads.
//!
//! A checkpoint is the whole projection state at some seq, kept in the store. Reading the state
//! as of an instant loads the latest checkpoint at or before the last entry recorded by then and
//! replays only the entries after it, so no answer needs a replay from seq 1 once the ledger is
//! large. A checkpoint is taken once the entries since the previous one reach the size of the
//! state itself (and at least [`CHECKPOINT_MIN_INTERVAL`]), so checkpoints together take about as
//! much space as the events, and a point-in-time read replays at most that many entries.
//!
//! The subject index grows with every entry, not with the state, so it is not in the
//! projections' checkpoint: each checkpoint keeps beside it the index's part for the entries
//! since the previous part, and loading the live projections puts the parts back together. A
//! point-in-time read, which never reads the index, reads none of them. Parts that do not reach
//! back to seq 0 without a gap (a checkpoint older than this layout, a part that cannot be read)
//! are not used: the index is then rebuilt from the entries, and the next part starts from seq 0.

use serde::{Deserialize, Serialize};

use super::Log;
use crate::projection::{Projections, SubjectIndex};
use crate::store::{
    Checkpointed, Store as _, StoreError, decode_checkpoint, encode_checkpoint_into,
};
use crate::time::Timestamp;

/// The fewest entries between two checkpoints.
pub const CHECKPOINT_MIN_INTERVAL: u64 = 1_000;

/// The layout version of [`Projections`] and of [`SubjectIndex`] in a checkpoint. Bump it
/// whenever a projection type changes shape: older checkpoints are then skipped (and rebuilt by
/// replay), never misread.
const PROJECTION_LAYOUT: u32 = 8;

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

/// The subject index's part for the entries after seq `after`, up to the seq it is stored at.
#[derive(Serialize, Deserialize)]
struct SubjectsPart {
    layout: u32,
    after: u64,
    subjects: SubjectIndex,
}

/// How many entries may pass before the next checkpoint of `projections`.
pub(super) fn interval(projections: &Projections, min_interval: u64) -> u64 {
    (projections.size() as u64).max(min_interval)
}

/// Stores `projections` as the checkpoint at its last seq, with the part of their subject index
/// after seq `indexed`: the last seq the stored parts already cover.
pub(super) fn save(log: &Log, projections: &Projections, indexed: u64) -> Result<(), StoreError> {
    let store = log.store()?;
    let seq = projections.last_seq();
    // The part goes first: a checkpoint is then never found without the parts before it.
    if let Some(subjects) = projections.subjects_after(indexed) {
        let part = SubjectsPart {
            layout: PROJECTION_LAYOUT,
            after: indexed,
            subjects,
        };
        store.put_checkpoint(Checkpointed::Subjects, seq, &mut |writer| {
            encode_checkpoint_into(&part, writer)
        })?;
    }
    let checkpoint = CheckpointRef {
        layout: PROJECTION_LAYOUT,
        projections,
    };
    store.put_checkpoint(Checkpointed::Projections, seq, &mut |writer| {
        encode_checkpoint_into(&checkpoint, writer)
    })
}

/// The projections as of seq `until`, subject index included, from the nearest usable
/// checkpoint plus a replay; and the last seq the stored parts of the index cover without a gap,
/// which the next part follows.
pub(super) fn at_seq(log: &Log, until: u64) -> Result<(Projections, u64), StoreError> {
    let (mut projections, indexed) = match usable_checkpoint(log, until)? {
        None => (Projections::default(), 0),
        Some(checkpoint) => {
            let at = checkpoint.last_seq();
            match stored_subjects(log, at)? {
                Some(subjects) => (checkpoint.with_subjects(subjects), at),
                None => (checkpoint.with_subjects(rebuilt_subjects(log, at)?), 0),
            }
        }
    };
    replay_until(&mut projections, log, until)?;
    Ok((projections, indexed))
}

/// The projections as of seq `until` for a read of the past, which never reads the subject
/// index: [`Projections::for_checks`], so none of it is read or kept.
pub(super) fn for_checks_at_seq(log: &Log, until: u64) -> Result<Projections, StoreError> {
    let mut projections = usable_checkpoint(log, until)?
        .unwrap_or_default()
        .for_checks();
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
    while let Some((found, bytes)) =
        store.checkpoint_at_or_before(Checkpointed::Projections, below)?
    {
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

/// The subject index up to seq `at`, put together from the stored parts, or `None` unless they
/// reach from `at` back to seq 0 without a gap.
fn stored_subjects(log: &Log, at: u64) -> Result<Option<SubjectIndex>, StoreError> {
    let store = log.store()?;
    let mut parts = Vec::new();
    let mut upto = at;
    while upto > 0 {
        let part = match store.checkpoint_at_or_before(Checkpointed::Subjects, upto)? {
            Some((found, bytes)) if found == upto => decode_checkpoint::<SubjectsPart>(&bytes).ok(),
            _ => None,
        };
        match part {
            Some(part) if part.layout == PROJECTION_LAYOUT && part.after < upto => {
                upto = part.after;
                parts.push(part.subjects);
            }
            _ => return Ok(None),
        }
    }
    let mut subjects = SubjectIndex::default();
    parts
        .into_iter()
        .rev()
        .for_each(|part| subjects.extend(part));
    Ok(Some(subjects))
}

/// The subject index up to seq `at`, from the entries themselves.
fn rebuilt_subjects(log: &Log, at: u64) -> Result<SubjectIndex, StoreError> {
    let mut subjects = SubjectIndex::default();
    for record in log.read_ahead(1) {
        let (seq, entry) = record?;
        if seq > at {
            break;
        }
        let entry = entry.map_err(|source| StoreError::Corrupt { seq, source })?;
        subjects.apply(seq, &entry.event);
    }
    Ok(subjects)
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::event::{Actor, Event};
    use crate::ledger::Ledger;

    /// A ledger in `dir` taking a checkpoint every 10 entries, after `batches` more batches of
    /// 10 entries, each about one of five accounts.
    fn appended(dir: &std::path::Path, batches: usize) -> Ledger {
        appended_about(dir, "a", batches)
    }

    /// [`appended`], the accounts' ids starting with `prefix`.
    fn appended_about(dir: &std::path::Path, prefix: &str, batches: usize) -> Ledger {
        let ledger = Ledger::with_checkpoint_interval(Log::open(dir).unwrap(), 10).unwrap();
        for _ in 0..batches {
            let events = (0..10)
                .map(|index| Event::declassified(&format!("{prefix}{}", index % 5)))
                .collect();
            ledger
                .append(Timestamp::UNIX_EPOCH, Actor::Demo, events)
                .unwrap();
        }
        ledger
    }

    fn part(log: &Log, seq: u64) -> SubjectsPart {
        let (found, bytes) = log
            .store()
            .unwrap()
            .checkpoint_at_or_before(Checkpointed::Subjects, seq)
            .unwrap()
            .unwrap();
        assert_eq!(found, seq);
        decode_checkpoint(&bytes).unwrap()
    }

    fn seqs(part: &SubjectsPart) -> BTreeSet<u64> {
        let ids: Vec<String> = (0..5).map(|index| format!("a{index}")).collect();
        let none: [&String; 0] = [];
        part.subjects.seqs(&ids, none, none)
    }

    /// A checkpoint costs what changed: its part of the index holds the entries since the
    /// previous part, not the whole history.
    #[test]
    fn each_part_of_the_index_holds_the_entries_since_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = appended(dir.path(), 3);
        for (seq, after) in [(10, 0), (20, 10), (30, 20)] {
            let part = part(ledger.log(), seq);
            assert_eq!(part.after, after);
            assert_eq!(seqs(&part), (after + 1..=seq).collect());
        }
    }

    /// Parts with a gap are not used: the index is rebuilt from the entries, and the next part
    /// starts from seq 0, so the one after that is whole again.
    #[test]
    fn an_unreadable_part_is_rebuilt_from_the_entries_and_the_next_part_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = appended(dir.path(), 3);
        ledger
            .log()
            .store()
            .unwrap()
            .put_checkpoint(Checkpointed::Subjects, 20, &mut |writer| {
                writer.write_all(b"not a part")
            })
            .unwrap();
        assert!(stored_subjects(ledger.log(), 30).unwrap().is_none());
        drop(ledger);

        let ledger = appended(dir.path(), 1);
        assert_eq!(ledger.read(Clone::clone), ledger.log().replay().unwrap());
        let part = part(ledger.log(), 40);
        assert_eq!(part.after, 0);
        assert_eq!(seqs(&part), (1..=40).collect());
        drop(ledger);

        let ledger = appended(dir.path(), 0);
        assert!(stored_subjects(ledger.log(), 40).unwrap().is_some());
        assert_eq!(ledger.read(Clone::clone), ledger.log().replay().unwrap());
    }

    /// Opening a ledger takes its state from the checkpoint and replays only what follows it:
    /// a checkpoint standing for another history (the same seqs, other accounts) is what the
    /// reopened ledger holds, with the subject index of its own entries from the parts.
    #[test]
    fn opening_takes_the_state_from_the_checkpoint_and_its_index_from_the_parts() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = appended(dir.path(), 3);
        let own_index = ledger.read(|projections| projections.subjects().cloned());
        let other_dir = tempfile::tempdir().unwrap();
        let other = appended_about(other_dir.path(), "b", 3).read(Clone::clone);
        ledger
            .log()
            .store()
            .unwrap()
            .put_checkpoint(Checkpointed::Projections, 30, &mut |writer| {
                let checkpoint = CheckpointRef {
                    layout: PROJECTION_LAYOUT,
                    projections: &other,
                };
                encode_checkpoint_into(&checkpoint, writer)
            })
            .unwrap();
        drop(ledger);

        let reopened = appended(dir.path(), 0).read(Clone::clone);
        assert_eq!(reopened.subjects().cloned(), own_index);
        assert_eq!(reopened.for_checks(), other.for_checks());
    }

    /// Projections read from a checkpoint hold no subject index until one is given back, so a
    /// point-in-time read cannot take them for the live ones.
    #[test]
    fn projections_read_from_a_checkpoint_have_no_subject_index() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = appended(dir.path(), 3);
        let checkpoint = usable_checkpoint(ledger.log(), 30).unwrap().unwrap();
        assert_eq!(checkpoint.last_seq(), 30);
        assert!(checkpoint.subjects().is_none());
    }
}
