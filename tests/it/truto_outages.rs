//! HR outages are evidence too: Truto answering 500, 401, a body that is not JSON, an HTML page
//! or a cursor cycle is recorded as `RosterRejected` (by `roster:truto`, naming Truto, without
//! the token) and fails `integration-healthy` until a later read succeeds, each within a
//! generous time bound; the same cause is recorded once; and a slow Truto never holds up the
//! Tailscale sync of the same cycle, nor, through the real `serve`, a webhook-started removal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tailledger::checks::{CheckState, Reason};
use tailledger::event::{Actor, Event, SystemId};
use tailledger::ledger::Ledger;
use tailledger::service::{Service, ServiceError};
use tailledger::simulator::{Fault, HrisResource, SimEmployee, SimulatedHris};
use tailledger::tailscale::{RetryPolicy, Secret};
use tailledger::truto::{TrutoConfig, TrutoSource};

use crate::cli::TOKEN_ENV;
use crate::helpers::{API_TOKEN, Fixture};
use crate::truto::{ACCOUNT, Hris, TRUTO_TOKEN, service_reading};
use crate::webhook_serve::{WebhookSetup, register};

/// The most a cycle against a failing Truto may take here; without a shared budget a 5xx alone
/// took 110 s.
const BOUND: Duration = Duration::from_secs(30);

/// A service on a fresh sled ledger reading its roster from `hris` with Truto's real retry
/// policy and a read budget of `budget`.
fn service(
    fixture: &Fixture,
    hris: &Hris,
    budget: Duration,
    dir: &std::path::Path,
) -> (Service, Arc<Ledger>) {
    let mut config = TrutoConfig::new(ACCOUNT.to_owned(), Secret::new(TRUTO_TOKEN));
    config.api_base_url = hris.server.base_url().to_owned();
    config.retry = RetryPolicy::default();
    config.budget = budget;
    service_reading(
        fixture,
        TrutoSource::new(config).unwrap(),
        chrono_tz::UTC,
        dir,
    )
}

/// The `roster-rejected` finding of `integration-healthy` now, with the check's state.
async fn roster_finding(service: &Service) -> (CheckState, Option<String>) {
    let report = service.status(SystemId::tailscale(), None).await.unwrap();
    let check = report
        .checks
        .into_iter()
        .find(|check| check.check_id == "integration-healthy")
        .expect("the integration check is reported");
    let message = check
        .findings
        .into_iter()
        .find(|finding| finding.reason == Reason::RosterRejected)
        .map(|finding| finding.message);
    (check.state, message)
}

/// The cursor the simulated HRIS gives the page that starts at `offset`.
fn sim_cursor(offset: usize) -> String {
    format!("c{:08x}", offset ^ 0x5eed_5eed)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_truto_outage_is_recorded_fails_integration_healthy_and_a_good_read_clears_it() {
    let fixture = Fixture::start().await;
    let hris = Hris::start(25, 10).await;
    let forever = 100_000;
    let cases = [
        (
            "500",
            HrisResource::Employees,
            1,
            Fault::Status {
                status: 500,
                message: format!("internal error {TRUTO_TOKEN}"),
            },
            "HTTP 500",
        ),
        (
            "401",
            HrisResource::Employees,
            1,
            Fault::Status {
                status: 401,
                message: "Invalid API token".to_owned(),
            },
            "HTTP 401",
        ),
        (
            "invalid JSON",
            HrisResource::Employments,
            2,
            Fault::Body("{\"result\": [ this is not json".to_owned()),
            "not the list Truto documents",
        ),
        (
            "HTML",
            HrisResource::Employees,
            2,
            Fault::Body(
                "<!DOCTYPE html><html><body><h1>Scheduled maintenance</h1></body></html>"
                    .to_owned(),
            ),
            "not the list Truto documents",
        ),
        (
            // Page 3 sends the listing back to page 2: A -> B -> A.
            "cursor cycle",
            HrisResource::Employees,
            3,
            Fault::Body(format!(
                "{{\"result\": [], \"next_cursor\": \"{}\"}}",
                sim_cursor(10)
            )),
            "already followed",
        ),
    ];
    for (case, resource, page, fault, said) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (service, ledger) = service(&fixture, &hris, Duration::from_secs(3), dir.path());
        hris.hris.inject_on_page(resource, page, fault, forever);

        let started = Instant::now();
        let cycle = service.sync_now(&SystemId::tailscale()).await.unwrap();
        let took = started.elapsed();
        assert!(took < BOUND, "{case}: the cycle took {took:?}");
        let Some(Err(ServiceError::RosterSource(error))) = &cycle.roster else {
            panic!("{case}: the read must fail: {:?}", cycle.roster);
        };
        assert!(error.to_string().contains(said), "{case}: {error}");
        assert!(
            cycle
                .sync
                .appended
                .entries
                .iter()
                .any(|entry| entry.event.type_name() == "SyncCompleted"),
            "{case}: the Tailscale sync still ran"
        );
        let recorded: Vec<_> = cycle.roster_appended.entries.iter().collect();
        assert_eq!(recorded.len(), 1, "{case}: {recorded:?}");
        assert_eq!(recorded[0].actor, Actor::RosterSource("truto".to_owned()));
        let Event::RosterRejected { problems, .. } = &recorded[0].event else {
            panic!("{case}: {:?}", recorded[0].event);
        };
        assert!(
            problems[0].reason.starts_with("Truto could not be read")
                && problems[0].reason.contains(said),
            "{case}: {}",
            problems[0].reason
        );
        let export: String = ledger
            .log()
            .entries()
            .map(|entry| entry.unwrap().export_line())
            .collect();
        assert!(
            !export.contains(TRUTO_TOKEN),
            "{case}: the token was recorded"
        );

        let (state, finding) = roster_finding(&service).await;
        assert_eq!(state, CheckState::Failing, "{case}");
        let finding = finding.unwrap_or_else(|| panic!("{case}: no roster finding"));
        assert!(
            finding.contains("roster source could not be read") && finding.contains("Truto"),
            "{case}: {finding}"
        );

        // The same cause again is not recorded again.
        let again = service.sync_now(&SystemId::tailscale()).await.unwrap();
        assert!(
            again.roster_appended.entries.is_empty(),
            "{case}: {:?}",
            again.roster_appended.entries
        );

        // Truto answers again: the roster is imported and the outage is over.
        hris.hris.clear_faults();
        let healed = service.sync_now(&SystemId::tailscale()).await.unwrap();
        assert!(
            matches!(healed.roster, Some(Ok(_))),
            "{case}: {:?}",
            healed.roster
        );
        assert!(
            healed
                .roster_appended
                .entries
                .iter()
                .any(|entry| matches!(entry.event, Event::RosterAccepted { .. })),
            "{case}: the outage's end is recorded"
        );
        assert_eq!(roster_finding(&service).await.1, None, "{case}");
    }
}

/// Truto answering 503 for as long as it is asked is given up after the read's budget, not
/// after each request's retry budget over and over.
#[tokio::test(flavor = "multi_thread")]
async fn the_pages_of_one_read_share_one_budget() {
    let fixture = Fixture::start().await;
    let hris = Hris::start(25, 10).await;
    for page in 1..=3 {
        hris.hris.inject_on_page(
            HrisResource::Employees,
            page,
            Fault::Status {
                status: 503,
                message: "upstream down".to_owned(),
            },
            // Each page fails a few times, then answers: many pages together overrun the budget.
            3,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = service(&fixture, &hris, Duration::from_secs(2), dir.path());
    let started = Instant::now();
    let cycle = service.sync_now(&SystemId::tailscale()).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "the cycle took {took:?}");
    let Some(Err(ServiceError::RosterSource(error))) = &cycle.roster else {
        panic!("the read must fail: {:?}", cycle.roster);
    };
    assert!(
        error.to_string().contains("503") || error.to_string().contains("budget"),
        "{error}"
    );
}

/// Truto hanging on its first page holds up neither the Tailscale sync of the cycle nor its
/// append: the sync's batch is in the ledger within 5 s, and the roster's failure follows.
#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_truto_does_not_hold_up_the_tailscale_sync() {
    let fixture = Fixture::start().await;
    let hris = Hris::start(5, 10).await;
    hris.hris.inject_on_page(
        HrisResource::Employees,
        1,
        Fault::Delay(Duration::from_secs(600)),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let (service, ledger) = service(&fixture, &hris, Duration::from_secs(8), dir.path());
    let mut heads = ledger.log().subscribe();
    let cycle = tokio::spawn({
        let service = service.clone();
        async move { service.sync_now(&SystemId::tailscale()).await }
    });
    tokio::time::timeout(Duration::from_secs(5), heads.wait_for(Option::is_some))
        .await
        .expect("the sync's batch is appended within 5 s while Truto hangs")
        .unwrap();
    let synced = ledger.log().read(1, 100).unwrap();
    assert!(
        synced
            .iter()
            .any(|entry| entry.event.type_name() == "SyncCompleted"),
        "{synced:?}"
    );
    let cycle = cycle.await.unwrap().unwrap();
    let Some(Err(ServiceError::RosterSource(error))) = &cycle.roster else {
        panic!("the read must fail: {:?}", cycle.roster);
    };
    assert!(error.to_string().contains("budget"), "{error}");
    assert_eq!(
        cycle
            .roster_appended
            .entries
            .iter()
            .map(|entry| entry.event.type_name())
            .collect::<Vec<_>>(),
        ["RosterRejected"]
    );
}

/// Through the real `serve` with a webhook endpoint and a Truto that hangs on every request: the
/// removal a signed deletion starts is in the ledger within 5 s (it took 114 s behind a failing
/// Truto before).
#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_started_removal_reaches_the_ledger_in_5_s_while_truto_hangs() {
    let fixture = Fixture::start().await;
    // `serve` is given one token variable; this HRIS accepts the same token.
    let hris = SimulatedHris::new(ACCOUNT, API_TOKEN);
    hris.upsert_employee(SimEmployee::new("00001", "Dana Whitfield", "Engineer"));
    for page in 1..=2 {
        for resource in [HrisResource::Employees, HrisResource::Employments] {
            hris.inject_on_page(
                resource,
                page,
                Fault::Delay(Duration::from_secs(600)),
                1_000,
            );
        }
    }
    let server = hris
        .start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();
    let setup = WebhookSetup::new(&fixture);
    let secret = register(&fixture, &setup).await;
    setup.enable();
    let mut config = std::fs::read_to_string(setup.setup.config())
        .unwrap()
        .replace("csv_path = \"staff.csv\"", "source = \"truto\"");
    config += &format!(
        "\n[roster.truto]\napi_base_url = \"{}\"\nintegrated_account_id = \"{ACCOUNT}\"\ntoken_env = \"{TOKEN_ENV}\"\nbudget = \"2m\"\n",
        server.base_url()
    );
    std::fs::write(setup.setup.config(), config).unwrap();
    let mut served = setup.serve(&secret, 0).await;

    let removed = Instant::now();
    fixture.tailnet.remove_user("u1").unwrap();
    loop {
        if served.next().await.r#type == "UserRemoved" {
            break;
        }
    }
    let took = removed.elapsed();
    assert!(took < Duration::from_secs(5), "the removal took {took:?}");
    served.stop().await;
}
