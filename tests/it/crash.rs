//! Crash safety: a child process appends batches in a loop and reports each acknowledged seq; it
//! is killed with SIGKILL at a random moment, several times over the same ledger. After each kill
//! every acknowledged event must be there, no batch may be partly there, and the chain verifies.
//! The serving ledger also writes signed checkpoint files every 50 ms: every file written must
//! verify and be consistent with the reopened tree.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use tailledger::event::Event;
use tailledger::ledger::Log;
use tailledger::merkle::{VerifierKey, verify_checkpoint, verify_consistency};

use crate::helpers::{keygen, tailledger};

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
fn assert_batches_whole(log: &Log) {
    let mut open_batch = 0;
    for record in log.scan(1) {
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

        let log = Log::open_existing(dir.path()).expect("the ledger reopens after SIGKILL");
        let report = log.verify().expect("the store reads");
        assert!(report.is_ok(), "seed {seed}, round {round}: {report:?}");
        let head = log.head().expect("acknowledged batches exist").seq;
        assert!(
            head >= acknowledged,
            "seed {seed}, round {round}: acknowledged seq {acknowledged} but the head is {head}"
        );
        assert_batches_whole(&log);
    }
}

/// How many times the serve crash loop kills the server: `TAILLEDGER_CRASH_ROUNDS`, or a few.
fn crash_rounds() -> usize {
    std::env::var("TAILLEDGER_CRASH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(6)
}

/// Checks a reopened ledger after a crash: the chain verifies, every write a client saw
/// acknowledged (or streamed) is there with the same hash, and every sync batch is whole.
/// Every checkpoint file in `checkpoints` (a crash may leave a temporary `.tmp…` file, never a
/// partial checkpoint) is signed by `key` and its tree is a prefix of the reopened ledger's:
/// the consistency proof from it to the head verifies. Returns how many there are.
fn assert_checkpoints_consistent(
    log: &Log,
    checkpoints: &Path,
    key: &VerifierKey,
    round: usize,
) -> usize {
    let Ok(files) = std::fs::read_dir(checkpoints) else {
        return 0;
    };
    let (head_size, head_root) = log.tree_head().unwrap();
    let mut checked = 0;
    for file in files {
        let path = file.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        let note = std::fs::read_to_string(&path).unwrap();
        let checkpoint = verify_checkpoint(&note, key)
            .unwrap_or_else(|error| panic!("round {round}: {}: {error}", path.display()));
        assert!(
            checkpoint.size <= head_size,
            "round {round}: {checkpoint:?} beyond the head"
        );
        let proof = log.consistency_proof(checkpoint.size, head_size).unwrap();
        verify_consistency(
            checkpoint.size,
            head_size,
            &checkpoint.root,
            &head_root,
            &proof,
        )
        .unwrap_or_else(|error| panic!("round {round}: {}: {error}", path.display()));
        checked += 1;
    }
    checked
}

fn assert_survived(dir: &Path, acknowledged: &[(u64, String)], round: usize) {
    let log = Log::open_existing(dir).expect("the ledger reopens after SIGKILL");
    let report = log.verify().expect("the store reads");
    assert!(report.is_ok(), "round {round}: {report:?}");
    for (seq, hash) in acknowledged {
        let entry = log
            .get(*seq)
            .unwrap()
            .unwrap_or_else(|| panic!("round {round}: acknowledged seq {seq} is gone"));
        assert_eq!(
            &entry.hash.to_string(),
            hash,
            "round {round}: seq {seq} changed"
        );
    }
    let entries = log.read(1, usize::MAX).unwrap();
    for (index, entry) in entries.iter().enumerate() {
        if let Event::SyncCompleted {
            events_appended, ..
        } = entry.event
        {
            let batch = &entries[index - events_appended as usize..index];
            assert!(
                batch
                    .iter()
                    .all(|member| member.actor == entry.actor
                        && member.recorded_at == entry.recorded_at),
                "round {round}: the sync batch ending at seq {} is not whole",
                entry.seq
            );
        }
    }
    let trailing_sync_events = entries
        .iter()
        .rev()
        .take_while(|entry| {
            entry.actor.to_string() == "sync:tailscale"
                && !matches!(
                    entry.event,
                    Event::SyncCompleted { .. } | Event::SyncFailed { .. }
                )
        })
        .count();
    assert_eq!(
        trailing_sync_events, 0,
        "round {round}: the ledger ends inside a sync batch"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_serving_ledger_killed_repeatedly_keeps_every_acknowledged_write() {
    use tailledger::api::pb;
    use tailledger::api::pb::admin_service_client::AdminServiceClient;
    use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
    use tailledger::simulator::SimUser;

    use crate::helpers::{API_TOKEN, Fixture, free_port, spawn_serve};

    const ADMIN: &str = "crash-admin-token";
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (key, public_key) = keygen(dir.path());
    let public_key = VerifierKey::parse(&public_key).unwrap();
    let checkpoints = dir.path().join("checkpoints");
    std::fs::write(
        dir.path().join("tailledger.toml"),
        format!(
            "data_dir = \"ledger\"\nlisten = \"127.0.0.1:{port}\"\n[auth]\ntokens = [ {{ name = \"ops\", role = \"admin\", sha256 = \"{}\" }} ]\n[tailscale]\napi_base_url = \"{}\"\napi_token_env = \"TL_CRASH_TOKEN\"\nsync_interval = \"10s\"\n[checkpoint]\nsigning_key_path = \"{}\"\ncheckpoint_dir = \"checkpoints\"\ncheckpoint_interval = \"50ms\"\n",
            tailledger::hash::Hash256::of(ADMIN.as_bytes()),
            fixture.server.base_url(),
            key.display()
        ),
    )
    .unwrap();
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut acknowledged: Vec<(u64, String)> = Vec::new();
    let url = format!("http://127.0.0.1:{port}");
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {ADMIN}").parse().unwrap();
    for round in 1..=crash_rounds() {
        let config = dir.path().join("tailledger.toml");
        let (mut server, _log) = tokio::task::spawn_blocking(move || {
            spawn_serve(
                &config,
                &[
                    ("TL_CRASH_TOKEN", API_TOKEN),
                    ("TAILLEDGER_TEST_SYNC_INTERVAL", "50ms"),
                ],
            )
        })
        .await
        .unwrap();

        let channel = tonic::transport::Channel::from_shared(url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let with_token = |bearer: &tonic::metadata::MetadataValue<_>| {
            let bearer = bearer.clone();
            move |mut request: tonic::Request<()>| {
                request
                    .metadata_mut()
                    .insert("authorization", bearer.clone());
                Ok(request)
            }
        };
        let mut follower =
            LedgerServiceClient::with_interceptor(channel.clone(), with_token(&bearer));
        let mut stream = follower
            .stream_events(pb::StreamEventsRequest {
                after_seq: 0,
                follow: true,
            })
            .await
            .unwrap()
            .into_inner();
        let streamed = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Ok(Some(response)) = stream.message().await {
                let event = response.event.unwrap();
                seen.push((event.seq, event.hash));
            }
            seen
        });

        let mut admin = AdminServiceClient::with_interceptor(channel, with_token(&bearer));
        let writes = rng.usize(1..25);
        for write in 0..writes {
            fixture.tailnet.upsert_user(SimUser::member(
                &format!("r{round}w{write}"),
                &format!("r{round}w{write}@acme.example"),
                "Someone",
            ));
            let response = admin
                .upsert_employee(pb::UpsertEmployeeRequest {
                    employee: Some(pb::EmployeeRecord {
                        employee_id: format!("E-{round}-{write}"),
                        email: format!("e{round}-{write}@acme.example"),
                        org_role: "Engineer".to_owned(),
                        ..Default::default()
                    }),
                })
                .await
                .unwrap()
                .into_inner();
            acknowledged.extend(
                response
                    .events
                    .into_iter()
                    .map(|event| (event.seq, event.hash)),
            );
        }
        server.kill().unwrap();
        server.wait().unwrap();
        let seen = streamed.await.unwrap();
        acknowledged.extend(seen);
        assert_survived(&dir.path().join("ledger"), &acknowledged, round);
        let log = Log::open_existing(&dir.path().join("ledger")).unwrap();
        assert_checkpoints_consistent(&log, &checkpoints, &public_key, round);
    }
    assert!(
        acknowledged.len() >= crash_rounds(),
        "seed {seed}: the clients wrote and followed"
    );
    // A clean stop after the kills writes the checkpoint of the head, consistent with the rest.
    let config = dir.path().join("tailledger.toml");
    let (mut server, log) =
        tokio::task::spawn_blocking(move || spawn_serve(&config, &[("TL_CRASH_TOKEN", API_TOKEN)]))
            .await
            .unwrap();
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let exited = server.wait().unwrap();
    assert!(
        stopped.success() && exited.success(),
        "{exited}: {:?}",
        log.join().unwrap()
    );
    let log = Log::open_existing(&dir.path().join("ledger")).unwrap();
    let head = log.head().unwrap().seq;
    let last = tailledger::checkpoint_file::path_for(&checkpoints, head);
    assert!(
        last.exists(),
        "seed {seed}: no checkpoint of the head {head} at shutdown"
    );
    let checked =
        assert_checkpoints_consistent(&log, &checkpoints, &public_key, crash_rounds() + 1);
    assert!(checked >= 1, "seed {seed}");
}
