//! The checks of one roster row, and of what must be unique across the rows of a file. Status
//! words and dates are read as the file's [`RosterFormat`] writes them.

use std::collections::HashMap;

use chrono_tz::Tz;
use csv::ByteRecord;

use super::columns::{Column, Columns};
use super::dates::parse_end_date;
use super::mapping::{RosterFormat, StatusMeaning};
use super::{Departure, MAX_FIELD_BYTES, RosterProblem, RosterRow};

/// The `status` column.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Empty or absent: offboarded exactly when an `end_date` is given.
    Unstated,
    Active,
    Offboarded,
}

/// Checks the rows of one file in order, remembering what must be unique.
pub(super) struct RowChecker<'f> {
    timezone: Tz,
    format: &'f RosterFormat,
    /// The line of the first row with each lower-cased email.
    emails: HashMap<String, u64>,
    /// The line of the first row with each employee id (given or taken from the email).
    employee_ids: HashMap<String, u64>,
}

impl<'f> RowChecker<'f> {
    pub(super) fn new(timezone: Tz, format: &'f RosterFormat) -> Self {
        RowChecker {
            timezone,
            format,
            emails: HashMap::new(),
            employee_ids: HashMap::new(),
        }
    }

    /// Checks the row found at `line`: returns it normalised when it has no problem, and
    /// otherwise adds its problems. A row whose fields are all empty is skipped, without a
    /// problem; a row with the wrong number of fields gets only that problem, since its fields
    /// cannot be matched to columns.
    pub(super) fn check(
        &mut self,
        record: &ByteRecord,
        line: u64,
        columns: &Columns,
        problems: &mut Vec<RosterProblem>,
    ) -> Option<RosterRow> {
        if record.iter().all(|field| field.trim_ascii().is_empty()) {
            return None;
        }
        if record.len() != columns.width() {
            problems.push(RosterProblem::new(
                line,
                None,
                format!(
                    "the row has {} fields, but the header has {}",
                    record.len(),
                    columns.width()
                ),
            ));
            return None;
        }
        let fields = decode(record, line, columns, problems)?;
        let problems_before = problems.len();
        // The row has as many fields as the header, so every column position is within it.
        let value = |column: Column| {
            columns
                .position(column)
                .map_or("", |position| fields[position])
        };
        let mut problem = |column: Column, reason: String| {
            problems.push(RosterProblem::new(line, Some(column.name()), reason));
        };

        let email = value(Column::Email);
        let mut email_is_new = false;
        if columns.position(Column::Email).is_some() {
            if email.is_empty() {
                problem(
                    Column::Email,
                    "is empty; every row needs an email".to_owned(),
                );
            } else if !looks_like_an_email(email) {
                problem(
                    Column::Email,
                    format!(
                        "`{email}` is not an email address (one `@` with text on both sides, and no spaces)"
                    ),
                );
            } else if let Some(first) = first_line(&mut self.emails, email.to_lowercase(), line) {
                problem(
                    Column::Email,
                    format!(
                        "`{email}` is also the email of line {first} (emails are unique, ignoring case)"
                    ),
                );
            } else {
                email_is_new = true;
            }
        }

        let org_role = value(Column::OrgRole);
        if columns.position(Column::OrgRole).is_some() && org_role.is_empty() {
            problem(
                Column::OrgRole,
                "is empty; every row needs an org role".to_owned(),
            );
        }

        let given_id = value(Column::EmployeeId);
        let employee_id = if given_id.is_empty() {
            email.to_lowercase()
        } else {
            given_id.to_owned()
        };
        // An id taken from an email that is itself wrong or repeated has already been reported
        // through the email.
        if (!given_id.is_empty() || email_is_new)
            && let Some(first) = first_line(&mut self.employee_ids, employee_id.clone(), line)
        {
            let source = if given_id.is_empty() {
                " (taken from the email)"
            } else {
                ""
            };
            problem(
                Column::EmployeeId,
                format!(
                    "employee id `{employee_id}`{source} is also the employee id of line {first}"
                ),
            );
        }

        let status_text = value(Column::Status);
        let mapped_status = (!status_text.is_empty())
            .then(|| self.format.status(status_text))
            .flatten();
        let status = match (mapped_status, status_text.to_ascii_lowercase().as_str()) {
            // HR systems keep a leaver's status active until the last day, so an export's word
            // for "active" leaves the decision to the end date; only our own `active` says the
            // person has none.
            (Some(StatusMeaning::Active), _) => Some(Status::Unstated),
            (None, "active") => Some(Status::Active),
            (Some(StatusMeaning::Offboarded), _) | (None, "offboarded") => Some(Status::Offboarded),
            (None, "") => Some(Status::Unstated),
            (None, _) => {
                let words: Vec<String> = self
                    .format
                    .status_words()
                    .map(|word| format!("`{word}`"))
                    .collect();
                let mapped = match words.is_empty() {
                    true => String::new(),
                    false => format!(
                        "one of the `[roster.status_values]` words ({}), ",
                        words.join(", ")
                    ),
                };
                problem(
                    Column::Status,
                    format!(
                        "`{status_text}` is not a status: expected {mapped}`active`, `offboarded` or nothing"
                    ),
                );
                None
            }
        };

        let start_text = value(Column::StartDate);
        let start_date = if start_text.is_empty() {
            None
        } else {
            let start_date = self.format.date(start_text);
            if start_date.is_none() {
                problem(
                    Column::StartDate,
                    format!(
                        "`{start_text}` is not a date ({})",
                        self.format.date_shape()
                    ),
                );
            }
            start_date
        };

        let end_text = value(Column::EndDate);
        let end = if end_text.is_empty() {
            None
        } else {
            parse_end_date(end_text, self.timezone, self.format)
                .map_err(|reason| problem(Column::EndDate, reason))
                .ok()
        };
        if status == Some(Status::Active) && !end_text.is_empty() {
            problem(
                Column::Status,
                format!(
                    "`{status_text}` contradicts the `end_date` `{end_text}`: an active person has no end date (clear the end date, or set the status to `offboarded` or leave it empty)"
                ),
            );
        }

        if problems.len() > problems_before {
            return None;
        }
        let offboarding = match (status?, end) {
            (Status::Active, _) | (Status::Unstated, None) => None,
            (Status::Unstated | Status::Offboarded, Some(instant)) => Some(Departure::At(instant)),
            (Status::Offboarded, None) => Some(Departure::WhenRecorded),
        };
        let name = value(Column::Name);
        Some(RosterRow {
            line,
            employee_id,
            email: email.to_owned(),
            name: (!name.is_empty()).then(|| name.to_owned()),
            org_role: org_role.to_owned(),
            start_date,
            offboarding,
        })
    }
}

/// The fields of `record`, trimmed, when every one is within the size limit and valid UTF-8;
/// otherwise a problem for each field that is not, and `None`.
fn decode<'r>(
    record: &'r ByteRecord,
    line: u64,
    columns: &Columns,
    problems: &mut Vec<RosterProblem>,
) -> Option<Vec<&'r str>> {
    let problems_before = problems.len();
    let mut fields = Vec::with_capacity(record.len());
    for (position, field) in record.iter().enumerate() {
        let column = Some(columns.name_at(position));
        if field.len() > MAX_FIELD_BYTES {
            problems.push(RosterProblem::field_too_long(line, column, field.len()));
        } else {
            match std::str::from_utf8(field) {
                Ok(text) => fields.push(text.trim()),
                Err(_) => problems.push(RosterProblem::new(
                    line,
                    column,
                    "is not valid UTF-8".to_owned(),
                )),
            }
        }
    }
    (problems.len() == problems_before).then_some(fields)
}

/// Whether `text` has the shape of an email address: one `@` with something on both sides, and
/// no white space or control characters. Whether it is deliverable is not the roster's concern.
fn looks_like_an_email(text: &str) -> bool {
    let plausible_characters = !text
        .chars()
        .any(|character| character.is_whitespace() || character.is_control());
    match text.split_once('@') {
        Some((local, domain)) => {
            plausible_characters && !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        }
        None => false,
    }
}

/// Records that `key` was seen at `line`, returning the line it was first seen at if it was
/// seen before.
fn first_line(seen: &mut HashMap<String, u64>, key: String, line: u64) -> Option<u64> {
    match seen.entry(key) {
        std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
        std::collections::hash_map::Entry::Vacant(slot) => {
            slot.insert(line);
            None
        }
    }
}
