//! Roster imports, each figure beside a baseline in the same run. Time: `Service::import_roster`
//! of a 10,000-row CSV into a fresh durable ledger (parse, plan, seal, durable append, fold,
//! checkpoint), beside `parse_roster` of the same bytes. Memory: peak RSS (`VmHWM`) of a fresh
//! process importing a 500,000-row roster (≈ 60 MiB; 50,000 rows with
//! `TAILLEDGER_BENCH_QUICK=1`) into a fresh ledger, beside a fresh process that only reads and
//! parses the same file, with its resident memory after each step.

mod common;

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;

use criterion::{BenchmarkId, Throughput};
use tailledger::checks::CheckSettings;
use tailledger::event::Actor;
use tailledger::ledger::Ledger;
use tailledger::roster::parse_roster;
use tailledger::service::Service;
use tailledger::time::SystemClock;

/// Set, in a child process, to `import|ROWS` or `parse|ROWS`.
const CHILD: &str = "TAILLEDGER_ROSTER_CHILD";

/// A roster of `rows` people, about 125 bytes a row as a real HR export with a few extra
/// columns would be (docs/reference/sync.md#roster-csv: unknown columns are ignored).
fn roster(rows: usize) -> Vec<u8> {
    let mut csv = String::from("employee_id,email,name,org_role,department,cost_centre,end_date\n");
    for index in 0..rows {
        let end_date = if index % 50 == 0 { "2025-06-30" } else { "" };
        csv.push_str(&format!(
            "E-{index:07},person.{index:07}@acme-corp.example,Person Number {index},Engineer,\
             Platform Engineering,CC-{:04},{end_date}\n",
            index % 997
        ));
    }
    csv.into_bytes()
}

fn service(ledger: Ledger) -> Service {
    Service::new(
        Arc::new(ledger),
        Arc::new(SystemClock),
        CheckSettings::default(),
        chrono_tz::UTC,
    )
}

/// The child process: one import (or one parse) of a fresh roster, then its figures.
fn child(mode: &str, rows: usize) {
    let mut steps = vec![("started", common::rss_mib())];
    let csv = roster(rows);
    steps.push(("roster in memory", common::rss_mib()));
    let megabytes = csv.len() as f64 / (1024.0 * 1024.0);
    if mode == "parse" {
        let parsed = parse_roster(&csv, chrono_tz::UTC).expect("a valid roster");
        steps.push(("parsed", common::rss_mib()));
        black_box(parsed);
    } else {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let service = service(Ledger::open(dir.path()).expect("a fresh ledger"));
        steps.push(("ledger opened", common::rss_mib()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let (summary, _) = runtime
            .block_on(service.import_roster(Actor::Roster, csv))
            .expect("the import");
        assert_eq!(summary.onboarded, rows as u64);
        steps.push(("imported", common::rss_mib()));
    }
    println!(
        "  {mode:<6} {rows} rows ({megabytes:.0} MiB): {:.0} MiB peak",
        common::peak_rss_mib()
    );
    for (step, mib) in steps {
        println!("    {step:<20} {mib:>5.0} MiB");
    }
}

fn peak_rss(rows: usize) {
    let mode = if common::quick() { " (quick mode)" } else { "" };
    println!("roster_import_peak_rss/{rows}_rows{mode}");
    for mode in ["parse", "import"] {
        let status = Command::new(std::env::current_exe().expect("this binary"))
            .env(CHILD, format!("{mode}|{rows}"))
            .status()
            .expect("a child process");
        assert!(status.success(), "the {mode} process failed: {status}");
    }
}

fn timed(criterion: &mut criterion::Criterion) {
    let rows = 10_000;
    let csv = roster(rows);
    let mut group = criterion.benchmark_group("roster_import");
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(BenchmarkId::new("parse_roster (baseline)", rows), |bench| {
        bench.iter(|| parse_roster(black_box(&csv), chrono_tz::UTC).expect("valid"));
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    group.bench_function(
        BenchmarkId::new("import into a fresh ledger", rows),
        |bench| {
            bench.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("a temporary directory");
                    let ledger = Ledger::open(dir.path()).expect("a fresh ledger");
                    (dir, service(ledger))
                },
                |(dir, service)| {
                    runtime
                        .block_on(service.import_roster(Actor::Roster, csv.clone()))
                        .expect("the import");
                    (dir, service)
                },
                criterion::BatchSize::PerIteration,
            );
        },
    );
    group.finish();
}

fn main() {
    if let Ok(child_args) = std::env::var(CHILD) {
        let (mode, rows) = child_args.split_once('|').expect("MODE|ROWS");
        child(mode, rows.parse().expect("a row count"));
        return;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    if wanted("roster_import_peak_rss") {
        peak_rss(if common::quick() { 50_000 } else { 500_000 });
    }
    if wanted("roster_import") {
        let mut criterion = common::criterion();
        timed(&mut criterion);
        criterion.final_summary();
    }
}
