//! The Prometheus endpoint (`[metrics] listen`, `GET /metrics`; docs/reference/config.md#metrics).
//!
//! What the series say comes from three places, and from nowhere else:
//! - the ledger's entries, followed as they are appended (`follow`): syncs by outcome, their
//!   duration (Tailscale's listing from `started_at` to `finished_at`), events appended by type,
//!   and the head seq; counters count what this process saw appended since it started, as
//!   Prometheus counters do;
//! - the answers of the gRPC server and the webhook endpoint, seen by a layer around each
//!   (`layer`): requests by method and status code, deliveries by HTTP status;
//! - the service's own answer at scrape time (`endpoint`): each check's state and findings now,
//!   the seconds until the credential expires, and how far the archive is behind.
//!
//! Nothing here writes to the ledger or decides anything; a failing scrape changes nothing.

mod endpoint;
mod follow;
mod layer;

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use endpoint::METRICS_PATH;
pub use layer::{GrpcLayer, WebhookLayer};

use crate::checks::CheckState;
use crate::entry::Entry;
use crate::event::{Event, SystemId};
use crate::listener::HttpLimits;
use crate::service::{CheckReport, Service};
use crate::time::Timestamp;

/// Serves `GET /metrics` for `system` on `listener` under `limits`, and counts every entry
/// appended after seq `after`, until `stopping` turns true.
pub async fn run(
    listener: TcpListener,
    service: Arc<Service>,
    metrics: Metrics,
    system: SystemId,
    after: u64,
    limits: HttpLimits,
    stopping: watch::Receiver<bool>,
) {
    let mut stop = stopping.clone();
    let shutdown = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    tokio::join!(
        endpoint::serve(
            listener,
            service.clone(),
            metrics.clone(),
            system,
            &limits,
            shutdown
        ),
        follow::follow(service, metrics, after, stopping),
    );
}

/// The states a check can be in, each a series of `tailledger_check_state`.
const STATES: [CheckState; 3] = [CheckState::Passing, CheckState::Due, CheckState::Failing];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    system: String,
    /// `completed`, or the failure's class (`auth`, `permission`, `rate_limited`, …).
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SystemLabels {
    system: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    system: String,
    check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckStateLabels {
    system: String,
    check: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    /// `tailscale` or `truto`.
    peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabels {
    /// The `[[alerts.destination]]` name.
    destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    status: String,
}

fn sync_duration_histogram() -> Histogram {
    // 50 ms to ~7 min: a small tailnet lists in well under a second, 100,000 users in minutes.
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

/// The series, shared by everything that updates them and the endpoint that reads them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    syncs: Family<SyncLabels, Counter>,
    sync_duration: Family<SystemLabels, Histogram, fn() -> Histogram>,
    events: Family<TypeLabels, Counter>,
    head_seq: Gauge,
    check_state: Family<CheckStateLabels, Gauge>,
    check_findings: Family<CheckLabels, Gauge>,
    credential_expiry: Family<SystemLabels, Gauge>,
    grpc_requests: Family<GrpcLabels, Counter>,
    webhook_deliveries: Family<DeliveryLabels, Counter>,
    clock_skew: Family<PeerLabels, Gauge>,
    /// Series only with `[archive]`: absent rather than a reassuring 0 without one.
    archive_lag_entries: Family<ArchiveLabels, Gauge>,
    archive_lag_seconds: Family<ArchiveLabels, Gauge>,
    alerts_sent: Family<DestinationLabels, Counter>,
    alerts_failed: Family<DestinationLabels, Counter>,
    alerts_pending: Family<DestinationLabels, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ArchiveLabels {
    /// `s3` or `dir`.
    archive: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tailledger");
        let syncs = Family::<SyncLabels, Counter>::default();
        registry.register("syncs", "Syncs recorded, by outcome", syncs.clone());
        let sync_duration =
            Family::<SystemLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                sync_duration_histogram,
            );
        registry.register(
            "sync_duration_seconds",
            "How long a recorded sync took, from its start to its end",
            sync_duration.clone(),
        );
        let events = Family::<TypeLabels, Counter>::default();
        registry.register(
            "events_appended",
            "Events appended, by type",
            events.clone(),
        );
        let head_seq = Gauge::default();
        registry.register(
            "ledger_head_seq",
            "The seq of the ledger's last entry",
            head_seq.clone(),
        );
        let check_state = Family::<CheckStateLabels, Gauge>::default();
        registry.register(
            "check_state",
            "1 for the state each check is in now, 0 for the others",
            check_state.clone(),
        );
        let check_findings = Family::<CheckLabels, Gauge>::default();
        registry.register(
            "check_findings",
            "Findings of each check now",
            check_findings.clone(),
        );
        let credential_expiry = Family::<SystemLabels, Gauge>::default();
        registry.register(
            "credential_expiry_seconds",
            "Seconds until the integration's credential expires (negative once it has)",
            credential_expiry.clone(),
        );
        let grpc_requests = Family::<GrpcLabels, Counter>::default();
        registry.register(
            "grpc_requests",
            "gRPC calls answered, by method and status code",
            grpc_requests.clone(),
        );
        let webhook_deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries answered, by HTTP status",
            webhook_deliveries.clone(),
        );
        let clock_skew = Family::<PeerLabels, Gauge>::default();
        registry.register(
            "clock_skew_seconds",
            "How far each source's clock (the Date of its answers) was ahead of the local clock at its last sync (negative: behind)",
            clock_skew.clone(),
        );
        let archive_lag_entries = Family::<ArchiveLabels, Gauge>::default();
        registry.register(
            "archive_lag_entries",
            "Entries appended and not yet in the archive",
            archive_lag_entries.clone(),
        );
        let archive_lag_seconds = Family::<ArchiveLabels, Gauge>::default();
        registry.register(
            "archive_lag_seconds",
            "How long the oldest entry not yet in the archive has waited (0 when none waits)",
            archive_lag_seconds.clone(),
        );
        let alerts_sent = Family::<DestinationLabels, Counter>::default();
        registry.register(
            "alerts_sent",
            "Alert messages a destination acknowledged",
            alerts_sent.clone(),
        );
        let alerts_failed = Family::<DestinationLabels, Counter>::default();
        registry.register(
            "alerts_failed",
            "Alert messages a destination did not acknowledge (each attempt)",
            alerts_failed.clone(),
        );
        let alerts_pending = Family::<DestinationLabels, Gauge>::default();
        registry.register(
            "alerts_pending",
            "Notifications a destination has not acknowledged yet",
            alerts_pending.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                syncs,
                sync_duration,
                events,
                head_seq,
                check_state,
                check_findings,
                credential_expiry,
                grpc_requests,
                webhook_deliveries,
                clock_skew,
                archive_lag_entries,
                archive_lag_seconds,
                alerts_sent,
                alerts_failed,
                alerts_pending,
            }),
        }
    }

    /// Counts an alert message `destination` acknowledged.
    pub fn alert_sent(&self, destination: &str) {
        self.inner
            .alerts_sent
            .get_or_create(&destination_labels(destination))
            .inc();
    }

    /// Counts an attempt `destination` did not acknowledge.
    pub fn alert_failed(&self, destination: &str) {
        self.inner
            .alerts_failed
            .get_or_create(&destination_labels(destination))
            .inc();
    }

    /// Sets how many notifications `destination` has yet to acknowledge.
    pub fn alerts_pending(&self, destination: &str, pending: usize) {
        self.inner
            .alerts_pending
            .get_or_create(&destination_labels(destination))
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Counts an entry the ledger appended.
    pub fn observe(&self, entry: &Entry) {
        let inner = &self.inner;
        inner
            .events
            .get_or_create(&TypeLabels {
                r#type: entry.event.type_name().to_owned(),
            })
            .inc();
        self.set_head_seq(entry.seq);
        let (system, outcome, started_at, finished_at) = match &entry.event {
            Event::SyncCompleted {
                system,
                started_at,
                finished_at,
                ..
            } => (system, "completed", started_at, finished_at),
            Event::SyncFailed {
                system,
                started_at,
                finished_at,
                error_class,
                ..
            } => (system, error_class.as_str(), started_at, finished_at),
            _ => return,
        };
        inner
            .syncs
            .get_or_create(&SyncLabels {
                system: system.0.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
        let micros = (finished_at.as_micros() - started_at.as_micros()).max(0);
        inner
            .sync_duration
            .get_or_create(&SystemLabels {
                system: system.0.clone(),
            })
            .observe(micros as f64 / 1e6);
    }

    fn set_head_seq(&self, seq: u64) {
        self.inner
            .head_seq
            .set(i64::try_from(seq).unwrap_or(i64::MAX));
    }

    /// Sets the check series of `system` from what the checks say now, and the credential's
    /// time left as of `now`.
    fn set_status(
        &self,
        system: &str,
        report: &CheckReport,
        credential_expires: Option<Timestamp>,
        now: Timestamp,
    ) {
        let inner = &self.inner;
        for check in &report.checks {
            for state in STATES {
                inner
                    .check_state
                    .get_or_create(&CheckStateLabels {
                        system: system.to_owned(),
                        check: check.check_id.to_owned(),
                        state: state.as_str().to_owned(),
                    })
                    .set(i64::from(check.state == state));
            }
            inner
                .check_findings
                .get_or_create(&CheckLabels {
                    system: system.to_owned(),
                    check: check.check_id.to_owned(),
                })
                .set(i64::try_from(check.findings.len()).unwrap_or(i64::MAX));
        }
        let labels = SystemLabels {
            system: system.to_owned(),
        };
        match credential_expires {
            Some(expires) => {
                inner
                    .credential_expiry
                    .get_or_create(&labels)
                    .set(expires.seconds_since(now));
            }
            None => {
                inner.credential_expiry.remove(&labels);
            }
        }
    }

    /// Sets the measured skew of each source's clock.
    fn set_clock_skews(&self, readings: &[crate::skew::DateReading]) {
        for reading in readings {
            self.inner
                .clock_skew
                .get_or_create(&PeerLabels {
                    peer: reading.peer.to_lowercase(),
                })
                .set(reading.skew_micros() / 1_000_000);
        }
    }

    /// Sets how far the archive (`s3` or `dir`) is behind.
    fn set_archive_lag(&self, archive: &str, lag: crate::archive::Lag) {
        let labels = ArchiveLabels {
            archive: archive.to_owned(),
        };
        let inner = &self.inner;
        inner
            .archive_lag_entries
            .get_or_create(&labels)
            .set(i64::try_from(lag.entries).unwrap_or(i64::MAX));
        inner
            .archive_lag_seconds
            .get_or_create(&labels)
            .set(lag.seconds);
    }

    fn grpc_answered(&self, method: &str, code: &str) {
        self.inner
            .grpc_requests
            .get_or_create(&GrpcLabels {
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    fn webhook_answered(&self, status: u16) {
        self.inner
            .webhook_deliveries
            .get_or_create(&DeliveryLabels {
                status: status.to_string(),
            })
            .inc();
    }

    /// The series in the text format, as `GET /metrics` serves them (without evaluating the
    /// checks first).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.inner.registry);
        text
    }
}

fn destination_labels(destination: &str) -> DestinationLabels {
    DestinationLabels {
        destination: destination.to_owned(),
    }
}
