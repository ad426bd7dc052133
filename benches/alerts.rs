//! Alert latency (docs/operating.md#alerts): from the entry that changes a finding (a sync that
//! lists a new, unidentified account: `user-identified` turns FAILING for it) to the signed
//! webhook arriving at a receiver on loopback. Real sled ledger in a temporary directory, the
//! delivery loop `serve` runs, a minimal HTTP/1.1 receiver in this process.
//!
//! Criterion measures the mean; then a fixed run of 100 changes (20 with
//! `TAILLEDGER_BENCH_QUICK=1`) reports p50 and p99 against the target p99 <= 1 s.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tailledger::alerts::send::{Destination, Kind};
use tailledger::alerts::{AlertsSettings, Change, Route, Schedule, run};
use tailledger::checks::CheckSettings;
use tailledger::event::{AccountSnapshot, SystemId};
use tailledger::ledger::Ledger;
use tailledger::metrics::Metrics;
use tailledger::service::Service;
use tailledger::sync::{AuditWindow, Listing, Observation, Observing, Source, SyncOptions, Syncer};
use tailledger::tailscale::{FetchError, Secret};
use tailledger::time::SystemClock;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, watch};

/// The accounts listed before the first measured change.
const ACCOUNTS: usize = 1_000;

#[derive(Clone, Default)]
struct Listed(Arc<Mutex<Vec<AccountSnapshot>>>);

impl Source for Listed {
    fn observe(&self, _audit_log: AuditWindow) -> Observing<'_> {
        let accounts = self.0.lock().unwrap().clone();
        Box::pin(async move {
            Ok::<_, FetchError>(Observation {
                listing: Listing::new(accounts).unwrap(),
                credential: None,
                devices: None,
                keys: None,
                audit_log: None,
            })
        })
    }
}

/// Answers every request 200 and reports each arrival.
async fn receive(listener: tokio::net::TcpListener, arrived: mpsc::UnboundedSender<Instant>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let arrived = arrived.clone();
        tokio::spawn(async move {
            let mut stream = BufReader::new(stream);
            loop {
                let mut length = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if stream.read_exact(&mut body).await.is_err() {
                    return;
                }
                let _ = arrived.send(Instant::now());
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                if stream.get_mut().write_all(answer).await.is_err() {
                    return;
                }
            }
        });
    }
}

struct Bench {
    runtime: Runtime,
    service: Arc<Service>,
    listed: Listed,
    arrived: mpsc::UnboundedReceiver<Instant>,
    next: usize,
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Ledger::open(dir.path()).unwrap());
        let clock = Arc::new(SystemClock);
        let listed = Listed::default();
        *listed.0.lock().unwrap() = (0..ACCOUNTS).map(common::snapshot).collect();
        let mut service = Service::new(
            ledger.clone(),
            clock.clone(),
            CheckSettings::default(),
            chrono_tz::UTC,
        );
        service.set_syncer(Syncer::new(
            SystemId::tailscale(),
            Box::new(listed.clone()),
            ledger,
            clock,
            SyncOptions::default(),
        ));
        let service = Arc::new(service);
        let (stop, stopping) = watch::channel(false);
        let arrived = runtime.block_on(async {
            service.sync_now(&SystemId::tailscale()).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/alerts", listener.local_addr().unwrap());
            let (sender, arrived) = mpsc::unbounded_channel();
            tokio::spawn(receive(listener, sender));
            let settings = AlertsSettings {
                console_url: None,
                lookback: Duration::from_secs(3600),
                destinations: vec![Destination {
                    name: "hook".to_owned(),
                    kind: Kind::Webhook {
                        url,
                        secret: Secret::new("bench-secret"),
                    },
                }],
                routes: vec![Route {
                    name: "new-accounts".to_owned(),
                    checks: vec!["user-identified".to_owned()],
                    states: vec![Change::Failing],
                    destination: "hook".to_owned(),
                    schedule: Schedule::Immediate,
                }],
            };
            tokio::spawn(run::run(
                service.clone(),
                settings,
                chrono_tz::UTC,
                Metrics::new(),
                stopping,
            ));
            arrived
        });
        Bench {
            runtime,
            service,
            listed,
            arrived,
            next: ACCOUNTS,
            _stop: stop,
            _dir: dir,
        }
    }

    /// One new unidentified account synced: from the sync's durable append to the webhook's
    /// arrival.
    fn change_once(&mut self) -> Duration {
        self.listed
            .0
            .lock()
            .unwrap()
            .push(common::snapshot(self.next));
        self.next += 1;
        let service = self.service.clone();
        let arrived = &mut self.arrived;
        self.runtime.block_on(async move {
            // Deliveries of earlier changes, if any arrived late, are not this one's.
            while arrived.try_recv().is_ok() {}
            service.sync_now(&SystemId::tailscale()).await.unwrap();
            let appended = Instant::now();
            let at = tokio::time::timeout(Duration::from_secs(30), arrived.recv())
                .await
                .expect("the webhook arrives within 30 s")
                .expect("the receiver runs");
            at.saturating_duration_since(appended)
        })
    }
}

fn percentiles(mut runs: Vec<Duration>) -> (f64, f64) {
    runs.sort_unstable();
    let at = |quantile: f64| {
        let index = ((runs.len() as f64 * quantile).ceil() as usize).saturating_sub(1);
        runs[index].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99))
}

fn main() {
    let mut c = common::criterion();
    let runs = if common::quick() { 20 } else { 100 };
    let mut bench = Bench::new();
    let mut group = c.benchmark_group("alerts");
    group.bench_function("entry_to_webhook_received", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bench.change_once()).sum())
    });
    group.finish();
    let latencies: Vec<Duration> = (0..runs).map(|_| bench.change_once()).collect();
    let (p50, p99) = percentiles(latencies);
    println!(
        "alert latency over {runs} changes on {ACCOUNTS}+ accounts: entry to webhook received p50 {p50:.1} ms, p99 {p99:.1} ms (target p99 <= 1000 ms: {})",
        if p99 <= 1000.0 { "met" } else { "NOT met" }
    );
    c.final_summary();
}
