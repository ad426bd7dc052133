//! The service's part in alerts (docs/operating.md#alerts): the notifications the ledger
//! implies over the last `lookback`, with the deliveries recorded in it, and the recording of
//! new deliveries as `AlertDelivered` by `alerts`.

use std::time::Duration;

use super::{CheckReport, Service, ServiceError};
use crate::alerts::{Derived, Deriver, LiveFindings};
use crate::checks::{self, CHECKS, CheckResult, CheckState, Reason};
use crate::entry::Entry;
use crate::event::{Actor, Event, SystemId};
use crate::time::Timestamp;
use crate::timeline::Window;

/// What the ledger and the live alarms imply now for alerts.
#[derive(Clone, Debug)]
pub struct AlertWindow {
    /// The instant derived up to (included).
    pub now: Timestamp,
    /// The derivation, to bring forward at the next pass.
    pub deriver: Deriver,
    /// The next instant at which time alone changes a check or a live alarm, if any.
    pub next_change: Option<Timestamp>,
}

impl AlertWindow {
    pub fn derived(&self) -> &Derived {
        self.deriver.derived()
    }
}

/// The reasons the service adds live to a report evaluated now ([`Service::add_live_findings`]):
/// an alarm of one of these recorded open and not reported now is resolved.
const LIVE_REASONS: [Reason; 4] = [
    Reason::ClockSkew,
    Reason::ArchiveBehind,
    Reason::WitnessRefused,
    Reason::WitnessBehind,
];

impl Service {
    /// The notifications of `system` over the last `lookback` up to now included, and the
    /// deliveries recorded in that window, with the alarms computed live now.
    pub async fn alert_window(
        &self,
        system: SystemId,
        lookback: Duration,
    ) -> Result<AlertWindow, ServiceError> {
        self.alert_pass(system, lookback, None).await
    }

    /// [`Service::alert_window`] brought forward from a previous pass's `deriver`: only the
    /// entries after the last it applied are read, and only the instants after the last it
    /// reached are evaluated.
    pub async fn alert_pass(
        &self,
        system: SystemId,
        lookback: Duration,
        previous: Option<Deriver>,
    ) -> Result<AlertWindow, ServiceError> {
        let now = self.now();
        self.blocking(move |service| {
            let micros = i64::try_from(lookback.as_micros()).unwrap_or(i64::MAX);
            let since = now.saturating_add_micros(-micros);
            let settings_at = |at| service.settings_at(&system, at).settings;
            let mut deriver = match previous {
                Some(mut deriver) => {
                    let entries = service
                        .ledger
                        .log()
                        .read_ahead(deriver.applied_seq() + 1)
                        .entries();
                    deriver.advance(entries, now, &settings_at)?;
                    deriver
                }
                None => {
                    let first = service.ledger.log().get(1)?.map(|entry| entry.recorded_at);
                    let Some(first) = first.filter(|first| *first <= now) else {
                        return Ok(AlertWindow {
                            now,
                            deriver: Deriver::start(Default::default(), system, now),
                            next_change: None,
                        });
                    };
                    let from = since.max(first);
                    let (projections, entries) = service.ledger.state_and_entries_after(from)?;
                    let mut deriver = Deriver::start(projections, system.clone(), from);
                    deriver.advance(entries, now, &settings_at)?;
                    deriver
                }
            };
            deriver.observe_live(service.live_findings(&system, now), now);
            deriver.forget_before(since);
            let next_change =
                checks::next_time_change(deriver.projections(), &system, now, &settings_at(now))
                    .into_iter()
                    .chain(service.archive_behind_at(now))
                    .min();
            Ok(AlertWindow {
                now,
                deriver,
                next_change,
            })
        })
        .await
    }

    /// The findings the service adds live to a report of `system` evaluated now: the last
    /// sources' clocks, the archive's lag.
    pub(super) fn add_live_findings(&self, system: &SystemId, report: &mut CheckReport) {
        self.add_clock_findings(system, report);
        self.add_archive_findings(system, report);
        self.add_witness_findings(system, report);
    }

    /// The findings computed live at `at` (only the checks that have some).
    fn live_findings(&self, system: &SystemId, at: Timestamp) -> LiveFindings {
        let mut report = CheckReport {
            evaluated_at: at,
            head: None,
            checks: CHECKS
                .iter()
                .map(|(check_id, title)| CheckResult {
                    check_id,
                    title,
                    state: CheckState::Passing,
                    findings: Vec::new(),
                })
                .collect(),
            settings_recorded_from_seq: None,
        };
        self.add_live_findings(system, &mut report);
        LiveFindings {
            reasons: LIVE_REASONS.to_vec(),
            results: report
                .checks
                .into_iter()
                .filter(|check| !check.findings.is_empty())
                .collect(),
        }
    }

    /// The `AlertDelivered` entries of `system` recorded in `window`, in seq order: who was told
    /// what and when, for the evidence pack.
    pub async fn alert_deliveries(
        &self,
        system: SystemId,
        window: Window,
    ) -> Result<Vec<Entry>, ServiceError> {
        const PAGE: usize = 1_000;
        self.blocking(move |service| {
            let log = service.ledger.log();
            let mut next = log.last_seq_recorded_by(window.from)?.saturating_add(1);
            let mut deliveries = Vec::new();
            loop {
                let page = log.read(next, PAGE)?;
                for entry in &page {
                    if entry.recorded_at >= window.to {
                        return Ok(deliveries);
                    }
                    if matches!(&entry.event, Event::AlertDelivered { system: of, .. } if *of == system)
                        && entry.recorded_at >= window.from
                    {
                        deliveries.push(entry.clone());
                    }
                }
                match page.last() {
                    Some(last) if page.len() == PAGE => next = last.seq + 1,
                    _ => return Ok(deliveries),
                }
            }
        })
        .await
    }

    /// Records deliveries (`AlertDelivered` events) as one batch by `alerts`.
    pub async fn record_alert_deliveries(
        &self,
        deliveries: Vec<Event>,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(Actor::Alerts, move |_| Ok(deliveries))
            .await
    }
}
