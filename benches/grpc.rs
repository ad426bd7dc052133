//! The gRPC API under load: `GetStatus` on a ledger of 10,000 accounts (and their employees) from
//! 1, 8 and 64 concurrent clients, each on its own loopback connection, beside the standard
//! `grpc.health.v1` Check on the same server. Criterion measures the time per call (its inverse
//! is the throughput); a fixed-length load per case then reports calls/s, p50 and p99 latency.
//! `TAILLEDGER_BENCH_QUICK=1` keeps the sizes and shortens the timings.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use tailledger::api::pb::GetStatusRequest;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tailledger::api::{self, Auth};
use tailledger::checks::CheckSettings;
use tailledger::metrics::Metrics;
use tailledger::service::Service;
use tailledger::time::SystemClock;
use tokio::runtime::Runtime;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const ACCOUNTS: usize = 10_000;
const EVENTS: usize = 50_000;
const CONCURRENCY: [usize; 3] = [1, 8, 64];

/// One call of a client, made with a clone of its channel.
#[derive(Clone)]
enum Caller {
    Status(LedgerServiceClient<Channel>),
    Health(HealthClient<Channel>),
}

impl Caller {
    async fn call(&mut self) {
        match self {
            Caller::Status(client) => {
                let status = client
                    .get_status(GetStatusRequest {
                        system: "tailscale".to_owned(),
                        as_of: None,
                        as_of_date: String::new(),
                    })
                    .await
                    .expect("GetStatus");
                assert!(!status.get_ref().checks.is_empty());
            }
            Caller::Health(client) => {
                client
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .expect("Check");
            }
        }
    }
}

/// Runs `calls` calls spread over the callers, all at once, and returns how long they took.
async fn spread(callers: &[Caller], calls: u64) -> Duration {
    let started = Instant::now();
    let count = callers.len() as u64;
    let tasks: Vec<_> = callers
        .iter()
        .enumerate()
        .map(|(index, caller)| {
            let mut caller = caller.clone();
            let mine = calls / count + u64::from((index as u64) < calls % count);
            tokio::spawn(async move {
                for _ in 0..mine {
                    caller.call().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client task");
    }
    started.elapsed()
}

/// Every client calling in a loop for `length`: calls/s, and the p50 and p99 latency in ms.
async fn load(callers: &[Caller], length: Duration) -> (f64, f64, f64) {
    let started = Instant::now();
    let tasks: Vec<_> = callers
        .iter()
        .map(|caller| {
            let mut caller = caller.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < length {
                    let call = Instant::now();
                    caller.call().await;
                    latencies.push(call.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a client task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |quantile: f64| {
        let index = ((latencies.len() as f64 * quantile).ceil() as usize).saturating_sub(1);
        latencies[index].as_secs_f64() * 1e3
    };
    (latencies.len() as f64 / elapsed, at(0.5), at(0.99))
}

async fn connect<T>(url: &str, count: usize, make: impl Fn(Channel) -> T) -> Vec<T> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let channel = Channel::from_shared(url.to_owned())
            .expect("a URL")
            .connect()
            .await
            .expect("a connection");
        clients.push(make(channel));
    }
    clients
}

fn bench_calls(
    c: &mut Criterion,
    runtime: &Runtime,
    name: &str,
    make: impl Fn(usize) -> Vec<Caller>,
) {
    let mut group = c.benchmark_group(format!("grpc_{name}"));
    group.throughput(Throughput::Elements(1));
    let length = if common::quick() {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(4)
    };
    for clients in CONCURRENCY {
        let callers = make(clients);
        group.bench_function(BenchmarkId::new("clients", clients), |b| {
            b.iter_custom(|calls| runtime.block_on(spread(&callers, calls)))
        });
        let (rate, p50, p99) = runtime.block_on(load(&callers, length));
        println!(
            "load grpc_{name}/clients/{clients}: {rate:.0} calls/s, p50 {p50:.2} ms, p99 {p99:.2} ms"
        );
    }
    group.finish();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ledger = Arc::new(common::build_ledger(dir.path(), ACCOUNTS, EVENTS));
    let service = Arc::new(Service::new(
        ledger,
        Arc::new(SystemClock),
        CheckSettings::default(),
        chrono_tz::UTC,
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (url, server) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let server = tokio::spawn(api::serve(
            listener,
            service,
            Auth::Disabled,
            None,
            Default::default(),
            Metrics::new(),
            async {
                let _ = stopped.await;
            },
        ));
        (url, server)
    });
    println!(
        "server: GetStatus over {ACCOUNTS} accounts and employees, {EVENTS} events{}",
        if common::quick() { " (quick mode)" } else { "" }
    );

    let mut c = common::criterion();
    bench_calls(&mut c, &runtime, "get_status", |clients| {
        runtime.block_on(connect(&url, clients, |channel| {
            Caller::Status(LedgerServiceClient::new(channel).max_decoding_message_size(64 << 20))
        }))
    });
    bench_calls(&mut c, &runtime, "health_check_baseline", |clients| {
        runtime.block_on(connect(&url, clients, |channel| {
            Caller::Health(HealthClient::new(channel))
        }))
    });
    c.final_summary();
    let _ = stop.send(());
    runtime
        .block_on(server)
        .expect("the server task")
        .expect("the server");
    println!(
        "peak RSS of this bench process: {:.0} MiB",
        common::peak_rss_mib()
    );
}
