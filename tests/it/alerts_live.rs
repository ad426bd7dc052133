//! Alarms the service computes live, not from entries (docs/operating.md#alerts): the archive
//! falling behind `max_lag` and a source's clock beyond `max_clock_skew` each reach the webhook
//! once, stay sent across a restart of the delivery loop (resumed from the `AlertDelivered` that
//! recorded them, not sent again), and are resolved, once, when they clear.

use std::sync::Arc;
use std::time::Duration;

use tailledger::alerts::{AlertsSettings, Change, Route, Schedule};
use tailledger::archive::ArchiveStatus;
use tailledger::event::{Event, SystemId};
use tailledger::metrics::Metrics;
use tailledger::service::Service;
use tailledger::skew::DateReading;
use tailledger::time::{Clock, ManualClock, Timestamp};

use crate::alerts::{
    Helper, Listed, delivered, needs, service_archived, start_alerts, stats, until, webhook,
};
use crate::helpers::metric_value;

fn settings(receiver: &Helper) -> AlertsSettings {
    AlertsSettings {
        console_url: None,
        lookback: Duration::from_secs(24 * 3600),
        destinations: vec![webhook(receiver)],
        routes: vec![Route {
            name: "health".to_owned(),
            checks: vec!["integration-healthy".to_owned()],
            states: vec![Change::Failing, Change::Resolved],
            destination: "hook".to_owned(),
            schedule: Schedule::Immediate,
        }],
    }
}

/// `(reason, state, notification id)` of each delivery recorded, in order.
async fn recorded(service: &Service) -> Vec<(String, String, String)> {
    delivered(service)
        .await
        .into_iter()
        .map(|entry| match entry.event {
            Event::AlertDelivered {
                reason,
                state,
                notification_id,
                ..
            } => (reason, state, notification_id),
            _ => unreachable!(),
        })
        .collect()
}

/// A reading of the source's clock `ahead` seconds ahead of `clock`.
fn reading(clock: &ManualClock, ahead: i64) -> DateReading {
    let now = clock.now();
    DateReading {
        peer: "Tailscale",
        server: now.saturating_add_micros(ahead * 1_000_000),
        sent: now,
        received: now,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_alarms_are_notified_once_and_resolved_when_they_clear() {
    if !needs(
        "Python 3",
        &["python3", "--version"],
        "apt-get install python3",
    ) {
        return;
    }
    let receiver = Helper::start("receiver.py", &[]);
    let dir = tempfile::tempdir().unwrap();
    let start: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    // Nothing archived, the first entry waiting since the start; a minute allowed.
    let archive = Arc::new(ArchiveStatus::new("dir", Duration::from_secs(60), 0));
    archive.set(0, Some(start));
    let (service, listed): (Arc<Service>, Listed) = service_archived(
        dir.path(),
        clock.clone(),
        "dana@acme.example",
        3600,
        Some(archive.clone()),
    )
    .await;
    let system = SystemId::tailscale();
    let (stop, task) = start_alerts(&service, settings(&receiver), &Metrics::new());

    // Two minutes on, the archive is behind: the next pass (woken by the sync's entry) says so.
    clock.set("2026-03-02T10:02:00Z".parse().unwrap());
    service.sync_now(&system).await.unwrap();
    until("archive-behind delivered", || async {
        recorded(&service).await.len() == 1
    })
    .await;
    // The source's clock an hour ahead: the sync is refused, records nothing, and the loop,
    // told the clock was read, notifies it.
    *listed.1.lock().unwrap() = Some(reading(&clock, 3600));
    assert!(service.sync_now(&system).await.is_err());
    until("clock-skew delivered", || async {
        recorded(&service).await.len() == 2
    })
    .await;
    let opened = recorded(&service).await;
    assert_eq!(opened[0].0, "archive-behind");
    assert_eq!(opened[1].0, "clock-skew");
    assert!(opened.iter().all(|(_, state, _)| state == "FAILING"));

    // A restart of the loop: both alarms still open resume from their records, sent again to
    // nobody. The first pass of the new loop sets the pending gauge.
    stop.send_replace(true);
    task.await.unwrap();
    let metrics = Metrics::new();
    let (stop, task) = start_alerts(&service, settings(&receiver), &metrics);
    clock.set("2026-03-02T10:03:00Z".parse().unwrap());
    assert!(service.sync_now(&system).await.is_err());
    until("the restarted loop's first pass", || async {
        metric_value(
            &metrics.encode(),
            "tailledger_alerts_pending{destination=\"hook\"}",
        ) == Some(0.0)
    })
    .await;
    assert_eq!(recorded(&service).await, opened, "nothing sent again");

    // Both clear: the archive catches up, the source's clock agrees. Each is resolved once,
    // with an id of its own.
    archive.set(service.head().unwrap().seq, None);
    *listed.1.lock().unwrap() = Some(reading(&clock, 0));
    service.sync_now(&system).await.unwrap();
    until("both resolved", || async {
        recorded(&service).await.len() == 4
    })
    .await;
    stop.send_replace(true);
    task.await.unwrap();
    let all = recorded(&service).await;
    assert_eq!(all.len(), 4, "{all:#?}");
    let mut resolved: Vec<&str> = all[2..]
        .iter()
        .map(|(reason, state, _)| {
            assert_eq!(state, "RESOLVED");
            reason.as_str()
        })
        .collect();
    resolved.sort_unstable();
    assert_eq!(resolved, ["archive-behind", "clock-skew"]);
    let got = stats(&receiver).await;
    let counts = got["webhook"].as_object().unwrap();
    assert_eq!(counts.len(), 4, "four ids: {got}");
    assert!(counts.values().all(|count| count == 1), "each once: {got}");
}
