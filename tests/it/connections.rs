//! Connections the server does not hold forever (`[server]` limits): 10,000 idle TCP
//! connections that never send the HTTP/2 preface are attempted in waves while health and
//! `GetStatus` keep answering, and the server's file descriptors and memory stay bounded.

use std::time::Duration;

use tailledger::api::{ServerLimits, pb};
use tailledger::ledger::Ledger;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::api::{ApiServer, auditor, tokens};

const ATTEMPTS: usize = 10_000;
const WAVE: usize = 1_000;
const MAX_CONNECTIONS: usize = 200;
/// Bounds each answer, so a server that stops answering fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(60);

/// A field of `/proc/self/status` or `/proc/self/limits`, as a number.
fn proc_number(file: &str, field: &str, column: usize) -> u64 {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line[field.len()..].split_whitespace().nth(column))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{file} has no {field}"))
}

fn resident_kib() -> u64 {
    proc_number("/proc/self/status", "VmRSS:", 0)
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

async fn answers(server: &ApiServer) {
    tokio::time::timeout(PATIENCE, async {
        let channel = server.channel().await;
        let health = HealthClient::new(channel.clone())
            .check(HealthCheckRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(health.status, ServingStatus::Serving as i32);
        let status = tailledger::api::pb::ledger_service_client::LedgerServiceClient::new(channel)
            .get_status(auditor(pb::GetStatusRequest {
                system: "tailscale".to_owned(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.checks.len(), 8);
    })
    .await
    .expect("health and GetStatus answer within the patience");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_status_answer_while_ten_thousand_idle_connections_are_attempted() {
    let limits = ServerLimits {
        max_connections: MAX_CONNECTIONS,
        // Long enough that only eviction at the cap, not the timeout, makes room here.
        handshake_timeout: Duration::from_secs(120),
        ..ServerLimits::default()
    };
    let server =
        ApiServer::start_with(tokens(), None, limits, |dir| Ledger::open(dir).unwrap()).await;
    answers(&server).await;
    let resident_before = resident_kib();
    let files_before = open_files();
    // Hold as many idle client sockets as the file limit leaves room for, up to all of them.
    let soft_limit = proc_number("/proc/self/limits", "Max open files", 0) as usize;
    let held_at_most =
        ATTEMPTS.min(soft_limit.saturating_sub(files_before + 2 * MAX_CONNECTIONS + 500));
    assert!(
        held_at_most >= 2 * WAVE,
        "the file limit {soft_limit} leaves too little room"
    );

    let mut idle = std::collections::VecDeque::new();
    let mut most_files = 0;
    for wave in 0..ATTEMPTS / WAVE {
        for _ in 0..WAVE {
            let stream =
                tokio::time::timeout(PATIENCE, tokio::net::TcpStream::connect(server.address))
                    .await
                    .expect("the connection is accepted or refused in time")
                    .expect("loopback connects");
            idle.push_back(stream);
            if idle.len() > held_at_most {
                idle.pop_front();
            }
        }
        answers(&server).await;
        most_files = most_files.max(open_files());
        println!(
            "wave {}: {} idle sockets held, {} files open",
            wave + 1,
            idle.len(),
            most_files
        );
    }
    // The client side holds `idle`; the server side at most its cap (plus the calls' own).
    let server_side = most_files.saturating_sub(files_before + idle.len());
    assert!(
        server_side <= MAX_CONNECTIONS + 50,
        "the server held {server_side} connections, over its cap of {MAX_CONNECTIONS}"
    );
    let grown_mib = resident_kib().saturating_sub(resident_before) / 1024;
    assert!(grown_mib < 64, "resident memory grew by {grown_mib} MiB");
    drop(idle);
    server.stop().await;
}
