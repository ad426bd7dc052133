//! The audit window over a large ledger, each beside its baseline in the same run:
//! `Service::timeline` (what `GetCheckTimeline` computes) over a one-year window holding the
//! whole ledger (baseline: replaying the same window, the projections folded from the window's
//! start through its end with no check evaluated), and `Service::history` of one account
//! (baseline: the scan that served `GetHistory` before its index, every entry read and asked
//! whether it is about the account). The ledger (1,000,000 events, 100,000 accounts; 100,000
//! events and 10,000 accounts with `TAILLEDGER_BENCH_QUICK=1`) is built once.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use tailledger::as_of::AsOf;
use tailledger::checks::CheckSettings;
use tailledger::event::SystemId;
use tailledger::ledger::Ledger;
use tailledger::projection::subjects_of;
use tailledger::service::Service;
use tailledger::time::{SystemClock, Timestamp};

fn main() {
    let (accounts, events) = if common::quick() {
        (10_000, 100_000)
    } else {
        (100_000, 1_000_000)
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let ledger = Arc::new(common::build_ledger(dir.path(), accounts, events));
    println!(
        "ledger: {events} events, {accounts} accounts, built in {:.1} s{}",
        started.elapsed().as_secs_f64(),
        if common::quick() { " (quick mode)" } else { "" }
    );
    let first = ledger
        .log()
        .get(1)
        .expect("get")
        .expect("an entry")
        .recorded_at;
    let (from, to) = (first, first.saturating_add_seconds(365 * 86_400));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let service = Service::new(
        ledger.clone(),
        Arc::new(SystemClock),
        CheckSettings::default(),
        chrono_tz::UTC,
    );
    let system = SystemId::tailscale();
    let timeline = || {
        runtime
            .block_on(service.timeline(system.clone(), AsOf::from(from), AsOf::from(to)))
            .expect("a timeline")
    };
    let answer = timeline();
    println!(
        "timeline {from} .. {to}: based on seq {}, {} intervals",
        answer.head.map_or(0, |head| head.seq),
        answer
            .checks
            .iter()
            .map(|check| check.intervals.len())
            .sum::<usize>()
    );

    let mut c = common::criterion();
    let mut group = c.benchmark_group("timeline");
    group.bench_function("one_year_window", |b| b.iter(timeline));
    group.bench_function("replay_window_baseline", |b| {
        b.iter(|| replay_window(&ledger, from, to))
    });
    group.finish();

    let subject = common::account_id(accounts / 2);
    let history = || {
        runtime
            .block_on(service.history(subject.clone(), None, None))
            .expect("a history")
    };
    println!("history of {subject}: {} entries", history().len());
    let mut group = c.benchmark_group("history");
    group.bench_function("one_account_indexed", |b| b.iter(history));
    group.bench_function("scan_baseline", |b| {
        b.iter(|| {
            ledger
                .log()
                .entries()
                .map(|entry| entry.expect("an entry"))
                .filter(|entry| {
                    subjects_of(&entry.event)
                        .account_ids
                        .contains(&subject.as_str())
                })
                .count()
        })
    });
    group.finish();
    c.final_summary();
}

/// The projections folded from the window's start through its end, nothing evaluated.
fn replay_window(ledger: &Ledger, from: Timestamp, to: Timestamp) {
    let (mut projections, entries) = ledger.state_and_entries_after(from).expect("a state");
    for entry in entries {
        let entry = entry.expect("an entry");
        if entry.recorded_at >= to {
            break;
        }
        projections.apply(&entry);
    }
    black_box(projections);
}
