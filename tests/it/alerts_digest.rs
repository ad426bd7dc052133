//! A daily digest across a restart (docs/operating.md#alerts): the changes a digest is waiting
//! for are derived from the ledger, not held by the loop, so a delivery loop stopped without
//! warning (its task aborted, its service and ledger dropped and opened again from the sled
//! directory) loses none of them; the digest at its time holds every change since the previous
//! digest, from before and after the restart, and is sent and recorded once.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveTime;
use serde_json::Value;
use tailledger::alerts::{AlertsSettings, Change, Schedule};
use tailledger::checks::CheckSettings;
use tailledger::event::{Actor, Event, SystemId};
use tailledger::ledger::Ledger;
use tailledger::metrics::Metrics;
use tailledger::service::Service;
use tailledger::sync::{SyncOptions, Syncer};
use tailledger::time::ManualClock;

use crate::alerts::{
    Helper, Listed, delivered, needs, route, service_with_dana, start_alerts, stats, until, webhook,
};
use crate::helpers::{metric_value, snapshot};

fn settings(receiver: &Helper) -> AlertsSettings {
    AlertsSettings {
        console_url: None,
        lookback: Duration::from_secs(3 * 24 * 3600),
        destinations: vec![webhook(receiver)],
        routes: vec![route(
            "daily",
            "hook",
            vec![Change::Due, Change::Failing, Change::Resolved],
            Schedule::Digest(NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
        )],
    }
}

/// The service opened again over the ledger in `dir`, its syncer listing `listed`.
fn reopened(dir: &Path, clock: Arc<ManualClock>, listed: &Listed) -> Arc<Service> {
    let ledger = Arc::new(Ledger::open(dir).unwrap());
    let mut service = Service::new(
        ledger.clone(),
        clock.clone(),
        CheckSettings::default(),
        chrono_tz::UTC,
    );
    service.set_syncer(Syncer::new(
        SystemId::tailscale(),
        Box::new(listed.clone()),
        ledger,
        clock,
        SyncOptions::default(),
    ));
    Arc::new(service)
}

async fn pending_is(metrics: &Metrics, count: f64) -> bool {
    metric_value(
        &metrics.encode(),
        "tailledger_alerts_pending{destination=\"hook\"}",
    ) == Some(count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digests_changes_survive_a_restart_and_are_sent_once() {
    if !needs(
        "Python 3",
        &["python3", "--version"],
        "apt-get install python3",
    ) {
        return;
    }
    let receiver = Helper::start("receiver.py", &[]);
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new("2026-03-02T10:00:00Z".parse().unwrap()));
    let (service, _listed) =
        service_with_dana(dir.path(), clock.clone(), "dana@acme.example", 3600).await;
    let metrics = Metrics::new();
    let (_stop, task) = start_alerts(&service, settings(&receiver), &metrics);
    // DUE at 12:00, FAILING at 13:00 by time alone: waiting for tomorrow's 09:00.
    service
        .offboard_employee(
            Actor::Api("admin".to_owned()),
            "dana@acme.example".to_owned(),
            Some("2026-03-02T12:00:00Z".parse().unwrap()),
            String::new(),
        )
        .await
        .unwrap();
    clock.set("2026-03-02T20:00:00Z".parse().unwrap());
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    until("two pending", || pending_is(&metrics, 2.0)).await;

    // Stopped without warning: nothing of the loop or the service survives but the directory.
    task.abort();
    let _ = task.await;
    drop(service);
    drop(_listed);

    // After the restart the account is removed (RESOLVED at 22:00), then 09:00 comes.
    let listed = Listed::default();
    *listed.0.lock().unwrap() = vec![snapshot("u1", "dana@acme.example", "member", "active")];
    let service = reopened(dir.path(), clock.clone(), &listed);
    let metrics = Metrics::new();
    let (stop, task) = start_alerts(&service, settings(&receiver), &metrics);
    listed.0.lock().unwrap().clear();
    clock.set("2026-03-02T22:00:00Z".parse().unwrap());
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    until("three pending", || pending_is(&metrics, 3.0)).await;
    assert!(delivered(&service).await.is_empty());
    clock.set("2026-03-03T09:00:00Z".parse().unwrap());
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    until("the digest recorded", || async {
        delivered(&service).await.len() == 3
    })
    .await;
    clock.set("2026-03-03T09:05:00Z".parse().unwrap());
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    until("nothing pending", || pending_is(&metrics, 0.0)).await;
    stop.send_replace(true);
    task.await.unwrap();

    let recorded = delivered(&service).await;
    assert_eq!(recorded.len(), 3, "{recorded:#?}");
    let digests: Vec<String> = recorded
        .iter()
        .map(|entry| match &entry.event {
            Event::AlertDelivered { digest_id, .. } => digest_id.clone().unwrap(),
            _ => unreachable!(),
        })
        .collect();
    assert!(digests.iter().all(|id| *id == digests[0]), "one digest");
    let got = stats(&receiver).await;
    let sent = got["webhook"].as_object().unwrap();
    assert_eq!(sent.len(), 1, "{got}");
    assert_eq!(sent[&digests[0]], 1, "sent once: {got}");
    let body: Value = serde_json::from_str(
        got["bodies"][format!("webhook:{}", digests[0])]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let states: Vec<&str> = body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["DUE", "FAILING", "RESOLVED"]);
}
