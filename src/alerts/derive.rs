//! Which notifications the ledger implies (docs/operating.md#alerts): every finding changing
//! state over a window, by an entry or by time alone, each with a stable id, and which of them
//! each destination has acknowledged (`AlertDelivered`). Pure: the projections as of the
//! window's start and the entries after it are handed in, as to [`crate::timeline::fold`].

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

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

    fn of(state: CheckState) -> Change {
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
    /// In the order they happened.
    pub notifications: Vec<Notification>,
    /// `(destination, notification id)` of every `AlertDelivered` in the window.
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
/// recorded in the window. `projections` and `entries` as [`crate::timeline::fold`] takes them.
pub fn derive<E, R: Deref<Target = Entry>>(
    projections: Projections,
    entries: impl IntoIterator<Item = Result<R, E>>,
    system: &SystemId,
    window: Window,
    settings_at: &dyn Fn(Timestamp) -> CheckSettings,
) -> Result<(Derived, Projections), E> {
    let mut walker = Deriving {
        system: system.clone(),
        open: None,
        derived: Derived::default(),
    };
    let projections = walk(
        projections,
        entries,
        system,
        window,
        settings_at,
        &mut walker,
    )?;
    Ok((walker.derived, projections))
}

/// A finding from one evaluation to the next: its check, reason and what it is about.
type Key = (
    &'static str,
    &'static str,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn key(check_id: &'static str, finding: &Finding) -> Key {
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

struct Deriving {
    system: SystemId,
    /// The findings reported at the last evaluation; `None` before the first.
    open: Option<BTreeMap<Key, (&'static str, Finding)>>,
    derived: Derived,
}

impl Walker for Deriving {
    fn entry(&mut self, entry: &Entry) {
        if let Event::AlertDelivered {
            system,
            destination,
            notification_id,
            ..
        } = &entry.event
            && *system == self.system
        {
            self.derived
                .delivered
                .insert((destination.clone(), notification_id.clone()));
        }
    }

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
            self.derived.notifications.push(Notification {
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
fn notification_id(system: &SystemId, key: &Key, change: Change, at: Timestamp) -> String {
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
