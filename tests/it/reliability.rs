//! The service under trouble: every fault the simulated Tailscale API can produce, and a body
//! that trickles in too slowly, during `serve`. The service stays up, answers gRPC, records
//! `SyncFailed` with the right class, and recovers on the next sync.

use std::path::Path;
use std::time::Duration;

use tailledger::api::pb;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tailledger::config::Config;
use tailledger::simulator::{Endpoint, Fault};
use tokio::sync::oneshot;

use crate::helpers::{ALWAYS, API_TOKEN, Fixture};

/// A configuration that syncs every 100 ms (set after parsing: the file may not say less than
/// 10 s) with short timeouts, on `fixture`'s API.
fn config(fixture: &Fixture, dir: &Path) -> Config {
    let text = format!(
        "data_dir = \"ledger\"\n[auth]\ndisabled = true\n[tailscale]\napi_base_url = \"{}\"\napi_token_env = \"TOKEN\"\nsync_interval = \"10s\"\nrequest_timeout = \"300ms\"\nretry_budget = \"600ms\"\n",
        fixture.server.base_url()
    );
    Config::parse(Path::new("reliability.toml"), &text, dir, |_| {
        Some(API_TOKEN.to_owned())
    })
    .map(|mut config| {
        // Below what the file may say, so that the runs see many syncs.
        config.sync_interval = Duration::from_millis(100);
        config
    })
    .expect("a valid configuration")
}

/// `serve` running in this process on a loopback port.
struct Served {
    address: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tailledger::app::RunError>>,
}

impl Served {
    async fn start(fixture: &Fixture, dir: &Path) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tailledger::app::run_on(
            listener,
            config(fixture, dir),
            async {
                let _ = stopped.await;
            },
        ));
        Served {
            address,
            stop,
            task,
        }
    }

    /// Stops the service and checks that it stopped cleanly, followers attached or not.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().expect("serve stops cleanly");
    }
}

/// Reads the stream until an event of `kind` arrives, returning its typed event.
async fn next_of(stream: &mut tonic::Streaming<pb::StreamEventsResponse>, kind: &str) -> pb::Event {
    loop {
        let event = stream
            .message()
            .await
            .expect("the stream stays healthy")
            .expect("the stream stays open")
            .event
            .unwrap();
        if event.r#type == kind {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_records_every_tailscale_fault_and_recovers() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&fixture, dir.path()).await;
    let address = served.address;

    let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = LedgerServiceClient::new(channel);
    let mut stream = client
        .stream_events(pb::StreamEventsRequest {
            after_seq: 0,
            follow: true,
        })
        .await
        .unwrap()
        .into_inner();
    next_of(&mut stream, "SyncCompleted").await;

    let status = |code: u16| Fault::Status {
        status: code,
        message: format!("simulated {code}"),
    };
    let faults = [
        ("401", status(401), "auth"),
        ("403", status(403), "permission"),
        ("404", status(404), "not_found"),
        (
            "429",
            Fault::RateLimited {
                retry_after_secs: None,
            },
            "rate_limited",
        ),
        ("500", status(500), "unavailable"),
        ("503", status(503), "unavailable"),
        ("delay", Fault::Delay(Duration::from_secs(2)), "timeout"),
        (
            "trickle",
            Fault::Trickle {
                chunk_delay: Duration::from_millis(150),
            },
            "timeout",
        ),
        ("truncated", Fault::TruncatedBody, "malformed"),
        ("invalid JSON", Fault::invalid_json(), "malformed"),
    ];
    for (name, fault, class) in faults {
        fixture.tailnet.inject_on(Endpoint::Users, fault, ALWAYS);
        let failed = loop {
            let event = next_of(&mut stream, "SyncFailed").await;
            match event.event {
                Some(pb::event::Event::SyncFailed(failed)) if failed.error_class == class => {
                    break failed;
                }
                // A sync that started before the fault was armed may fail differently or pass.
                _ => continue,
            }
        };
        assert!(!failed.message.is_empty(), "{name}");
        let answer = client
            .get_status(pb::GetStatusRequest {
                system: "tailscale".to_owned(),
                as_of: None,
                as_of_date: String::new(),
            })
            .await
            .unwrap_or_else(|error| panic!("{name}: the service must keep answering: {error}"))
            .into_inner();
        let health = &answer.checks[4];
        assert_eq!(health.state(), pb::CheckState::Failing, "{name}");
        assert!(
            health
                .findings
                .iter()
                .any(|finding| finding.reason == "last-sync-failed"),
            "{name}"
        );

        fixture.tailnet.clear_faults();
        next_of(&mut stream, "SyncCompleted").await;
    }
    served.stop().await;
}

/// The process's resident memory in KiB, from `/proc/self/status`.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("Linux reports process status")
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS is reported")
}

/// How long the load test runs: `TAILLEDGER_LOAD_SECS`, or a short smoke run.
fn load_seconds() -> u64 {
    std::env::var("TAILLEDGER_LOAD_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .unwrap_or(3)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_followers_get_every_event_once_while_syncs_append() {
    const FOLLOWERS: usize = 200;
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&fixture, dir.path()).await;
    let address = served.address;

    let mut channels = Vec::new();
    for _ in 0..FOLLOWERS / 10 {
        channels.push(
            tonic::transport::Channel::from_shared(format!("http://{address}"))
                .unwrap()
                .connect()
                .await
                .unwrap(),
        );
    }
    let mut streams = Vec::new();
    for index in 0..FOLLOWERS {
        let mut client = LedgerServiceClient::new(channels[index % channels.len()].clone());
        let request = pb::StreamEventsRequest {
            after_seq: 0,
            follow: true,
        };
        streams.push(client.stream_events(request).await.unwrap().into_inner());
    }
    let (last_seq_sender, last_seq) = tokio::sync::watch::channel(u64::MAX);
    let followers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let mut last_seq = last_seq.clone();
            tokio::spawn(async move {
                let mut previous = (0, "0".repeat(64));
                loop {
                    if previous.0 >= *last_seq.borrow_and_update() {
                        return previous.0;
                    }
                    tokio::select! {
                        message = stream.message() => {
                            let event = message.expect("the stream stays healthy").expect("the stream stays open").event.unwrap();
                            crate::api::assert_chain(std::slice::from_ref(&event), previous.clone());
                            previous = (event.seq, event.hash);
                        }
                        _ = last_seq.changed() => {}
                    }
                }
            })
        })
        .collect();

    let baseline = resident_kib();
    let mut peak = baseline;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(load_seconds());
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut round = 0u64;
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        // Every tick changes the tailnet, so the syncs every 100 ms have something to append.
        round += 1;
        fixture
            .tailnet
            .set_role(
                "u1",
                if round.is_multiple_of(2) {
                    "owner"
                } else {
                    "admin"
                },
            )
            .unwrap();
        peak = peak.max(resident_kib());
    }
    let mut client = LedgerServiceClient::new(channels[0].clone());
    let head = client
        .get_digest(pb::GetDigestRequest {})
        .await
        .unwrap()
        .into_inner()
        .seq;
    last_seq_sender.send(head).unwrap();
    for follower in followers {
        assert!(
            follower.await.unwrap() >= head,
            "every follower reached the head"
        );
    }
    peak = peak.max(resident_kib());
    println!(
        "load: {FOLLOWERS} followers, {} s, {head} events each, resident memory {} MiB before, peak {} MiB",
        load_seconds(),
        baseline / 1024,
        peak / 1024
    );
    assert!(
        head > load_seconds(),
        "the syncs appended events during the run"
    );
    assert!(
        peak - baseline < 256 * 1024,
        "memory grew by {} MiB",
        (peak - baseline) / 1024
    );
    served.stop().await;
}
