//! Golden files: the canonical forms and hashes of a fixed chain, and the stored bytes of each of
//! its entries. They were written once (`TAILLEDGER_BLESS=1 cargo test golden`) and must never
//! change, only grow: a change means old ledgers or old exports no longer verify. Events added
//! later go at the end of the chain. `records-v1.hex` holds the chain's first entries as 0.1
//! stored them (storage format 1, never blessed again); `records-v2.hex` the whole chain in the
//! current format.

use std::fs;
use std::io::Cursor;
use std::path::PathBuf;

use tailledger::entry::Entry;
use tailledger::store::{CURRENT_FORMAT, decode_entry, encode_chunk};
use tailledger::verify::verify_export;

use crate::helpers::golden_chain;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Reads a golden file, or writes it from `current` when blessing.
fn read_or_bless(name: &str, current: &str) -> String {
    let path = golden(name);
    if std::env::var_os("TAILLEDGER_BLESS").is_some() {
        fs::write(&path, current).expect("the golden directory is writable");
    }
    fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn export_of(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|entry| entry.export_line() + "\n")
        .collect()
}

#[test]
fn canonical_forms_and_hashes_match_the_golden_vectors() {
    let chain = golden_chain();
    let golden_export = read_or_bless("chain-v1.jsonl", &export_of(&chain));
    for (entry, line) in chain.iter().zip(golden_export.lines()) {
        assert_eq!(entry.export_line(), line, "seq {}", entry.seq);
    }
    assert_eq!(golden_export.lines().count(), chain.len());
}

#[test]
fn golden_vectors_verify_as_an_export() {
    let golden_export = fs::read_to_string(golden("chain-v1.jsonl")).expect("golden export");
    let report = verify_export(Cursor::new(golden_export), None).expect("reads from memory");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events_checked, golden_chain().len() as u64);
}

/// How many entries of the golden chain 0.1 stored, in format 1.
const FORMAT_1_ENTRIES: usize = 17;

/// Checks that every record of `records` decodes to the entry of the chain at its position.
fn assert_records_decode_to_the_chain(records: &str, chain: &[Entry]) {
    for (expected, line) in chain.iter().zip(records.lines()) {
        let bytes = hex::decode(line).expect("golden records are hex");
        let decoded = decode_entry(&bytes).expect("a golden record decodes");
        assert_eq!(&decoded, expected);
        assert_eq!(decoded.computed_hash(), decoded.hash, "seq {}", decoded.seq);
    }
}

#[test]
fn stored_format_1_records_keep_decoding_to_the_same_entries() {
    let chain = golden_chain();
    let records = fs::read_to_string(golden("records-v1.hex")).expect("format-1 records");
    assert_eq!(records.lines().count(), FORMAT_1_ENTRIES);
    assert!(records.lines().all(|line| line.starts_with("01")));
    assert_records_decode_to_the_chain(&records, &chain[..FORMAT_1_ENTRIES]);
}

#[test]
fn stored_records_of_the_current_format_keep_decoding_to_the_same_entries() {
    let chain = golden_chain();
    let current: String = chain
        .iter()
        .map(|entry| hex::encode(encode_chunk(std::slice::from_ref(entry))) + "\n")
        .collect();
    let records = read_or_bless(&format!("records-v{CURRENT_FORMAT}.hex"), &current);
    assert_eq!(
        records, current,
        "the current format still writes these bytes"
    );
    assert_records_decode_to_the_chain(&records, &chain);
}
