//! The delivery loop `serve` runs beside the service (docs/operating.md#alerts): derive what the
//! ledger implies, send what is due, record each acknowledged message as `AlertDelivered`, and
//! wait for the next entry, the next instant time alone changes a check, the next digest or the
//! next retry. The ledger is the only delivery state: after a restart, what was derived and not
//! recorded as delivered is sent again, with the same id (at least once; receivers deduplicate
//! by id). It never blocks an append: it reads and appends through the service like any caller.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use tokio::sync::watch;
use tokio::time::Instant;

use super::AlertsSettings;
use super::derive::Notification;
use super::route::{self, Outgoing, Schedule};
use super::send::{Destination, Sender};
use crate::event::{Event, SystemId};
use crate::metrics::Metrics;
use crate::service::{AlertWindow, Service};
use crate::time::Timestamp;

/// The first wait before a failed destination is tried again; each failure in a row doubles it.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two tries of a failing destination.
const RETRY_MOST: Duration = Duration::from_secs(300);
/// The longest wait between two derivations, whatever else happens: a live change the ledger
/// does not announce is seen within it.
const WAKE_AT_LEAST: Duration = Duration::from_secs(60);

/// A destination's failures in a row and when it may be tried again.
#[derive(Default)]
struct Backoff {
    failures: u32,
    retry_at: Option<Instant>,
}

impl Backoff {
    fn failed(&mut self) -> Duration {
        let wait = RETRY_FIRST
            .saturating_mul(2u32.saturating_pow(self.failures))
            .min(RETRY_MOST);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(Instant::now() + wait);
        wait
    }

    fn waiting(&self) -> bool {
        self.retry_at.is_some_and(|at| at > Instant::now())
    }
}

/// The `AlertDelivered` events recording that `destination` acknowledged `outgoing` at
/// `delivered_at`: one per notification.
pub fn deliveries(outgoing: &Outgoing, delivered_at: Timestamp) -> Vec<Event> {
    let digest_id = outgoing.digest_at.map(|_| outgoing.id.clone());
    outgoing
        .notifications
        .iter()
        .map(|notification: &Notification| Event::AlertDelivered {
            system: notification.system.clone(),
            route: outgoing.route.clone(),
            destination: outgoing.destination.clone(),
            notification_id: notification.id.clone(),
            check_id: notification.check_id.to_owned(),
            reason: notification.reason.as_str().to_owned(),
            subject: notification.subject_text(),
            state: notification.change.as_str().to_owned(),
            changed_at: notification.at,
            delivered_at,
            digest_id: digest_id.clone(),
        })
        .collect()
}

/// Runs deliveries for `system` until `stopping` turns true.
pub async fn run(
    service: Arc<Service>,
    settings: AlertsSettings,
    timezone: Tz,
    metrics: Metrics,
    mut stopping: watch::Receiver<bool>,
) {
    let system = SystemId::tailscale();
    let sender = Sender::new(settings.console_url.clone());
    let destinations: BTreeMap<&str, &Destination> = settings
        .destinations
        .iter()
        .map(|destination| (destination.name.as_str(), destination))
        .collect();
    let mut backoff: BTreeMap<String, Backoff> = BTreeMap::new();
    let mut follow = service.follow();
    let mut live = service.live_changes();
    let mut derive_failures = 0u32;
    // The derivation so far, brought forward at each pass; started again after a failed one.
    let mut deriver = None;
    loop {
        follow.mark_unchanged();
        live.mark_unchanged();
        let mut wake = Instant::now() + WAKE_AT_LEAST;
        match service
            .alert_pass(system.clone(), settings.lookback, deriver.take())
            .await
        {
            Ok(window) => {
                derive_failures = 0;
                report_pending(&settings, &window, &metrics);
                for outgoing in route::due(&settings.routes, window.derived(), window.now, timezone)
                {
                    if *stopping.borrow() {
                        return;
                    }
                    let Some(destination) = destinations.get(outgoing.destination.as_str()) else {
                        continue;
                    };
                    let state = backoff.entry(outgoing.destination.clone()).or_default();
                    if state.waiting() {
                        continue;
                    }
                    deliver(&service, &sender, destination, &outgoing, &metrics, state).await;
                }
                if let Some(at) = next_instant(&settings, &window, timezone) {
                    wake = wake.min(instant_of(&service, at));
                }
                deriver = Some(window.deriver);
            }
            Err(error) => {
                let wait = RETRY_FIRST
                    .saturating_mul(2u32.saturating_pow(derive_failures))
                    .min(RETRY_MOST);
                derive_failures = derive_failures.saturating_add(1);
                tracing::error!(
                    "alerts: the ledger could not be read, trying again in {}: {error}",
                    humantime::format_duration(wait)
                );
                wake = wake.min(Instant::now() + wait);
            }
        }
        if let Some(retry) = backoff.values().filter_map(|state| state.retry_at).min() {
            wake = wake.min(retry.max(Instant::now()));
        }
        tokio::select! {
            _ = follow.changed() => {}
            _ = live.changed() => {}
            () = tokio::time::sleep_until(wake) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

/// Sends one message and records it; a destination that fails waits with backoff.
async fn deliver(
    service: &Service,
    sender: &Sender,
    destination: &Destination,
    outgoing: &Outgoing,
    metrics: &Metrics,
    backoff: &mut Backoff,
) {
    match sender
        .send(destination, outgoing, service.now(), false)
        .await
    {
        Ok(()) => {
            *backoff = Backoff::default();
            metrics.alert_sent(&destination.name);
            let events = deliveries(outgoing, service.now());
            match service.record_alert_deliveries(events).await {
                Ok(_) => tracing::info!(
                    destination = %destination.name,
                    route = %outgoing.route,
                    id = %outgoing.id,
                    notifications = outgoing.notifications.len(),
                    "alert delivered"
                ),
                // Sent but not recorded: it is sent again, with the same id, once the ledger
                // takes writes.
                Err(error) => tracing::error!(
                    destination = %destination.name,
                    id = %outgoing.id,
                    "alert delivered but not recorded, it will be sent again: {error}"
                ),
            }
        }
        Err(error) => {
            metrics.alert_failed(&destination.name);
            let wait = backoff.failed();
            tracing::warn!(
                "alert {} not delivered, trying again in {}: {error}",
                outgoing.id,
                humantime::format_duration(wait)
            );
        }
    }
}

/// Sets the pending gauge of every destination.
fn report_pending(settings: &AlertsSettings, window: &AlertWindow, metrics: &Metrics) {
    let pending = route::pending(&settings.routes, window.derived());
    for destination in &settings.destinations {
        let count = pending
            .iter()
            .filter(|(route, _)| route.destination == destination.name)
            .count();
        metrics.alerts_pending(&destination.name, count);
    }
}

/// The next instant something may become due: time alone changing a check, a digest.
fn next_instant(
    settings: &AlertsSettings,
    window: &AlertWindow,
    timezone: Tz,
) -> Option<Timestamp> {
    let digests = settings
        .routes
        .iter()
        .filter_map(|route| match route.schedule {
            Schedule::Immediate => None,
            Schedule::Digest(time) => route::next_digest_at(time, timezone, window.now),
        });
    window.next_change.into_iter().chain(digests).min()
}

/// The monotonic instant at which the service's clock reads `at`.
fn instant_of(service: &Service, at: Timestamp) -> Instant {
    let micros = at.as_micros().saturating_sub(service.now().as_micros());
    Instant::now() + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}
