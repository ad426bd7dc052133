//! The evidence pack of a ledger's whole span (1,000,000 events, 100,000 accounts; 100,000 events
//! and 10,000 accounts with `TAILLEDGER_BENCH_QUICK=1`), written as `tailledger evidence
//! --data-dir --signing-key` writes it: the ledger exported into a temporary file, then verified,
//! replayed, gathered, signed and written (`evidence::write_from_export`). Baseline in the same run: the export
//! alone. Target (issue 19): ≤ 30 s for the full size.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Throughput;
use tailledger::as_of::AsOf;
use tailledger::event::SystemId;
use tailledger::evidence;
use tailledger::merkle::SigningKey;
use tailledger::time::{ManualClock, Timestamp};

fn main() {
    let (accounts, events) = if common::quick() {
        (10_000, 100_000)
    } else {
        (100_000, 1_000_000)
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let ledger = common::build_ledger(&dir.path().join("ledger"), accounts, events);
    let log = ledger.log();
    let end = log
        .get(events as u64)
        .expect("the last entry reads")
        .expect("the ledger holds every event")
        .recorded_at
        .saturating_add_seconds(1);
    println!(
        "ledger: {events} events, {accounts} accounts, built in {:.1} s{}",
        started.elapsed().as_secs_f64(),
        if common::quick() { " (quick mode)" } else { "" }
    );
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut c = common::criterion().measurement_time(Duration::from_secs(if common::quick() {
        1
    } else {
        30
    }));
    let mut group = c.benchmark_group("evidence");
    group.throughput(Throughput::Elements(events as u64));
    group.bench_function("export_baseline", |b| {
        b.iter(|| {
            let mut file = tempfile::tempfile().expect("a temporary file");
            let mut writer = std::io::BufWriter::new(&mut file);
            log.export_to(&mut writer, dir.path(), &|_| {})
                .expect("the export is written");
        })
    });
    // Signed, as a pack an operator writes with `--signing-key`.
    let key = Arc::new(SigningKey::from_seed("bench", &[7; 32]).expect("a key"));
    group.bench_function("evidence_pack", |b| {
        b.iter(|| {
            let mut file = tempfile::tempfile().expect("a temporary file");
            let mut writer = std::io::BufWriter::new(&mut file);
            log.export_to(&mut writer, dir.path(), &|_| {})
                .expect("the export is written");
            drop(writer);
            let out = tempfile::tempdir().expect("a temporary directory");
            let pack = out.path().join("pack");
            runtime
                .block_on(evidence::write_from_export(
                    &mut file,
                    Arc::new(ManualClock::new(end)),
                    SystemId::tailscale(),
                    (AsOf::Instant(Timestamp::MIN), AsOf::Instant(end)),
                    &pack,
                    Some(key.clone()),
                ))
                .expect("the pack is written");
        })
    });
    group.finish();
    c.final_summary();
    println!(
        "peak RSS of this bench process: {:.0} MiB",
        common::peak_rss_mib()
    );
}
