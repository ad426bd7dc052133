//! Reads of a large ledger, each beside its baseline in the same run: projection rebuild by
//! replay (baseline: iterating the store and decoding records), `GetStatus` as of a past instant
//! (baseline: `GetStatus` now), and chain verification (baseline: SHA-256 of the same canonical
//! bytes). The ledger (1,000,000 events, 100,000 accounts; 100,000 events and 10,000 accounts with
//! `TAILLEDGER_BENCH_QUICK=1`) is built once and shared by every bench of this process.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use sha2::{Digest as _, Sha256};
use tailledger::as_of::AsOf;
use tailledger::checks::CheckSettings;
use tailledger::event::SystemId;
use tailledger::ledger::Ledger;
use tailledger::service::Service;
use tailledger::time::{SystemClock, Timestamp};

fn replay(c: &mut Criterion, ledger: &Ledger, events: u64) {
    let log = ledger.log();
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(events));
    // The state a replay builds is what it is for: it is kept (at startup, for the life of the
    // process), so freeing it is not part of replaying and is left out of the time.
    group.bench_function("projections_replay", |b| {
        b.iter_with_large_drop(|| log.replay().expect("replay"))
    });
    group.bench_function("scan_decode_baseline", |b| {
        b.iter(|| {
            for record in log.scan(1) {
                let (_, entry) = record.expect("a readable record");
                black_box(entry.expect("a decodable record"));
            }
        })
    });
    group.finish();
}

/// The instants a point-in-time read is slowest and typical at: just before a checkpoint that
/// follows the longest stretch without one (the most entries to replay), and midway through it.
fn as_of_instants(ledger: &Ledger) -> (Timestamp, Timestamp) {
    let log = ledger.log();
    let head = log.head().expect("a non-empty ledger").seq;
    let mut checkpoints = vec![head];
    let mut below = head;
    while let Some(seq) = log.checkpoint_seq_at_or_before(below).expect("checkpoints") {
        checkpoints.push(seq);
        if seq == 0 {
            break;
        }
        below = seq - 1;
    }
    checkpoints.push(0);
    checkpoints.dedup();
    let (later, earlier) = checkpoints
        .windows(2)
        .map(|pair| (pair[0], pair[1]))
        .max_by_key(|(later, earlier)| later - earlier)
        .expect("two checkpoints");
    let recorded_at = |seq: u64| log.get(seq).expect("get").expect("an entry").recorded_at;
    println!(
        "as_of: checkpoints at seqs {:?}; the longest stretch is {earlier}..{later}",
        checkpoints.iter().rev().collect::<Vec<_>>()
    );
    (
        recorded_at(later).saturating_add_micros(-1),
        recorded_at((earlier + later) / 2),
    )
}

fn get_status(c: &mut Criterion, ledger: Arc<Ledger>) {
    let (worst, typical) = as_of_instants(&ledger);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let service = Service::new(
        ledger,
        Arc::new(SystemClock),
        CheckSettings::default(),
        chrono_tz::UTC,
    );
    let system = SystemId::tailscale();
    let mut group = c.benchmark_group("get_status");
    for (name, as_of) in [
        ("now_baseline", None),
        ("as_of_mid_checkpoint_interval", Some(typical)),
        ("as_of_just_before_checkpoint", Some(worst)),
    ] {
        let status = runtime
            .block_on(service.status(system.clone(), as_of.map(AsOf::from)))
            .expect("status");
        println!(
            "get_status/{name}: answer based on seq {}",
            status.head.map_or(0, |head| head.seq)
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime
                    .block_on(service.status(system.clone(), as_of.map(AsOf::from)))
                    .expect("status")
            })
        });
    }
    group.finish();
}

fn verification(c: &mut Criterion, ledger: &Ledger, events: u64) {
    let log = ledger.log();
    let canonical: Vec<Vec<u8>> = log
        .scan(1)
        .map(|record| {
            record
                .expect("a record")
                .1
                .expect("an entry")
                .canonical_form()
        })
        .collect();
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(events));
    group.bench_function("verify_store", |b| {
        b.iter(|| {
            let report = log.verify().expect("verification");
            assert!(report.is_ok());
        })
    });
    group.bench_function("sha256_canonical_baseline", |b| {
        b.iter(|| {
            for bytes in &canonical {
                black_box(Sha256::digest(bytes));
            }
        })
    });
    group.finish();
}

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
        "ledger: {events} events, {accounts} accounts, {accounts} employees, built in {:.1} s{}",
        started.elapsed().as_secs_f64(),
        if common::quick() { " (quick mode)" } else { "" }
    );
    let mut c = common::criterion();
    replay(&mut c, &ledger, events as u64);
    verification(&mut c, &ledger, events as u64);
    get_status(&mut c, ledger);
    c.final_summary();
    println!(
        "peak RSS of this bench process: {:.0} MiB",
        common::peak_rss_mib()
    );
}
