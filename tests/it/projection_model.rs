//! Projections against replay: for random event histories on a sled ledger, the projections kept
//! up to date on every append equal a full replay, and the state `as_of` any instant (served from
//! checkpoints plus a tail) equals a replay of exactly the entries recorded up to then; and the
//! per-subject history index holds exactly the entries a scan finds about each id.

use std::collections::BTreeSet;

use proptest::prelude::*;
use tailledger::entry::Entry;
use tailledger::event::Actor;
use tailledger::ledger::{Ledger, Log};
use tailledger::projection::{Projections, subjects_of};
use tailledger::time::Timestamp;

use crate::common_history::history;

fn replay(entries: &[Entry]) -> Projections {
    let mut projections = Projections::default();
    entries.iter().for_each(|entry| projections.apply(entry));
    projections
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn incremental_and_point_in_time_projections_equal_replay(
        history in history(),
        probes in prop::collection::vec(0i64..150, 1..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::with_checkpoint_interval(Log::open(dir.path()).unwrap(), 7).unwrap();
        let mut clock = Timestamp::UNIX_EPOCH;
        let mut entries = Vec::new();
        for (minutes, events) in history {
            clock = clock.saturating_add_micros(minutes * 60_000_000);
            entries.extend(ledger.append(clock, Actor::Demo, events).unwrap().entries);
        }
        prop_assert_eq!(ledger.read(Clone::clone), replay(&entries));
        prop_assert_eq!(ledger.log().replay().unwrap(), replay(&entries));

        for minute in probes {
            let instant = Timestamp::UNIX_EPOCH.saturating_add_micros(minute * 60_000_000);
            let known_then: Vec<Entry> = entries.iter().filter(|entry| entry.recorded_at <= instant).cloned().collect();
            let as_of = ledger.read_as_of(Some(instant), Clone::clone).unwrap();
            prop_assert_eq!(as_of, replay(&known_then), "as of minute {}", minute);
        }

        // The history index holds, per id, exactly the entries a scan would find about it.
        let projections = ledger.read(Clone::clone);
        for id in ["a", "b", "c"].map(str::to_owned) {
            let about = |accounts: bool| -> BTreeSet<u64> {
                entries
                    .iter()
                    .filter(|entry| {
                        let subjects = subjects_of(&entry.event);
                        let ids = if accounts { subjects.account_ids } else { subjects.employee_ids };
                        ids.contains(&id.as_str())
                    })
                    .map(|entry| entry.seq)
                    .collect()
            };
            let none: [&String; 0] = [];
            prop_assert_eq!(projections.subjects().seqs([&id], none, none), about(true), "account {}", id);
            prop_assert_eq!(projections.subjects().seqs(none, [&id], none), about(false), "employee {}", id);
        }

        // Reopening builds the projections from the latest checkpoint and the tail.
        drop(ledger);
        let reopened = Ledger::with_checkpoint_interval(Log::open(dir.path()).unwrap(), 7).unwrap();
        prop_assert_eq!(reopened.read(Clone::clone), replay(&entries));
    }
}
