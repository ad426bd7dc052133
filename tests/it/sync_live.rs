//! The sync orchestrator against the simulated Tailscale API over loopback HTTP, with a real
//! sled ledger: both credential kinds, every fault class, `Retry-After`, the removal guard, and
//! that no secret reaches the ledger or the logs.

use std::sync::Arc;
use std::time::Duration;

use tailledger::event::{Event, SyncErrorClass, SystemId};
use tailledger::ledger::Ledger;
use tailledger::simulator::{Endpoint, Fault, SimUser};
use tailledger::sync::{Listers, SyncOptions, SyncOutcome, SyncReport, Syncer, TailscaleSource};
use tailledger::tailscale::{ClientConfig, Credential, RetryPolicy, TailscaleClient};
use tailledger::time::SystemClock;

use crate::helpers::{
    ALWAYS, API_KEY_ID, API_TOKEN, CLIENT_SECRET, Fixture, LogCapture, api_token, oauth_client,
    token_expiry,
};

/// Retries and timeouts short enough for tests.
fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        budget: Duration::from_millis(400),
    }
}

/// A syncer over a fresh sled ledger in `dir`, and that ledger.
fn syncer_with(
    fixture: &Fixture,
    credential: Credential,
    dir: &std::path::Path,
    retry: RetryPolicy,
) -> (Syncer, Arc<Ledger>) {
    let config = ClientConfig {
        request_timeout: Duration::from_millis(500),
        retry,
        ..fixture.config(credential)
    };
    let ledger = Arc::new(Ledger::open(dir).unwrap());
    let syncer = Syncer::new(
        SystemId::tailscale(),
        Box::new(TailscaleSource::new(
            TailscaleClient::new(config).unwrap(),
            Listers::default(),
        )),
        ledger.clone(),
        Arc::new(SystemClock),
        SyncOptions::default(),
    );
    (syncer, ledger)
}

fn syncer(fixture: &Fixture, credential: Credential, dir: &std::path::Path) -> Syncer {
    syncer_with(fixture, credential, dir, quick_retries()).0
}

fn types(report: &SyncReport) -> Vec<&'static str> {
    report
        .appended
        .entries
        .iter()
        .map(|entry| entry.event.type_name())
        .collect()
}

#[tokio::test]
async fn oauth_token_is_granted_once_and_reused_across_syncs() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let syncer = syncer(&fixture, oauth_client(), dir.path());

    let first = syncer.sync_now().await.unwrap();
    // The keys list holds the fixture's two credentials (Tailscale lists OAuth clients too).
    assert_eq!(
        types(&first),
        [
            "UserSeen",
            "UserSeen",
            "UserSeen",
            "KeySeen",
            "KeySeen",
            "CredentialObserved",
            "SyncCompleted"
        ]
    );
    fixture.tailnet.set_role("u2", "admin").unwrap();
    let second = syncer.sync_now().await.unwrap();
    assert_eq!(types(&second), ["RoleChanged", "SyncCompleted"]);
    let third = syncer.sync_now().await.unwrap();
    assert_eq!(types(&third), ["SyncCompleted"]);

    assert_eq!(
        fixture.tailnet.counters().token_grants,
        1,
        "the access token is cached, not fetched per request"
    );
    assert_eq!(first.sync_id, "tailscale-000001");
    assert_eq!(third.sync_id, "tailscale-000003");
}

#[tokio::test]
async fn api_token_sync_records_the_credential_and_its_expiry() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let report = syncer(&fixture, api_token(), dir.path())
        .sync_now()
        .await
        .unwrap();
    let credential = report
        .appended
        .entries
        .iter()
        .find_map(|entry| match &entry.event {
            Event::CredentialObserved {
                credential_id,
                expires_at,
                ..
            } => Some((credential_id.clone(), *expires_at)),
            _ => None,
        });
    assert_eq!(
        credential,
        Some((API_KEY_ID.to_owned(), Some(token_expiry())))
    );
}

/// Each fault, armed on the users list until the retry budget is spent, and the class it must
/// be recorded with.
fn fault_classes() -> Vec<(&'static str, Fault, SyncErrorClass)> {
    let status = |status: u16| Fault::Status {
        status,
        message: format!("simulated {status}"),
    };
    vec![
        ("401", status(401), SyncErrorClass::Auth),
        ("403", status(403), SyncErrorClass::Permission),
        ("404", status(404), SyncErrorClass::NotFound),
        (
            "429",
            Fault::RateLimited {
                retry_after_secs: None,
            },
            SyncErrorClass::RateLimited,
        ),
        ("500", status(500), SyncErrorClass::Unavailable),
        ("503", status(503), SyncErrorClass::Unavailable),
        (
            "slow",
            Fault::Delay(Duration::from_secs(2)),
            SyncErrorClass::Timeout,
        ),
        ("truncated", Fault::TruncatedBody, SyncErrorClass::Malformed),
        ("not JSON", Fault::invalid_json(), SyncErrorClass::Malformed),
        (
            "wrong shape",
            Fault::Body("{\"people\":[]}".to_owned()),
            SyncErrorClass::Malformed,
        ),
    ]
}

#[tokio::test]
async fn every_fault_class_ends_in_sync_failed_and_changes_no_account() {
    for (name, fault, class) in fault_classes() {
        let fixture = Fixture::start().await;
        let dir = tempfile::tempdir().unwrap();
        let syncer = syncer(&fixture, api_token(), dir.path());
        syncer.sync_now().await.unwrap();

        fixture.tailnet.remove_user("u2").unwrap();
        fixture
            .tailnet
            .upsert_user(SimUser::member("u4", "sam@acme.example", "Sam Okafor"));
        fixture.tailnet.inject_on(Endpoint::Users, fault, ALWAYS);
        let failed = syncer.sync_now().await.unwrap();
        assert_eq!(types(&failed), ["SyncFailed"], "{name}");
        match &failed.outcome {
            SyncOutcome::Failed {
                error_class,
                message,
            } => {
                assert_eq!(*error_class, class, "{name}: {message}");
                assert!(!message.is_empty(), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }

        fixture.tailnet.clear_faults();
        let recovered = syncer.sync_now().await.unwrap();
        // The audit log's entry of the deletion, read over the failed sync's time too.
        assert_eq!(
            types(&recovered),
            [
                "UserSeen",
                "UserRemoved",
                "ChangeAttributed",
                "SyncCompleted"
            ],
            "{name}: the next sync recovers"
        );
    }
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_waited_out_and_the_sync_succeeds() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The budget must allow the one-second wait the server asks for.
    let retry = RetryPolicy {
        budget: Duration::from_secs(5),
        ..quick_retries()
    };
    let (syncer, _) = syncer_with(&fixture, api_token(), dir.path(), retry);
    fixture.tailnet.inject_on(
        Endpoint::Users,
        Fault::RateLimited {
            retry_after_secs: Some(1),
        },
        1,
    );
    let started = std::time::Instant::now();
    let report = syncer.sync_now().await.unwrap();
    assert!(
        matches!(
            report.outcome,
            SyncOutcome::Completed {
                accounts_observed: 3,
                ..
            }
        ),
        "{report:?}"
    );
    assert_eq!(fixture.tailnet.counters().users_requests, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn an_empty_listing_is_held_as_an_anomaly() {
    let fixture = Fixture::start().await;
    for index in 4..=8 {
        fixture.tailnet.upsert_user(SimUser::member(
            &format!("u{index}"),
            &format!("user{index}@acme.example"),
            "User",
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let syncer = syncer(&fixture, api_token(), dir.path());
    syncer.sync_now().await.unwrap();

    fixture
        .tailnet
        .inject_on(Endpoint::Users, Fault::empty_users(), 1);
    let report = syncer.sync_now().await.unwrap();
    assert_eq!(types(&report), ["SyncAnomaly", "SyncCompleted"]);
    assert!(matches!(
        report.outcome,
        SyncOutcome::Completed { anomaly: true, .. }
    ));
    match &report.appended.entries[0].event {
        Event::SyncAnomaly {
            accounts_before,
            removals_withheld,
            ..
        } => {
            assert_eq!((*accounts_before, *removals_withheld), (8, 8));
        }
        other => panic!("{other:?}"),
    }
}

/// Runs successful and failing syncs with both credential kinds, each on its own ledger, and
/// returns the exports of those ledgers.
async fn syncs_with_failures(fixture: &Fixture) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut exports = Vec::new();
    let credentials = [(api_token(), API_TOKEN), (oauth_client(), CLIENT_SECRET)];
    for (index, (credential, own_secret)) in credentials.into_iter().enumerate() {
        let dir = dir.path().join(index.to_string());
        let (syncer, ledger) = syncer_with(fixture, credential, &dir, quick_retries());
        syncer.sync_now().await.unwrap();
        // Tailscale quoting the credential back must not carry it into the ledger, from any
        // of the reads a sync makes: refused (401), or refused for lack of scope (403, which
        // fails the devices, keys or audit log part alone).
        for endpoint in [
            Endpoint::Users,
            Endpoint::Devices,
            Endpoint::Keys,
            Endpoint::AuditLog,
        ] {
            for status in [401, 403] {
                let echoing = Fault::Status {
                    status,
                    message: format!("bad credential {own_secret}"),
                };
                fixture.tailnet.inject_on(endpoint, echoing, 1);
                syncer.sync_now().await.unwrap();
            }
        }
        let down = Fault::Status {
            status: 500,
            message: "down".to_owned(),
        };
        fixture.tailnet.inject_on(Endpoint::Users, down, ALWAYS);
        syncer.sync_now().await.unwrap();
        fixture.tailnet.clear_faults();
        let export: String = ledger
            .log()
            .entries()
            .map(|entry| entry.unwrap().export_line() + "\n")
            .collect();
        exports.push(export);
    }
    exports
}

#[tokio::test]
async fn no_secret_reaches_the_ledger_or_the_logs() {
    let fixture = Fixture::start().await;
    let logs = LogCapture::global();
    let exports = syncs_with_failures(&fixture).await;
    // The roster from Truto: its token, through good reads, failures and a refused token.
    let (truto_export, truto_errors) = crate::truto::truto_reads_with_failures(&fixture).await;

    let logs = logs.text();
    assert!(
        logs.contains("sync failed"),
        "the capture must see the sync's logs: {logs}"
    );
    let mut secrets = vec![
        API_TOKEN.to_owned(),
        CLIENT_SECRET.to_owned(),
        crate::truto::TRUTO_TOKEN.to_owned(),
    ];
    secrets.extend(fixture.tailnet.granted_access_tokens());
    assert!(secrets.len() >= 4, "the OAuth client must have been used");
    assert!(
        logs.contains("peer=\"Truto\"") || logs.contains("peer=Truto"),
        "the capture must see the Truto client's retries: {logs}"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret is in the logs:\n{logs}"
        );
        for error in &truto_errors {
            assert!(
                !error.contains(secret.as_str()),
                "a secret is in an error: {error}"
            );
        }
        for export in exports.iter().chain([&truto_export]) {
            assert!(
                !export.contains(secret.as_str()),
                "a secret is in the ledger:\n{export}"
            );
        }
    }
    assert!(
        exports.iter().all(|export| export.contains("SyncFailed")),
        "the failures were recorded"
    );
}

#[tokio::test]
async fn concurrent_sync_requests_run_one_after_the_other() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (syncer, ledger) = syncer_with(&fixture, api_token(), dir.path(), quick_retries());
    // Each listing is slowed down, so the second request arrives while the first is running.
    fixture
        .tailnet
        .inject_on(Endpoint::Users, Fault::Delay(Duration::from_millis(100)), 2);
    let (first, second) = tokio::join!(syncer.sync_now(), syncer.sync_now());
    let mut ids = [first.unwrap().sync_id, second.unwrap().sync_id];
    ids.sort();
    assert_eq!(ids, ["tailscale-000001", "tailscale-000002"]);
    let kinds: Vec<&str> = ledger
        .log()
        .read(1, 100)
        .unwrap()
        .iter()
        .map(|entry| entry.event.type_name())
        .collect();
    assert_eq!(
        kinds,
        [
            "UserSeen",
            "UserSeen",
            "UserSeen",
            "KeySeen",
            "KeySeen",
            "CredentialObserved",
            "SyncCompleted",
            "SyncCompleted"
        ],
        "the second sync planned against the first one's result"
    );
}
