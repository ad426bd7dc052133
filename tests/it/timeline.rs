//! Check timelines against point-in-time reads: for random ledgers (real sled, checkpoints every
//! few entries) and random windows, the timeline's state and number of findings at any instant
//! of the window equal what `GetStatus as_of` that instant answers — probed at random instants
//! and on both sides of every interval boundary, so changes caused by time alone are held to
//! their exact microsecond. And `replay` of the ledger's export answers exactly as the service.

use std::sync::Arc;

use proptest::prelude::*;
use tailledger::as_of::AsOf;
use tailledger::checks::CheckSettings;
use tailledger::event::{Actor, SystemId};
use tailledger::ledger::{Ledger, Log};
use tailledger::replay::ledger_from_export;
use tailledger::service::{Service, ServiceError};
use tailledger::time::{ManualClock, Timestamp};
use tailledger::timeline::Timeline;

use crate::common_history::history;

const MINUTE: i64 = 60_000_000;

fn minute(minutes: i64) -> Timestamp {
    Timestamp::UNIX_EPOCH.saturating_add_micros(minutes * MINUTE)
}

/// A service over `ledger` whose clock stands well after every instant the tests ask about.
fn service(ledger: Ledger) -> Service {
    Service::new(
        Arc::new(ledger),
        Arc::new(ManualClock::new(minute(10_000))),
        CheckSettings::default(),
        chrono_tz::UTC,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The instants a timeline must be right at: each interval's start and the microsecond before
/// it, and the probes.
fn instants(timeline: &Timeline, probes: &[i64]) -> Vec<Timestamp> {
    let window = timeline.window;
    let boundaries = timeline
        .checks
        .iter()
        .flat_map(|check| &check.intervals)
        .flat_map(|interval| [interval.start, interval.start.saturating_add_micros(-1)]);
    let probes = probes
        .iter()
        .map(|micros| window.from.saturating_add_micros(micros % window.micros()));
    boundaries
        .chain(probes)
        .filter(|instant| window.from <= *instant && *instant < window.to)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_timeline_equals_get_status_as_of_every_instant_and_replay_equals_both(
        history in history(),
        from in 0i64..150,
        length in 1i64..1_500,
        probes in prop::collection::vec(0i64..i64::MAX, 1..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::with_checkpoint_interval(Log::open(&dir.path().join("ledger")).unwrap(), 7).unwrap();
        let mut clock = Timestamp::UNIX_EPOCH;
        for (minutes, events) in history {
            clock = clock.saturating_add_micros(minutes * MINUTE);
            ledger.append(clock, Actor::Demo, events).unwrap();
        }
        let export = dir.path().join("export.jsonl");
        ledger.log().export_to_file(&export, &|_| {}).unwrap();
        let server = service(ledger);
        let replayed = service(ledger_from_export(std::io::BufReader::new(std::fs::File::open(&export).unwrap())).unwrap());
        let system = SystemId::tailscale();
        let (from, to) = (minute(from), minute(from + length));
        let runtime = runtime();

        let timeline = runtime.block_on(server.timeline(system.clone(), from.into(), to.into()));
        let again = runtime.block_on(replayed.timeline(system.clone(), from.into(), to.into()));
        let timeline = match (timeline, again) {
            (Ok(timeline), Ok(again)) => {
                prop_assert_eq!(&again, &timeline, "replay's timeline is the server's");
                timeline
            }
            (Err(ServiceError::NothingRecorded { .. }), Err(ServiceError::NothingRecorded { .. })) => {
                return Ok(());
            }
            (timeline, again) => panic!("the server answered {timeline:?}, replay {again:?}"),
        };
        prop_assert_eq!(timeline.window.to, to);
        for check in &timeline.checks {
            prop_assert_eq!(check.intervals.first().map(|interval| interval.start), Some(timeline.window.from));
            prop_assert_eq!(check.intervals.last().map(|interval| interval.end), Some(to));
            for pair in check.intervals.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start, "intervals are consecutive");
                prop_assert!(
                    (pair[0].state, pair[0].findings) != (pair[1].state, pair[1].findings),
                    "an interval starts only where something changed"
                );
            }
        }

        for instant in instants(&timeline, &probes) {
            let status = runtime.block_on(server.status(system.clone(), Some(AsOf::Instant(instant)))).unwrap();
            let again = runtime.block_on(replayed.status(system.clone(), Some(AsOf::Instant(instant)))).unwrap();
            prop_assert_eq!(&again, &status, "replay's status at {} is the server's", instant);
            for (check, result) in timeline.checks.iter().zip(&status.checks) {
                let interval = check.at(instant).expect("the intervals cover the window");
                prop_assert_eq!(
                    (interval.state, interval.findings),
                    (result.state, result.findings.len()),
                    "{} at {}", check.check_id, instant
                );
            }
        }
    }
}
