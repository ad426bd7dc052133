//! The Prometheus endpoint (docs/reference/config.md#metrics) through the real `serve` binary:
//! after its first sync, a scrape of `/metrics` shows the sync by outcome and duration, the events
//! appended by type, the head seq, each check's state and findings as `GetStatus` tells them, the
//! credential's time left, and the gRPC calls by method and code, a method nobody serves counted as
//! `unknown`.

use std::time::Duration;

use tailledger::api::pb;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tailledger::checks::CHECKS;
use tailledger::time::Timestamp;
use tonic::transport::Channel;

use crate::cli::Setup;
use crate::helpers::{Fixture, free_port, metric_value, token_expiry};
use crate::webhook_serve::Served;

/// How long the scrape may take to show the last append.
const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_after_a_sync_shows_the_sync_the_events_the_checks_and_the_calls() {
    let fixture = Fixture::start().await;
    let grpc_port = free_port();
    let setup = Setup::new(fixture.server.base_url(), &format!("127.0.0.1:{grpc_port}"));
    let metrics_port = free_port();
    let mut config = std::fs::read_to_string(setup.config()).unwrap();
    config += &format!("\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n");
    std::fs::write(setup.config(), config).unwrap();

    let mut served = Served::start(&setup.config(), grpc_port, "tskey-webhook-unused", 0).await;
    let status = served
        .ledger
        .get_status(pb::GetStatusRequest {
            system: "tailscale".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (head_seq, _) = served.digest().await;
    let events = served
        .ledger
        .list_events(pb::ListEventsRequest {
            after_seq: 0,
            limit: 1_000,
        })
        .await
        .unwrap()
        .into_inner();
    // Without a token, and to a method nobody serves.
    let channel = Channel::from_shared(format!("http://127.0.0.1:{grpc_port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let refused = LedgerServiceClient::new(channel.clone())
        .get_status(pb::GetStatusRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let unknown = grpc
        .unary::<pb::GetDigestRequest, pb::GetDigestResponse, _>(
            tonic::Request::new(pb::GetDigestRequest {}),
            "/tailledger.v1.LedgerService/NoSuchMethod".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    // Authentication is checked first.
    assert_eq!(unknown.code(), tonic::Code::Unauthenticated);

    let url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let scrape = loop {
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        let text = response.text().await.unwrap();
        if metric_value(&text, "tailledger_ledger_head_seq") == Some(head_seq as f64) {
            break text;
        }
        assert!(started.elapsed() < DEADLINE, "the head never shows: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let value = |series: &str| metric_value(&scrape, series);

    assert_eq!(
        value(r#"tailledger_syncs_total{system="tailscale",outcome="completed"}"#),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        value(r#"tailledger_sync_duration_seconds_count{system="tailscale"}"#),
        Some(1.0)
    );
    // A new ledger: everything in it was appended by this process, at start or by the sync.
    for event in &events.events {
        let by_type = events
            .events
            .iter()
            .filter(|other| other.r#type == event.r#type)
            .count();
        assert_eq!(
            value(&format!(
                "tailledger_events_appended_total{{type=\"{}\"}}",
                event.r#type
            )),
            Some(by_type as f64),
            "{scrape}"
        );
    }
    for check in &status.checks {
        assert!(CHECKS.iter().any(|(id, _)| *id == check.check_id));
        let state = pb::CheckState::try_from(check.state).unwrap();
        for (name, expected) in [
            ("PASSING", pb::CheckState::Passing),
            ("DUE", pb::CheckState::Due),
            ("FAILING", pb::CheckState::Failing),
        ] {
            assert_eq!(
                value(&format!(
                    "tailledger_check_state{{system=\"tailscale\",check=\"{}\",state=\"{name}\"}}",
                    check.check_id
                )),
                Some(f64::from(u8::from(state == expected))),
                "{scrape}"
            );
        }
        assert_eq!(
            value(&format!(
                "tailledger_check_findings{{system=\"tailscale\",check=\"{}\"}}",
                check.check_id
            )),
            Some(check.findings.len() as f64)
        );
    }
    let left = value(r#"tailledger_credential_expiry_seconds{system="tailscale"}"#).unwrap();
    let expected = token_expiry().seconds_since(Timestamp::now()) as f64;
    assert!((left - expected).abs() < 600.0, "{left} against {expected}");
    for (method, code) in [
        ("/tailledger.v1.LedgerService/GetStatus", "OK"),
        ("/tailledger.v1.LedgerService/GetStatus", "Unauthenticated"),
        ("/tailledger.v1.LedgerService/GetDigest", "OK"),
        ("/tailledger.v1.LedgerService/ListEvents", "OK"),
        ("unknown", "Unauthenticated"),
    ] {
        assert_eq!(
            value(&format!(
                "tailledger_grpc_requests_total{{method=\"{method}\",code=\"{code}\"}}"
            )),
            Some(1.0),
            "{method} {code}: {scrape}"
        );
    }
    assert!(!scrape.contains("NoSuchMethod"));
    served.stop().await;
}
