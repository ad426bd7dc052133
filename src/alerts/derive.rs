//! Which notifications the ledger implies (docs/operating.md#alerts): every finding changing
//! state over a window, by an entry or by time alone, each with a stable id, and which of them
//! each destination has acknowledged (`AlertDelivered`). Pure: the projections as of the
//! window's start and the entries after it are handed in, as to [`crate::timeline::fold`].

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::live::{LiveAlarms, LiveFindings};
use crate::checks::{CHECKS, CheckResult, CheckSettings, CheckState, Finding, Reason, Subject};
use crate::entry::Entry;
use crate::event::{Event, SystemId};
use crate::projection::Projections;
use crate::time::Timestamp;
use crate::timeline::{Walker, Window, walk};

/// The state a finding moved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Change {
    Due,
    Failing,
    Excepted,
    /// No longer reported.
    Resolved,
}

impl Change {
    pub const ALL: [Change; 4] = [
        Change::Due,
        Change::Failing,
        Change::Excepted,
        Change::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Change::Due => "DUE",
            Change::Failing => "FAILING",
            Change::Excepted => "EXCEPTED",
            Change::Resolved => "RESOLVED",
        }
    }

    /// The change with this name, if any.
    pub fn parse(text: &str) -> Option<Change> {
        Self::ALL.into_iter().find(|change| change.as_str() == text)
    }

    pub(super) fn of(state: CheckState) -> Change {
        match state {
            CheckState::Due => Change::Due,
            CheckState::Failing => Change::Failing,
            CheckState::Excepted => Change::Excepted,
            // A finding is never PASSING: it is reported or it is not.
            CheckState::Passing => Change::Resolved,
        }
    }
}

/// One finding changing state: what a route may send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// Stable: a hash of what changed and when, the same however often it is derived.
    pub id: String,
    pub system: SystemId,
    pub check_id: &'static str,
    pub title: &'static str,
    pub reason: Reason,
    pub subject: Subject,
    /// The finding's sentence (the last one reported, for a resolved finding).
    pub message: String,
    /// The state before; `None` when the finding is new.
    pub previous: Option<CheckState>,
    pub change: Change,
    /// The instant of the change: an entry's `recorded_at`, or an instant time alone changed it.
    pub at: Timestamp,
    /// The last entry recorded at `at`; `None` when time alone made the change.
    pub seq: Option<u64>,
    pub deadline: Option<Timestamp>,
}

impl Notification {
    /// What the finding is about, in one line: login name, employee, device and key, or the
    /// system.
    pub fn subject_text(&self) -> String {
        subject_text(&self.subject)
    }
}

/// What the finding is about, in one line.
pub fn subject_text(subject: &Subject) -> String {
    let parts: Vec<&str> = [
        subject.login_name.as_deref(),
        subject.employee_id.as_deref(),
        subject.device_id.as_deref(),
        subject.key_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        subject.system.to_string()
    } else {
        parts.join(" / ")
    }
}

/// The notifications of a window and what was acknowledged in it.
#[derive(Clone, Debug, Default)]
pub struct Derived {
    /// In the order they happened (the live alarms' after the ledger's).
    pub notifications: Vec<Notification>,
    /// `(destination, notification id)` of every `AlertDelivered` read.
    pub delivered: BTreeSet<(String, String)>,
}

impl Derived {
    pub fn is_delivered(&self, destination: &str, id: &str) -> bool {
        self.delivered
            .contains(&(destination.to_owned(), id.to_owned()))
    }
}

/// The notifications of `system` over `window`: every finding whose state changed after
/// `window.from` (the state then is the baseline) and before `window.to`; with the deliveries
/// recorded in the entries read. `projections` and `entries` as [`crate::timeline::fold`] takes
/// them. A [`Deriver`] started at `window.from` and brought forward to `window.to` in any
/// number of passes derives the same.
pub fn derive<E, R: Deref<Target = Entry>>(
    projections: Projections,
    entries: impl IntoIterator<Item = Result<R, E>>,
    system: &SystemId,
    window: Window,
    settings_at: &dyn Fn(Timestamp) -> CheckSettings,
) -> Result<(Derived, Projections), E> {
    let mut deriver = Deriver::start(projections, system.clone(), window.from);
    deriver.advance(entries, window.to.saturating_add_micros(-1), settings_at)?;
    Ok((deriver.derived, deriver.projections))
}

/// The derivation brought forward pass by pass (docs/operating.md#alerts): each pass reads only
/// the entries after the last one applied and evaluates only from the instant the last pass
/// reached, so the delivery loop does not derive its whole lookback on each entry.
#[derive(Clone, Debug)]
pub struct Deriver {
    system: SystemId,
    projections: Projections,
    /// The instant derived up to (included): the next pass evaluates again from it.
    at: Timestamp,
    walker: Deriving,
    derived: Derived,
    /// The last `AlertDelivered` read of each `(check id, reason, subject text)`: its state and
    /// changed instant, from which the live alarms resume after a restart.
    pub(super) last_delivered: BTreeMap<(String, String, String), (String, Timestamp)>,
    live: LiveAlarms,
}

impl Deriver {
    /// A derivation whose baseline is the state at `from`: `projections` is any prefix of the
    /// ledger at or before `from`, and the first [`Deriver::advance`] is handed the entries
    /// after it.
    pub fn start(projections: Projections, system: SystemId, from: Timestamp) -> Deriver {
        Deriver {
            walker: Deriving {
                system: system.clone(),
                open: None,
                notifications: Vec::new(),
            },
            system,
            projections,
            at: from,
            derived: Derived::default(),
            last_delivered: BTreeMap::new(),
            live: LiveAlarms::default(),
        }
    }

    /// Derives up to `to` included, from the entries after the last one applied
    /// ([`Deriver::applied_seq`]), in seq order. A `to` before the last pass's derives nothing
    /// new. On an error the deriver is to be dropped and started again.
    pub fn advance<E, R: Deref<Target = Entry>>(
        &mut self,
        entries: impl IntoIterator<Item = Result<R, E>>,
        to: Timestamp,
        settings_at: &dyn Fn(Timestamp) -> CheckSettings,
    ) -> Result<(), E> {
        let window = Window {
            from: self.at,
            to: to.max(self.at).saturating_add_micros(1),
        };
        let delivered = &mut self.derived.delivered;
        let last_delivered = &mut self.last_delivered;
        let system = &self.system;
        let from = self.at;
        // The last entry recorded at or before `from` that this pass reads: one appended after
        // the last pass evaluated `from`, whose batch the evaluation at `from` answers again.
        let late = Cell::new(None);
        let entries = entries.into_iter().inspect(|entry| {
            let Ok(entry) = entry else {
                return;
            };
            if entry.recorded_at <= from {
                late.set(Some(entry.seq));
            }
            if let Event::AlertDelivered {
                system: of,
                destination,
                notification_id,
                check_id,
                reason,
                subject,
                state,
                changed_at,
                ..
            } = &entry.event
                && of == system
            {
                delivered.insert((destination.clone(), notification_id.clone()));
                last_delivered.insert(
                    (check_id.clone(), reason.clone(), subject.clone()),
                    (state.clone(), *changed_at),
                );
            }
        });
        let projections = std::mem::take(&mut self.projections);
        let mut pass = Pass {
            deriving: &mut self.walker,
            late: &late,
            first: true,
        };
        self.projections = walk(
            projections,
            entries,
            &self.system,
            window,
            settings_at,
            &mut pass,
        )?;
        self.derived
            .notifications
            .append(&mut self.walker.notifications);
        self.at = self.at.max(to);
        Ok(())
    }

    /// Adds the notifications of the alarms computed live at `at` ([`LiveAlarms`]).
    pub fn observe_live(&mut self, live: LiveFindings, at: Timestamp) {
        let mut alarms = std::mem::take(&mut self.live);
        alarms.observe(self, live, at);
        self.live = alarms;
    }

    /// The seq of the last entry applied: the next pass reads the entries after it.
    pub fn applied_seq(&self) -> u64 {
        self.projections.last_seq()
    }

    /// The instant derived up to (included).
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The projections as of the last entry applied (for checks: no subject index).
    pub fn projections(&self) -> &Projections {
        &self.projections
    }

    pub fn system(&self) -> &SystemId {
        &self.system
    }

    pub fn derived(&self) -> &Derived {
        &self.derived
    }

    pub(super) fn derived_mut(&mut self) -> &mut Derived {
        &mut self.derived
    }

    /// Forgets the notifications that happened before `at` (the lookback's start), and the
    /// deliveries of those it forgot.
    pub fn forget_before(&mut self, at: Timestamp) {
        let derived = &mut self.derived;
        derived
            .notifications
            .retain(|notification| notification.at >= at);
        let kept: BTreeSet<&str> = derived
            .notifications
            .iter()
            .map(|notification| notification.id.as_str())
            .collect();
        derived
            .delivered
            .retain(|(_, id)| kept.contains(id.as_str()));
        self.last_delivered
            .retain(|_, (_, changed_at)| *changed_at >= at);
    }
}

/// A finding from one evaluation to the next: its check, reason and what it is about.
pub(super) type Key = (
    &'static str,
    &'static str,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(super) fn key(check_id: &'static str, finding: &Finding) -> Key {
    let subject = &finding.subject;
    (
        check_id,
        finding.reason.as_str(),
        subject.account_id.clone(),
        subject.employee_id.clone(),
        subject.device_id.clone(),
        subject.key_id.clone(),
    )
}

/// One pass of a [`Deriver`]: its first evaluation, at the instant the last pass reached,
/// closes the batches recorded by then that the last pass had not read.
struct Pass<'a> {
    deriving: &'a mut Deriving,
    late: &'a Cell<Option<u64>>,
    first: bool,
}

impl Walker for Pass<'_> {
    fn evaluated(&mut self, at: Timestamp, results: Vec<CheckResult>, closing_seq: Option<u64>) {
        let closing_seq = if std::mem::take(&mut self.first) {
            self.late.get()
        } else {
            closing_seq
        };
        self.deriving.evaluated(at, results, closing_seq);
    }
}

#[derive(Clone, Debug)]
struct Deriving {
    system: SystemId,
    /// The findings reported at the last evaluation; `None` before the first.
    open: Option<BTreeMap<Key, (&'static str, Finding)>>,
    /// Derived in the current pass.
    notifications: Vec<Notification>,
}

impl Walker for Deriving {
    fn evaluated(&mut self, at: Timestamp, results: Vec<CheckResult>, closing_seq: Option<u64>) {
        let now: BTreeMap<Key, (&'static str, Finding)> = results
            .into_iter()
            .flat_map(|result| {
                let (check_id, title) = (result.check_id, result.title);
                result
                    .findings
                    .into_iter()
                    .map(move |finding| (key(check_id, &finding), (title, finding)))
            })
            .collect();
        let Some(before) = self.open.replace(now) else {
            return;
        };
        let now = self.open.as_ref().expect("just set");
        let mut changed = Vec::new();
        for (key, (title, finding)) in now {
            let previous = before.get(key).map(|(_, finding)| finding.state);
            if previous != Some(finding.state) {
                changed.push((key, *title, finding, previous, Change::of(finding.state)));
            }
        }
        for (key, (title, finding)) in &before {
            if !now.contains_key(key) {
                changed.push((key, *title, finding, Some(finding.state), Change::Resolved));
            }
        }
        for (key, title, finding, previous, change) in changed {
            self.notifications.push(Notification {
                id: notification_id(&self.system, key, change, at),
                system: self.system.clone(),
                check_id: key.0,
                title,
                reason: finding.reason,
                subject: finding.subject.clone(),
                message: finding.message.clone(),
                previous,
                change,
                at,
                seq: closing_seq,
                deadline: (change != Change::Resolved)
                    .then_some(finding.deadline)
                    .flatten(),
            });
        }
    }
}

/// The id of a change: the first 16 bytes of the SHA-256 of what changed and when, in hex.
pub(super) fn notification_id(
    system: &SystemId,
    key: &Key,
    change: Change,
    at: Timestamp,
) -> String {
    let (check_id, reason, account, employee, device, key_id) = key;
    let mut hash = Sha256::new();
    for part in [
        "tailledger-alert/v1",
        system.0.as_str(),
        check_id,
        reason,
        account.as_deref().unwrap_or(""),
        employee.as_deref().unwrap_or(""),
        device.as_deref().unwrap_or(""),
        key_id.as_deref().unwrap_or(""),
        change.as_str(),
        &at.as_micros().to_string(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..16])
}

/// The title of a check by id, for messages about notifications read back from the ledger.
pub fn check_title(check_id: &str) -> Option<&'static str> {
    CHECKS
        .iter()
        .find(|(id, _)| *id == check_id)
        .map(|(_, title)| *title)
}
