//! Storage format 2: a batch's entries stored as chunks of whole entries, each value at most
//! `MAX_VALUE` bytes, keyed by the seq of its first entry.
//!
//! - Golden bytes: the golden chain packed as the store packs it (`tests/golden/records-v2-chunked.hex`,
//!   written once with `TAILLEDGER_BLESS=1 cargo test golden`) keeps decoding to the same
//!   entries.
//! - Model: random batches of up to 120 entries (some too long for one value), reads from any
//!   seq, point reads of every seq, reopenings, and batches staged but never committed (a crash
//!   in the middle of a large batch) agree with the in-memory store; no stored value is over the
//!   limit and no blob file appears. (Power cuts between multi-chunk batches are
//!   `power_loss`'s, SIGKILLs `crash`'s.)
//! - A ledger written by 0.1 (format 1, one entry a record) takes format-2 batches after it and
//!   reads and verifies across the boundary.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tailledger::entry::Entry;
use tailledger::event::{Actor, Event, SystemId};
use tailledger::ledger::{Ledger, Log};
use tailledger::merkle::Frontier;
use tailledger::store::{
    MAX_VALUE, SledStore, Store, TreeNodes, decode_entries, open_waiting_for_lock,
};
use tailledger::time::Timestamp;

use crate::helpers::{golden_chain, snapshot};
use crate::ledger_v01::ledger_v01;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// The values of a closed ledger's `ledger` tree, by key.
fn stored_values(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = open_waiting_for_lock(dir).expect("the closed ledger opens with sled");
    let tree = db.open_tree("ledger").unwrap();
    tree.iter()
        .map(|item| {
            let (key, value) = item.unwrap();
            (key.to_vec(), value.to_vec())
        })
        .collect()
}

fn entry_records(values: &BTreeMap<Vec<u8>, Vec<u8>>) -> impl Iterator<Item = &Vec<u8>> {
    values
        .iter()
        .filter(|(key, _)| key.len() == 9 && key[0] == b'e')
        .map(|(_, value)| value)
}

fn no_blob_files(dir: &Path) -> bool {
    fs::read_dir(dir.join("blobs")).map_or(true, |files| files.count() == 0)
}

#[test]
fn golden_format_2_records_keep_decoding_to_the_same_entries() {
    let chain = golden_chain();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    // One batch, so the store packs the whole chain as it packs any batch.
    store.append(&chain, &[]).unwrap();
    drop(store);
    let current: String = entry_records(&stored_values(dir.path()))
        .map(|value| hex::encode(value) + "\n")
        .collect();
    let path = golden("records-v2-chunked.hex");
    if std::env::var_os("TAILLEDGER_BLESS").is_some() {
        fs::write(&path, &current).unwrap();
    }
    let golden_records = fs::read_to_string(&path).unwrap();
    assert_eq!(
        golden_records, current,
        "the store still packs chunks the same way"
    );
    let mut decoded = Vec::new();
    for line in golden_records.lines() {
        let bytes = hex::decode(line).unwrap();
        assert_eq!(bytes[0], 2, "format 2");
        assert!(bytes.len() <= MAX_VALUE);
        decoded.extend(decode_entries(&bytes).into_iter().map(Result::unwrap));
    }
    assert_eq!(decoded, chain);
    assert!(
        golden_records.lines().count() < chain.len(),
        "entries share records"
    );
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<Event>),
    Read {
        from: u64,
        limit: usize,
    },
    GetEvery,
    Reopen,
    /// A batch staged in parts and never committed, as a crash leaves one: then the ledger is
    /// opened again.
    Abandon(Vec<Vec<Event>>),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        8 => ("[a-z]{1,8}", "(member|admin)").prop_map(|(id, role)| Event::UserSeen {
            system: SystemId::tailscale(),
            account: snapshot(&id, &format!("{id}@example.com"), &role, "active"),
        }),
        // Now and then an entry too long for one value: it is a chunk of its own, in pieces.
        1 => (1usize..7000).prop_map(|length| Event::AccountDeclassified {
            system: SystemId::tailscale(),
            account_id: "long".to_owned(),
            reason: "é".repeat(length / 2),
        }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(event(), 0..120).prop_map(Op::Append),
        3 => (0u64..400, 0usize..60).prop_map(|(from, limit)| Op::Read { from, limit }),
        1 => Just(Op::GetEvery),
        1 => Just(Op::Reopen),
        1 => prop::collection::vec(prop::collection::vec(event(), 1..60), 1..4).prop_map(Op::Abandon),
    ]
}

/// Stages `parts` after the head of the closed ledger in `dir`, with the tree nodes they
/// complete, and closes it without a commit.
fn abandon(dir: &Path, parts: Vec<Vec<Event>>) {
    let store = SledStore::open(dir).unwrap();
    let mut last = store.head().unwrap();
    let size = last.map_or(0, |head| head.seq);
    let mut frontier = Frontier::load(&TreeNodes(&store), size).unwrap();
    for part in parts {
        let (entries, leaves): (Vec<Entry>, Vec<_>) = part
            .into_iter()
            .map(|event| {
                let (entry, leaf) =
                    Entry::seal_with_leaf_hash(last, Timestamp::MAX, Actor::Demo, event);
                last = Some(entry.digest());
                (entry, leaf)
            })
            .unzip();
        let nodes = frontier.append(&leaves);
        store.stage(&entries, &nodes).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn chunked_store_agrees_with_the_memory_model(ops in prop::collection::vec(op(), 1..16)) {
        let dir = tempfile::tempdir().unwrap();
        let mut sled = Ledger::open(dir.path()).unwrap();
        let model = Ledger::in_memory();
        for (step, op) in ops.into_iter().enumerate() {
            let recorded_at = Timestamp::UNIX_EPOCH.saturating_add_micros(step as i64);
            match op {
                Op::Append(events) => {
                    let durable = sled.append(recorded_at, Actor::Demo, events.clone()).unwrap();
                    let modelled = model.append(recorded_at, Actor::Demo, events).unwrap();
                    prop_assert_eq!(durable, modelled);
                }
                Op::Read { from, limit } => {
                    prop_assert_eq!(
                        sled.log().read(from, limit).unwrap(),
                        model.log().read(from, limit).unwrap()
                    );
                }
                Op::GetEvery => {
                    let last = model.log().head().map_or(0, |head| head.seq);
                    for seq in 0..=last + 1 {
                        prop_assert_eq!(
                            sled.log().get(seq).unwrap(),
                            model.log().get(seq).unwrap()
                        );
                    }
                }
                Op::Reopen => {
                    drop(sled);
                    sled = Ledger::open(dir.path()).unwrap();
                }
                Op::Abandon(parts) => {
                    drop(sled);
                    abandon(dir.path(), parts);
                    sled = Ledger::open(dir.path()).unwrap();
                }
            }
            prop_assert_eq!(sled.log().head(), model.log().head());
        }
        let report = sled.log().verify().unwrap();
        prop_assert!(report.is_ok(), "{:?}", report);
        prop_assert_eq!(report.last_good, model.log().head());
        let everything: Vec<Entry> = model.log().read(1, usize::MAX).unwrap();
        drop(sled);
        let values = stored_values(dir.path());
        prop_assert!(values.values().all(|value| value.len() <= MAX_VALUE));
        prop_assert!(entry_records(&values).count() <= everything.len().max(1));
        prop_assert!(no_blob_files(dir.path()));
    }
}

#[test]
fn a_0_1_ledger_takes_chunked_batches_and_reads_across_the_formats() {
    let dir = ledger_v01();
    let ledger = Ledger::new(Log::open_existing(dir.path()).unwrap()).unwrap();
    let old_head = ledger.log().head().unwrap();
    let events: Vec<Event> = (0..300)
        .map(|index| Event::UserSeen {
            system: SystemId::tailscale(),
            account: snapshot(
                &format!("new{index}"),
                "new@example.com",
                "member",
                "active",
            ),
        })
        .collect();
    let appended = ledger
        .append(Timestamp::now(), Actor::Demo, events)
        .unwrap()
        .entries;
    assert_eq!(appended[0].seq, old_head.seq + 1);
    assert_eq!(appended[0].prev_hash, old_head.hash);
    let report = ledger.log().verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events_checked, old_head.seq + 300);
    // Reads that start in the old records and end in the new chunks, and point reads of both.
    let across = ledger.log().read(old_head.seq - 5, 20).unwrap();
    let seqs: Vec<u64> = across.iter().map(|entry| entry.seq).collect();
    assert_eq!(
        seqs,
        (old_head.seq - 5..old_head.seq + 15).collect::<Vec<_>>()
    );
    for seq in [
        1,
        old_head.seq,
        old_head.seq + 1,
        old_head.seq + 150,
        old_head.seq + 300,
    ] {
        assert_eq!(ledger.log().get(seq).unwrap().unwrap().seq, seq);
    }
    assert_eq!(ledger.log().get(old_head.seq + 301).unwrap(), None);
    drop(ledger);
    let values = stored_values(dir.path());
    let formats: Vec<u8> = entry_records(&values).map(|value| value[0]).collect();
    assert_eq!(
        formats.iter().filter(|&&format| format == 1).count() as u64,
        old_head.seq,
        "format-1 records are never rewritten"
    );
    assert!(formats.iter().filter(|&&format| format == 2).count() < 30);
}
