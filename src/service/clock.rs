//! The local clock against the sources' clocks, as the service knows it: the Truto listing's
//! `Date` judged before its roster is imported, and the `clock-skew` finding that
//! `integration-healthy` reports now, computed at each read from the last readings (never
//! recorded: an entry about the clock would carry an instant the ledger cannot vouch for).

use std::sync::PoisonError;

use super::{CheckReport, Service, ServiceError};
use crate::checks::{CheckState, Finding, Reason, Subject};
use crate::event::SystemId;
use crate::skew::DateReading;
use crate::tailscale::FetchError;
use crate::truto::{TrutoRead, TrutoSource};

/// The check `clock-skew` findings belong to.
const CHECK: &str = "integration-healthy";

impl Service {
    /// Reads the roster from Truto: what the read gave (a listing, or why Truto could not be
    /// read), or, importing and recording nothing, a refusal when Truto's `Date` and the local
    /// clock differ beyond `[server] max_clock_skew`.
    pub(super) async fn read_truto(
        &self,
        source: &TrutoSource,
    ) -> Result<Result<TrutoRead, FetchError>, ServiceError> {
        // Answers to anyone before this listing are not this listing's.
        let _ = source.take_date_reading();
        let read = source.read(self.timezone).await;
        if let Some(reading) = source.take_date_reading() {
            self.live_changed.send_replace(());
            *self
                .roster_date
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(reading);
            if let Err(skew) = reading.judge(self.ledger.max_clock_skew()) {
                return Err(ServiceError::ClockSkew(skew));
            }
        }
        Ok(read)
    }

    /// Changes whenever what is computed live may have changed (a source's clock was read):
    /// the alerts' loop derives again.
    pub fn live_changes(&self) -> tokio::sync::watch::Receiver<()> {
        self.live_changed.subscribe()
    }

    /// The last reading of each source's clock: the last sync's of each system, the last
    /// Truto listing's.
    pub fn date_readings(&self) -> Vec<DateReading> {
        let roster = *self
            .roster_date
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.syncers
            .values()
            .filter_map(|syncer| syncer.last_date_reading())
            .chain(roster)
            .collect()
    }

    /// Adds to `integration-healthy` of a report evaluated now a `clock-skew` finding for each
    /// source whose last reading differed from the local clock beyond the tolerance.
    pub(super) fn add_clock_findings(&self, system: &SystemId, report: &mut CheckReport) {
        let tolerance = self.ledger.max_clock_skew();
        let Some(check) = report
            .checks
            .iter_mut()
            .find(|check| check.check_id == CHECK)
        else {
            return;
        };
        for reading in self.date_readings() {
            let Err(skew) = reading.judge(tolerance) else {
                continue;
            };
            check.findings.push(Finding {
                state: CheckState::Failing,
                reason: Reason::ClockSkew,
                message: skew.to_string(),
                subject: Subject {
                    system: system.clone(),
                    account_id: None,
                    login_name: None,
                    employee_id: None,
                    device_id: None,
                    key_id: None,
                },
                since: report.evaluated_at,
                deadline: None,
                evidence: Vec::new(),
                exception_id: None,
            });
            check.state = CheckState::Failing;
        }
    }
}
