//! The roster from Truto's unified HRIS (docs/reference/sync.md#truto) against the simulated Truto
//! API on loopback: pages followed by `next_cursor`, 429 and 5xx retried, 401/403/404 and broken
//! pages failing the whole read with nothing imported (the failure recorded, `truto_outages.rs`),
//! the mapping's problems recorded like a refused file, the events recorded as `roster:truto`; and
//! through the real binary, 10,000 employees over 100 pages, then the same with a fault on page
//! 57.

use std::sync::Arc;
use std::time::Duration;

use tailledger::checks::CheckSettings;
use tailledger::entry::Entry;
use tailledger::event::{Actor, Event, SystemId};
use tailledger::ledger::Ledger;
use tailledger::service::{Service, ServiceError};
use tailledger::simulator::{Fault, HrisResource, SimEmployee, SimulatedHris, SimulatorHandle};
use tailledger::sync::{Listers, SyncOptions, Syncer, TailscaleSource};
use tailledger::tailscale::{RetryPolicy, Secret};
use tailledger::time::SystemClock;
use tailledger::truto::{TrutoConfig, TrutoSource};
use tokio::net::TcpListener;

use crate::cli::{TOKEN_ENV, args, run_with_env};
use crate::helpers::{API_TOKEN, Fixture, api_token, text};

pub const TRUTO_TOKEN: &str = "truto-api-token-9f3b1c-do-not-log";
pub const ACCOUNT: &str = "62f44730-dd91-461e-bd6a-aedd9e0ad79d";
const TRUTO_TOKEN_ENV: &str = "TL_TEST_TRUTO_TOKEN";

/// A simulated HR system with `count` employees, `page_size` a page, served on loopback.
pub struct Hris {
    pub hris: SimulatedHris,
    pub server: SimulatorHandle,
}

impl Hris {
    pub async fn start(count: usize, page_size: usize) -> Hris {
        let hris = SimulatedHris::new(ACCOUNT, TRUTO_TOKEN);
        hris.set_page_size(page_size);
        for number in 0..count {
            hris.upsert_employee(SimEmployee::new(
                &format!("{number:05}"),
                &format!("Person {number:05}"),
                "Engineer",
            ));
        }
        let server = hris
            .start(TcpListener::bind("127.0.0.1:0").await.unwrap())
            .unwrap();
        Hris { hris, server }
    }

    fn source(&self, token: &str) -> TrutoSource {
        let mut config = TrutoConfig::new(ACCOUNT.to_owned(), Secret::new(token));
        config.api_base_url = self.server.base_url().to_owned();
        config.retry = RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            budget: Duration::from_millis(300),
        };
        TrutoSource::new(config).unwrap()
    }
}

/// A service on a fresh sled ledger whose cycles read the roster from `hris` with `token`, and
/// that ledger.
fn service(
    fixture: &Fixture,
    hris: &Hris,
    token: &str,
    dir: &std::path::Path,
) -> (Service, Arc<Ledger>) {
    service_reading(fixture, hris.source(token), chrono_tz::Europe::Berlin, dir)
}

/// A service on a fresh sled ledger in `dir` whose cycles read the roster through `truto`,
/// dates in `timezone`, and sync the simulated tailnet `fixture`; and that ledger.
pub fn service_reading(
    fixture: &Fixture,
    truto: TrutoSource,
    timezone: chrono_tz::Tz,
    dir: &std::path::Path,
) -> (Service, Arc<Ledger>) {
    let ledger = Arc::new(Ledger::open(dir).unwrap());
    let mut service = Service::new(
        ledger.clone(),
        Arc::new(SystemClock),
        CheckSettings::default(),
        timezone,
    );
    service.set_roster_truto(truto);
    service.set_syncer(Syncer::new(
        SystemId::tailscale(),
        Box::new(TailscaleSource::new(
            fixture.client(api_token()),
            Listers::default(),
        )),
        ledger.clone(),
        Arc::new(SystemClock),
        SyncOptions::default(),
    ));
    (service, ledger)
}

fn employee_events(entries: &[Entry]) -> usize {
    entries
        .iter()
        .filter(|entry| entry.event.type_name().starts_with("Employee"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truto_roster_is_read_page_by_page_with_retries_and_recorded_as_roster_truto() {
    let fixture = Fixture::start().await;
    let hris = Hris::start(25, 10).await;
    let mut leaver = SimEmployee::new("00003", "Person 00003", "Engineer");
    leaver.end_date = Some("2026-03-31T00:00:00.000Z".to_owned());
    hris.hris.upsert_employee(leaver);
    hris.hris.inject_on_page(
        HrisResource::Employees,
        2,
        Fault::RateLimited {
            retry_after_secs: Some(0),
        },
        2,
    );
    hris.hris.inject_on_page(
        HrisResource::Employments,
        3,
        Fault::Status {
            status: 503,
            message: "upstream down".to_owned(),
        },
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = service(&fixture, &hris, TRUTO_TOKEN, dir.path());

    let cycle = service.sync_now(&SystemId::tailscale()).await.unwrap();
    let summary = cycle.roster.expect("a roster is configured").unwrap();
    assert_eq!(summary.onboarded, 25, "{summary}");
    assert_eq!(summary.offboarded, 1, "{summary}");
    // 3 pages of each list, two 429s and one 503 retried.
    assert_eq!(hris.hris.counters().requests, 6 + 3);
    assert!(
        cycle
            .roster_appended
            .entries
            .iter()
            .all(|entry| entry.actor == Actor::RosterSource("truto".to_owned())),
        "the source is the actor"
    );
    let offboarded = cycle
        .roster_appended
        .entries
        .iter()
        .find_map(|entry| match &entry.event {
            Event::EmployeeOffboarded {
                employee_id,
                effective_at,
                ..
            } => Some((employee_id.clone(), effective_at.to_string())),
            _ => None,
        });
    assert_eq!(
        offboarded,
        Some((
            "00003".to_owned(),
            // The last working day ends at the next midnight in Berlin.
            "2026-03-31T22:00:00.000000Z".to_owned()
        ))
    );
    assert!(
        cycle.roster_appended.entries[0]
            .export_line()
            .contains("\"actor\":\"roster:truto\""),
        "the actor's text form"
    );

    // Unchanged on the next cycle: nothing more about employees.
    let again = service.sync_now(&SystemId::tailscale()).await.unwrap();
    assert_eq!(employee_events(&again.roster_appended.entries), 0);
}

/// Each fault, armed on page 2 of a three-page listing, fails the read and imports nothing, with
/// a message naming the page and the class; only the failure is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_page_that_fails_imports_nothing() {
    let fixture = Fixture::start().await;
    let hris = Hris::start(25, 10).await;
    let cases = [
        (
            Fault::Status {
                status: 401,
                message: "Invalid API token".to_owned(),
            },
            "401",
            1,
        ),
        (
            Fault::Status {
                status: 403,
                message: "Forbidden".to_owned(),
            },
            "403",
            1,
        ),
        (
            Fault::Status {
                status: 404,
                message: "Integrated account not found".to_owned(),
            },
            "404",
            1,
        ),
        (
            Fault::RateLimited {
                retry_after_secs: Some(1),
            },
            "429",
            1_000,
        ),
        (
            Fault::Status {
                status: 502,
                message: "bad gateway".to_owned(),
            },
            "502",
            1_000,
        ),
        (Fault::TruncatedBody, "not the list Truto documents", 1),
        (
            Fault::Body("{\"results\": []}".to_owned()),
            "not the list Truto documents",
            1,
        ),
    ];
    for (fault, said, times) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (service, ledger) = service(&fixture, &hris, TRUTO_TOKEN, dir.path());
        hris.hris
            .inject_on_page(HrisResource::Employees, 2, fault.clone(), times);
        let before = hris.hris.counters().requests;
        let cycle = service.sync_now(&SystemId::tailscale()).await.unwrap();
        let Some(Err(ServiceError::RosterSource(error))) = &cycle.roster else {
            panic!("{fault:?}: the read must fail: {:?}", cycle.roster);
        };
        let message = error.to_string();
        assert!(
            message.contains("(page 2)") && message.contains(said),
            "{fault:?}: {message}"
        );
        let recorded: Vec<&str> = cycle
            .roster_appended
            .entries
            .iter()
            .map(|entry| entry.event.type_name())
            .collect();
        assert_eq!(
            recorded,
            ["RosterRejected"],
            "{fault:?}: only the failure is recorded"
        );
        let recorded = ledger.log().read(1, 100).unwrap();
        assert_eq!(employee_events(&recorded), 0, "{fault:?}");
        if times == 1 && said != "502" {
            // Refusals and broken pages are not retried: page 1, then page 2 once.
            assert_eq!(hris.hris.counters().requests - before, 2, "{fault:?}");
        }
        hris.hris.clear_faults();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn employees_the_mapping_cannot_read_refuse_the_listing_like_a_bad_file() {
    let fixture = Fixture::start().await;
    let hris = Hris::start(3, 10).await;
    let mut nameless = SimEmployee::new("00001", "Person 00001", "");
    nameless.work_email = "not an email".to_owned();
    hris.hris.upsert_employee(nameless);
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = service(&fixture, &hris, TRUTO_TOKEN, dir.path());
    let cycle = service.sync_now(&SystemId::tailscale()).await.unwrap();
    let Some(Err(ServiceError::Roster(errors))) = &cycle.roster else {
        panic!("the listing must be refused: {:?}", cycle.roster);
    };
    insta::assert_snapshot!("truto_refused_listing", errors.to_string());
    let types: Vec<&str> = cycle
        .roster_appended
        .entries
        .iter()
        .map(|entry| entry.event.type_name())
        .collect();
    assert_eq!(types, ["RosterRejected"], "recorded like a refused file");
    assert_eq!(
        cycle.roster_appended.entries[0].actor,
        Actor::RosterSource("truto".to_owned())
    );
}

/// Reads with the right token and then with failures (a wrong token, a 5xx, a broken page);
/// returns the ledger's export and every error message, for the secret test.
pub async fn truto_reads_with_failures(fixture: &Fixture) -> (String, Vec<String>) {
    let hris = Hris::start(5, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let (good, ledger) = service(fixture, &hris, TRUTO_TOKEN, dir.path());
    let mut messages = Vec::new();
    good.sync_now(&SystemId::tailscale()).await.unwrap();
    hris.hris.inject_on_page(
        HrisResource::Employees,
        2,
        Fault::Status {
            status: 500,
            message: format!("echo {TRUTO_TOKEN}"),
        },
        1_000,
    );
    let cycle = good.sync_now(&SystemId::tailscale()).await.unwrap();
    messages.extend(
        cycle
            .roster
            .and_then(Result::err)
            .map(|error| error.to_string()),
    );
    hris.hris.clear_faults();
    hris.hris
        .inject_on_page(HrisResource::Employments, 1, Fault::TruncatedBody, 1);
    let cycle = good.sync_now(&SystemId::tailscale()).await.unwrap();
    messages.extend(
        cycle
            .roster
            .and_then(Result::err)
            .map(|error| error.to_string()),
    );
    // A token Truto refuses; its value is still a secret.
    let wrong = format!("{TRUTO_TOKEN}-old");
    let other = tempfile::tempdir().unwrap();
    let (refused, _) = service(fixture, &hris, &wrong, other.path());
    let cycle = refused.sync_now(&SystemId::tailscale()).await.unwrap();
    messages.extend(
        cycle
            .roster
            .and_then(Result::err)
            .map(|error| error.to_string()),
    );
    assert_eq!(
        messages.len(),
        3,
        "every failure was reported: {messages:?}"
    );
    let export = ledger
        .log()
        .entries()
        .map(|entry| entry.unwrap().export_line() + "\n")
        .collect();
    (export, messages)
}

/// A configuration reading the roster from the simulated Truto API.
fn truto_config(dir: &std::path::Path, tailscale: &str, truto: &str) -> std::path::PathBuf {
    let config = format!(
        r#"data_dir = "ledger"
listen = "127.0.0.1:0"

[auth]
disabled = true

[tailscale]
api_base_url = "{tailscale}"
api_token_env = "{TOKEN_ENV}"

[roster]
source = "truto"
timezone = "Europe/Berlin"

[roster.truto]
api_base_url = "{truto}"
integrated_account_id = "{ACCOUNT}"
token_env = "{TRUTO_TOKEN_ENV}"
"#
    );
    let path = dir.join("tailledger.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn env() -> Vec<(&'static str, String)> {
    vec![
        (TOKEN_ENV, API_TOKEN.to_owned()),
        (TRUTO_TOKEN_ENV, TRUTO_TOKEN.to_owned()),
    ]
}

/// Acceptance 2 of issue 21: 10,000 employees over 100 pages import through `tailledger sync`;
/// with a fault on page 57, nothing of the roster is imported.
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_employees_over_100_pages_import_and_a_fault_on_page_57_imports_nothing() {
    let fixture = Fixture::start().await;
    let hris = Hris::start(10_000, 100).await;
    let dir = tempfile::tempdir().unwrap();
    let config = truto_config(
        dir.path(),
        fixture.server.base_url(),
        hris.server.base_url(),
    );
    let config = config.to_str().unwrap();

    let output = run_with_env(args(&["sync", "-c", config, "--json"]), env()).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["roster"]["onboarded"], 10_000);
    assert_eq!(hris.hris.counters().requests, 200, "100 pages of each list");
    assert!(!text(&output).contains(TRUTO_TOKEN));

    let fresh = tempfile::tempdir().unwrap();
    let config = truto_config(
        fresh.path(),
        fixture.server.base_url(),
        hris.server.base_url(),
    );
    let config = config.to_str().unwrap();
    hris.hris
        .inject_on_page(HrisResource::Employees, 57, Fault::TruncatedBody, 1);
    let output = run_with_env(args(&["sync", "-c", config]), env()).await;
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains("roster: refused, nothing of it imported"),
        "{said}"
    );
    assert!(
        said.contains("GET /unified/hris/employees (page 57)")
            && said.contains("not the list Truto documents"),
        "{said}"
    );
    assert!(!said.contains("EmployeeOnboarded"), "{said}");
    assert!(!said.contains(TRUTO_TOKEN));
    let export = fresh.path().join("export.jsonl");
    let output = run_with_env(
        args(&[
            "export",
            "--data-dir",
            fresh.path().join("ledger").to_str().unwrap(),
            "--out",
            export.to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(
        exported.contains("SyncCompleted"),
        "the Tailscale sync still ran"
    );
    assert!(
        !exported.contains("\"type\":\"Employee"),
        "no employee was recorded"
    );
}

/// `demo --hr truto` tells the same story with its roster read from the simulated Truto API.
#[test]
fn the_demo_can_read_its_roster_from_the_simulated_truto_api() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("demo");
    let output = crate::helpers::run(&[
        "demo",
        "--no-serve",
        "--hr",
        "truto",
        "--data-dir",
        ledger.to_str().unwrap(),
    ]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(
        said.contains("simulated Truto HRIS API at http://127.0.0.1:"),
        "{said}"
    );
    assert!(said.contains("EmployeeOnboarded    roster:truto"), "{said}");
    assert!(said.contains("EmployeeOffboarded   roster:truto"), "{said}");
    assert!(
        said.contains("NOT removed within the grace period"),
        "{said}"
    );
    assert!(said.contains("the chain is intact"), "{said}");
}
