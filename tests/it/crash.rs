//! Crash safety: a child process appends batches in a loop and reports each acknowledged seq; it
//! is killed with SIGKILL at a random moment, several times over the same ledger. After each kill
//! every acknowledged event must be there, no batch may be partly there, and the chain verifies.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use tailledger::event::Event;
use tailledger::ledger::Ledger;
use tailledger::verify::verify_store;

use crate::helpers::tailledger;

/// Runs the torture writer until it has acknowledged `acks` batches, kills it, and returns the
/// last acknowledged seq.
fn write_then_kill(dir: &Path, acks: usize) -> u64 {
    let mut child = tailledger()
        .args(["torture-writer", "--data-dir", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the torture writer starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut last_ack = 0;
    for line in BufReader::new(stdout).lines().take(acks) {
        let line = line.expect("the writer prints lines");
        last_ack = line
            .strip_prefix("ack ")
            .and_then(|seq| seq.parse().ok())
            .unwrap_or_else(|| panic!("unexpected writer output: {line}"));
    }
    child.kill().expect("SIGKILL is delivered");
    child.wait().expect("the killed writer is reaped");
    last_ack
}

/// Checks that every batch is whole: each ends with a `SyncCompleted` counting the `UserSeen`
/// events before it, and the ledger ends with one.
fn assert_batches_whole(ledger: &Ledger) {
    let mut open_batch = 0;
    for record in ledger.scan(1) {
        let (seq, entry) = record.expect("the store reads");
        match entry.expect("every record decodes").event {
            Event::UserSeen { .. } => open_batch += 1,
            Event::SyncCompleted {
                events_appended, ..
            } => {
                assert_eq!(
                    open_batch, events_appended,
                    "the batch ending at seq {seq} is partial"
                );
                open_batch = 0;
            }
            other => panic!("unexpected event at seq {seq}: {other:?}"),
        }
    }
    assert_eq!(open_batch, 0, "the ledger ends in the middle of a batch");
}

#[test]
fn killed_writers_lose_no_acknowledged_event_and_leave_no_partial_batch() {
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged = 0;
    for round in 1..=6 {
        let acks = rng.usize(1..40);
        acknowledged = write_then_kill(dir.path(), acks).max(acknowledged);

        let ledger = Ledger::open_existing(dir.path()).expect("the ledger reopens after SIGKILL");
        let report = verify_store(ledger.store()).expect("the store reads");
        assert!(report.is_ok(), "seed {seed}, round {round}: {report:?}");
        let head = ledger.head().expect("acknowledged batches exist").seq;
        assert!(
            head >= acknowledged,
            "seed {seed}, round {round}: acknowledged seq {acknowledged} but the head is {head}"
        );
        assert_batches_whole(&ledger);
    }
}
