//! The archive as the service knows it: the running archiver's progress, the lag it gives, and
//! the `archive-behind` finding `integration-healthy` reports now when the oldest entry not yet
//! archived has waited longer than `[archive] max_lag` — computed at each read from the live
//! progress, never recorded (the archive's state is not a fact about the tailnet).

use std::sync::Arc;

use super::{CheckReport, Service};
use crate::archive::{ArchiveStatus, Lag};
use crate::checks::{CheckState, Finding, Reason, Subject};
use crate::event::SystemId;
use crate::time::Timestamp;

/// The check `archive-behind` findings belong to.
const CHECK: &str = "integration-healthy";

impl Service {
    /// Makes reads report the archive's lag from `status`, which the archiver updates.
    pub fn set_archive_status(&mut self, status: Arc<ArchiveStatus>) {
        self.archive = Some(status);
    }

    /// How far the archive (`s3` or `dir`) is behind the head now, when `[archive]` is
    /// configured.
    pub fn archive_lag(&self) -> Option<(&'static str, Lag)> {
        let status = self.archive.as_ref()?;
        let head = self.head().map_or(0, |head| head.seq);
        Some((status.kind, status.lag(head, self.now())))
    }

    /// When the archive, behind but within `max_lag` now, reports `archive-behind` if nothing is
    /// archived meanwhile: the alerts' loop wakes then.
    pub(super) fn archive_behind_at(&self, now: Timestamp) -> Option<Timestamp> {
        let status = self.archive.as_ref()?;
        let head = self.head().map_or(0, |head| head.seq);
        let lag = status.lag(head, now);
        if lag.entries == 0 || status.is_behind(lag) {
            return None;
        }
        let max_lag = i64::try_from(status.max_lag.as_secs()).unwrap_or(i64::MAX);
        let wait = max_lag.saturating_sub(lag.seconds).saturating_add(1);
        Some(now.saturating_add_micros(wait.saturating_mul(1_000_000)))
    }

    /// Adds to `integration-healthy` of a report evaluated now an `archive-behind` finding when
    /// the archive's lag is past `max_lag`.
    pub(super) fn add_archive_findings(&self, system: &SystemId, report: &mut CheckReport) {
        let Some(status) = &self.archive else {
            return;
        };
        let head = self.head().map_or(0, |head| head.seq);
        let lag = status.lag(head, report.evaluated_at);
        if !status.is_behind(lag) {
            return;
        }
        let Some(check) = report
            .checks
            .iter_mut()
            .find(|check| check.check_id == CHECK)
        else {
            return;
        };
        check.findings.push(Finding {
            state: CheckState::Failing,
            reason: Reason::ArchiveBehind,
            message: format!(
                "the archive is {} entries behind, the oldest waiting {}s (max_lag {}): the evidence off the machine is not current",
                lag.entries,
                lag.seconds,
                humantime::format_duration(status.max_lag)
            ),
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
