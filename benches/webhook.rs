//! Real time (docs/reference/sync.md#webhooks): from a user's deletion in the simulated tailnet,
//! with the signed delivery it sends, to the durable `UserRemoved` in the ledger (received,
//! verified, recorded as `WebhookReceived`, the coalesced sync run, its batch fsynced and
//! announced), beside the same-run baseline of a `SyncNow` after a deletion on the same tailnet
//! (fetch, plan, durable append) with no webhook at all. Real sled ledger in a temporary directory,
//! simulated API and webhook endpoint on loopback.
//!
//! Criterion measures the mean of each; then a fixed run of 100 deletions each (20 with
//! `TAILLEDGER_BENCH_QUICK=1`) reports p50 and p99. Each deletion first adds a user (its own
//! delivery and sync, not measured), and the webhook's deletion comes the coalescing gap
//! (`DEFAULT_MIN_GAP`, 250 ms) after that sync, so each one measures a sync started at once
//! rather than one held back behind the addition's: a deletion within 250 ms of another sync's
//! start waits up to 250 ms more, by design.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tailledger::checks::CheckSettings;
use tailledger::event::{Event, SystemId};
use tailledger::hash::Digest;
use tailledger::ledger::Ledger;
use tailledger::listener::HttpLimits;
use tailledger::metrics::Metrics;
use tailledger::service::Service;
use tailledger::simulator::{SimulatedTailnet, SimulatorHandle};
use tailledger::sync::{Listers, SyncOptions, Syncer, TailscaleSource};
use tailledger::time::SystemClock;
use tailledger::webhook::{DEFAULT_MIN_GAP, REGISTERED_SUBSCRIPTIONS, WEBHOOK_PATH, wire};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// The tailnet's size: a company of a thousand.
const ACCOUNTS: usize = 1_000;

/// The service over a real ledger, the simulated tailnet it syncs, and the next user to add.
struct Bench {
    runtime: Runtime,
    tailnet: SimulatedTailnet,
    service: Arc<Service>,
    head: watch::Receiver<Option<Digest>>,
    next_user: usize,
    _simulator: SimulatorHandle,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (tailnet, simulator) = common::simulated_tailnet(&runtime, ACCOUNTS);
        let client = common::client(&simulator);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ledger = Arc::new(Ledger::open(dir.path()).expect("a ledger"));
        let mut service = Service::new(
            ledger.clone(),
            Arc::new(SystemClock),
            CheckSettings::default(),
            chrono_tz::UTC,
        );
        service.set_syncer(Syncer::new(
            SystemId::tailscale(),
            Box::new(TailscaleSource::new(client, Listers::USERS_ONLY)),
            ledger,
            Arc::new(SystemClock),
            SyncOptions::default(),
        ));
        let service = Arc::new(service);
        runtime
            .block_on(service.sync_now(&SystemId::tailscale()))
            .expect("the first sync");
        Bench {
            runtime,
            tailnet,
            head: service.follow(),
            service,
            next_user: ACCOUNTS,
            _simulator: simulator,
            _dir: dir,
        }
    }

    /// Starts the webhook endpoint and registers it with the simulated tailnet: from now on
    /// every change is delivered.
    fn start_webhook(&self) {
        let listener = self.runtime.block_on(async {
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port")
        });
        let url = format!(
            "http://{}{WEBHOOK_PATH}",
            listener.local_addr().expect("an address")
        );
        let endpoint = self.tailnet.add_webhook(&url, &REGISTERED_SUBSCRIPTIONS);
        self.runtime.spawn(wire::serve(
            listener,
            self.service.clone(),
            SystemId::tailscale(),
            endpoint.secret,
            Metrics::new(),
            HttpLimits::default(),
            std::future::pending(),
        ));
    }

    /// Adds a user to the tailnet; returns its id.
    fn add_user(&mut self) -> String {
        let user = common::sim_user(self.next_user);
        self.next_user += 1;
        let id = user.id.clone();
        self.tailnet.upsert_user(user);
        id
    }

    /// Waits until the projections hold an event after the current head that `wanted` picks.
    async fn wait_for(
        service: &Service,
        head: &mut watch::Receiver<Option<Digest>>,
        after: u64,
        wanted: impl Fn(&Event) -> bool,
    ) {
        loop {
            // Announced heads are durable and in the projections.
            let announced = head.borrow_and_update().map_or(0, |digest| digest.seq);
            let entries = service.events(after, 10_000).await.expect("events").entries;
            if entries
                .iter()
                .any(|entry| entry.seq <= announced && wanted(&entry.event))
            {
                return;
            }
            head.changed().await.expect("the ledger is open");
        }
    }

    fn seq(&self) -> u64 {
        self.service.head().map_or(0, |digest| digest.seq)
    }

    /// The baseline: a user is added and synced, deleted, then `SyncNow` records the deletion.
    fn sync_now_once(&mut self) -> Duration {
        let id = self.add_user();
        let system = SystemId::tailscale();
        self.runtime
            .block_on(self.service.sync_now(&system))
            .expect("a sync");
        self.tailnet.remove_user(&id).expect("a known user");
        let started = Instant::now();
        let cycle = self
            .runtime
            .block_on(self.service.sync_now(&system))
            .expect("a sync");
        let elapsed = started.elapsed();
        assert!(
            cycle
                .sync
                .appended
                .entries
                .iter()
                .any(|entry| matches!(&entry.event, Event::UserRemoved { account_id, .. } if *account_id == id)),
            "the sync records the deletion"
        );
        elapsed
    }

    /// A user is added (its delivery's sync recorded), then deleted: the time from the deletion
    /// to the durable `UserRemoved` its delivery's sync appends.
    fn webhook_once(&mut self) -> Duration {
        // The simulator starts sending deliveries from the runtime a change is made in.
        let runtime = self.runtime.handle().clone();
        let _entered = runtime.enter();
        let id = self.add_user();
        let after = self.seq();
        let seen = id.clone();
        self.runtime.block_on(Self::wait_for(
            &self.service,
            &mut self.head,
            after,
            |event| matches!(event, Event::UserSeen { account, .. } if account.id == seen),
        ));
        // A deletion within the coalescing gap of another sync's start waits for the rest of
        // the gap; the addition's sync started before its `UserSeen` was seen, so space them.
        let ready = Instant::now() + DEFAULT_MIN_GAP;
        self.runtime
            .block_on(tokio::time::sleep_until(ready.into()));
        let after = self.seq();
        let started = Instant::now();
        self.tailnet.remove_user(&id).expect("a known user");
        self.runtime.block_on(Self::wait_for(
            &self.service,
            &mut self.head,
            after,
            |event| matches!(event, Event::UserRemoved { account_id, .. } if *account_id == id),
        ));
        started.elapsed()
    }
}

/// p50 and p99 of `runs` in milliseconds.
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
    let mut group = c.benchmark_group("webhook");
    group.bench_function("sync_now_baseline", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bench.sync_now_once()).sum())
    });
    let baseline: Vec<Duration> = (0..runs).map(|_| bench.sync_now_once()).collect();
    bench.start_webhook();
    group.bench_function("deletion_to_durable_removal", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bench.webhook_once()).sum())
    });
    let webhook: Vec<Duration> = (0..runs).map(|_| bench.webhook_once()).collect();
    group.finish();
    let (base_p50, base_p99) = percentiles(baseline);
    let (p50, p99) = percentiles(webhook);
    println!(
        "latency over {runs} deletions on {ACCOUNTS}+ accounts: SyncNow baseline p50 {base_p50:.1} ms, p99 {base_p99:.1} ms; \
         deletion + signed delivery to durable UserRemoved p50 {p50:.1} ms, p99 {p99:.1} ms \
         (p99 ratio {:.2}; target p99 <= 1000 ms: {})",
        p99 / base_p99,
        if p99 <= 1000.0 { "met" } else { "NOT met" }
    );
    c.final_summary();
}
