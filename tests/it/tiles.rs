//! The ledger as C2SP tiles (docs/reference/tiles.md): a ledger archived by `serve` to a
//! directory, its data directory deleted, and restored from the archive alone equal to the
//! original (digest, root, and the status now and as of the middle), the archive a tile
//! directory `tiles export` and the independent reader agree with, `sync` continuing the restored
//! chain; a tampered, reordered, incomplete or foreign archive refused at the first bad entry
//! index with nothing written; a restore from an export and its checkpoint; and the tiles served
//! by the real `serve`, read by the independent stdlib Python reader `tests/tiles/read_tiles.py`,
//! entry bundles only with an auditor's token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tailledger::archive::{Bucket, DirBucket, PROGRESS_FILE};
use tailledger::as_of::AsOf;
use tailledger::checks::CheckSettings;
use tailledger::config::Config;
use tailledger::event::{Actor, Event, SystemId};
use tailledger::ledger::{Ledger, Log};
use tailledger::merkle::{Checkpoint, SigningKey, sign_checkpoint};
use tailledger::restore::{RestoreError, restore_from_export, restore_from_tiles};
use tailledger::service::Service;
use tailledger::tiles;
use tailledger::time::{ManualClock, Timestamp};

use crate::cli::{AUDITOR_TOKEN, Setup, TOKEN_ENV, args, run_with_env, tailscale_token};
use crate::helpers::{
    API_TOKEN, Fixture, at, every_kind_of_event, free_port, run, spawn_serve, text,
};
use crate::seaweed::poll_until;

/// Entries in the ledgers of these tests: eleven full bundles and a partial one, a partial
/// level-1 tile of width 11.
const ENTRIES: usize = 3_000;

/// Entries of the round trip through the archive and `restore`: `TAILLEDGER_TILES_ENTRIES`
/// (`.ci/run` sets 100,000), else [`ENTRIES`].
fn round_trip_entries() -> usize {
    std::env::var("TAILLEDGER_TILES_ENTRIES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(ENTRIES)
}

/// A durable ledger in `dir` of `count` entries: the golden events over and over, in batches of
/// 1 to 97 entries a minute apart from `start`.
fn ledger_of(dir: &Path, count: usize, start: &str) -> Ledger {
    let ledger = Ledger::open(dir).unwrap();
    let events = every_kind_of_event();
    let mut cycle = events.iter().cycle();
    let (mut appended, mut batch) = (0usize, 0i64);
    while appended < count {
        let size = (1 + (batch as usize * 37) % 97).min(count - appended);
        let chosen: Vec<(Actor, Event)> = cycle.by_ref().take(size).cloned().collect();
        let actor = chosen[0].0.clone();
        let events = chosen.into_iter().map(|(_, event)| event).collect();
        ledger
            .append(
                at(start).saturating_add_micros(batch * 60_000_000),
                actor,
                events,
            )
            .unwrap();
        appended += size;
        batch += 1;
    }
    ledger
}

fn signing_key() -> SigningKey {
    SigningKey::from_seed("tiles-test", &[7; 32]).unwrap()
}

/// Writes `bytes` as the object at `path` of the tile directory `to`.
fn put(to: &Path, path: &str, bytes: &[u8]) {
    let file = to.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, bytes).unwrap();
}

/// Writes the tiles of the ledger in `data_dir` and its signed checkpoint into `to`.
fn write_tiles(data_dir: &Path, key: &SigningKey, to: &Path) -> Checkpoint {
    let log = Log::open_copy(data_dir).unwrap();
    let (size, root) = log.tree_head().unwrap();
    for object in tiles::objects_between(&log, 0, size) {
        let object = object.unwrap();
        put(to, &object.path, &object.bytes);
    }
    let checkpoint = Checkpoint {
        origin: tiles::log_origin(&log.get(1).unwrap().unwrap().hash),
        size,
        root,
        extensions: Vec::new(),
    };
    let note = sign_checkpoint(&checkpoint, key).unwrap();
    put(to, tiles::CHECKPOINT_PATH, note.as_bytes());
    checkpoint
}

/// A service over a private copy of the ledger in `dir`, its clock at `now`.
fn service_over(dir: &Path, now: Timestamp) -> Service {
    Service::new(
        Arc::new(Ledger::new(Log::open_copy(dir).unwrap()).unwrap()),
        Arc::new(ManualClock::new(now)),
        CheckSettings::default(),
        chrono_tz::UTC,
    )
}

/// What must be equal between a ledger and its restored copy: the head, the tree head, and the
/// status (what `GetStatus` answers) now and as of the recorded instant of seq `middle`.
#[derive(Debug, PartialEq)]
pub struct Answers {
    head: Option<tailledger::hash::Digest>,
    tree_head: (u64, tailledger::hash::Hash256),
    statuses: Vec<tailledger::service::CheckReport>,
}

/// The [`Answers`] of the ledger in `dir`.
pub async fn answers_of(dir: &Path, middle: u64) -> Answers {
    let log = Log::open_copy(dir).unwrap();
    let middle_at = log.get(middle).unwrap().unwrap().recorded_at;
    let now = log
        .head_recorded_at()
        .unwrap()
        .saturating_add_micros(3_600_000_000);
    let (head, tree_head) = (log.head(), log.tree_head().unwrap());
    drop(log);
    let service = service_over(dir, now);
    let mut statuses = Vec::new();
    for as_of in [None, Some(AsOf::Instant(middle_at))] {
        statuses.push(service.status(SystemId::tailscale(), as_of).await.unwrap());
    }
    Answers {
        head,
        tree_head,
        statuses,
    }
}

/// Copies a directory tree.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ledger_restored_from_its_archive_alone_answers_as_the_original_and_sync_continues_it() {
    let fixture = Fixture::start().await;
    let setup = Setup::new(fixture.server.base_url(), "127.0.0.1:0");
    let dir = setup.dir.path();
    let original = setup.ledger();
    let entries = round_trip_entries();
    drop(ledger_of(&original, entries, "2026-03-02T14:00:00Z"));
    let (key_file, public_key) = crate::helpers::keygen(dir);
    let config = setup.config();
    let mut text_of_config = std::fs::read_to_string(&config).unwrap();
    text_of_config.push_str(&format!(
        "\n[checkpoint]\nsigning_key_path = \"{}\"\n\n[archive]\ndir = \"archive\"\n",
        key_file.display()
    ));
    std::fs::write(&config, text_of_config).unwrap();
    let archive = dir.join("archive");

    // `serve` archives the ledger as it runs; stopped, it makes a last pass up to its head.
    let (mut server, log) = spawn_serve(&config, &[(TOKEN_ENV, API_TOKEN)]);
    let progress = original.join(PROGRESS_FILE);
    poll_until(
        "serve archives the ledger",
        std::time::Duration::from_secs(600),
        || {
            std::fs::read_to_string(&progress).is_ok_and(|text| {
                text.lines()
                    .nth(1)
                    .and_then(|size| size.parse::<u64>().ok())
                    .is_some_and(|size| size >= entries as u64)
            })
        },
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(server.wait().unwrap().success());
    let logged = log.join().unwrap().join("\n");
    assert!(
        logged.contains("the archive is up to date at shutdown"),
        "{logged}"
    );
    let head = Log::open_copy(&original).unwrap().head().unwrap();
    let expected = answers_of(&original, entries as u64 / 2).await;

    // The archive is a tile directory: the checkpoint of the head at shutdown, every full tile
    // the bytes `tiles export` makes of the same ledger (it writes over the archive, refusing any
    // full object with other bytes), and the independent reader accepts it.
    let note = std::fs::read_to_string(archive.join("checkpoint")).unwrap();
    let archived = tailledger::merkle::verify_checkpoint(
        &note,
        &tailledger::merkle::VerifierKey::parse(&public_key).unwrap(),
    )
    .unwrap();
    assert_eq!(archived.size, head.seq);
    tiles_export(&original, &key_file, &archive);
    assert_eq!(
        std::fs::read_to_string(archive.join("checkpoint")).unwrap(),
        note
    );
    let reader = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tiles/read_tiles.py");
    let read = std::process::Command::new("python3")
        .args([
            reader,
            &format!("file://{}", archive.display()),
            "--public-key",
            &public_key,
        ])
        .output()
        .expect("python3 runs");
    assert!(read.status.success(), "{}", text(&read));

    // The machine is lost: the ledger's directory is deleted, and restored from the archive.
    std::fs::remove_dir_all(&original).unwrap();
    let restored = original.clone();
    let output = run(&[
        "restore",
        "--from",
        archive.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
        "--public-key",
        &public_key,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("restored {} entries", head.seq)),
        "{}",
        text(&output)
    );
    assert_eq!(answers_of(&restored, entries as u64 / 2).await, expected);
    // Nothing but the ledger is left beside it.
    let beside: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".tailledger-restore"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");

    // A restore into a directory that is not empty is refused.
    let again = run(&[
        "restore",
        "--from",
        archive.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
        "--public-key",
        &public_key,
    ]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("not empty"), "{}", text(&again));

    // The real binary continues the restored chain.
    let synced = run_with_env(
        args(&["sync", "-c", config.to_str().unwrap()]),
        tailscale_token(),
    )
    .await;
    assert_eq!(synced.status.code(), Some(0), "{}", text(&synced));
    let verified = run(&["verify", "--data-dir", restored.to_str().unwrap()]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified));
    let log = Log::open_copy(&restored).unwrap();
    assert!(log.head().unwrap().seq > head.seq);
    let next = log.get(head.seq + 1).unwrap().unwrap();
    assert_eq!(next.prev_hash, head.hash);
}

/// Runs `tailledger tiles export` of the ledger in `data_dir`, signed with `key`, into `to`, and
/// asserts it succeeded.
pub fn tiles_export(data_dir: &Path, key: &Path, to: &Path) {
    let exported = run(&[
        "tiles",
        "export",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--signing-key",
        key.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported));
}

/// Bundle 5 (entries 1,280 to 1,535, the first of whose seqs start with `1`) with one digit of
/// the seq of its entry 10 (index 1,290) changed.
pub fn tamper_entry_10_of_bundle_5(bundle: &[u8]) -> Vec<u8> {
    let mut bundle = bundle.to_vec();
    let entries = tiles::bundle::decode(1_280, 256, &bundle).unwrap();
    let offset: usize = entries[..10]
        .iter()
        .map(|entry| 2 + entry.len())
        .sum::<usize>()
        + 2;
    let at_seq = offset
        + entries[10]
            .windows(7)
            .position(|w| w == b"\"seq\":1")
            .unwrap()
        + 7;
    bundle[at_seq] = if bundle[at_seq] == b'9' { b'8' } else { b'9' };
    bundle
}

/// A refused restore: its error, and nothing at the target or beside it.
async fn refused(tiles_dir: &Path, key: &SigningKey, parent: &Path) -> RestoreError {
    let target = parent.join("restored");
    let error = restore_from_tiles(
        &Bucket::Dir(DirBucket::new(tiles_dir.to_path_buf())),
        &key.verifier_key(),
        &target,
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(!target.exists(), "{error}");
    let left: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains(".tailledger-restore"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    error
}

fn refused_at(error: &RestoreError) -> Option<u64> {
    match error {
        RestoreError::Refused { index, .. } => Some(*index),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_reordered_incomplete_or_foreign_archive_is_refused_at_the_first_bad_index() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key();
    let ledger_dir = dir.path().join("ledger");
    drop(ledger_of(&ledger_dir, ENTRIES, "2026-03-02T14:00:00Z"));
    let good = dir.path().join("good");
    write_tiles(&ledger_dir, &key, &good);
    let case = |name: &str| {
        let copy = dir.path().join(name);
        copy_dir(&good, &copy);
        copy
    };
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();

    // One byte of entry 10 of bundle 5 changed: index 5·256 + 10.
    let tampered = case("tampered");
    let bundle_file = tampered.join("tile/entries/005");
    let bundle = std::fs::read(&bundle_file).unwrap();
    std::fs::write(&bundle_file, tamper_entry_10_of_bundle_5(&bundle)).unwrap();
    let error = refused(&tampered, &key, &work).await;
    assert_eq!(refused_at(&error), Some(1_290), "{error}");
    assert!(error.to_string().contains("seq 1291"), "{error}");

    // A missing level-0 tile, and a missing bundle: refused where they start.
    let missing = case("missing-tile");
    std::fs::remove_file(missing.join("tile/0/007")).unwrap();
    let error = refused(&missing, &key, &work).await;
    assert_eq!(refused_at(&error), Some(1_792), "{error}");
    assert!(
        error.to_string().contains("tile/0/007 is missing"),
        "{error}"
    );
    let missing = case("missing-bundle");
    std::fs::remove_file(missing.join("tile/entries/003")).unwrap();
    assert_eq!(refused_at(&refused(&missing, &key, &work).await), Some(768));
    // The last, partial bundle gone: the archive ends before the checkpoint's size.
    let short = case("short");
    std::fs::remove_file(short.join("tile/entries/011.p/184")).unwrap();
    assert_eq!(refused_at(&refused(&short, &key, &work).await), Some(2_816));

    // Two bundles swapped: the entries are out of order from 512 on.
    let reordered = case("reordered");
    std::fs::rename(reordered.join("tile/entries/002"), reordered.join("swap")).unwrap();
    std::fs::rename(
        reordered.join("tile/entries/003"),
        reordered.join("tile/entries/002"),
    )
    .unwrap();
    std::fs::rename(reordered.join("swap"), reordered.join("tile/entries/003")).unwrap();
    let error = refused(&reordered, &key, &work).await;
    assert_eq!(refused_at(&error), Some(512), "{error}");
    assert!(error.to_string().contains("reordered"), "{error}");

    // A hash of the level-1 tile changed: refused at the first entry under it (4·256).
    let level1 = case("level1");
    let tile_file = level1.join("tile/1/000.p/11");
    let mut tile = std::fs::read(&tile_file).unwrap();
    tile[4 * 32] ^= 1;
    std::fs::write(&tile_file, &tile).unwrap();
    let error = refused(&level1, &key, &work).await;
    assert_eq!(refused_at(&error), Some(1_024), "{error}");

    // The independent reader agrees: the copy verifies, the altered level-1 tile does not.
    let reader = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tiles/read_tiles.py");
    let read = |dir: &Path| {
        std::process::Command::new("python3")
            .args([reader, &format!("file://{}", dir.display())])
            .output()
            .expect("python3 runs")
    };
    let output = read(&good);
    assert!(output.status.success(), "{}", text(&output));
    let output = read(&level1);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("FAILED"), "{}", text(&output));

    // Another ledger's checkpoint, signed by the same key.
    let other_dir = dir.path().join("other-ledger");
    drop(ledger_of(&other_dir, 600, "2026-05-01T09:00:00Z"));
    let other_tiles = dir.path().join("other-tiles");
    write_tiles(&other_dir, &key, &other_tiles);
    let foreign = case("foreign");
    std::fs::copy(other_tiles.join("checkpoint"), foreign.join("checkpoint")).unwrap();
    let error = refused(&foreign, &key, &work).await;
    assert!(
        matches!(error, RestoreError::ForeignCheckpoint { .. }),
        "{error}"
    );

    // A checkpoint under another key, or none.
    let other_key = SigningKey::from_seed("tiles-test", &[8; 32]).unwrap();
    let error = refused(&good, &other_key, &work).await;
    assert!(matches!(error, RestoreError::Checkpoint { .. }), "{error}");
    let unsigned = case("unsigned");
    std::fs::remove_file(unsigned.join("checkpoint")).unwrap();
    let error = refused(&unsigned, &key, &work).await;
    assert!(error.to_string().contains("is missing"), "{error}");

    // The untouched archive restores.
    let restored = work.join("restored");
    let done = restore_from_tiles(
        &Bucket::Dir(DirBucket::new(good.clone())),
        &key.verifier_key(),
        &restored,
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        done.head,
        Log::open_copy(&ledger_dir).unwrap().head().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ledger_restored_from_an_export_and_its_checkpoint_equals_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key();
    let ledger_dir = dir.path().join("ledger");
    drop(ledger_of(&ledger_dir, 1_000, "2026-03-02T14:00:00Z"));
    let tiles_dir = dir.path().join("tiles");
    write_tiles(&ledger_dir, &key, &tiles_dir);
    let note = std::fs::read(tiles_dir.join("checkpoint")).unwrap();
    let export = dir.path().join("export.jsonl");
    let exported = run(&[
        "export",
        "--data-dir",
        ledger_dir.to_str().unwrap(),
        "--out",
        export.to_str().unwrap(),
    ]);
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported));
    let restore = |from: &Path, target: &Path| {
        let file = std::io::BufReader::new(std::fs::File::open(from).unwrap());
        restore_from_export(
            file,
            from,
            &note,
            "checkpoint",
            &key.verifier_key(),
            target,
            &|_| {},
        )
    };
    let restored = dir.path().join("restored");
    restore(&export, &restored).unwrap();
    assert_eq!(
        answers_of(&restored, 500).await,
        answers_of(&ledger_dir, 500).await
    );

    // Line 300 altered, and the export cut before the checkpoint's size.
    let lines: Vec<String> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut altered = lines.clone();
    altered[299] = altered[299].replacen("\"seq\":300", "\"seq\":301", 1);
    let altered_file = dir.path().join("altered.jsonl");
    std::fs::write(&altered_file, altered.join("\n") + "\n").unwrap();
    let target = dir.path().join("refused");
    let error = restore(&altered_file, &target).unwrap_err();
    assert_eq!(refused_at(&error), Some(299), "{error}");
    assert!(!target.exists());
    let short_file = dir.path().join("short.jsonl");
    std::fs::write(&short_file, lines[..900].join("\n") + "\n").unwrap();
    let error = restore(&short_file, &target).unwrap_err();
    assert_eq!(refused_at(&error), Some(900), "{error}");
    assert!(!target.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn served_tiles_pass_the_independent_reader_and_bundles_need_an_auditor() {
    let fixture = Fixture::start().await;
    let setup = Setup::new(fixture.server.base_url(), "127.0.0.1:0");
    let dir = setup.dir.path();
    drop(ledger_of(&setup.ledger(), ENTRIES, "2026-03-02T14:00:00Z"));
    let (key_file, public_key) = crate::helpers::keygen(dir);
    let port = free_port();
    let config = setup.config();
    let mut text_of_config = std::fs::read_to_string(&config).unwrap();
    text_of_config.push_str(&format!(
        "\n[checkpoint]\nsigning_key_path = \"{}\"\n\n[tiles]\nlisten = \"127.0.0.1:{port}\"\n",
        key_file.display()
    ));
    std::fs::write(&config, text_of_config).unwrap();
    let (mut server, _log) = spawn_serve(&config, &[(TOKEN_ENV, API_TOKEN)]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut request = client.get(format!("{base}/{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let checkpoint = get("checkpoint", None).await.unwrap();
    assert_eq!(checkpoint.status(), 200);
    assert_eq!(checkpoint.headers()["cache-control"], "public, max-age=5");
    let note = checkpoint.text().await.unwrap();
    assert!(note.starts_with("tailledger/"), "{note}");
    let full = get("tile/0/000", None).await.unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(
        full.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(full.bytes().await.unwrap().len(), 8_192);
    let partial = get("tile/1/000.p/11", None).await.unwrap();
    assert_eq!(partial.status(), 200);
    assert_eq!(partial.headers()["cache-control"], "public, max-age=60");
    for beyond in [
        "tile/0/099",
        "tile/2/000.p/1",
        "tile/0/x001/000",
        "tile/0/1",
        "nothing",
    ] {
        assert_eq!(get(beyond, None).await.unwrap().status(), 404, "{beyond}");
    }
    assert_eq!(get("tile/entries/000", None).await.unwrap().status(), 401);
    assert_eq!(
        get("tile/entries/000", Some("not-a-token"))
            .await
            .unwrap()
            .status(),
        401
    );
    let bundle = get("tile/entries/000", Some(AUDITOR_TOKEN)).await.unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(
        bundle.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    let posted = client
        .post(format!("{base}/checkpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 405);

    // The independent reader, from the C2SP texts alone.
    let reader = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tiles/read_tiles.py");
    let read = |extra: &[&str]| {
        let mut command = std::process::Command::new("python3");
        command.args([reader, &base, "--samples", "40"]).args(extra);
        command.output().expect("python3 runs")
    };
    let output = read(&["--token", AUDITOR_TOKEN, "--public-key", &public_key]);
    assert!(output.status.success(), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("ok: tailledger/"), "{said}");
    assert!(said.contains("40 entries in their bundles"), "{said}");
    // `.ci/run` installs `cryptography`; where it is, the signature is checked too.
    let has_cryptography = std::process::Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|status| status.success());
    if has_cryptography || std::env::var_os("CI").is_some() {
        assert!(said.contains("signature checked"), "{said}");
    } else {
        eprintln!("SKIPPED: the checkpoint signature check (pip install cryptography)");
    }
    // Without a token the bundles are refused; under another key the signature is.
    let output = read(&[]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("HTTP 401"), "{}", text(&output));
    std::fs::create_dir(dir.join("other")).unwrap();
    let (_, other_key) = crate::helpers::keygen(&dir.join("other"));
    let output = read(&["--token", AUDITOR_TOKEN, "--public-key", &other_key]);
    assert!(!output.status.success(), "{}", text(&output));

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn tiles_need_a_signing_key_and_a_port_of_their_own() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("checkpoint.key");
    std::fs::write(&key_file, signing_key().encode().as_bytes()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let parse = |extra: &str| {
        let text =
            format!("[auth]\ndisabled = true\n\n[tailscale]\napi_token_env = \"TOKEN\"\n{extra}");
        Config::parse(Path::new("t.toml"), &text, dir.path(), |_| {
            Some("tskey-set".to_owned())
        })
    };
    let checkpoint = "\n[checkpoint]\nsigning_key_path = \"checkpoint.key\"\n";
    let config = parse(&format!(
        "{checkpoint}\n[tiles]\nlisten = \"127.0.0.1:8080\"\nmax_connections = 7\n"
    ))
    .unwrap();
    let limits = config.tiles.unwrap().limits;
    assert_eq!(limits.max_connections, 7);
    let error = parse("\n[tiles]\nlisten = \"127.0.0.1:8080\"\n").unwrap_err();
    assert_eq!(
        (error.key.as_deref(), error.line),
        (Some("tiles.listen"), Some(8)),
        "{error}"
    );
    assert!(error.to_string().contains("signing_key_path"), "{error}");
    let error = parse(&format!(
        "{checkpoint}\n[tiles]\nlisten = \"127.0.0.1:50051\"\n"
    ))
    .unwrap_err();
    assert_eq!(error.key.as_deref(), Some("tiles.listen"), "{error}");
    let error = parse(&format!(
        "{checkpoint}\n[tiles]\nlisten = \"127.0.0.1:8080\"\nheader_timeout = \"0s\"\n"
    ))
    .unwrap_err();
    assert_eq!(
        error.key.as_deref(),
        Some("tiles.header_timeout"),
        "{error}"
    );
}
