//! Tampering behind the ledger's back: records and Merkle tree nodes changed, removed or swapped
//! in sled directly, and export lines edited, removed or swapped. Verification must name the seq where the chain
//! breaks and exit 1.

use std::fs;
use std::path::Path;

use tailledger::entry::Entry;
use tailledger::event::Actor;
use tailledger::store::{decode_entries, encode_chunk, open_waiting_for_lock};

use crate::helpers::{golden_chain, ledger_with_golden_events, run, text};

/// The sled key of a record (the store's documented layout: `e` + the big-endian seq of its
/// first entry).
fn key(seq: u64) -> Vec<u8> {
    let mut key = vec![b'e'];
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The sled key of the run of tree nodes that leaf 15 (seq 16) starts: it holds the node at
/// level 4, index 0 (`store/tree.rs`).
const FIRST_NODE_RUN: &[u8] = b"n\0\0\0\0\0\0\0\x0f";

/// Builds a ledger of the golden events in `dir` in batches of 4, so its records are chunks
/// holding seqs 1–4, 5–8, 9–12, 13–16, 17–20 and on; closes it, and applies `tamper` to its sled
/// tree.
fn tampered_ledger(dir: &Path, tamper: impl FnOnce(&sled::Tree)) {
    drop(ledger_with_golden_events(dir, 4));
    let db = open_waiting_for_lock(dir).expect("the closed ledger opens with sled");
    let tree = db.open_tree("ledger").expect("the ledger tree exists");
    tamper(&tree);
    db.flush().expect("sled flushes");
}

/// The entries of the chunk keyed by `first`.
fn chunk(tree: &sled::Tree, first: u64) -> Vec<Entry> {
    let stored = tree.get(key(first)).unwrap().expect("the chunk exists");
    decode_entries(&stored)
        .into_iter()
        .map(|entry| entry.expect("an untouched chunk decodes"))
        .collect()
}

/// Changes the entries of the chunk keyed by `first` and stores it back under the same key.
fn edit_chunk(tree: &sled::Tree, first: u64, edit: impl FnOnce(&mut Vec<Entry>)) {
    let mut entries = chunk(tree, first);
    edit(&mut entries);
    tree.insert(key(first), encode_chunk(&entries)).unwrap();
}

/// A tampering of the store, and the seq and words verification must report.
struct StoreCase {
    name: &'static str,
    tamper: fn(&sled::Tree),
    broken_seq: u64,
    says: &'static str,
}

const STORE_CASES: &[StoreCase] = &[
    StoreCase {
        name: "an event's actor rewritten, hash kept",
        tamper: |tree| {
            edit_chunk(tree, 5, |entries| {
                entries[0].actor = Actor::Api("intruder".to_owned());
            })
        },
        broken_seq: 5,
        says: "hash mismatch",
    },
    StoreCase {
        name: "an event rewritten with its hash recomputed",
        tamper: |tree| {
            edit_chunk(tree, 5, |entries| {
                let entry = &mut entries[2];
                assert_eq!(entry.seq, 7);
                entry.actor = Actor::Api("intruder".to_owned());
                entry.hash = entry.computed_hash();
            })
        },
        broken_seq: 8,
        says: "prev_hash mismatch",
    },
    StoreCase {
        name: "an entry removed from its chunk",
        tamper: |tree| {
            edit_chunk(tree, 9, |entries| drop(entries.remove(0)));
        },
        broken_seq: 9,
        says: "found seq 10 here",
    },
    StoreCase {
        name: "a whole chunk removed",
        tamper: |tree| {
            tree.remove(key(5)).unwrap();
        },
        broken_seq: 5,
        says: "found seq 9 here",
    },
    StoreCase {
        name: "two entries swapped across chunks",
        tamper: |tree| {
            let (mut first, mut second) = (chunk(tree, 1), chunk(tree, 5));
            std::mem::swap(&mut first[3], &mut second[0]);
            tree.insert(key(1), encode_chunk(&first)).unwrap();
            tree.insert(key(5), encode_chunk(&second)).unwrap();
        },
        broken_seq: 4,
        says: "found seq 5 here",
    },
    StoreCase {
        name: "two entries swapped inside a chunk",
        tamper: |tree| edit_chunk(tree, 13, |entries| entries.swap(1, 2)),
        broken_seq: 14,
        says: "found seq 15 here",
    },
    StoreCase {
        name: "the last record removed",
        tamper: |tree| {
            tree.remove(key(17)).unwrap();
        },
        broken_seq: 17,
        says: "missing",
    },
    StoreCase {
        name: "a record overwritten with garbage",
        tamper: |tree| {
            tree.insert(key(9), vec![2, 0xff, 0xff]).unwrap();
        },
        broken_seq: 9,
        says: "undecodable",
    },
    StoreCase {
        name: "a chunk cut short inside its last entry",
        tamper: |tree| {
            let stored = tree.get(key(13)).unwrap().unwrap();
            tree.insert(key(13), &stored[..stored.len() - 3]).unwrap();
        },
        broken_seq: 16,
        says: "undecodable",
    },
    StoreCase {
        name: "a stored Merkle tree node changed",
        tamper: |tree| {
            let mut run = tree.get(FIRST_NODE_RUN).unwrap().unwrap().to_vec();
            run[1] ^= 1;
            tree.insert(FIRST_NODE_RUN, run).unwrap();
        },
        broken_seq: 16,
        says: "Merkle tree node at level 4, index 0",
    },
    StoreCase {
        name: "a stored Merkle tree node removed",
        tamper: |tree| {
            tree.remove(FIRST_NODE_RUN).unwrap().unwrap();
        },
        broken_seq: 16,
        says: "the store has none",
    },
];

#[test]
fn verify_names_the_seq_where_a_tampered_store_breaks() {
    for case in STORE_CASES {
        let dir = tempfile::tempdir().unwrap();
        tampered_ledger(dir.path(), case.tamper);
        let output = run(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
        let said = text(&output);
        assert_eq!(output.status.code(), Some(1), "{}: {said}", case.name);
        assert!(
            said.contains(&format!("breaks at seq {}:", case.broken_seq))
                && said.contains(case.says),
            "{}: {said}",
            case.name
        );
    }
}

#[test]
fn verify_accepts_an_untouched_store_and_refuses_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    tampered_ledger(dir.path(), |_| {});
    let output = run(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let events = format!("{} events", golden_chain().len());
    assert!(text(&output).contains(&events), "{}", text(&output));

    let nowhere = dir.path().join("no-ledger-here");
    let output = run(&["verify", "--data-dir", nowhere.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("there is no ledger at"),
        "{}",
        text(&output)
    );
    assert!(!nowhere.exists(), "verify must not create a ledger");
}

/// Writes the export of a ledger of the golden events and returns its lines and final digest.
fn exported_lines(dir: &Path) -> (Vec<String>, String) {
    drop(ledger_with_golden_events(&dir.join("ledger"), 5));
    let out = dir.join("export.jsonl");
    let output = run(&[
        "export",
        "--out",
        out.to_str().unwrap(),
        "--data-dir",
        dir.join("ledger").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let said = text(&output);
    let digest = said
        .split("digest ")
        .nth(1)
        .expect("export prints the digest")
        .trim()
        .to_owned();
    let lines = fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (lines, digest)
}

fn verify_export_lines(
    dir: &Path,
    lines: &[String],
    digest: Option<&str>,
) -> (Option<i32>, String) {
    let file = dir.join("checked.jsonl");
    fs::write(&file, lines.join("\n") + "\n").unwrap();
    let mut args = vec!["verify-export", file.to_str().unwrap()];
    if let Some(digest) = digest {
        args.extend(["--digest", digest]);
    }
    let output = run(&args);
    (output.status.code(), text(&output))
}

#[test]
fn verify_export_names_the_seq_where_a_tampered_export_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let (lines, digest) = exported_lines(dir.path());
    assert_eq!(
        verify_export_lines(dir.path(), &lines, Some(&digest)).0,
        Some(0)
    );

    type Edit = fn(&mut Vec<String>);
    let cases: [(&str, Edit, u64, &str); 5] = [
        (
            "a line edited",
            |lines| lines[4] = lines[4].replace("marco.ibanez", "mallory"),
            5,
            "hash mismatch",
        ),
        (
            "a line removed",
            |lines| drop(lines.remove(5)),
            6,
            "found seq 7 here",
        ),
        (
            "two lines swapped",
            |lines| lines.swap(3, 4),
            4,
            "found seq 5 here",
        ),
        (
            "a line that is not JSON",
            |lines| lines[1].truncate(20),
            2,
            "line 2: not JSON",
        ),
        (
            "the hash removed",
            |lines| lines[0] = lines[0].replace("\"hash\"", "\"hush\""),
            1,
            "`hash` is missing",
        ),
    ];
    for (name, edit, seq, says) in cases {
        let mut edited = lines.clone();
        edit(&mut edited);
        let (code, said) = verify_export_lines(dir.path(), &edited, None);
        assert_eq!(code, Some(1), "{name}: {said}");
        assert!(
            said.contains(&format!("breaks at seq {seq}:")) && said.contains(says),
            "{name}: {said}"
        );
    }
}

#[test]
fn verify_export_fails_when_the_digest_is_not_in_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let (lines, digest) = exported_lines(dir.path());

    let (code, said) = verify_export_lines(dir.path(), &lines[..12], Some(&digest));
    let last = golden_chain().len();
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains(&format!("breaks at seq {last}:"))
            && said.contains(&format!("ends before seq {last}")),
        "{said}"
    );

    let other_hash = format!("3:{}", "ab".repeat(32));
    let (code, said) = verify_export_lines(dir.path(), &lines, Some(&other_hash));
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("breaks at seq 3:") && said.contains("its seq 3 has hash"),
        "{said}"
    );

    let (code, said) = verify_export_lines(dir.path(), &lines, Some("17:not-a-hash"));
    assert_eq!(code, Some(2), "a malformed digest is bad usage: {said}");
}
