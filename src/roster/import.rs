//! A parsed roster, diffed against the employee projection into employee events.
//!
//! All or nothing: a row that cannot be applied (its email belongs to another employee who keeps
//! it) is a problem of the whole import, reported with its line, and nothing is appended.
//! Employees missing from the file are left alone, since rosters may be partial; offboarding is
//! explicit. So are the facts a file has no column for: without `name` names are kept, without
//! `status` and `end_date` nobody is offboarded or reinstated.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Departure, Roster, RosterErrors, RosterProblem};
use crate::commands::employee_changes;
use crate::event::{EmployeeRecord, Event};
use crate::hash::Hash256;
use crate::projection::Projections;
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
/// `now`.
pub fn plan_import(
    projections: &Projections,
    roster: Roster,
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
        match (row.offboarding, current) {
            // A file without `status` and `end_date` columns says nothing about who left.
            _ if !states_departures => {}
            (Some(Departure::At(effective_at)), Some(current))
                if current.effective_at == effective_at => {}
            (Some(Departure::WhenRecorded), Some(_)) | (None, None) => {}
            (Some(offboarding), _) => {
                summary.offboarded += 1;
                events.push(Event::EmployeeOffboarded {
                    employee_id: row.employee_id,
                    effective_at: match offboarding {
                        Departure::At(effective_at) => effective_at,
                        Departure::WhenRecorded => now,
                    },
                    reason: Some(format!("roster line {}", row.line)),
                });
            }
            (None, Some(_)) => {
                summary.reinstated += 1;
                events.push(Event::EmployeeReinstated {
                    employee_id: row.employee_id,
                    reason: Some(format!("active on the roster again (line {})", row.line)),
                });
            }
        }
        if events.len() == row_start {
            summary.unchanged += 1;
        }
    }
    Ok((events, summary))
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
