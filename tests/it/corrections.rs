//! Corrections found by outside testing (docs/reference/checks.md#integration-healthy), end to end:
//! the real `Service` over a sled ledger in a temporary directory, syncing the simulated Tailscale
//! API on loopback. Withheld removals fail the integration check, a credential Tailscale calls
//! invalid fails it, and a roster file refused during `serve` is recorded once per distinct file
//! and fails it too.

use std::path::Path;
use std::sync::Arc;

use tailledger::checks::{CheckResult, CheckSettings};
use tailledger::event::SystemId;
use tailledger::ledger::Ledger;
use tailledger::service::Service;
use tailledger::simulator::SimUser;
use tailledger::sync::{Listers, SyncOptions, Syncer, TailscaleSource};
use tailledger::tailscale::{Credential, TailscaleClient};
use tailledger::time::SystemClock;

use crate::helpers::{CLIENT_ID, Fixture, oauth_client};

/// The service `serve` runs, over a fresh sled ledger in `dir`, syncing `fixture`.
fn service(fixture: &Fixture, credential: Credential, dir: &Path) -> (Service, Arc<Ledger>) {
    let ledger = Arc::new(Ledger::open(dir).unwrap());
    let mut service = Service::new(
        ledger.clone(),
        Arc::new(SystemClock),
        CheckSettings::default(),
        chrono_tz::UTC,
    );
    service.set_syncer(Syncer::new(
        SystemId::tailscale(),
        Box::new(TailscaleSource::new(
            TailscaleClient::new(fixture.config(credential)).unwrap(),
            Listers::default(),
        )),
        ledger.clone(),
        Arc::new(SystemClock),
        SyncOptions::default(),
    ));
    (service, ledger)
}

/// The findings of `integration-healthy` now, as (reason, login name or system) pairs.
async fn integration_findings(service: &Service) -> Vec<(String, String)> {
    let report = service.status(SystemId::tailscale(), None).await.unwrap();
    let check: &CheckResult = report
        .checks
        .iter()
        .find(|check| check.check_id == "integration-healthy")
        .expect("the integration check is reported");
    check
        .findings
        .iter()
        .map(|finding| {
            (
                finding.reason.as_str().to_owned(),
                finding
                    .subject
                    .login_name
                    .clone()
                    .unwrap_or_else(|| finding.subject.system.to_string()),
            )
        })
        .collect()
}

/// The event types of the whole ledger, in seq order.
fn types(ledger: &Ledger) -> Vec<&'static str> {
    ledger
        .log()
        .entries()
        .map(|entry| entry.unwrap().event.type_name())
        .collect()
}

#[tokio::test]
async fn withheld_removals_fail_the_integration_check_naming_each_account() {
    let fixture = Fixture::start().await;
    for index in 4..=10 {
        fixture.tailnet.upsert_user(SimUser::member(
            &format!("u{index}"),
            &format!("person{index}@acme.example"),
            &format!("Person {index}"),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = service(&fixture, oauth_client(), dir.path());
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    assert_eq!(integration_findings(&service).await, []);

    for index in 5..=10 {
        fixture.tailnet.remove_user(&format!("u{index}")).unwrap();
    }
    for _ in 0..2 {
        service.sync_now(&SystemId::tailscale()).await.unwrap();
        let mut withheld: Vec<(String, String)> = (5..=10)
            .map(|index| {
                (
                    "removals-withheld".to_owned(),
                    format!("person{index}@acme.example"),
                )
            })
            .collect();
        withheld.sort();
        let mut found = integration_findings(&service).await;
        found.sort();
        assert_eq!(found, withheld);
    }
}

#[tokio::test]
async fn a_credential_tailscale_reports_invalid_fails_the_integration_check() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = service(&fixture, oauth_client(), dir.path());
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    assert_eq!(integration_findings(&service).await, []);

    fixture.tailnet.set_key_invalid(CLIENT_ID, true).unwrap();
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    assert_eq!(
        integration_findings(&service).await,
        [("credential-invalid".to_owned(), "tailscale".to_owned())]
    );

    fixture.tailnet.set_key_invalid(CLIENT_ID, false).unwrap();
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    assert_eq!(integration_findings(&service).await, []);
}

#[tokio::test]
async fn a_roster_file_refused_during_serve_is_recorded_once_and_fails_the_integration_check() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("staff.csv");
    let (mut service, ledger) = service(&fixture, oauth_client(), &dir.path().join("ledger"));
    service.set_roster_file(roster.clone());
    let good = "email,org_role\ndana@acme.example,IT\n";
    std::fs::write(&roster, good).unwrap();
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    assert_eq!(integration_findings(&service).await, []);

    std::fs::write(
        &roster,
        "email,org_role\ndana@acme.example,IT\nnot-an-email,IT\n",
    )
    .unwrap();
    for _ in 0..3 {
        let cycle = service.sync_now(&SystemId::tailscale()).await.unwrap();
        assert!(
            matches!(cycle.roster, Some(Err(_))),
            "the roster is refused"
        );
    }
    let rejected = types(&ledger)
        .into_iter()
        .filter(|kind| *kind == "RosterRejected")
        .count();
    assert_eq!(rejected, 1, "once per distinct file: {:?}", types(&ledger));
    assert_eq!(
        integration_findings(&service).await,
        [("roster-rejected".to_owned(), "tailscale".to_owned())]
    );

    // Another bad file is another rejection; a good one (even one that changes nothing) ends it.
    std::fs::write(&roster, "email,org_role\n,IT\n").unwrap();
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    std::fs::write(&roster, good).unwrap();
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    let rejected = types(&ledger)
        .into_iter()
        .filter(|kind| *kind == "RosterRejected")
        .count();
    assert_eq!(rejected, 2, "{:?}", types(&ledger));
    assert_eq!(integration_findings(&service).await, []);
}
