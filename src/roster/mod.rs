//! The HR roster (docs/reference/sync.md#roster-csv): reading a roster CSV file into normalised
//! rows, or into the list of every problem that makes the file unacceptable.
//!
//! This module is pure: it reads the bytes, timezone and projections it is given and nothing
//! else. `parse_roster` knows nothing of the ledger; `plan_import` diffs the rows against the
//! employee projection into the events an import appends, and `rejection` / `acceptance` decide
//! how a refused or accepted configured roster file is recorded.
//! An import is all or nothing, so [`parse_roster`] returns rows only for a file without a
//! single problem, and otherwise every problem of the file at once, so that HR can fix them in
//! one pass. A file says only what its columns say (docs/reference/sync.md#roster-import): the
//! [`Roster`] tells which of the optional facts its header has columns for, and an absent column
//! changes nothing. An HR system's export is read through a [`RosterFormat`]
//! (docs/reference/sync.md#roster-mapping) by the same parser.

mod columns;
mod dates;
mod import;
mod mapping;
mod row;
mod truto;

use std::fmt;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Serialize;

use crate::time::Timestamp;

pub use crate::event::RosterProblem;
pub use dates::parse_timezone;
pub(crate) use dates::{parse_date, start_of_next_day};
pub use import::{
    ImportSummary, MAX_RECORDED_PROBLEMS, UNREADABLE_LINE, acceptance, plan_import, rejection,
    unreadable,
};
pub use mapping::RosterFormat;
pub use truto::{
    OrgRoleFrom, TrutoEmail, TrutoEmployee, TrutoEmployment, TrutoGroup, TrutoListing,
    TrutoReference, roster_from_truto,
};

/// The largest roster file accepted. Real rosters are far smaller; the bound keeps a wrong file
/// from holding a large amount of memory.
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;

/// The largest field accepted, in bytes.
pub const MAX_FIELD_BYTES: usize = 4 * 1024;

/// A roster file without a problem: its rows, and which optional facts its header states.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Roster {
    /// Whether the header has a `name` column; without one, every name stays as it is.
    pub states_names: bool,
    /// Whether the header has a `status` or an `end_date` column; without either, nobody is
    /// offboarded or reinstated.
    pub states_departures: bool,
    pub rows: Vec<RosterRow>,
}

/// One valid roster row, normalised.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct RosterRow {
    /// The 1-based line of the file the row starts on (the header is normally line 1).
    pub line: u64,
    /// The `employee_id` column, or the lower-cased email when it is absent or empty.
    pub employee_id: String,
    /// As written, trimmed; compare case-insensitively.
    pub email: String,
    /// The `name` cell; `None` when it is empty or the header has no `name` column.
    pub name: Option<String>,
    /// Trimmed, as written; checks compare it case-insensitively.
    pub org_role: String,
    pub start_date: Option<NaiveDate>,
    /// Whether and when the person leaves, as `status` and `end_date` say (an absent column
    /// reads as an empty cell; [`Roster::states_departures`] tells whether either is there).
    pub offboarding: Option<Departure>,
}

/// That, and from when, a person is to have no access.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Departure {
    /// `end_date` given: the instant the person's access must end.
    At(Timestamp),
    /// `status = offboarded` without `end_date`: takes effect when the ledger learns it.
    WhenRecorded,
}

impl RosterProblem {
    fn new(line: u64, column: Option<&str>, reason: String) -> Self {
        RosterProblem {
            line,
            column: column.map(str::to_owned),
            reason,
        }
    }

    fn field_too_long(line: u64, column: Option<&str>, length: usize) -> Self {
        Self::new(
            line,
            column,
            format!("a field of {length} bytes is longer than the limit of {MAX_FIELD_BYTES}"),
        )
    }
}

impl fmt::Display for RosterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Every problem of a refused roster file, in the order of the file.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{}", describe(.0))]
pub struct RosterErrors(pub Vec<RosterProblem>);

/// A sentence with the number of problems, then one problem per line.
fn describe(problems: &[RosterProblem]) -> String {
    let plural = if problems.len() == 1 { "" } else { "s" };
    let mut text = format!(
        "the roster has {} problem{plural}, so none of it was accepted:",
        problems.len()
    );
    for problem in problems {
        text.push_str(&format!("\n{problem}"));
    }
    text
}

/// Reads a roster CSV file in our own format (docs/reference/sync.md#roster-csv): a header row
/// naming the columns, then one row per person. Dates without a time are read in `timezone`.
///
/// Returns every row when the file has no problem at all, and otherwise every problem found.
pub fn parse_roster(csv_bytes: &[u8], timezone: Tz) -> Result<Roster, RosterErrors> {
    parse_roster_as(csv_bytes, timezone, &RosterFormat::default())
}

/// Reads a roster CSV file written as `format` says: [`parse_roster`] for an HR system's export.
pub fn parse_roster_as(
    csv_bytes: &[u8],
    timezone: Tz,
    format: &RosterFormat,
) -> Result<Roster, RosterErrors> {
    if csv_bytes.len() > MAX_FILE_BYTES {
        return Err(RosterErrors(vec![RosterProblem::new(
            1,
            None,
            format!(
                "the file is {} bytes, larger than the limit of {MAX_FILE_BYTES} (50 MiB)",
                csv_bytes.len()
            ),
        )]));
    }
    // Spreadsheet programs often start UTF-8 files with a byte order mark; it is not part of
    // the first column's name.
    let text = csv_bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(csv_bytes);
    // Records are read as bytes, and with any number of fields, so that a row that is not UTF-8
    // or has the wrong number of fields becomes a problem of that row and the rows after it are
    // still checked.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut problems = Vec::new();
    let mut header: Option<columns::Columns> = None;
    let mut checker = row::RowChecker::new(timezone, format);
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        // Reading from memory with `flexible` and without UTF-8 decoding, the csv crate has no
        // error left to report; should that change, the problem is reported, not hidden.
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(1, csv::Position::line);
                problems.push(RosterProblem::new(line, None, error.to_string()));
                break;
            }
        };
        let line = start_line(text, &record);
        match &header {
            None => header = Some(columns::Columns::read(&record, line, format, &mut problems)),
            Some(columns) => rows.extend(checker.check(&record, line, columns, &mut problems)),
        }
    }
    let Some(header) = header else {
        problems.push(RosterProblem::new(
            1,
            None,
            "the file is empty; a roster starts with a header row naming at least the columns `email` and `org_role`".to_owned(),
        ));
        return Err(RosterErrors(problems));
    };
    if !problems.is_empty() {
        return Err(RosterErrors(problems));
    }
    let has = |column| header.position(column).is_some();
    Ok(Roster {
        states_names: has(columns::Column::Name),
        states_departures: has(columns::Column::Status) || has(columns::Column::EndDate),
        rows,
    })
}

/// The 1-based line on which `record` of `text` starts.
///
/// The csv reader gives the position at which it started to read the record, which is before
/// any blank lines it skipped and before the rest of a two-byte line terminator; the record
/// itself starts after those.
fn start_line(text: &[u8], record: &csv::ByteRecord) -> u64 {
    let position = record
        .position()
        .expect("the csv reader sets the position of every record it reads");
    let offset = usize::try_from(position.byte()).unwrap_or(text.len());
    let skipped_newlines = text
        .get(offset..)
        .unwrap_or_default()
        .iter()
        .take_while(|byte| matches!(byte, b'\r' | b'\n'))
        .filter(|byte| **byte == b'\n')
        .count();
    position.line() + skipped_newlines as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<RosterRow>, RosterErrors> {
        parse_roster(text.as_bytes(), chrono_tz::Europe::Berlin).map(|roster| roster.rows)
    }

    fn offboarding(status: &str, end_date: &str) -> Option<Departure> {
        let text = format!(
            "email,org_role,status,end_date\nann@example.com,Engineer,{status},{end_date}\n"
        );
        let rows = parse(&text).unwrap();
        rows[0].offboarding
    }

    fn problems(text: &str) -> Vec<String> {
        let errors = parse(text).unwrap_err();
        errors.0.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn status_and_end_date_decide_the_offboarding() {
        let end = Departure::At("2026-02-27T23:00:00Z".parse().unwrap());
        assert_eq!(offboarding("offboarded", ""), Some(Departure::WhenRecorded));
        assert_eq!(offboarding("Offboarded", "2026-02-27"), Some(end));
        assert_eq!(offboarding("", "2026-02-27"), Some(end));
        assert_eq!(offboarding("", ""), None);
        assert_eq!(offboarding("ACTIVE", ""), None);
    }

    #[test]
    fn active_with_an_end_date_is_a_contradiction() {
        let text = "email,org_role,status,end_date\nann@example.com,Engineer,active,2026-02-27\n";
        assert_eq!(
            problems(text),
            [
                "line 2, column `status`: `active` contradicts the `end_date` `2026-02-27`: an active person has no end date (clear the end date, or set the status to `offboarded` or leave it empty)"
            ]
        );
    }

    #[test]
    fn the_header_is_found_in_any_order_and_case_and_unknown_columns_are_ignored() {
        let text = "\u{feff} Org_Role ,desk,EMAIL,Name\n  Engineer , 4.2 , Ann@Example.com ,  \n";
        let rows = parse(text).unwrap();
        assert_eq!(
            rows,
            [RosterRow {
                line: 2,
                employee_id: "ann@example.com".to_owned(),
                email: "Ann@Example.com".to_owned(),
                name: None,
                org_role: "Engineer".to_owned(),
                start_date: None,
                offboarding: None,
            }]
        );
    }

    #[test]
    fn lines_count_blank_lines_crlf_and_quoted_line_breaks() {
        let text = "email,org_role,name\r\n\r\na@example.com,IT,\"Ann\r\nSecond line\"\r\n,,\r\nb@example.com,IT,Bob\r\n";
        let rows = parse(text).unwrap();
        let lines: Vec<u64> = rows.iter().map(|row| row.line).collect();
        assert_eq!(lines, [3, 6]);
        assert_eq!(rows[0].name.as_deref(), Some("Ann\r\nSecond line"));
    }

    #[test]
    fn a_header_alone_is_an_empty_roster_and_nothing_at_all_is_a_problem() {
        assert_eq!(parse("email,org_role\n").unwrap(), []);
        assert_eq!(
            problems("\n\n"),
            [
                "line 1: the file is empty; a roster starts with a header row naming at least the columns `email` and `org_role`"
            ]
        );
    }

    #[test]
    fn missing_required_columns_are_one_problem_each_and_rows_are_still_checked() {
        assert_eq!(
            problems("name,status\nAnn,gone\nBob,\n"),
            [
                "line 1, column `email`: the header has no such column, and it is required",
                "line 1, column `org_role`: the header has no such column, and it is required",
                "line 2, column `status`: `gone` is not a status: expected `active`, `offboarded` or nothing",
            ]
        );
    }

    #[test]
    fn oversized_files_and_fields_are_refused() {
        let huge = vec![b'a'; MAX_FILE_BYTES + 1];
        let errors = parse_roster(&huge, chrono_tz::UTC).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "the roster has 1 problem, so none of it was accepted:\nline 1: the file is 52428801 bytes, larger than the limit of 52428800 (50 MiB)"
        );
        let long_name = "x".repeat(MAX_FIELD_BYTES + 1);
        assert_eq!(
            problems(&format!(
                "email,org_role,name\na@example.com,IT,{long_name}\n"
            )),
            ["line 2, column `name`: a field of 4097 bytes is longer than the limit of 4096"]
        );
        let exactly = "x".repeat(MAX_FIELD_BYTES);
        assert!(
            parse(&format!(
                "email,org_role,name\na@example.com,IT,{exactly}\n"
            ))
            .is_ok()
        );
    }

    #[test]
    fn invalid_utf8_names_the_line_and_column() {
        let errors =
            parse_roster(b"email,org_role\na@example.com,\xff\xfe\n", chrono_tz::UTC).unwrap_err();
        assert_eq!(
            errors.0,
            [RosterProblem::new(
                2,
                Some("org_role"),
                "is not valid UTF-8".to_owned()
            )]
        );
    }

    fn stated(header: &str) -> (bool, bool) {
        let roster = parse_roster(header.as_bytes(), chrono_tz::UTC).unwrap();
        (roster.states_names, roster.states_departures)
    }

    #[test]
    fn the_header_says_which_optional_facts_the_file_states() {
        assert_eq!(stated("email,org_role\n"), (false, false));
        assert_eq!(stated("email,org_role,Name\n"), (true, false));
        assert_eq!(stated("email,org_role,STATUS\n"), (false, true));
        assert_eq!(stated("email,org_role,end_date,name\n"), (true, true));
    }

    fn us_export() -> RosterFormat {
        let mut format = RosterFormat::default();
        format.map_column("email", "Work Email").unwrap();
        format.map_column("org_role", "Job Title").unwrap();
        format.map_column("status", "Employment Status").unwrap();
        format.map_column("end_date", "Termination Date").unwrap();
        format.map_status("Terminated", "offboarded").unwrap();
        format.map_status("Active", "active").unwrap();
        format.set_date_format("%m/%d/%Y").unwrap();
        format
    }

    fn mapped(text: &str) -> Result<Vec<RosterRow>, Vec<String>> {
        parse_roster_as(text.as_bytes(), chrono_tz::UTC, &us_export())
            .map(|roster| roster.rows)
            .map_err(|errors| errors.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_mapped_export_reads_its_headers_words_and_dates() {
        let rows = mapped(
            "Employment Status,Work Email,Job Title,Termination Date,email
Terminated,ann@example.com,Engineer,03/31/2026,x
ACTIVE,bob@example.com,IT,,y
",
        )
        .unwrap();
        assert_eq!(rows[0].email, "ann@example.com");
        assert_eq!(
            rows[0].offboarding,
            Some(Departure::At("2026-04-01T00:00:00Z".parse().unwrap()))
        );
        assert_eq!(rows[1].org_role, "IT");
        assert_eq!(rows[1].offboarding, None);
    }

    #[test]
    fn a_mapping_to_a_column_the_file_lacks_names_both() {
        assert_eq!(
            mapped(
                "email,Job Title
ann@example.com,IT
"
            )
            .unwrap_err(),
            [
                "line 1, column `email`: the header has no `Work Email` column, which `[roster.columns]` maps `email` to",
                "line 1, column `status`: the header has no `Employment Status` column, which `[roster.columns]` maps `status` to",
                "line 1, column `end_date`: the header has no `Termination Date` column, which `[roster.columns]` maps `end_date` to",
            ]
        );
    }

    #[test]
    fn unmapped_status_words_and_dates_in_another_format_are_refused_with_their_line() {
        assert_eq!(
            mapped(
                "Work Email,Job Title,Employment Status,Termination Date
ann@example.com,IT,Retired,
bob@example.com,IT,,2026-03-31
"
            )
            .unwrap_err(),
            [
                "line 2, column `status`: `Retired` is not a status: expected one of the `[roster.status_values]` words (`Active`, `Terminated`), `active`, `offboarded` or nothing",
                "line 3, column `end_date`: `2026-03-31` is not a date (the configured date_format `%m/%d/%Y`, like `03/31/2026`) or an RFC 3339 timestamp",
            ]
        );
    }
}
