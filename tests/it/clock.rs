//! The local clock against the sources' clocks and against the ledger's head. A sync whose
//! source (the simulated Tailscale or Truto API) dates its answers beyond `[server]
//! max_clock_skew` from the local clock records nothing and says why, naming both clocks; at
//! the exact tolerance it records as usual. While the last sync found the clocks apart,
//! `integration-healthy` reports `clock-skew` now (and only now) and `/metrics` shows the skew.
//! A write while the clock reads behind the head beyond the tolerance is refused
//! `FAILED_PRECONDITION`; within it, it is stamped with the head's instant, and a read now
//! includes it. The service and the simulators share one manual clock, so every instant is exact.

use std::sync::Arc;
use std::time::Duration;

use tailledger::as_of::AsOf;
use tailledger::checks::{CheckSettings, CheckState, Reason};
use tailledger::event::{Actor, Classification, EmployeeRecord, SystemId};
use tailledger::ledger::Ledger;
use tailledger::metrics::{METRICS_PATH, Metrics};
use tailledger::projection::EmployeeStatus;
use tailledger::service::{CheckReport, Service, ServiceError};
use tailledger::simulator::{SimEmployee, SimulatedHris};
use tailledger::sync::{Listers, SyncOptions, Syncer, TailscaleSource};
use tailledger::tailscale::{RetryPolicy, Secret};
use tailledger::time::{Clock, ManualClock, Timestamp};
use tailledger::truto::{TrutoConfig, TrutoSource};
use tokio::net::TcpListener;
use tonic::Code;

use crate::helpers::{Fixture, api_token, metric_value, run, text};

const DAY: i64 = 24 * 3600;
const TOLERANCE: i64 = 120;

/// A service on a fresh sled ledger syncing the fixture's tailnet, the three on one manual
/// clock that stands at a whole second (the precision of a `Date`).
struct Setup {
    fixture: Fixture,
    clock: Arc<ManualClock>,
    ledger: Arc<Ledger>,
    service: Service,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let fixture = Fixture::start().await;
    let now = Timestamp::now().as_micros();
    let clock = Arc::new(ManualClock::new(
        Timestamp::from_micros(now - now % 1_000_000).unwrap(),
    ));
    fixture.tailnet.use_webhook_clock(clock.clone());
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path()).unwrap());
    let mut client = fixture.client(api_token());
    client.use_clock(clock.clone());
    let mut service = Service::new(
        ledger.clone(),
        clock.clone(),
        CheckSettings::default(),
        chrono_tz::UTC,
    );
    service.set_syncer(Syncer::new(
        SystemId::tailscale(),
        Box::new(TailscaleSource::new(client, Listers::default())),
        ledger.clone(),
        clock.clone(),
        SyncOptions::default(),
    ));
    Setup {
        fixture,
        clock,
        ledger,
        service,
        _dir: dir,
    }
}

fn head_seq(ledger: &Ledger) -> u64 {
    ledger.log().head().map_or(0, |digest| digest.seq)
}

/// The `clock-skew` findings of `integration-healthy` in `report`, and that check's state.
fn clock_skew(report: &CheckReport) -> (CheckState, Vec<String>) {
    let check = report
        .checks
        .iter()
        .find(|check| check.check_id == "integration-healthy")
        .unwrap();
    let messages = check
        .findings
        .iter()
        .filter(|finding| finding.reason == Reason::ClockSkew)
        .map(|finding| finding.message.clone())
        .collect();
    (check.state, messages)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_whose_source_is_dated_30_days_off_records_nothing_and_names_both_clocks() {
    let setup = setup().await;
    let system = SystemId::tailscale();
    setup.service.sync_now(&system).await.unwrap();
    let mut recorded = head_seq(&setup.ledger);
    for offset in [30 * DAY, -30 * DAY] {
        setup.fixture.tailnet.set_clock_offset(offset);
        let refused = setup.service.sync_now(&system).await.unwrap_err();
        assert!(matches!(refused, ServiceError::ClockSkew(_)), "{refused:?}");
        let message = refused.to_string();
        let local = setup.clock.now();
        let server = local.saturating_add_seconds(offset);
        let way = if offset > 0 { "behind" } else { "ahead of" };
        for part in [
            local.to_string(),
            server.to_string(),
            format!("the local clock is 30days {way} Tailscale's"),
            "the 2m that `[server] max_clock_skew` allows".to_owned(),
            "nothing was recorded".to_owned(),
        ] {
            assert!(message.contains(&part), "{part} in {message}");
        }
        assert_eq!(
            tonic::Status::from(refused).code(),
            Code::FailedPrecondition
        );
        assert_eq!(head_seq(&setup.ledger), recorded, "nothing was appended");

        let now = setup.service.status(system.clone(), None).await.unwrap();
        let (state, findings) = clock_skew(&now);
        assert_eq!(state, CheckState::Failing);
        assert_eq!(findings, [message]);
        let past = setup
            .service
            .status(system.clone(), Some(AsOf::Instant(local)))
            .await
            .unwrap();
        assert_eq!(
            clock_skew(&past).1,
            Vec::<String>::new(),
            "the finding is live, never read from the ledger"
        );
    }

    setup.fixture.tailnet.set_clock_offset(TOLERANCE + 1);
    assert!(matches!(
        setup.service.sync_now(&system).await,
        Err(ServiceError::ClockSkew(_))
    ));
    for offset in [TOLERANCE, -TOLERANCE] {
        setup.fixture.tailnet.set_clock_offset(offset);
        let cycle = setup.service.sync_now(&system).await.unwrap();
        let appended = &cycle.sync.appended.entries;
        assert_eq!(
            appended.last().unwrap().event.type_name(),
            "SyncCompleted",
            "at the exact tolerance the sync records as usual"
        );
        assert_eq!(appended.first().unwrap().seq, recorded + 1);
        let now = setup.service.status(system.clone(), None).await.unwrap();
        assert_eq!(clock_skew(&now).1, Vec::<String>::new());
        recorded = head_seq(&setup.ledger);
        setup.clock.advance(Duration::from_secs(1));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truto_listing_dated_off_imports_nothing_while_the_tailscale_sync_goes_on() {
    let mut setup = setup().await;
    let hris = SimulatedHris::new("account-1", "truto-token");
    hris.upsert_employee(SimEmployee::new("00001", "Person One", "Engineer"));
    hris.use_clock(setup.clock.clone());
    hris.set_clock_offset(-30 * DAY);
    let server = hris
        .start(TcpListener::bind("127.0.0.1:0").await.unwrap())
        .unwrap();
    let mut config = TrutoConfig::new("account-1".to_owned(), Secret::new("truto-token"));
    config.api_base_url = server.base_url().to_owned();
    config.retry = RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        budget: Duration::from_millis(300),
    };
    let mut source = TrutoSource::new(config).unwrap();
    source.use_clock(setup.clock.clone());
    setup.service.set_roster_truto(source);
    let system = SystemId::tailscale();

    let cycle = setup.service.sync_now(&system).await.unwrap();
    let refused = cycle.roster.unwrap().unwrap_err();
    assert!(matches!(refused, ServiceError::ClockSkew(_)), "{refused:?}");
    assert!(
        refused
            .to_string()
            .contains("the local clock is 30days ahead of Truto's"),
        "{refused}"
    );
    assert!(cycle.roster_appended.entries.is_empty());
    assert_eq!(
        cycle
            .sync
            .appended
            .entries
            .last()
            .unwrap()
            .event
            .type_name(),
        "SyncCompleted"
    );
    assert!(
        setup
            .ledger
            .read(|projections| projections.employees().after(None).next().is_none())
    );
    let (state, findings) = clock_skew(&setup.service.status(system.clone(), None).await.unwrap());
    assert_eq!((state, findings.len()), (CheckState::Failing, 1));
    assert!(findings[0].contains("Truto"), "{findings:?}");

    hris.set_clock_offset(0);
    let cycle = setup.service.sync_now(&system).await.unwrap();
    assert_eq!(cycle.roster.unwrap().unwrap().onboarded, 1);
    let (_, findings) = clock_skew(&setup.service.status(system, None).await.unwrap());
    assert!(findings.is_empty(), "{findings:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_endpoint_shows_the_measured_skew() {
    let setup = setup().await;
    let system = SystemId::tailscale();
    setup.fixture.tailnet.set_clock_offset(-30 * DAY);
    setup.service.sync_now(&system).await.unwrap_err();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (_stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(tailledger::metrics::run(
        listener,
        Arc::new(setup.service.clone()),
        Metrics::new(),
        system,
        0,
        tailledger::listener::HttpLimits::default(),
        stopping,
    ));
    let scrape = reqwest::get(format!("http://{address}{METRICS_PATH}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric_value(&scrape, "tailledger_clock_skew_seconds{peer=\"tailscale\"}"),
        Some(-30.0 * DAY as f64),
        "{scrape}"
    );
    assert_eq!(
        metric_value(
            &scrape,
            "tailledger_check_state{system=\"tailscale\",check=\"integration-healthy\",state=\"FAILING\"}"
        ),
        Some(1.0)
    );
}

fn employee(id: &str) -> EmployeeRecord {
    EmployeeRecord {
        employee_id: id.to_owned(),
        email: format!("{id}@acme.example"),
        name: None,
        org_role: "engineer".to_owned(),
        start_date: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_while_the_clock_reads_behind_the_head_is_refused_beyond_the_tolerance() {
    let setup = setup().await;
    let service = &setup.service;
    let head = setup.clock.now();
    service
        .upsert_employee(Actor::Api("alice".to_owned()), employee("e1"))
        .await
        .unwrap();

    // Exactly the tolerance behind: recorded at the head's instant, and read now.
    setup.clock.set(head.saturating_add_seconds(-TOLERANCE));
    let offboarded = service
        .offboard_employee(
            Actor::Api("alice".to_owned()),
            "e1".to_owned(),
            None,
            "left".to_owned(),
        )
        .await
        .unwrap();
    assert_eq!(offboarded[0].recorded_at, head);
    assert_eq!(service.now(), head, "a read now includes the head");
    let page = service.employees(service.now(), None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].status_at(service.now()),
        EmployeeStatus::Offboarded
    );

    // One microsecond further behind: refused, nothing appended.
    let behind = head.saturating_add_micros(-TOLERANCE * 1_000_000 - 1);
    setup.clock.set(behind);
    let recorded = head_seq(&setup.ledger);
    let refused = service
        .upsert_employee(Actor::Api("alice".to_owned()), employee("e2"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::ClockBehind(_)),
        "{refused:?}"
    );
    let message = refused.to_string();
    for part in [
        behind.to_string(),
        head.to_string(),
        "max_clock_skew".to_owned(),
    ] {
        assert!(message.contains(&part), "{part} in {message}");
    }
    assert_eq!(
        tonic::Status::from(refused).code(),
        Code::FailedPrecondition
    );
    let classify = service
        .classify_account(
            Actor::Api("alice".to_owned()),
            SystemId::tailscale(),
            "u1".to_owned(),
            Some(Classification::Service),
            "e1".to_owned(),
            "the CI runner".to_owned(),
        )
        .await;
    assert!(matches!(classify, Err(ServiceError::ClockBehind(_))));
    assert!(matches!(
        service.sync_now(&SystemId::tailscale()).await,
        Err(ServiceError::ClockBehind(_))
    ));
    assert_eq!(head_seq(&setup.ledger), recorded, "nothing was appended");

    // Once the clock reads the head's instant again, writes are stamped with it as usual.
    setup.clock.set(head);
    service
        .upsert_employee(Actor::Api("alice".to_owned()), employee("e2"))
        .await
        .unwrap();
}

/// The demo's story ends at the real now: no entry after it, the pack's own `replay` step (as
/// its page words it) is accepted, and `integration-healthy` fails only while Tailscale is out
/// (its scheduled syncs keep it from going stale while the story skips days).
#[test]
fn the_demo_is_told_in_the_past_and_its_pack_replays() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("demo");
    let told = run(&[
        "demo",
        "--no-serve",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    let finished = Timestamp::now();
    let story = text(&told);
    assert!(told.status.success(), "{story}");

    let export = std::fs::read_to_string(data_dir.join("export.jsonl")).unwrap();
    for line in export.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let recorded_at: Timestamp = entry["recorded_at"].as_str().unwrap().parse().unwrap();
        assert!(recorded_at <= finished, "{recorded_at} is after {finished}");
    }

    let integration = story
        .lines()
        .find(|line| line.trim_start().starts_with("integration-healthy") && line.contains('%'))
        .expect("the timeline gives integration-healthy's shares");
    let failing: f64 = integration
        .split("FAILING ")
        .nth(1)
        .and_then(|share| share.strip_suffix('%'))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        failing > 0.0 && failing < 1.0,
        "FAILING only during the outage: {integration}"
    );

    let index = std::fs::read_to_string(data_dir.join("evidence/index.html")).unwrap();
    let step = index
        .split("<code>tailledger replay ")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .expect("the page names its replay step");
    let pack_export = data_dir.join("evidence/ledger.jsonl");
    let mut args = vec!["replay"];
    args.extend(step.split_whitespace().map(|arg| match arg {
        "ledger.jsonl" => pack_export.to_str().unwrap(),
        arg => arg,
    }));
    let replayed = run(&args);
    assert!(replayed.status.success(), "{step}: {}", text(&replayed));
}
