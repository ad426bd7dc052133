//! A damaged sled store is a failed verification, never a shorter ledger that verifies: one
//! flipped byte in `db` makes sled stop reading its log there, so the ledger reads as if it
//! ended earlier; `verify --digest` (the digest of the last export or checkpoint) fails, naming
//! the last seq that verified, in text and in JSON.

use std::fs;

use serde_json::Value;

use crate::helpers::{ledger_with_golden_events, run, text};

#[test]
fn a_flipped_byte_in_the_database_fails_verification_naming_the_last_seq_verified() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    drop(ledger_with_golden_events(&ledger, 5));
    let data_dir = ledger.to_str().unwrap();

    let intact = run(&["verify", "--data-dir", data_dir, "--json"]);
    assert_eq!(intact.status.code(), Some(0), "{}", text(&intact));
    let intact: Value = serde_json::from_slice(&intact.stdout).unwrap();
    assert_eq!(intact["ok"], true, "{intact}");
    let head = intact["last_good"].as_str().unwrap().to_owned();
    let seq: u64 = head.split(':').next().unwrap().parse().unwrap();
    assert_eq!(intact["events_checked"], seq, "{intact}");

    let db = ledger.join("db");
    let mut bytes = fs::read(&db).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&db, bytes).unwrap();

    let damaged = run(&["verify", "--data-dir", data_dir, "--digest", &head]);
    let said = text(&damaged);
    assert_eq!(damaged.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!(
            "FAILED: ledger {data_dir} breaks at seq {seq}: the digest {head} is not in it: it ends before seq {seq}"
        )),
        "{said}"
    );
    let damaged = run(&[
        "verify",
        "--data-dir",
        data_dir,
        "--digest",
        &head,
        "--json",
    ]);
    assert_eq!(damaged.status.code(), Some(1), "{}", text(&damaged));
    let damaged: Value = serde_json::from_slice(&damaged.stdout).unwrap();
    assert_eq!(damaged["ok"], false, "{damaged}");
    assert_eq!(damaged["first_bad_seq"], seq, "{damaged}");
    let verified = damaged["events_checked"].as_u64().unwrap();
    assert!(verified < seq, "{damaged}");
    // The last entry that verified is named, when any did.
    let last_good = damaged["last_good"].as_str().map(str::to_owned);
    assert_eq!(
        last_good.map(|digest| digest.starts_with(&format!("{verified}:"))),
        (verified > 0).then_some(true),
        "{damaged}"
    );
}

#[test]
fn a_store_sled_cannot_open_is_a_failed_verification_with_nothing_verified() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    drop(ledger_with_golden_events(&ledger, 5));
    let conf = ledger.join("conf");
    // sled's own configuration, damaged: a digit more in the segment size it was written with.
    let mut bytes = fs::read(&conf).unwrap();
    let key = b"segment_size: ";
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len();
    bytes.insert(at, b'9');
    fs::write(&conf, bytes).unwrap();

    let output = run(&["verify", "--data-dir", ledger.to_str().unwrap()]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains("breaks at seq 1: the store cannot be read from here on: ")
            && said.contains("(0 events before it verified)"),
        "{said}"
    );
}
