//! The service's part in alerts (docs/operating.md#alerts): the notifications the ledger
//! implies over the last `lookback`, with the deliveries recorded in it, and the recording of
//! new deliveries as `AlertDelivered` by `alerts`.

use std::time::Duration;

use super::{Service, ServiceError};
use crate::alerts::derive::{self, Derived};
use crate::checks;
use crate::entry::Entry;
use crate::event::{Actor, Event, SystemId};
use crate::time::Timestamp;
use crate::timeline::Window;

/// What the ledger implies now for alerts.
#[derive(Clone, Debug)]
pub struct AlertWindow {
    /// The instant derived up to (included).
    pub now: Timestamp,
    pub derived: Derived,
    /// The next instant at which time alone changes a check, if any.
    pub next_change: Option<Timestamp>,
}

impl Service {
    /// The notifications of `system` over the last `lookback` up to now included, and the
    /// deliveries recorded in that window.
    pub async fn alert_window(
        &self,
        system: SystemId,
        lookback: Duration,
    ) -> Result<AlertWindow, ServiceError> {
        let now = self.now();
        self.blocking(move |service| {
            let first = service.ledger.log().get(1)?.map(|entry| entry.recorded_at);
            let Some(first) = first.filter(|first| *first <= now) else {
                return Ok(AlertWindow {
                    now,
                    derived: Derived::default(),
                    next_change: None,
                });
            };
            let micros = i64::try_from(lookback.as_micros()).unwrap_or(i64::MAX);
            let window = Window {
                from: now.saturating_add_micros(-micros).max(first),
                to: now.saturating_add_micros(1),
            };
            let (projections, entries) = service.ledger.state_and_entries_after(window.from)?;
            let settings_at = |at| service.settings_at(&system, at).settings;
            let (derived, projections) =
                derive::derive(projections, entries, &system, window, &settings_at)?;
            let next_change =
                checks::next_time_change(&projections, &system, now, &settings_at(now));
            Ok(AlertWindow {
                now,
                derived,
                next_change,
            })
        })
        .await
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
