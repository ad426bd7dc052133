//! The web console's overview page on a ledger of 10,000 accounts (and their employees), timed
//! in the server (the router called in process, no network: the target is 50 ms a page), beside
//! `GetStatus` over gRPC on the same service and data in the same run (one loopback client).
//! `TAILLEDGER_BENCH_QUICK=1` keeps the sizes and shortens the timings.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode, header};
use tailledger::api::pb::GetStatusRequest;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tailledger::api::{self, Auth, Role, TokenEntry, Tokens};
use tailledger::checks::CheckSettings;
use tailledger::event::SystemId;
use tailledger::hash::Hash256;
use tailledger::metrics::Metrics;
use tailledger::service::Service;
use tailledger::time::SystemClock;
use tailledger::web;
use tower::ServiceExt;

const ACCOUNTS: usize = 10_000;
const EVENTS: usize = 50_000;
const TOKEN: &str = "bench-auditor-token";

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
    let router = web::router(web::Console {
        service: service.clone(),
        tokens: Arc::new(Tokens::new(Auth::Tokens(vec![TokenEntry {
            name: "bench".to_owned(),
            role: Role::Auditor,
            sha256: Hash256::of(TOKEN.as_bytes()),
            employee_id: None,
        }]))),
        system: SystemId::tailscale(),
        tls: None,
        session_ttl: Duration::from_secs(3600),
    });
    let cookie = runtime.block_on(async {
        let answer = router
            .clone()
            .oneshot(
                Request::post("/signin")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(format!("token={TOKEN}")))
                    .expect("a request"),
            )
            .await
            .expect("an answer");
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        let cookie = answer.headers()[header::SET_COOKIE].to_str().expect("text");
        cookie.split(';').next().expect("a cookie").to_owned()
    });
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
    let client = runtime.block_on(async {
        LedgerServiceClient::connect(url)
            .await
            .expect("a connection")
            .max_decoding_message_size(64 << 20)
    });
    println!(
        "web: the overview over {ACCOUNTS} accounts and employees, {EVENTS} events{}",
        if common::quick() { " (quick mode)" } else { "" }
    );

    let mut c = common::criterion();
    let mut group = c.benchmark_group("overview_vs_get_status");
    group.bench_function("web_overview_in_server", |b| {
        b.iter(|| {
            let request = Request::get("/")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .expect("a request");
            runtime.block_on(async {
                let answer = router.clone().oneshot(request).await.expect("an answer");
                assert_eq!(answer.status(), StatusCode::OK);
                axum::body::to_bytes(answer.into_body(), usize::MAX)
                    .await
                    .expect("the page")
            })
        });
    });
    group.bench_function("grpc_get_status", |b| {
        b.iter(|| {
            let mut client = client.clone();
            runtime.block_on(async move {
                client
                    .get_status(GetStatusRequest {
                        system: "tailscale".to_owned(),
                        as_of: None,
                        as_of_date: String::new(),
                    })
                    .await
                    .expect("GetStatus")
            })
        });
    });
    group.finish();
    c.final_summary();
    let _ = stop.send(());
    runtime
        .block_on(server)
        .expect("the server task")
        .expect("the server");
}
