//! The people on the HR roster, as the employee events describe them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::Mark;
use super::lookup::lowercase;
use super::roster_sources::{RosterSources, Said, source_of};
use crate::entry::Entry;
use crate::event::{EmployeeRecord, Event, RosterProblem};
use crate::hash::Hash256;
use crate::time::Timestamp;

/// An offboarding as recorded: when it takes effect, and the entry that recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offboarding {
    pub effective_at: Timestamp,
    pub recorded: Mark,
}

/// One employee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployeeState {
    pub record: EmployeeRecord,
    /// The entry that set the current org role.
    pub org_role_since: Mark,
    /// The entry that set the current email, which an auto link matches.
    pub email_since: Mark,
    /// The current offboarding, if one was recorded and not withdrawn.
    pub offboarding: Option<Offboarding>,
    /// The latest entry about this employee.
    pub last_change: Mark,
}

/// Where an employee stands at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmployeeStatus {
    Active,
    /// An offboarding is recorded and takes effect later.
    Leaving,
    Offboarded,
}

impl EmployeeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmployeeStatus::Active => "active",
            EmployeeStatus::Leaving => "leaving",
            EmployeeStatus::Offboarded => "offboarded",
        }
    }
}

impl EmployeeState {
    /// Where the person stands at `now`.
    pub fn status_at(&self, now: Timestamp) -> EmployeeStatus {
        match &self.offboarding {
            None => EmployeeStatus::Active,
            Some(offboarding) if offboarding.effective_at > now => EmployeeStatus::Leaving,
            Some(_) => EmployeeStatus::Offboarded,
        }
    }

    /// Whether the person has left at `now`: an offboarding took effect at or before it.
    pub fn has_left(&self, now: Timestamp) -> bool {
        self.offboarding
            .as_ref()
            .is_some_and(|offboarding| offboarding.effective_at <= now)
    }
}

/// The configured roster file as last refused, or its source as last unreadable, until a roster
/// is accepted again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterRejection {
    pub sha256: Hash256,
    pub problem_count: u64,
    pub first_problem: Option<RosterProblem>,
    pub recorded: Mark,
}

impl RosterRejection {
    /// Why the source could not be read, when that is what was recorded rather than a refusal
    /// of what it held.
    pub fn unreadable(&self) -> Option<&str> {
        self.first_problem
            .as_ref()
            .filter(|problem| problem.line == crate::roster::UNREADABLE_LINE)
            .map(|problem| problem.reason.as_str())
    }
}

type ByEmail = HashMap<String, String, foldhash::fast::RandomState>;

/// Every employee, by id, with an index by lower-cased email, and whether the roster file they
/// come from is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employees {
    /// Boxed, so that the map's nodes hold a pointer rather than the whole state: a map built
    /// in id order (an import) leaves its nodes about half full, and half-empty slots of a
    /// pointer cost far less than half-empty slots of a state (a 500,000-row import: 60 MB).
    by_id: BTreeMap<String, Box<EmployeeState>>,
    /// Hashed, not ordered: nothing walks it in email order, and resolving an account's link
    /// looks its email up (an ordered map's string comparisons were a twentieth of a timeline).
    /// Seeded per process, so emails chosen upstream cannot be made to collide.
    by_email: ByEmail,
    roster_rejection: Option<RosterRejection>,
    /// What each configured roster source last said of each person's departure.
    roster_sources: RosterSources,
}

impl Employees {
    pub fn get(&self, employee_id: &str) -> Option<&EmployeeState> {
        self.by_id.get(employee_id).map(Box::as_ref)
    }

    /// The employee whose email matches, compared case-insensitively.
    pub fn by_email(&self, email: &str) -> Option<&EmployeeState> {
        self.by_email
            .get(&*lowercase(email))
            .and_then(|employee_id| self.get(employee_id))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &EmployeeState> {
        self.by_id.values().map(Box::as_ref)
    }

    /// What the configured roster sources last said, and where the ledger holds otherwise.
    pub fn roster_sources(&self) -> &RosterSources {
        &self.roster_sources
    }

    /// The refusal of the roster file, while no file has been accepted since.
    pub fn roster_rejection(&self) -> Option<&RosterRejection> {
        self.roster_rejection.as_ref()
    }

    /// The employees in id order after the id `after` (all of them for `None`).
    pub fn after(&self, after: Option<&str>) -> impl Iterator<Item = &EmployeeState> {
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        self.by_id
            .range::<str, _>((start, std::ops::Bound::Unbounded))
            .map(|(_, employee)| employee.as_ref())
    }

    /// Drops `email` from the index if it still points at `employee_id`: within one batch another
    /// employee may already have taken it over.
    fn forget_email(by_email: &mut ByEmail, email: &str, employee_id: &str) {
        let key = lowercase(email);
        if by_email
            .get(&*key)
            .is_some_and(|holder| holder == employee_id)
        {
            by_email.remove(&*key);
        }
    }

    pub(super) fn apply(&mut self, entry: &Entry) {
        let Some((employee_id, said)) = self.apply_event(entry) else {
            return;
        };
        let Some(employee) = self.by_id.get(&employee_id) else {
            return;
        };
        let switched = source_of(&entry.actor).is_some_and(|source| {
            self.roster_sources
                .record(source, employee, said, Mark::of(entry))
        });
        if switched {
            for employee in self.by_id.values() {
                self.roster_sources.judge(employee);
            }
        } else {
            self.roster_sources.judge(employee);
        }
    }

    /// Folds the event; returns whom it is about when it is about an employee, and what it
    /// says of their departure (`None` for an update, which says nothing of it).
    fn apply_event(&mut self, entry: &Entry) -> Option<(String, Option<Said>)> {
        let mark = Mark::of(entry);
        match &entry.event {
            Event::EmployeeOnboarded { employee } => {
                if let Some(previous) = self.by_id.get(&employee.employee_id) {
                    let email = previous.record.email.clone();
                    Self::forget_email(&mut self.by_email, &email, &employee.employee_id);
                }
                self.by_email
                    .insert(employee.email.to_lowercase(), employee.employee_id.clone());
                self.by_id.insert(
                    employee.employee_id.clone(),
                    Box::new(EmployeeState {
                        record: employee.clone(),
                        org_role_since: mark,
                        email_since: mark,
                        offboarding: None,
                        last_change: mark,
                    }),
                );
                return Some((employee.employee_id.clone(), Some(Said::Active)));
            }
            Event::EmployeeUpdated {
                employee_id,
                name,
                email,
                org_role,
            } => {
                let state = self.by_id.get_mut(employee_id)?;
                if let Some(change) = name {
                    state.record.name = change.to.clone();
                }
                if let Some(change) = email {
                    // The index holds the email as recorded, which is what is forgotten: an
                    // event's `from` says what the planner saw, and the two differ only in a
                    // ledger assembled by hand.
                    let recorded = std::mem::replace(&mut state.record.email, change.to.clone());
                    state.email_since = mark;
                    Self::forget_email(&mut self.by_email, &recorded, employee_id);
                    self.by_email
                        .insert(change.to.to_lowercase(), employee_id.clone());
                }
                if let Some(change) = org_role {
                    state.record.org_role = change.to.clone();
                    state.org_role_since = mark;
                }
                state.last_change = mark;
                return Some((employee_id.clone(), None));
            }
            Event::EmployeeOffboarded {
                employee_id,
                effective_at,
                ..
            } => {
                if let Some(state) = self.by_id.get_mut(employee_id) {
                    state.offboarding = Some(Offboarding {
                        effective_at: *effective_at,
                        recorded: mark,
                    });
                    state.last_change = mark;
                }
                return Some((employee_id.clone(), Some(Said::Left(*effective_at))));
            }
            Event::EmployeeReinstated { employee_id, .. } => {
                if let Some(state) = self.by_id.get_mut(employee_id) {
                    state.offboarding = None;
                    state.last_change = mark;
                }
                return Some((employee_id.clone(), Some(Said::Active)));
            }
            Event::RosterRejected {
                sha256,
                problem_count,
                problems,
            } => {
                self.roster_rejection = Some(RosterRejection {
                    sha256: *sha256,
                    problem_count: *problem_count,
                    first_problem: problems.first().cloned(),
                    recorded: mark,
                });
            }
            Event::RosterAccepted { .. } => self.roster_rejection = None,
            // Facts about systems: `SystemState::apply` folds them. Listed, not wildcarded, so
            // that a new event is a compile error here until someone decides what it means.
            Event::UserSeen { .. }
            | Event::UserRemoved { .. }
            | Event::RoleChanged { .. }
            | Event::StatusChanged { .. }
            | Event::AccountLinked { .. }
            | Event::AccountUnlinked { .. }
            | Event::AccountClassified { .. }
            | Event::AccountDeclassified { .. }
            | Event::AccessPolicySet { .. }
            | Event::SyncCompleted { .. }
            | Event::SyncFailed { .. }
            | Event::SyncAnomaly { .. }
            | Event::CredentialObserved { .. }
            | Event::RemovalsConfirmed { .. }
            | Event::WebhookReceived { .. }
            | Event::SettingsChanged { .. }
            | Event::ExceptionGranted { .. }
            | Event::ExceptionRevoked { .. } => {}
            // Reviews are kept beside the systems (`reviews.rs`).
            Event::AccessReviewStarted { .. }
            | Event::AccessReviewDecided { .. }
            | Event::AccessReviewCompleted { .. }
            | Event::AccessReviewReviewerReassigned { .. }
            | Event::AccessReviewCancelled { .. } => {}
            // An alert delivery says who was told, not what changed.
            Event::AlertDelivered { .. } | Event::WitnessRefused { .. } => {}
            Event::DeviceSeen { .. }
            | Event::DeviceChanged { .. }
            | Event::DeviceRemoved { .. }
            | Event::KeySeen { .. }
            | Event::KeyChanged { .. }
            | Event::KeyRemoved { .. }
            | Event::ChangeAttributed { .. } => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{EmployeeRecord, Event, FieldChange};
    use crate::projection::Projections;

    fn onboarded(employee_id: &str, email: &str) -> Event {
        Event::EmployeeOnboarded {
            employee: EmployeeRecord {
                employee_id: employee_id.to_owned(),
                email: email.to_owned(),
                name: None,
                org_role: "engineer".to_owned(),
                start_date: None,
            },
        }
    }

    fn email_changed(employee_id: &str, from: &str, to: &str) -> Event {
        Event::EmployeeUpdated {
            employee_id: employee_id.to_owned(),
            name: None,
            email: Some(FieldChange {
                from: from.to_owned(),
                to: to.to_owned(),
            }),
            org_role: None,
        }
    }

    fn holder<'a>(projections: &'a Projections, email: &str) -> Option<&'a str> {
        projections
            .employees()
            .by_email(email)
            .map(|employee| employee.record.employee_id.as_str())
    }

    /// An email an employee no longer has finds nobody, whether it changed by an update or by
    /// the employee being onboarded again; an email another employee took over in between
    /// stays theirs.
    #[test]
    fn an_email_given_up_no_longer_finds_the_employee() {
        let projections = Projections::after_events(vec![
            onboarded("e1", "Ana@Example.com"),
            email_changed("e1", "Ana@Example.com", "ana.s@example.com"),
            onboarded("e2", "bo@example.com"),
            onboarded("e3", "cy@example.com"),
            onboarded("e3", "cy.new@example.com"),
        ]);
        assert_eq!(holder(&projections, "ana@example.com"), None);
        assert_eq!(holder(&projections, "ANA.S@example.com"), Some("e1"));
        assert_eq!(holder(&projections, "cy@example.com"), None);
        assert_eq!(holder(&projections, "cy.new@example.com"), Some("e3"));

        let taken_over = Projections::after_events(vec![
            onboarded("e1", "ana@example.com"),
            onboarded("e2", "ana@example.com"),
            email_changed("e1", "ana@example.com", "ana.s@example.com"),
        ]);
        assert_eq!(holder(&taken_over, "ana@example.com"), Some("e2"));
    }
}
