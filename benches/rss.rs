//! Peak resident memory (`VmHWM`) with 100,000 accounts (and their employees) and 1,000,000
//! events (10,000 and 100,000 with `TAILLEDGER_BENCH_QUICK=1`). Two figures, each from its own
//! process: writing the ledger batch by batch through `Ledger`, as a service that syncs
//! would; and a fresh process (this binary, run again) reopening that ledger (checkpoint + replay
//! of the entries after it), answering `GetStatus` now and as of the middle of the history, and
//! verifying the chain, with its resident memory after each step; and a third process sizes one
//! copy of the projections, to tell them apart from sled's cache. No timing: `cargo bench` runs
//! it for the numbers it prints.

mod common;

use std::process::Command;
use std::sync::Arc;

use tailledger::checks::CheckSettings;
use tailledger::event::SystemId;
use tailledger::ledger::{Ledger, Log};
use tailledger::service::Service;
use tailledger::time::{SystemClock, Timestamp};

/// Set, in a child process, to `DIR|MICROS` (read the ledger in DIR, in the past at MICROS) or to
/// `DIR` (size the projections of the ledger in DIR).
const READER: &str = "TAILLEDGER_RSS_READER";

/// A third process: how much one copy of the loaded projections takes, apart from sled's cache.
fn size_projections(dir: &str) {
    let ledger =
        Ledger::new(Log::open_existing(dir.as_ref()).expect("the ledger")).expect("projections");
    let before = common::rss_mib();
    let copy = ledger.read(|projections| projections.clone());
    println!(
        "  one copy of the projections:           {:.0} MiB",
        common::rss_mib() - before
    );
    drop(copy);
}

/// The reading process: reopens the ledger in `dir` and reads it, printing memory as it goes.
fn read(dir: &str, middle: Timestamp) {
    let mut steps = vec![("started", common::rss_mib())];
    let log = Log::open_existing(dir.as_ref()).expect("the ledger");
    steps.push(("sled opened", common::rss_mib()));
    let ledger = Arc::new(Ledger::new(log).expect("projections"));
    steps.push(("projections loaded", common::rss_mib()));
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
    runtime
        .block_on(service.status(system.clone(), None))
        .expect("status now");
    steps.push(("GetStatus now", common::rss_mib()));
    runtime
        .block_on(service.status(system, Some(middle.into())))
        .expect("status as of");
    steps.push(("GetStatus as_of the middle", common::rss_mib()));
    let report = ledger.log().verify().expect("verification");
    assert!(report.is_ok());
    steps.push(("chain verified", common::rss_mib()));
    println!(
        "  reopen + GetStatus now/as_of + verify: {:.0} MiB peak",
        common::peak_rss_mib()
    );
    println!("  resident memory (VmRSS) of that process after each step:");
    for (step, mib) in steps {
        println!("    {step:<28} {mib:>5.0} MiB");
    }
}

fn main() {
    if let Ok(reader) = std::env::var(READER) {
        match reader.rsplit_once('|') {
            Some((dir, micros)) => {
                let micros = micros.parse().expect("micros");
                read(dir, Timestamp::from_micros(micros).expect("an instant"));
            }
            None => size_projections(&reader),
        }
        return;
    }
    // `cargo bench` passes `--bench`; a filter that names another bench skips this one.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if !filters.is_empty()
        && !filters
            .iter()
            .any(|filter| "peak_rss".contains(filter.as_str()))
    {
        return;
    }
    let (accounts, events) = if common::quick() {
        (10_000, 100_000)
    } else {
        (100_000, 1_000_000)
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ledger = common::build_ledger(dir.path(), accounts, events);
    let middle = ledger
        .log()
        .get(events as u64 / 2)
        .expect("get")
        .expect("an entry")
        .recorded_at;
    drop(ledger);
    let mode = if common::quick() { " (quick mode)" } else { "" };
    println!("peak_rss/{accounts}_accounts_{events}_events{mode}");
    println!(
        "  writing the ledger:                   {:.0} MiB peak",
        common::peak_rss_mib()
    );
    for reader in [
        format!("{}|{}", dir.path().display(), middle.as_micros()),
        dir.path().display().to_string(),
    ] {
        let status = Command::new(std::env::current_exe().expect("this binary"))
            .env(READER, reader)
            .status()
            .expect("a reading process");
        assert!(status.success(), "a reading process failed: {status}");
    }
}
