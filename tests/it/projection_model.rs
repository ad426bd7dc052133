//! Projections against replay: for random event histories on a sled ledger, the projections kept
//! up to date on every append and those of the ledger opened again (a checkpoint, the subject
//! index put together from its parts, a tail) equal a full replay, and the state `as_of` any
//! instant (served from checkpoints plus a tail) equals a replay of exactly the entries recorded
//! up to then, without the subject index; and the
//! per-subject history index holds exactly the entries a scan finds about each id, and the
//! lookups by login name and user id exactly the accounts, devices and keys a scan of the maps
//! finds.

use std::collections::BTreeSet;

use proptest::prelude::*;
use tailledger::entry::Entry;
use tailledger::event::{Actor, SystemId};
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
            // A read of the past keeps no subject index: a history is read from the live one.
            let expected = if known_then.len() == entries.len() { replay(&known_then) } else { replay(&known_then).for_checks() };
            prop_assert_eq!(as_of, expected, "as of minute {}", minute);
        }

        // Opened again, the projections come from the last checkpoint, their subject index
        // from its parts, and the tail: the same as a replay, index included.
        drop(ledger);
        let ledger = Ledger::with_checkpoint_interval(Log::open(dir.path()).unwrap(), 7).unwrap();
        prop_assert_eq!(ledger.read(Clone::clone), replay(&entries));

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
            prop_assert_eq!(projections.subjects().expect("a replay keeps the index").seqs([&id], none, none), about(true), "account {}", id);
            prop_assert_eq!(projections.subjects().expect("a replay keeps the index").seqs(none, [&id], none), about(false), "employee {}", id);
        }

        // The lookups by login name and user id hold exactly what a scan of the maps finds,
        // whatever was renamed, registered anew or removed.
        if let Some(state) = projections.system(&SystemId::tailscale()) {
            for name in ["a", "b", "c", "A", "C"] {
                let login = format!("{name}@acme.example");
                let same = |other: &str| other.to_lowercase() == login.to_lowercase();
                let accounts: Vec<&str> = state.accounts_with_login(&login).map(|account| account.snapshot.id.as_str()).collect();
                let scan: Vec<&str> = state.accounts.values().filter(|account| same(&account.snapshot.login_name)).map(|account| account.snapshot.id.as_str()).collect();
                prop_assert_eq!(accounts, scan, "accounts with login {}", login);
                let devices: Vec<&str> = state.leftovers.devices_registered_by(&login).map(|device| device.device.id.as_str()).collect();
                let scan: Vec<&str> = state.leftovers.devices.values().filter(|device| same(&device.device.user)).map(|device| device.device.id.as_str()).collect();
                prop_assert_eq!(devices, scan, "devices registered by {}", login);
                let keys: Vec<&str> = state.leftovers.keys_created_by(name).map(|key| key.key.id.as_str()).collect();
                let scan: Vec<&str> = state.leftovers.keys.values().filter(|key| key.key.user_id == name).map(|key| key.key.id.as_str()).collect();
                prop_assert_eq!(keys, scan, "keys created by {}", name);
            }
        }

        // Reopening builds the projections from the latest checkpoint and the tail.
        drop(ledger);
        let reopened = Ledger::with_checkpoint_interval(Log::open(dir.path()).unwrap(), 7).unwrap();
        prop_assert_eq!(reopened.read(Clone::clone), replay(&entries));
    }
}
