//! Witnesses (docs/auditing.md#run-a-witness): real `tailledger witness serve` processes
//! cosigning the checkpoints of a real `serve`. Two witnesses and a quorum of two publish
//! checkpoints with both cosignatures at `/checkpoint`; one witness down holds publication back
//! while appends go on and `integration-healthy` names it; back, it catches up; the published
//! checkpoint is kept across a restart of `serve`. A forked ledger (restored from the tiles of
//! the first entries and extended differently) presented to the witness is refused with 422,
//! recorded as `WitnessRefused` and alarmed. The witness's endpoint answers each status code of
//! c2sp.org/tlog-witness, its state survives a restart beside a torn temporary file, and its
//! cosignatures pass `tests/witness/verify_cosignature.py`, written from C2SP's text.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use tailledger::event::{Actor, Event};
use tailledger::hash::Hash256;
use tailledger::ledger::{Ledger, Log};
use tailledger::merkle::{
    Checkpoint, CosignerKey, Frontier, MemoryNodeStore, SigningKey, VerifierKey, consistency_proof,
    leaf_hash, note_cosignature, sign_checkpoint, verify_checkpoint,
};
use tailledger::time::Timestamp;
use tailledger::witness::{AddCheckpoint, COSIGNED_DIR, STATE_FILE, cosigned_name};

use crate::helpers::{
    API_TOKEN, Fixture, every_kind_of_event, free_port, keygen, run, spawn_serve, text,
};
use crate::seaweed::poll_until;

/// How long a condition may take to come true.
const WITHIN: Duration = Duration::from_secs(60);

/// Makes a witness key with `tailledger witness keygen`; returns the file and the printed key.
fn witness_keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join(format!("{}.key", name.replace('/', "_")));
    let made = run(&[
        "witness",
        "keygen",
        "--name",
        name,
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made));
    let public = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    assert!(CosignerKey::parse(&public).is_ok(), "{public}");
    (file, public)
}

/// A running `tailledger witness serve`, killed when dropped.
struct WitnessProcess {
    child: Child,
    url: String,
}

impl WitnessProcess {
    /// Starts a witness on `port` with its state in `state`, trusting `log` (`origin=key`), and
    /// returns once it listens.
    fn start(state: &Path, key: &Path, port: u16, log: &str) -> WitnessProcess {
        let mut child = crate::helpers::tailledger()
            .args([
                "witness",
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--state",
                state.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
                "--log",
                log,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening on http://"), "{line:?}");
        WitnessProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends `count` of the golden events to the ledger in `dir`, in batches of 10 a second apart
/// from `start`: the same arguments make the same entries, hash for hash.
fn fill(dir: &Path, count: usize, start: Timestamp) {
    let first = Log::open_copy(dir)
        .ok()
        .and_then(|log| log.head())
        .map_or(0, |head| head.seq);
    let ledger = Ledger::open(dir).unwrap();
    let events: Vec<(Actor, Event)> = every_kind_of_event()
        .into_iter()
        .cycle()
        .take(count)
        .collect();
    for (index, batch) in events.chunks(10).enumerate() {
        let (actors, events): (Vec<_>, Vec<_>) = batch.iter().cloned().unzip();
        let at = start.saturating_add_micros((first as i64 + index as i64) * 1_000_000);
        ledger.append(at, actors[0].clone(), events).unwrap();
    }
}

/// The log origin of the ledger in `dir`.
fn origin_of(dir: &Path) -> String {
    let log = Log::open_copy(dir).unwrap();
    tailledger::tiles::log_origin(&log.get(1).unwrap().unwrap().hash)
}

/// A `serve` configuration with a signing key, tiles, `auth` off and the witnesses given.
fn serve_config(
    dir: &Path,
    fixture: &Fixture,
    key: &Path,
    witnesses: &[(&str, &str, &str)],
    quorum: usize,
) -> (PathBuf, u16, u16) {
    let (api, tiles) = (free_port(), free_port());
    let mut config = format!(
        "data_dir = \"ledger\"\nlisten = \"127.0.0.1:{api}\"\n[auth]\ndisabled = true\n[tailscale]\napi_base_url = \"{}\"\napi_token_env = \"TL_TOKEN\"\nsync_interval = \"1h\"\n[checkpoint]\nsigning_key_path = \"{}\"\n[tiles]\nlisten = \"127.0.0.1:{tiles}\"\n[witnesses]\nquorum = {quorum}\nmax_lag = \"1s\"\nretry_max = \"500ms\"\n",
        fixture.server.base_url(),
        key.display()
    );
    for (name, url, vkey) in witnesses {
        config.push_str(&format!(
            "[[witness]]\nname = \"{name}\"\nurl = \"{url}\"\nkey = \"{vkey}\"\n"
        ));
    }
    let file = dir.join("tailledger.toml");
    std::fs::write(&file, config).unwrap();
    (file, api, tiles)
}

fn serve(config: &Path, syncing: bool) -> Child {
    let mut env = vec![("TL_TOKEN", API_TOKEN)];
    if syncing {
        env.push(("TAILLEDGER_TEST_SYNC_INTERVAL", "200ms"));
    }
    spawn_serve(config, &env).0
}

fn stop(mut server: Child) {
    std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}

/// The published checkpoint at the tiles endpoint, if there is one.
fn published(tiles: u16) -> Option<String> {
    tokio::runtime::Handle::current().block_on(async {
        let response = reqwest::get(format!("http://127.0.0.1:{tiles}/checkpoint"))
            .await
            .ok()?;
        if response.status() != 200 {
            return None;
        }
        response.text().await.ok()
    })
}

/// The size a checkpoint note states.
fn size_of(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// `tailledger status --json` of the server on `api`.
fn status(api: u16) -> serde_json::Value {
    let output = run(&[
        "status",
        "--server",
        &format!("http://127.0.0.1:{api}"),
        "--json",
    ]);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", text(&output)))
}

/// The reasons of `integration-healthy`'s findings, and the head's seq.
fn health(api: u16) -> (Vec<String>, String, u64) {
    let status = status(api);
    let check = status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["checkId"] == "integration-healthy")
        .unwrap()
        .clone();
    let reasons = check["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .map(|finding| finding["reason"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let head = status["ledgerSeq"].as_str().unwrap().parse().unwrap();
    (reasons, check.to_string(), head)
}

/// Runs the C2SP-text verifier over `note` for `keys`: its output, or `None` (said loudly)
/// where `cryptography` is missing outside CI.
fn python_verifies(dir: &Path, note: &str, keys: &[&str]) -> Option<std::process::Output> {
    let has_cryptography = std::process::Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|status| status.success());
    if !has_cryptography {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have python3 with cryptography"
        );
        eprintln!("SKIPPED: the Python cosignature check (pip install cryptography)");
        return None;
    }
    let file = dir.join("cosigned-note.txt");
    std::fs::write(&file, note).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/witness/verify_cosignature.py"
    );
    Some(
        std::process::Command::new("python3")
            .arg(script)
            .arg(&file)
            .args(keys)
            .output()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_witnesses_publish_a_missing_one_holds_publication_not_appends() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_path_buf();
    let data_dir = dir.join("ledger");
    fill(
        &data_dir,
        40,
        Timestamp::now().saturating_add_seconds(-3600),
    );
    let origin = origin_of(&data_dir);
    let (ledger_key, ledger_public) = keygen(&dir);
    let (key1, vkey1) = witness_keygen(&dir, "auditor.example/w1");
    let (key2, vkey2) = witness_keygen(&dir, "auditor.example/w2");
    let (port1, port2) = (free_port(), free_port());
    let log = format!("{origin}={ledger_public}");
    let _w1 = WitnessProcess::start(&dir.join("w1"), &key1, port1, &log);
    let w2 = WitnessProcess::start(&dir.join("w2"), &key2, port2, &log);
    let (url1, url2) = (format!("http://127.0.0.1:{port1}"), w2.url.clone());
    let (config, api, tiles) = serve_config(
        &dir,
        &fixture,
        &ledger_key,
        &[("w1", &url1, &vkey1), ("w2", &url2, &vkey2)],
        2,
    );
    let ledger = VerifierKey::parse(&ledger_public).unwrap();
    let cosigners = [
        CosignerKey::parse(&vkey1).unwrap(),
        CosignerKey::parse(&vkey2).unwrap(),
    ];
    let pinned = ledger.clone();
    let cosigned_by_both = move |note: &str| {
        verify_checkpoint(note, &pinned).is_ok()
            && cosigners
                .iter()
                .all(|key| note_cosignature(note, key).is_ok_and(|found| found.is_some()))
    };

    let state = tokio::task::spawn_blocking(move || {
        let server = serve(&config, true);
        // Published with both cosignatures.
        poll_until("a checkpoint cosigned by both witnesses", WITHIN, || {
            published(tiles).is_some_and(|note| cosigned_by_both(&note))
        });

        // One witness down: publication waits, appends go on, the check names it.
        drop(w2);
        poll_until("integration-healthy names w2 as behind", WITHIN, || {
            health(api).0.contains(&"witness-behind".to_owned())
        });
        let (_, check, _) = health(api);
        assert!(check.contains("witness w2 has cosigned"), "{check}");
        assert!(check.contains("FAILING"), "{check}");
        let held = size_of(&published(tiles).unwrap());
        poll_until("appends continue", WITHIN, || health(api).2 >= held + 5);
        let note = published(tiles).unwrap();
        assert_eq!(size_of(&note), held, "nothing is published past w2");
        assert!(cosigned_by_both(&note));

        // Back: it catches up, and the finding goes.
        let w2 = WitnessProcess::start(&dir.join("w2"), &key2, port2, &log);
        poll_until("publication catches up", WITHIN, || {
            published(tiles).is_some_and(|note| size_of(&note) > held && cosigned_by_both(&note))
        });
        poll_until("the finding goes", WITHIN, || {
            !health(api).0.contains(&"witness-behind".to_owned())
        });
        stop(server);
        let kept = published_file(&data_dir);

        // Restarted with a witness down, `serve` publishes what it published before at once.
        drop(w2);
        let server = serve(&config, false);
        assert_eq!(published(tiles).as_ref(), Some(&kept));
        stop(server);
        (dir, kept)
    })
    .await
    .unwrap();
    let (dir, note) = state;
    // The published note, kept durably, is of this ledger's tree, and C2SP's text verifies it.
    let checkpoint = verify_checkpoint(&note, &ledger).unwrap();
    let log = Log::open_copy(&dir.join("ledger")).unwrap();
    assert_eq!(checkpoint.root, log.tree_root(checkpoint.size).unwrap());
    if let Some(output) = python_verifies(&dir, &note, &[&vkey1, &vkey2]) {
        assert!(output.status.success(), "{}", text(&output));
        assert_eq!(text(&output).matches("ok: tailledger/").count(), 2);
        // Another key: refused.
        let other = witness_keygen(&dir, "auditor.example/w3").1;
        let output = python_verifies(&dir, &note, &[&other]).unwrap();
        assert!(!output.status.success(), "{}", text(&output));
        // A cosignature altered by one byte: refused.
        let line = note.lines().last().unwrap();
        let altered = note.replace(line, &line.replacen('A', "B", 1).replacen('Q', "R", 1));
        let output = python_verifies(&dir, &altered, &[&vkey1, &vkey2]).unwrap();
        assert!(!output.status.success(), "{}", text(&output));
    }
}

/// The published note kept in `data_dir`.
fn published_file(data_dir: &Path) -> String {
    let text = std::fs::read_to_string(data_dir.join(tailledger::witness::PUBLISHED_FILE)).unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["format"], 1);
    file["note"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forked_ledger_is_refused_with_422_recorded_and_alarmed() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_path_buf();
    let start = Timestamp::now().saturating_add_seconds(-3600);
    let (ledger_key, ledger_public) = keygen(&dir);
    // The honest ledger's first 30 entries archived as tiles, restored into another ledger (one
    // origin), then each extended differently.
    let (honest, forked, tiles_dir) = (dir.join("honest"), dir.join("ledger"), dir.join("tiles"));
    fill(&honest, 30, start);
    let path = |path: &Path| path.to_str().unwrap().to_owned();
    crate::tiles::tiles_export(&honest, &ledger_key, &tiles_dir);
    let restored = run(&[
        "restore",
        "--from",
        &path(&tiles_dir),
        "--data-dir",
        &path(&forked),
        "--public-key",
        &ledger_public,
    ]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert_eq!(origin_of(&honest), origin_of(&forked));
    fill(&honest, 20, start.saturating_add_seconds(600));
    let ledger = Ledger::open(&forked).unwrap();
    ledger
        .append(
            start.saturating_add_seconds(900),
            Actor::Config,
            every_kind_of_event()
                .into_iter()
                .rev()
                .take(30)
                .map(|(_, event)| event)
                .collect(),
        )
        .unwrap();
    drop(ledger);
    let origin = origin_of(&forked);
    let signing = tailledger::config::read_signing_key(&ledger_key).unwrap();
    let (key1, vkey1) = witness_keygen(&dir, "auditor.example/w1");
    let port = free_port();
    let log = format!("{origin}={ledger_public}");
    let witness = WitnessProcess::start(&dir.join("w1"), &key1, port, &log);

    // The witness cosigns the honest ledger's 50 entries first.
    let honest_log = Log::open_copy(&honest).unwrap();
    let (size, root) = honest_log.tree_head().unwrap();
    assert_eq!(size, 50);
    let note = sign_checkpoint(
        &Checkpoint {
            origin: origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        },
        &signing,
    )
    .unwrap();
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("{}/add-checkpoint", witness.url))
        .body(
            AddCheckpoint {
                old_size: 0,
                proof: Vec::new(),
                note,
            }
            .body(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    // The forked ledger (60 entries) under `serve`, with that witness.
    let (config, api, tiles) = serve_config(
        &dir,
        &fixture,
        &ledger_key,
        &[("w1", &witness.url, &vkey1)],
        1,
    );
    let refused = tokio::task::spawn_blocking(move || {
        let server = serve(&config, false);
        poll_until("integration-healthy names the refusal", WITHIN, || {
            health(api).0.contains(&"witness-refused".to_owned())
        });
        let (_, check, _) = health(api);
        assert!(check.contains("FAILING"), "{check}");
        assert!(check.contains("witness w1 refuses"), "{check}");
        assert!(check.contains("not consistent"), "{check}");
        // Nothing is published.
        assert_eq!(published(tiles), None);
        stop(server);
        let log = Log::open_copy(&forked).unwrap();
        let head = log.head().unwrap().seq;
        log.read(1, head as usize)
            .unwrap()
            .into_iter()
            // The golden events the ledgers were filled with have one of their own.
            .filter(|entry| {
                entry.actor == Actor::Witnesses
                    && matches!(entry.event, Event::WitnessRefused { .. })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    // Recorded once (one size refused), by the witness client.
    assert_eq!(refused.len(), 1, "{refused:?}");
    let Event::WitnessRefused {
        witness: name,
        old_size,
        size,
        answer,
        ..
    } = &refused[0].event
    else {
        unreachable!()
    };
    assert_eq!((name.as_str(), *old_size), ("w1", 50));
    assert!(*size >= 60, "{size}");
    assert!(answer.contains("not consistent"), "{answer}");
}

/// A tree of `size` leaves `leaf-<i>`, and its store.
fn tree(size: u64) -> (MemoryNodeStore, Frontier) {
    let mut store = MemoryNodeStore::default();
    let mut frontier = Frontier::new();
    let leaves: Vec<_> = (0..size)
        .map(|i| leaf_hash(format!("leaf-{i}").as_bytes()))
        .collect();
    store.extend(frontier.append(&leaves));
    (store, frontier)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_witness_answers_each_status_and_keeps_its_state_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let log_key = SigningKey::from_seed("example.com/log", &[5; 32]).unwrap();
    let origin = "example.com/log";
    let (key, vkey) = witness_keygen(dir, "auditor.example/w1");
    let port = free_port();
    let state = dir.join("state");
    let log = format!("{origin}={}", log_key.verifier_key());
    let witness = WitnessProcess::start(&state, &key, port, &log);
    let cosigner = CosignerKey::parse(&vkey).unwrap();
    let client = reqwest::Client::new();
    let (store, _) = tree(20);
    let checkpoint = |size: u64| {
        let (_, frontier) = tree(size);
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root: frontier.root(),
            extensions: Vec::new(),
        }
    };
    let signed = |size: u64| sign_checkpoint(&checkpoint(size), &log_key).unwrap();
    let url = format!("{}/add-checkpoint", witness.url);
    let post = |old_size: u64, proof: Vec<Hash256>, note: String| {
        let request = client.post(&url).body(
            AddCheckpoint {
                old_size,
                proof,
                note,
            }
            .body(),
        );
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|value| value.to_str().unwrap().to_owned());
            (status, content_type, response.text().await.unwrap())
        }
    };

    // 404: an unknown origin.
    let other = SigningKey::from_seed("example.com/other", &[6; 32]).unwrap();
    let foreign = sign_checkpoint(
        &Checkpoint {
            origin: "example.com/other".to_owned(),
            ..checkpoint(5)
        },
        &other,
    )
    .unwrap();
    assert_eq!(post(0, Vec::new(), foreign).await.0, 404);
    // 403: signed by another key under the log's name, or a signature altered.
    let impostor = SigningKey::from_seed("example.com/log", &[7; 32]).unwrap();
    let forged = sign_checkpoint(&checkpoint(5), &impostor).unwrap();
    assert_eq!(post(0, Vec::new(), forged).await.0, 403);
    let good = signed(5);
    let signature_at = good.rfind(' ').unwrap() + 2;
    let mut altered = good.clone().into_bytes();
    altered[signature_at] = if altered[signature_at] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let answer = post(0, Vec::new(), String::from_utf8(altered).unwrap()).await;
    assert_eq!(answer.0, 403, "{answer:?}");
    // 400: a malformed body, an old size beyond the checkpoint.
    let malformed = client
        .post(&url)
        .body("old 01\n\nx\n")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(post(6, Vec::new(), signed(5)).await.0, 400);
    // 422: a proof from the empty tree.
    let proof = consistency_proof(&store, 3, 5).unwrap();
    assert_eq!(post(0, proof, signed(5)).await.0, 422);
    // 200: the first checkpoint, cosigned with a verifiable cosignature.
    let (status, _, line) = post(0, Vec::new(), signed(5)).await;
    assert_eq!(status, 200, "{line}");
    let note = format!("{}{line}", signed(5));
    let found = note_cosignature(&note, &cosigner).unwrap().unwrap();
    let now = Timestamp::now().to_datetime().timestamp() as u64;
    assert!(found.time <= now && found.time + 60 > now, "{}", found.time);
    if let Some(output) = python_verifies(dir, &note, &[&vkey]) {
        assert!(output.status.success(), "{}", text(&output));
    }
    // 409 with the witness's size, for an old size it did not cosign.
    let (status, content_type, body) =
        post(3, consistency_proof(&store, 3, 9).unwrap(), signed(9)).await;
    assert_eq!(
        (status, content_type.as_deref(), body.as_str()),
        (409, Some("text/x.tlog.size"), "5\n")
    );
    // 422: a proof that does not lead from the cosigned tree.
    let mut bad = consistency_proof(&store, 5, 9).unwrap();
    bad[0].0[0] ^= 1;
    assert_eq!(post(5, bad, signed(9)).await.0, 422);
    // 200 from 5 to 9 with the right proof.
    assert_eq!(
        post(5, consistency_proof(&store, 5, 9).unwrap(), signed(9))
            .await
            .0,
        200
    );
    let cosigned = state.join(COSIGNED_DIR).join(cosigned_name(origin, 9));
    let kept = std::fs::read_to_string(&cosigned).unwrap();
    assert!(note_cosignature(&kept, &cosigner).unwrap().is_some());

    // Killed, with a torn temporary file beside its state: it restarts where it was.
    drop(witness);
    std::fs::write(state.join(".tmpTORN1"), "{\"format\": 1, \"logs\": {\"exa").unwrap();
    let witness = WitnessProcess::start(&state, &key, port, &log);
    let state_file = std::fs::read_to_string(state.join(STATE_FILE)).unwrap();
    assert!(state_file.contains("\"size\": 9"), "{state_file}");
    let (status, _, body) = post(0, Vec::new(), signed(12)).await;
    assert_eq!((status, body.as_str()), (409, "9\n"));
    // The same tree again: cosigned again; the same size with another root: 422.
    assert_eq!(post(9, Vec::new(), signed(9)).await.0, 200);
    let other_root = Checkpoint {
        root: checkpoint(8).root,
        ..checkpoint(9)
    };
    let other_note = sign_checkpoint(&other_root, &log_key).unwrap();
    assert_eq!(post(9, Vec::new(), other_note).await.0, 422);
    drop(witness);
}

/// Parses a configuration with `witnesses` appended, with or without a signing key.
fn parse(witnesses: &str, checkpoint: bool) -> Result<tailledger::config::Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    let checkpoint = if checkpoint {
        format!("[checkpoint]\nsigning_key_path = \"{}\"\n", key.display())
    } else {
        String::new()
    };
    let text = format!(
        "[auth]\ndisabled = true\n[tailscale]\napi_token_env = \"T\"\n{checkpoint}{witnesses}"
    );
    tailledger::config::Config::parse(Path::new("t.toml"), &text, dir.path(), |_| {
        Some("value".to_owned())
    })
    .map_err(|error| error.to_string())
}

#[test]
fn witness_settings_are_refused_naming_file_line_and_key() {
    let key = CosignerKey::of(&SigningKey::from_seed("w.example/1", &[1; 32]).unwrap()).to_string();
    let other =
        CosignerKey::of(&SigningKey::from_seed("w.example/2", &[2; 32]).unwrap()).to_string();
    let one =
        format!("[[witness]]\nname = \"a\"\nurl = \"http://127.0.0.1:1/w/\"\nkey = \"{key}\"\n");
    let two =
        format!("{one}[[witness]]\nname = \"b\"\nurl = \"https://w.example\"\nkey = \"{other}\"\n");
    // Accepted: the quorum defaults to every witness, the URL loses its final slash.
    let config = parse(&two, true).unwrap();
    let settings = config.witnesses.unwrap();
    assert_eq!(settings.quorum, 2);
    assert_eq!(settings.peers[0].url, "http://127.0.0.1:1/w");
    let config = parse(
        &format!("{two}[witnesses]\nquorum = 1\nmax_lag = \"1m\"\n"),
        true,
    )
    .unwrap();
    assert_eq!(config.witnesses.unwrap().quorum, 1);
    assert!(parse("", true).unwrap().witnesses.is_none());
    // Refused, each naming the file, line and key.
    let ledger_key = SigningKey::from_seed("tailledger", &[3; 32])
        .unwrap()
        .verifier_key();
    for (text, checkpoint, says) in [
        (
            one.clone(),
            false,
            "`witness`: witnesses cosign signed checkpoints",
        ),
        (
            format!("{two}[witnesses]\nquorum = 3\n"),
            true,
            "`witnesses.quorum`: 3 is not between 1 and 2",
        ),
        (
            format!("{two}[witnesses]\nquorum = 0\n"),
            true,
            "witnesses.quorum",
        ),
        (
            "[witnesses]\nquorum = 1\n".to_owned(),
            true,
            "there are none",
        ),
        (
            one.replace("http://127.0.0.1:1/w/", "ftp://x"),
            true,
            "witness.url",
        ),
        (
            one.replace(&key, &ledger_key.to_string()),
            true,
            "`witness.key`: is not a witness's key",
        ),
        (
            format!("{one}{}", one.replace("http://127.0.0.1:1/w/", "http://b")),
            true,
            "two [[witness]] entries are named a",
        ),
        (one.replace("\"a\"", "\"a b\""), true, "witness.name"),
    ] {
        let error = parse(&text, checkpoint).unwrap_err();
        assert!(error.contains("t.toml"), "{error}");
        assert!(error.contains(says), "{error} (wanted {says})");
    }
}
