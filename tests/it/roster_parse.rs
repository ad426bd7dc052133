//! Roster parsing as data: each file under `tests/roster/` is parsed, and the snapshot records
//! its rows or the full text of its problems. The first column of every file is a note that the
//! parser ignores as an unknown column; a line whose note starts with `bad` must be reported,
//! and no other line may be.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::helpers::data_files;
use proptest::prelude::*;
use tailledger::roster::{Roster, RosterErrors, parse_roster, parse_timezone};

/// The configured timezone of the data-driven tests: not UTC, so that date-only end dates show
/// the conversion.
const TIMEZONE: &str = "Europe/Berlin";

/// The lines of `text` marked as bad by their note.
fn marked_bad_lines(text: &str) -> BTreeSet<u64> {
    (1..)
        .zip(text.split('\n'))
        .filter(|(_, line)| line.starts_with("bad"))
        .map(|(number, _)| number)
        .collect()
}

/// The lines that have at least one problem.
fn reported_lines(result: &Result<Roster, RosterErrors>) -> BTreeSet<u64> {
    match result {
        Ok(_) => BTreeSet::new(),
        Err(errors) => errors.0.iter().map(|problem| problem.line).collect(),
    }
}

#[test]
fn roster_files_parse_to_the_expected_rows_or_problems() {
    let files = data_files("tests/roster", "csv");
    assert!(files.len() >= 4, "the roster files are missing: {files:?}");
    let timezone = parse_timezone(TIMEZONE).expect("the test timezone exists");
    for file in files {
        let text = fs::read_to_string(&file).expect("the roster file is readable");
        let name = file
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("a UTF-8 file name");
        let result = parse_roster(text.as_bytes(), timezone);
        assert_eq!(
            reported_lines(&result),
            marked_bad_lines(&text),
            "{name}: the reported lines differ from the lines marked bad"
        );
        match result {
            Ok(roster) => insta::assert_json_snapshot!(format!("roster_{name}"), roster),
            Err(errors) => insta::assert_snapshot!(format!("roster_{name}"), errors.to_string()),
        }
    }
}

#[test]
fn the_many_errors_file_has_several_bad_rows() {
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/roster/many_errors.csv"),
    )
    .expect("the roster file is readable");
    assert!(marked_bad_lines(&text).len() >= 10);
}

/// The largest line number of `bytes`: lines are counted by line feeds, as the csv reader does.
fn last_line(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|byte| **byte == b'\n').count() as u64 + 1
}

/// Checks what any input must give: no panic, and rows or problems on lines of the file.
fn check_any_input(bytes: &[u8], timezone: chrono_tz::Tz) -> Result<(), TestCaseError> {
    let last = last_line(bytes);
    match parse_roster(bytes, timezone) {
        Ok(Roster { rows, .. }) => {
            let lines: Vec<u64> = rows.iter().map(|row| row.line).collect();
            prop_assert!(lines.is_sorted() && lines.iter().all(|line| (2..=last).contains(line)));
            let emails: BTreeSet<String> =
                rows.iter().map(|row| row.email.to_lowercase()).collect();
            prop_assert_eq!(emails.len(), rows.len());
        }
        Err(errors) => {
            prop_assert!(!errors.0.is_empty());
            for problem in &errors.0 {
                prop_assert!(
                    (1..=last).contains(&problem.line),
                    "{problem} (last line {last})"
                );
            }
            prop_assert!(errors.to_string().lines().count() > errors.0.len());
        }
    }
    Ok(())
}

fn timezones() -> impl Strategy<Value = chrono_tz::Tz> {
    prop::sample::select(vec![
        chrono_tz::UTC,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::Havana,
        chrono_tz::America::Santiago,
        chrono_tz::Pacific::Kiritimati,
    ])
}

/// Text shaped like a roster: a header of known and unknown names, then rows of values that
/// exercise the rules, mixed with arbitrary text, quotes and line breaks.
fn csv_ish() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "email",
        "EMAIL ",
        "org_role",
        "status",
        "end_date",
        "start_date",
        "employee_id",
        "name",
        "note",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "",
            " ",
            "a@example.com",
            "A@Example.com",
            "b@example.com",
            "not an email",
            "IT",
            "active",
            "offboarded",
            "gone",
            "2026-02-27",
            "2024-09-07",
            "2026-13-01",
            "9999-12-31",
            "2026-03-29T01:30:00+01:00",
            "\"quoted, with comma\"",
            "\"",
            "\"\"",
        ])
        .prop_map(str::to_owned),
        "[ -~\r\n\u{e9}\u{feff}]{0,12}",
    ];
    let row = prop::collection::vec(value, 0..9).prop_map(|fields| fields.join(","));
    let header = prop::collection::vec(names, 0..9).prop_map(|names| names.join(","));
    let terminator = prop::sample::select(vec!["\n", "\r\n", "\r"]);
    (header, prop::collection::vec((row, terminator), 0..12)).prop_map(|(header, rows)| {
        rows.into_iter()
            .fold(header, |text, (row, terminator)| text + terminator + &row)
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        timezone in timezones(),
    ) {
        check_any_input(&bytes, timezone)?;
    }

    #[test]
    fn csv_ish_text_never_panics(text in csv_ish(), timezone in timezones()) {
        check_any_input(text.as_bytes(), timezone)?;
    }
}
