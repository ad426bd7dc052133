//! An unreachable or refusing Tailscale ends a sync at once, and one that keeps failing is cut
//! by the sync's time budget: against a closed loopback port, a name that does not resolve, a 401, and a simulator answering
//! 503 to every request, each sync records `SyncFailed` within a generous bound, with Tailscale's
//! real retry policy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tailledger::event::{Event, SyncErrorClass, SystemId};
use tailledger::ledger::Ledger;
use tailledger::simulator::{Endpoint, Fault};
use tailledger::sync::{Listers, SyncOptions, SyncReport, Syncer, TailscaleSource};
use tailledger::tailscale::{ClientConfig, RetryPolicy, TailscaleClient};
use tailledger::time::SystemClock;

use crate::helpers::{Fixture, api_token, free_port};

/// One sync against `config` (with the default retry policy) under `budget`: its report and
/// how long it took.
async fn sync_once(config: ClientConfig, budget: Duration) -> (SyncReport, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path()).unwrap());
    let syncer = Syncer::new(
        SystemId::tailscale(),
        Box::new(TailscaleSource::new(
            TailscaleClient::new(ClientConfig {
                retry: RetryPolicy::default(),
                ..config
            })
            .unwrap(),
            Listers::default(),
        )),
        ledger,
        Arc::new(SystemClock),
        SyncOptions::default(),
    )
    .with_budget(budget);
    let started = Instant::now();
    let report = syncer.sync_now().await.unwrap();
    (report, started.elapsed())
}

/// The class and message of the sync's `SyncFailed`.
fn failure(report: &SyncReport) -> (SyncErrorClass, String) {
    report
        .appended
        .entries
        .iter()
        .find_map(|entry| match &entry.event {
            Event::SyncFailed {
                error_class,
                message,
                ..
            } => Some((*error_class, message.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the sync must fail: {:?}", report.appended.entries))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_port_fails_the_sync_at_once_with_a_clear_error() {
    let fixture = Fixture::start().await;
    let mut config = fixture.config(api_token());
    config.api_base_url = format!("http://127.0.0.1:{}", free_port());
    let (report, took) = sync_once(config, Duration::from_secs(60)).await;
    assert!(took < Duration::from_secs(5), "the sync took {took:?}");
    let (class, message) = failure(&report);
    assert_eq!(class, SyncErrorClass::Unavailable, "{message}");
    assert!(
        message.contains("could not reach Tailscale") && message.contains("not retried"),
        "{message}"
    );
}

/// `.invalid` never resolves (RFC 6761): a name not found is not retried.
#[tokio::test(flavor = "multi_thread")]
async fn a_name_that_does_not_resolve_fails_the_sync_at_once() {
    let fixture = Fixture::start().await;
    let mut config = fixture.config(api_token());
    config.api_base_url = "http://api.tailledger-test.invalid".to_owned();
    let (report, took) = sync_once(config, Duration::from_secs(60)).await;
    assert!(took < Duration::from_secs(10), "the sync took {took:?}");
    let (class, message) = failure(&report);
    assert_eq!(class, SyncErrorClass::Unavailable, "{message}");
    assert!(
        message.contains("dns error") && message.contains("not retried"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_credential_fails_the_sync_at_once() {
    let fixture = Fixture::start().await;
    fixture.tailnet.inject_on(
        Endpoint::Users,
        Fault::Status {
            status: 401,
            message: "API token invalid".to_owned(),
        },
        1_000,
    );
    let (report, took) = sync_once(fixture.config(api_token()), Duration::from_secs(60)).await;
    assert!(took < Duration::from_secs(5), "the sync took {took:?}");
    let (class, message) = failure(&report);
    assert_eq!(class, SyncErrorClass::Auth, "{message}");
    assert!(message.contains("HTTP 401"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tailscale_that_keeps_answering_503_is_cut_by_the_sync_budget() {
    let fixture = Fixture::start().await;
    fixture.tailnet.inject(
        Fault::Status {
            status: 503,
            message: "service unavailable".to_owned(),
        },
        1_000_000,
    );
    let (report, took) = sync_once(fixture.config(api_token()), Duration::from_secs(2)).await;
    // The default retry budget alone would keep each request going for two minutes.
    assert!(took < Duration::from_secs(10), "the sync took {took:?}");
    let (class, message) = failure(&report);
    assert!(
        (class == SyncErrorClass::Unavailable && message.contains("503"))
            || (class == SyncErrorClass::Timeout && message.contains("budget of 2s")),
        "{class:?}: {message}"
    );
}
