//! Alarms computed live rather than from entries (docs/operating.md#alerts): findings the
//! service adds to a report evaluated now (`clock-skew`, `archive-behind`, any other it adds)
//! turned into notifications. The ledger cannot date them, so an alarm's instant is the first
//! pass that saw it open, and its id is what changed at that instant: the alarm opening, and its
//! resolution (dated by the opening too, so a pass seeing it closed again gives the same id).
//! After a restart an alarm whose opening a destination acknowledged resumes from the
//! `AlertDelivered` that recorded it, so it is neither sent again nor left unresolved. Pure: the
//! live findings and the instant are handed in.

use std::collections::BTreeMap;

use super::derive::{Change, Deriver, Notification, key, notification_id, subject_text};
use crate::checks::{CheckResult, Finding, Reason};
use crate::time::Timestamp;

/// What the service computes live at an instant.
#[derive(Clone, Debug, Default)]
pub struct LiveFindings {
    /// Every reason the service may add live, reported or not: a recorded alarm of one of
    /// these that is not reported now is resolved.
    pub reasons: Vec<Reason>,
    /// The checks with the findings added live (only those).
    pub results: Vec<CheckResult>,
}

/// An alarm by check, reason and subject text (as `AlertDelivered` records them).
type AlarmKey = (String, String, String);

/// An open alarm: since when, and its finding.
#[derive(Clone, Debug)]
pub struct Open {
    opened_at: Timestamp,
    title: &'static str,
    check_id: &'static str,
    finding: Finding,
}

/// The live alarms open at the last pass.
#[derive(Clone, Debug, Default)]
pub struct LiveAlarms {
    /// `None` before the first pass (which resumes from the ledger's deliveries).
    open: Option<BTreeMap<AlarmKey, Open>>,
}

impl LiveAlarms {
    /// Compares `live`, computed at `at`, with the last pass, and adds to `deriver`'s
    /// notifications each alarm that opened (dated `at`, or by its recorded opening after a
    /// restart) and each that closed.
    pub fn observe(&mut self, deriver: &mut Deriver, live: LiveFindings, at: Timestamp) {
        let system = deriver.system().clone();
        let mut now: BTreeMap<AlarmKey, Open> = BTreeMap::new();
        for result in live.results {
            for finding in result.findings {
                let alarm = (
                    result.check_id.to_owned(),
                    finding.reason.as_str().to_owned(),
                    subject_text(&finding.subject),
                );
                // One alarm per check, reason and subject: the first finding stands for it.
                now.entry(alarm).or_insert(Open {
                    opened_at: at,
                    title: result.title,
                    check_id: result.check_id,
                    finding,
                });
            }
        }
        let before = match self.open.take() {
            Some(before) => before,
            None => resumed(deriver, &live.reasons, &now),
        };
        let mut notifications = Vec::new();
        for (alarm, open) in &mut now {
            match before.get(alarm) {
                Some(was) => open.opened_at = was.opened_at,
                None => notifications.push(notification(&system, open, None, at)),
            }
        }
        for (alarm, was) in &before {
            if !now.contains_key(alarm) {
                notifications.push(notification(&system, was, Some(Change::Resolved), at));
            }
        }
        // A resumed alarm still open is derived again (same id), so a destination that had
        // not acknowledged it still gets it.
        if self.open.is_none() {
            for (alarm, open) in &now {
                if before.contains_key(alarm) {
                    notifications.push(notification(&system, open, None, at));
                }
            }
        }
        deriver.derived_mut().notifications.extend(notifications);
        self.open = Some(now);
    }
}

/// The alarms open before the first pass: each live one whose last recorded delivery opened it
/// (an alarm never acknowledged is new again).
fn resumed(
    deriver: &Deriver,
    reasons: &[Reason],
    now: &BTreeMap<AlarmKey, Open>,
) -> BTreeMap<AlarmKey, Open> {
    let live = |reason: &str| reasons.iter().any(|live| live.as_str() == reason);
    deriver
        .last_delivered
        .iter()
        .filter(|((_, reason, _), (state, _))| live(reason) && state != Change::Resolved.as_str())
        .filter_map(|(alarm, (_, changed_at))| {
            let (check_id, title) = crate::checks::CHECKS
                .iter()
                .find(|(id, _)| *id == alarm.0)?;
            // The finding now if it is still open, else one standing for the recorded one.
            let finding = match now.get(alarm) {
                Some(open) => open.finding.clone(),
                None => {
                    let reason = *Reason::ALL
                        .iter()
                        .find(|reason| reason.as_str() == alarm.1)?;
                    Finding {
                        state: crate::checks::CheckState::Failing,
                        reason,
                        message: String::new(),
                        subject: crate::checks::Subject {
                            system: deriver.system().clone(),
                            account_id: None,
                            login_name: None,
                            employee_id: None,
                            device_id: None,
                            key_id: None,
                        },
                        since: *changed_at,
                        deadline: None,
                        evidence: Vec::new(),
                        exception_id: None,
                    }
                }
            };
            Some((
                alarm.clone(),
                Open {
                    opened_at: *changed_at,
                    title,
                    check_id,
                    finding,
                },
            ))
        })
        .collect()
}

/// The notification of `open` opening (`resolved` `None`) or closing at `at`; both are dated,
/// in their id, by the opening.
fn notification(
    system: &crate::event::SystemId,
    open: &Open,
    resolved: Option<Change>,
    at: Timestamp,
) -> Notification {
    let change = resolved.unwrap_or_else(|| Change::of(open.finding.state));
    let key = key(open.check_id, &open.finding);
    Notification {
        id: notification_id(system, &key, change, open.opened_at),
        system: system.clone(),
        check_id: open.check_id,
        title: open.title,
        reason: open.finding.reason,
        subject: open.finding.subject.clone(),
        message: open.finding.message.clone(),
        previous: resolved.map(|_| open.finding.state),
        change,
        at: if resolved.is_some() {
            at
        } else {
            open.opened_at
        },
        seq: None,
        deadline: None,
    }
}
