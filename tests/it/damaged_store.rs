//! A damaged sled store is a failed verification, never a shorter ledger that verifies: one
//! flipped byte in `db` makes sled stop reading its log there, so the ledger reads as if it
//! ended earlier. The head record, kept outside the database, says what was acknowledged:
//! `verify` fails naming the entries lost, and nothing opens the store to write over them.
//! Without a head record, `verify --digest` (a digest noted elsewhere) still fails.

use std::fs;
use std::path::Path;

use serde_json::Value;
use tailledger::hash::{Digest, Hash256};
use tailledger::ledger::{Ledger, Log};
use tailledger::store::{HEAD_RECORD_FILE, StoreError};

use crate::helpers::{ledger_with_golden_events, run, text};

/// A ledger of the golden events in `dir`, closed (its head record then names its head), with
/// its head digest as `verify --json` reports it.
fn closed_ledger(dir: &Path) -> Digest {
    drop(ledger_with_golden_events(dir, 5));
    let intact = run(&["verify", "--data-dir", dir.to_str().unwrap(), "--json"]);
    assert_eq!(intact.status.code(), Some(0), "{}", text(&intact));
    let intact: Value = serde_json::from_slice(&intact.stdout).unwrap();
    assert_eq!(intact["ok"], true, "{intact}");
    let head: Digest = intact["last_good"].as_str().unwrap().parse().unwrap();
    assert_eq!(intact["events_checked"], head.seq, "{intact}");
    head
}

/// Flips one bit in the middle of sled's log `db`.
fn flip_a_byte(dir: &Path) {
    let db = dir.join("db");
    let mut bytes = fs::read(&db).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&db, bytes).unwrap();
}

#[test]
fn a_flipped_byte_in_the_database_fails_verification_naming_the_entries_lost() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let head = closed_ledger(&ledger);
    let data_dir = ledger.to_str().unwrap();
    assert_eq!(
        fs::read_to_string(ledger.join(HEAD_RECORD_FILE)).unwrap(),
        format!("tailledger head record v1\n{head}\n")
    );
    flip_a_byte(&ledger);

    // No digest noted elsewhere is needed: the head record says what was acknowledged.
    let damaged = run(&["verify", "--data-dir", data_dir, "--json"]);
    assert_eq!(damaged.status.code(), Some(1), "{}", text(&damaged));
    let damaged: Value = serde_json::from_slice(&damaged.stdout).unwrap();
    assert_eq!(damaged["ok"], false, "{damaged}");
    let verified = damaged["events_checked"].as_u64().unwrap();
    assert!(verified < head.seq, "{damaged}");
    assert_eq!(damaged["first_bad_seq"], verified + 1, "{damaged}");
    let detail = damaged["detail"].as_str().unwrap();
    assert_eq!(
        detail,
        format!(
            "entries were lost: the store acknowledged {head} (its head record, {HEAD_RECORD_FILE}), but its chain ends before seq {}",
            head.seq
        ),
        "{damaged}"
    );
    let said = text(&run(&["verify", "--data-dir", data_dir]));
    assert!(
        said.contains(&format!(
            "FAILED: ledger {data_dir} breaks at seq {}: {detail}",
            verified + 1
        )),
        "{said}"
    );

    // Nothing writes over the loss, and no reader exports the shorter chain as the ledger.
    let refused = Ledger::open(&ledger)
        .err()
        .expect("a store that lost entries is refused");
    assert!(
        matches!(&refused, StoreError::Lost(loss) if loss.acknowledged == head && loss.found.is_none()),
        "{refused}"
    );
    assert!(
        refused.to_string().contains(&format!(
            "the ledger at {data_dir} has lost acknowledged entries: it acknowledged {head} (its head record), but its chain ends at {verified}:"
        )),
        "{refused}"
    );
    let export = run(&["export", "--data-dir", data_dir, "--out", "-"]);
    assert_eq!(export.status.code(), Some(2), "{}", text(&export));
    assert!(export.stdout.is_empty());
    assert!(
        text(&export).contains("has lost acknowledged entries"),
        "{}",
        text(&export)
    );
}

#[test]
fn without_its_head_record_a_damaged_store_fails_against_a_digest_noted_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let head = closed_ledger(&ledger);
    let data_dir = ledger.to_str().unwrap();
    // A ledger written before the head record was kept has none.
    fs::remove_file(ledger.join(HEAD_RECORD_FILE)).unwrap();
    flip_a_byte(&ledger);
    let seq = head.seq;
    let head = head.to_string();

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
fn a_head_record_naming_another_hash_fails_verification_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let head = closed_ledger(&ledger);
    let data_dir = ledger.to_str().unwrap();
    let other = Digest {
        seq: head.seq,
        hash: Hash256::of(b"another history"),
    };
    fs::write(
        ledger.join(HEAD_RECORD_FILE),
        format!("tailledger head record v1\n{other}\n"),
    )
    .unwrap();

    let said = text(&run(&["verify", "--data-dir", data_dir]));
    assert!(
        said.contains(&format!(
            "FAILED: ledger {data_dir} breaks at seq {}: the store acknowledged {other} (its head record, {HEAD_RECORD_FILE}), but holds hash {} at seq {}",
            head.seq, head.hash, head.seq
        )),
        "{said}"
    );
    let refused = Ledger::open(&ledger)
        .err()
        .expect("a rewritten head is refused");
    assert!(
        refused.to_string().contains(&format!(
            "it acknowledged {other}, but holds {} at seq {}",
            head.hash, head.seq
        )),
        "{refused}"
    );

    // A record that is not one tailledger writes vouches for nothing: refused, naming the file.
    fs::write(ledger.join(HEAD_RECORD_FILE), "edited by hand\n").unwrap();
    let refused = Ledger::open(&ledger)
        .err()
        .expect("an unreadable record is refused");
    assert!(
        refused.to_string().starts_with(&format!(
            "the head record {} cannot be read",
            ledger.join(HEAD_RECORD_FILE).display()
        )),
        "{refused}"
    );
}

#[test]
fn a_head_record_behind_the_head_is_brought_up_to_date_when_the_ledger_opens() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let head = closed_ledger(&ledger);
    // What a kill between a commit and the record's next write leaves: a record one entry behind.
    let log = Log::open_copy(&ledger).unwrap();
    let earlier = log.get(head.seq - 1).unwrap().unwrap().digest();
    drop(log);
    fs::write(
        ledger.join(HEAD_RECORD_FILE),
        format!("tailledger head record v1\n{earlier}\n"),
    )
    .unwrap();
    let said = run(&["verify", "--data-dir", ledger.to_str().unwrap()]);
    assert_eq!(said.status.code(), Some(0), "{}", text(&said));
    drop(Ledger::open(&ledger).unwrap());
    assert_eq!(
        fs::read_to_string(ledger.join(HEAD_RECORD_FILE)).unwrap(),
        format!("tailledger head record v1\n{head}\n")
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
