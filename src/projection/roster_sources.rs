//! What each configured roster source (the roster file, `roster`; an HR system, `roster:<name>`)
//! last said of each employee's departure, read from the employee events that source's imports
//! recorded, and which employees the ledger now holds otherwise than the latest source says.
//!
//! An import compares its rows with what its source said before, not with the employees as the
//! ledger holds them, so an admin's decision stands until an admin withdraws it or the source
//! changes what it says of that person. Derived from the entries only (the actor of each), so a
//! ledger written before this was kept reads the same: each source's statements are those of
//! the events it recorded then.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::Mark;
use super::employees::EmployeeState;
use crate::event::Actor;
use crate::time::Timestamp;

/// The roster source an entry's actor names, if it is one: the configured roster file or HR
/// system. A roster an admin imports through the API is the admin's decision, not a source's.
pub fn source_of(actor: &Actor) -> Option<String> {
    match actor {
        Actor::Roster | Actor::RosterSource(_) => Some(actor.to_string()),
        Actor::Sync(_)
        | Actor::Config
        | Actor::Api(_)
        | Actor::Web(_)
        | Actor::Webhook(_)
        | Actor::Demo
        | Actor::Alerts
        | Actor::Witnesses => None,
    }
}

/// What a source said of a person's departure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Said {
    Active,
    /// Left, taking effect at this instant.
    Left(Timestamp),
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Said::Active => f.write_str("active"),
            Said::Left(at) => write!(f, "left at {at}"),
        }
    }
}

impl Said {
    /// What the ledger holds of `employee` now, in the same terms.
    pub fn of(employee: &EmployeeState) -> Said {
        employee
            .offboarding
            .as_ref()
            .map_or(Said::Active, |offboarding| {
                Said::Left(offboarding.effective_at)
            })
    }
}

/// A source's last statement about one person, and the entry that recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub said: Said,
    pub recorded: Mark,
}

/// Every source's statements, the source that spoke last, and the employees the ledger holds
/// otherwise than it says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterSources {
    by_source: BTreeMap<String, BTreeMap<String, Statement>>,
    latest: Option<String>,
    /// The employees whose departure, as the ledger holds it, is not what `latest` said.
    disagreements: BTreeSet<String>,
}

impl RosterSources {
    /// What `source` last said of `employee_id`, if it ever spoke of them.
    pub fn said(&self, source: &str, employee_id: &str) -> Option<&Statement> {
        self.by_source.get(source)?.get(employee_id)
    }

    /// The source that recorded something last.
    pub fn latest(&self) -> Option<&str> {
        self.latest.as_deref()
    }

    /// The employees, by id, whose departure as the ledger holds it differs from what the
    /// latest source last said of them, with that statement.
    pub fn disagreements(&self) -> impl Iterator<Item = (&str, &Statement)> {
        let said = self
            .latest
            .as_ref()
            .and_then(|source| self.by_source.get(source));
        self.disagreements
            .iter()
            .filter_map(move |employee_id| Some((employee_id.as_str(), said?.get(employee_id)?)))
    }

    /// Records that `source` said `said` of `employee` (`None`: it spoke of them without
    /// changing their departure, so it says what the ledger holds, unless it spoke before).
    /// True when `source` was not the latest source: then every employee must be judged again.
    pub(super) fn record(
        &mut self,
        source: String,
        employee: &EmployeeState,
        said: Option<Said>,
        recorded: Mark,
    ) -> bool {
        let statements = self.by_source.entry(source.clone()).or_default();
        let employee_id = &employee.record.employee_id;
        match said {
            Some(said) => {
                statements.insert(employee_id.clone(), Statement { said, recorded });
            }
            None => {
                statements.entry(employee_id.clone()).or_insert(Statement {
                    said: Said::of(employee),
                    recorded,
                });
            }
        }
        let switched = self.latest.as_ref() != Some(&source);
        if switched {
            self.latest = Some(source);
            self.disagreements.clear();
        }
        switched
    }

    /// Judges again whether `employee` is held otherwise than the latest source says.
    pub(super) fn judge(&mut self, employee: &EmployeeState) {
        let employee_id = &employee.record.employee_id;
        let disagrees = self
            .latest
            .as_ref()
            .and_then(|source| self.by_source.get(source))
            .and_then(|said| said.get(employee_id))
            .is_some_and(|statement| statement.said != Said::of(employee));
        if disagrees {
            self.disagreements.insert(employee_id.clone());
        } else {
            self.disagreements.remove(employee_id);
        }
    }
}
