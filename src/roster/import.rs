//! A parsed roster, diffed against the employee projection into employee events.
//!
//! All or nothing: a row that cannot be applied (its email belongs to another employee who keeps
//! it) is a problem of the whole import, reported with its line, and nothing is appended.
//! Employees missing from the file are left alone, since rosters may be partial; offboarding is
//! explicit. So are the facts a file has no column for: without `name` names are kept, without
//! `status` and `end_date` nobody is offboarded or reinstated.
//!
//! A configured source (the roster file, an HR system) records only what it changed: a person's
//! departure is compared with what that source said of them last, not with the ledger, so an
//! admin's offboarding or reinstatement stands until the source says something new of that
//! person (the event then names what changed). Where the two then differ, the projection keeps
//! the disagreement for the integration check. A roster an admin imports is compared with the
//! ledger, as is a person the source never spoke of.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Departure, Roster, RosterErrors, RosterProblem};
use crate::commands::employee_changes;
use crate::event::{EmployeeRecord, Event};
use crate::hash::Hash256;
use crate::projection::{Offboarding, Projections, Said, Statement};
use crate::time::Timestamp;

/// The most problems a `RosterRejected` records; the event counts them all.
pub const MAX_RECORDED_PROBLEMS: usize = 100;

/// What an import did, row by row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub onboarded: u64,
    pub updated: u64,
    pub offboarded: u64,
    pub reinstated: u64,
    pub unchanged: u64,
}

/// The one way a summary is told to people: the CLI, the demo and the log say the same words.
impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} onboarded, {} updated, {} offboarded, {} reinstated, {} unchanged",
            self.onboarded, self.updated, self.offboarded, self.reinstated, self.unchanged
        )
    }
}

/// The events that make the employee projection agree with what `roster` states, recorded at
/// `now`; from a configured `source` (`roster`, `roster:<name>`), only what it changed since it
/// last spoke of each person.
pub fn plan_import(
    projections: &Projections,
    roster: Roster,
    source: Option<&str>,
    now: Timestamp,
) -> Result<(Vec<Event>, ImportSummary), RosterErrors> {
    let Roster {
        states_names,
        states_departures,
        rows,
    } = roster;
    let employees = projections.employees();
    let ids_in_file: BTreeMap<&str, &str> = rows
        .iter()
        .map(|row| (row.employee_id.as_str(), row.email.as_str()))
        .collect();
    let mut problems = Vec::new();
    for row in &rows {
        let Some(holder) = employees.by_email(&row.email) else {
            continue;
        };
        let holder_id = holder.record.employee_id.as_str();
        let holder_moves_away = ids_in_file
            .get(holder_id)
            .is_some_and(|email| !email.eq_ignore_ascii_case(&row.email));
        if holder_id != row.employee_id && !holder_moves_away {
            problems.push(RosterProblem {
                line: row.line,
                column: Some("email".to_owned()),
                reason: format!(
                    "`{}` already belongs to employee `{holder_id}`, who keeps it",
                    row.email
                ),
            });
        }
    }
    if !problems.is_empty() {
        return Err(RosterErrors(problems));
    }

    let mut events = Vec::new();
    let mut summary = ImportSummary::default();
    for row in rows {
        let row_start = events.len();
        let known = employees.get(&row.employee_id);
        let changes = employee_changes(
            known,
            EmployeeRecord {
                employee_id: row.employee_id.clone(),
                email: row.email,
                name: match (states_names, known) {
                    (false, Some(known)) => known.record.name.clone(),
                    _ => row.name,
                },
                org_role: row.org_role,
                start_date: row.start_date,
            },
        );
        match changes.first() {
            Some(Event::EmployeeOnboarded { .. }) => summary.onboarded += 1,
            Some(_) => summary.updated += 1,
            None => {}
        }
        events.extend(changes);
        let current = known.and_then(|state| state.offboarding.as_ref());
        let said = source.and_then(|source| {
            employees
                .roster_sources()
                .said(source, &row.employee_id)
                .map(|statement| (source, statement))
        });
        let change = if states_departures {
            departure_change(row.offboarding, current, said, row.line, now)
        } else {
            // A file without `status` and `end_date` columns says nothing about who left.
            None
        };
        match change {
            Some(Change::Offboard(effective_at, reason)) => {
                summary.offboarded += 1;
                events.push(Event::EmployeeOffboarded {
                    employee_id: row.employee_id,
                    effective_at,
                    reason: Some(reason),
                });
            }
            Some(Change::Reinstate(reason)) => {
                summary.reinstated += 1;
                events.push(Event::EmployeeReinstated {
                    employee_id: row.employee_id,
                    reason: Some(reason),
                });
            }
            None => {}
        }
        if events.len() == row_start {
            summary.unchanged += 1;
        }
    }
    Ok((events, summary))
}

/// What a row changes of a person's departure.
enum Change {
    Offboard(Timestamp, String),
    Reinstate(String),
}

/// What a row's `departure` changes, given the ledger's `current` offboarding and what the
/// row's source said of the person before, if it did: compared with that, an unchanged row
/// changes nothing whatever the ledger holds (an admin's decision stands), and a changed one is
/// recorded, naming the change, even where the ledger already agrees (so that what the source
/// says is on record). Without an earlier statement, the row is compared with the ledger.
fn departure_change(
    departure: Option<Departure>,
    current: Option<&Offboarding>,
    said: Option<(&str, &Statement)>,
    line: u64,
    now: Timestamp,
) -> Option<Change> {
    let Some((source, before)) = said else {
        return match (departure, current) {
            (Some(Departure::At(effective_at)), Some(current))
                if current.effective_at == effective_at =>
            {
                None
            }
            (Some(Departure::WhenRecorded), Some(_)) | (None, None) => None,
            (Some(Departure::At(effective_at)), _) => Some(Change::Offboard(
                effective_at,
                format!("roster line {line}"),
            )),
            (Some(Departure::WhenRecorded), None) => {
                Some(Change::Offboard(now, format!("roster line {line}")))
            }
            (None, Some(_)) => Some(Change::Reinstate(format!(
                "active on the roster again (line {line})"
            ))),
        };
    };
    let was = format!(
        "{source} said {} at seq {}",
        before.said, before.recorded.seq
    );
    match (departure, before.said) {
        (None, Said::Active) | (Some(Departure::WhenRecorded), Said::Left(_)) => None,
        (Some(Departure::At(effective_at)), Said::Left(said)) if said == effective_at => None,
        (Some(Departure::At(effective_at)), _) => Some(Change::Offboard(
            effective_at,
            format!("roster line {line}: leaves at {effective_at}; {was}"),
        )),
        (Some(Departure::WhenRecorded), Said::Active) => Some(Change::Offboard(
            current.map_or(now, |current| current.effective_at),
            format!("roster line {line}: left; {was}"),
        )),
        (None, Said::Left(_)) => Some(Change::Reinstate(format!(
            "active on the roster again (line {line}); {was}"
        ))),
    }
}

/// The `RosterRejected` that records the refusal of the roster file with digest `sha256`, unless
/// the refusal on record is of that same file.
pub fn rejection(
    projections: &Projections,
    sha256: Hash256,
    errors: &RosterErrors,
) -> Option<Event> {
    let recorded = projections
        .employees()
        .roster_rejection()
        .is_some_and(|rejection| rejection.sha256 == sha256);
    (!recorded).then(|| Event::RosterRejected {
        sha256,
        problem_count: errors.0.len() as u64,
        problems: errors
            .0
            .iter()
            .take(MAX_RECORDED_PROBLEMS)
            .cloned()
            .collect(),
    })
}

/// The `RosterRejected` that records that the configured roster source could not be read at all
/// (`reason` says which source and why), unless that same failure is the one on record. Its one
/// problem is at line [`UNREADABLE_LINE`], and its digest is that of `reason`, so a source that
/// keeps failing for one cause is recorded once; a later import ends it like a fixed file.
pub fn unreadable(projections: &Projections, reason: String) -> Option<Event> {
    let problem = RosterProblem {
        line: UNREADABLE_LINE,
        column: None,
        reason,
    };
    rejection(
        projections,
        Hash256::of(problem.reason.as_bytes()),
        &RosterErrors(vec![problem]),
    )
}

/// The line of the problem that records an unreadable source: no line of a file or position in
/// a listing is 0.
pub const UNREADABLE_LINE: u64 = 0;

/// The `RosterAccepted` that ends a recorded refusal, when the roster file with digest `sha256`
/// is imported while one is on record.
pub fn acceptance(projections: &Projections, sha256: Hash256) -> Option<Event> {
    projections
        .employees()
        .roster_rejection()
        .map(|_| Event::RosterAccepted { sha256 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::event::Actor;
    use crate::roster::parse_roster;

    const ACTIVE: &str = "employee_id,email,org_role,end_date\nE-2,marco@acme.example,IT,\n";
    const LEAVING: &str =
        "employee_id,email,org_role,end_date\nE-2,marco@acme.example,IT,2026-03-02\n";

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A ledger folded entry by entry, each with its actor.
    #[derive(Default)]
    struct Ledger {
        projections: Projections,
        head: Option<crate::hash::Digest>,
    }

    impl Ledger {
        fn append(&mut self, actor: Actor, events: Vec<Event>) {
            for event in events {
                let entry =
                    Entry::seal(self.head, at("2026-03-02T09:00:00Z"), actor.clone(), event);
                self.head = Some(entry.digest());
                self.projections.apply(&entry);
            }
        }

        /// The configured roster file's import of `csv`, appended.
        fn import(&mut self, csv: &str) -> (Vec<Event>, ImportSummary) {
            let roster = parse_roster(csv.as_bytes(), chrono_tz::UTC).unwrap();
            let planned = plan_import(
                &self.projections,
                roster,
                Some("roster"),
                at("2026-03-02T09:00:00Z"),
            )
            .unwrap();
            self.append(Actor::Roster, planned.0.clone());
            planned
        }

        fn offboard_by_admin(&mut self, effective_at: &str) {
            self.append(
                Actor::Api("ops".to_owned()),
                vec![Event::EmployeeOffboarded {
                    employee_id: "E-2".to_owned(),
                    effective_at: at(effective_at),
                    reason: None,
                }],
            );
        }

        fn disagreements(&self) -> Vec<(String, Said)> {
            self.projections
                .employees()
                .roster_sources()
                .disagreements()
                .map(|(id, statement)| (id.to_owned(), statement.said))
                .collect()
        }
    }

    /// Item 2 of issue 38: an unchanged file does not undo an admin's offboarding; the two
    /// sides are kept as a disagreement until the file changes what it says of the person.
    #[test]
    fn an_unchanged_source_records_nothing_and_an_admin_decision_stands() {
        let mut ledger = Ledger::default();
        ledger.import(ACTIVE);
        ledger.offboard_by_admin("2026-03-02T10:00:00Z");
        let (events, summary) = ledger.import(ACTIVE);
        assert_eq!(events, [], "nothing the source did not change");
        assert_eq!(summary.unchanged, 1);
        let employee = ledger.projections.employees().get("E-2").unwrap();
        assert_eq!(
            employee.offboarding.as_ref().map(|left| left.effective_at),
            Some(at("2026-03-02T10:00:00Z"))
        );
        assert_eq!(ledger.disagreements(), [("E-2".to_owned(), Said::Active)]);

        // HR gives an end date: a change of the source, recorded with what it said before.
        let (events, summary) = ledger.import(LEAVING);
        assert_eq!(summary.offboarded, 1);
        let [
            Event::EmployeeOffboarded {
                effective_at,
                reason: Some(reason),
                ..
            },
        ] = events.as_slice()
        else {
            panic!("{events:?}");
        };
        assert_eq!(*effective_at, at("2026-03-03T00:00:00Z"));
        assert!(
            reason.contains("roster line 2: leaves at 2026-03-03T00:00:00")
                && reason.contains("roster said active at seq 1"),
            "{reason}"
        );
        assert_eq!(ledger.disagreements(), []);
    }

    /// An admin's reinstatement of someone the file still lists as leaving stands too; the
    /// source taking the end date away reinstates no one twice.
    #[test]
    fn a_reinstatement_by_an_admin_stands_until_the_source_changes() {
        let mut ledger = Ledger::default();
        ledger.import(LEAVING);
        ledger.append(
            Actor::Api("ops".to_owned()),
            vec![Event::EmployeeReinstated {
                employee_id: "E-2".to_owned(),
                reason: None,
            }],
        );
        assert_eq!(ledger.import(LEAVING).0, []);
        assert_eq!(
            ledger.disagreements(),
            [("E-2".to_owned(), Said::Left(at("2026-03-03T00:00:00Z")))]
        );
        let (events, _) = ledger.import(ACTIVE);
        assert!(
            matches!(events.as_slice(), [Event::EmployeeReinstated { reason: Some(reason), .. }]
                if reason.contains("roster said left at 2026-03-03T00:00:00")),
            "{events:?}"
        );
        assert_eq!(ledger.disagreements(), []);
        assert_eq!(ledger.import(ACTIVE).0, []);
    }

    /// A roster an admin imports is the admin's word: it is compared with the ledger, as a
    /// person the configured source never spoke of is.
    #[test]
    fn an_admin_import_and_an_unknown_person_are_compared_with_the_ledger() {
        let mut ledger = Ledger::default();
        ledger.import(ACTIVE);
        ledger.offboard_by_admin("2026-03-02T10:00:00Z");
        let roster = parse_roster(ACTIVE.as_bytes(), chrono_tz::UTC).unwrap();
        let (events, _) = plan_import(
            &ledger.projections,
            roster,
            None,
            at("2026-03-02T11:00:00Z"),
        )
        .unwrap();
        assert!(
            matches!(events.as_slice(), [Event::EmployeeReinstated { .. }]),
            "{events:?}"
        );
        let roster = parse_roster(ACTIVE.as_bytes(), chrono_tz::UTC).unwrap();
        let (events, _) = plan_import(
            &ledger.projections,
            roster,
            Some("roster:truto"),
            at("2026-03-02T11:00:00Z"),
        )
        .unwrap();
        assert!(
            matches!(events.as_slice(), [Event::EmployeeReinstated { .. }]),
            "another source never spoke of E-2: {events:?}"
        );
    }
}
