//! A ledger written by the previous release, kept under `tests/ledgers/v0.1/`: 0.1 stored its
//! checkpoints in sled's unsynced blob files, and the copy also holds the empty
//! `snap.*.generating` a power cut during a snapshot leaves. It must open, verify, keep every
//! entry, take appends and answer `GetStatus` as 0.1 did. The offline readers must leave the
//! directory they read byte for byte as it was, and refuse one a writer holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tailledger::event::Actor;
use tailledger::hash::Hash256;
use tailledger::ledger::{Ledger, Log};
use tailledger::merkle::{Frontier, verify_consistency, verify_inclusion};
use tailledger::store::{SledStore, Store};

use crate::cli::{args, run_with_env};
use crate::helpers::{API_TOKEN, Fixture, free_port, run, spawn_serve, text};
use crate::power_loss::{a_policy, instant};

/// The ledger 0.1 wrote, in a private copy (tests never open the original), taken the way the
/// offline readers take theirs.
pub fn ledger_v01() -> tempfile::TempDir {
    tailledger::store::private_copy(Path::new("tests/ledgers/v0.1")).expect("the 0.1 ledger copies")
}

const HEAD_V01: &str = "3015:9cb3bf32639317d8afc2d495dc9602dfc919f9494f4b992f09160c19e5f639bf";

#[test]
fn a_ledger_written_by_0_1_with_blobs_and_an_unfinished_snapshot_opens_and_keeps_every_entry() {
    let dir = ledger_v01();
    assert!(dir.path().join("blobs").read_dir().unwrap().count() > 0);
    let books = Ledger::new(Log::open_existing(dir.path()).unwrap()).unwrap();
    assert_eq!(books.log().head().unwrap().to_string(), HEAD_V01);
    let report = books.log().verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events_checked, 3015);
    assert!(
        !dir.path().read_dir().unwrap().any(|item| item
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".generating")),
        "the unfinished snapshot is removed"
    );
    // The Merkle tree 0.1 never kept was built at open, over the entries as they are.
    let leaves: Vec<_> = books
        .log()
        .entries()
        .map(|e| e.unwrap().leaf_hash())
        .collect();
    let mut rebuilt = Frontier::new();
    rebuilt.append(&leaves);
    assert_eq!(books.log().tree_head().unwrap(), (3015, rebuilt.root()));
    books.append(instant(0), Actor::Config, a_policy()).unwrap();
    drop(books);
    let reopened = Log::open_existing(dir.path()).unwrap();
    let report = reopened.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events_checked, 3016);
    let (size, root) = reopened.tree_head().unwrap();
    let proof = reopened.inclusion_proof(1, size).unwrap();
    verify_inclusion(0, size, &proof.leaf_hash, &proof.hashes, &root).unwrap();
    let consistency = reopened.consistency_proof(3015, size).unwrap();
    verify_consistency(3015, size, &rebuilt.root(), &root, &consistency).unwrap();
}

/// A build of the tree that stopped part way (a crash while opening) resumes where it stopped.
#[test]
fn an_interrupted_build_of_the_tree_resumes_where_it_stopped() {
    let dir = ledger_v01();
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.tree_size().unwrap(), 0, "0.1 kept no tree");
    let first: Vec<_> = store
        .read(1, 1000)
        .unwrap()
        .iter()
        .map(|e| e.leaf_hash())
        .collect();
    let mut frontier = Frontier::new();
    store.extend_tree(&frontier.append(&first), 1000).unwrap();
    assert_eq!(store.tree_size().unwrap(), 1000);
    drop(store);
    let log = Log::open_existing(dir.path()).unwrap();
    let report = log.verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    let leaves: Vec<_> = log.entries().map(|e| e.unwrap().leaf_hash()).collect();
    frontier.append(&leaves[1000..]);
    assert_eq!(log.tree_head().unwrap(), (3015, frontier.root()));
}

/// Every file under `dir` with its mode and bytes, to compare a directory before and after.
fn contents(dir: &Path) -> BTreeMap<PathBuf, (u32, Hash256)> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        for item in std::fs::read_dir(&path).unwrap() {
            let item = item.unwrap();
            let mode = item.metadata().unwrap().permissions().mode();
            if item.file_type().unwrap().is_dir() {
                pending.push(item.path());
                files.insert(item.path(), (mode, Hash256::ZERO));
            } else {
                let bytes = std::fs::read(item.path()).unwrap();
                files.insert(item.path(), (mode, Hash256::of(&bytes)));
            }
        }
    }
    files
}

#[test]
fn verify_and_export_from_a_directory_leave_it_byte_identical() {
    let dir = ledger_v01();
    let ledger = dir.path().to_str().unwrap();
    let before = contents(dir.path());
    let verified = run(&["verify", "--data-dir", ledger]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified));
    assert!(text(&verified).contains(HEAD_V01), "{}", text(&verified));
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("ledger.jsonl");
    let exported = run(&[
        "export",
        "--data-dir",
        ledger,
        "--out",
        export.to_str().unwrap(),
    ]);
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported));
    assert_eq!(contents(dir.path()), before);
}

#[test]
fn an_offline_read_of_a_ledger_in_use_is_refused() {
    let dir = ledger_v01();
    let _writer = SledStore::open(dir.path()).unwrap();
    let verified = run(&["verify", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(verified.status.code(), Some(2), "{}", text(&verified));
    assert!(
        text(&verified).contains("in use by another process"),
        "{}",
        text(&verified)
    );
}

/// `GetStatus` as of each instant 0.1 was asked about, through the real `serve` binary and the
/// CLI, equals what 0.1 answered (`tests/ledgers/v0.1-status/`).
#[tokio::test(flavor = "multi_thread")]
async fn a_ledger_written_by_0_1_answers_get_status_as_0_1_did() {
    let fixture = Fixture::start().await;
    let dir = ledger_v01();
    let port = free_port();
    let admin = "v01-admin-token";
    let config = dir.path().join("tailledger.toml");
    std::fs::write(dir.path().join("staff.csv"), "email,name,org_role\n").unwrap();
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "."
listen = "127.0.0.1:{port}"

[auth]
tokens = [ {{ name = "ops", role = "admin", sha256 = "{hash}" }} ]

[tailscale]
api_base_url = "{base_url}"
api_token_env = "TL_V01_TOKEN"
sync_interval = "1h"

[tailscale.access_policy]
allowed_org_roles = ["*"]
privileged_org_roles = []

[roster]
csv_path = "staff.csv"
timezone = "UTC"
"#,
            hash = Hash256::of(admin.as_bytes()),
            base_url = fixture.server.base_url(),
        ),
    )
    .unwrap();
    let (mut server, _log) =
        tokio::task::spawn_blocking(move || spawn_serve(&config, &[("TL_V01_TOKEN", API_TOKEN)]))
            .await
            .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let answers = std::fs::read_dir("tests/ledgers/v0.1-status").unwrap();
    let mut compared = 0;
    for answer in answers {
        let path = answer.unwrap().path();
        let as_of = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let status = run_with_env(
            args(&["status", "--server", &url, "--json", "--as-of", &as_of]),
            vec![("TAILLEDGER_TOKEN", admin.to_owned())],
        )
        .await;
        assert_eq!(status.status.code(), Some(0), "{}", text(&status));
        let mut answered: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        // 0.1 recorded no settings: `serve` records the configured ones at start, after the
        // 0.1 entries, and an answer about 0.1's instants says it applied them
        // (docs/reference/checks.md#settings).
        let recorded_from = answered
            .as_object_mut()
            .unwrap()
            .remove("settingsRecordedFromSeq");
        let recorded_from: u64 = recorded_from
            .and_then(|seq| seq.as_str()?.parse().ok())
            .expect("the answer names the seq its settings were recorded at");
        assert!(recorded_from > 3015, "after 0.1's entries: {recorded_from}");
        // Checks added since 0.1 (such as docs/reference/checks.md#offboarded-leftovers-removed)
        // have nothing to find in a ledger 0.1 wrote, which holds no devices or keys; every check
        // 0.1 had answers as it did.
        let known: Vec<&serde_json::Value> = expected["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|check| &check["checkId"])
            .collect();
        let checks = answered["checks"].as_array_mut().unwrap();
        let added: Vec<serde_json::Value> = checks
            .iter()
            .filter(|check| !known.contains(&&check["checkId"]))
            .cloned()
            .collect();
        checks.retain(|check| known.contains(&&check["checkId"]));
        for check in &added {
            assert_eq!(check["state"], "PASSING", "{check}");
        }
        assert_eq!(answered, expected, "GetStatus as of {as_of}");
        compared += 1;
    }
    assert_eq!(compared, 3);
    server.kill().unwrap();
    server.wait().unwrap();
}
