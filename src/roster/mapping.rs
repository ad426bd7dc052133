//! How an HR system's export names things (docs/reference/sync.md#roster-mapping): its header for
//! each of our columns (`[roster.columns]`), its status words (`[roster.status_values]`) and its
//! date format (`[roster] date_format`).
//!
//! A [`RosterFormat`] is built once from the configuration, where each setting is checked and a
//! refusal is reported with the configuration's file and line, and is then handed to the same
//! parser every roster goes through: the all-or-nothing rule, the line of every problem and
//! "absent columns change nothing" hold for an export exactly as for a file in our own format.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono::format::{Item, StrftimeItems};

use super::columns::Column;

/// What a status word of the file means.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum StatusMeaning {
    Active,
    Offboarded,
}

/// The date an example in messages is written with: a day above 12, so that a day-month mix-up
/// shows.
const EXAMPLE_DATE: (i32, u32, u32) = (2026, 3, 31);

/// How a roster file is written; the default is our own format
/// (docs/reference/sync.md#roster-csv).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RosterFormat {
    /// The header of each column the file names its own way, by our column's name.
    columns: BTreeMap<&'static str, String>,
    /// The file's status words, trimmed and lower-cased, as written in the configuration.
    status_values: BTreeMap<String, (String, StatusMeaning)>,
    /// A chrono `strftime` format for the dates, instead of `YYYY-MM-DD`.
    date_format: Option<String>,
}

impl RosterFormat {
    /// Makes the column we call `column` (`email`, `org_role`, …) the file's `header`.
    pub fn map_column(&mut self, column: &str, header: &str) -> Result<(), String> {
        let Some(known) = Column::ALL.into_iter().find(|known| known.name() == column) else {
            let names: Vec<&str> = Column::ALL.into_iter().map(Column::name).collect();
            return Err(format!(
                "`{column}` is not a roster column: expected one of {}",
                names.join(", ")
            ));
        };
        let header = header.trim();
        if header.is_empty() {
            return Err(format!(
                "maps `{column}` to an empty header name; name the export's column, like \"Work Email\""
            ));
        }
        if let Some((other, _)) = self
            .columns
            .iter()
            .find(|(_, mapped)| mapped.eq_ignore_ascii_case(header))
        {
            return Err(format!(
                "maps `{column}` to `{header}`, which `{other}` is mapped to already; one header cell is one column"
            ));
        }
        self.columns.insert(known.name(), header.to_owned());
        Ok(())
    }

    /// Makes the file's status `word` mean `meaning` (`active` or `offboarded`).
    pub fn map_status(&mut self, word: &str, meaning: &str) -> Result<(), String> {
        let meaning_is = match meaning.trim().to_ascii_lowercase().as_str() {
            "active" => StatusMeaning::Active,
            "offboarded" => StatusMeaning::Offboarded,
            _ => {
                return Err(format!(
                    "`{word}` = `{meaning}`: a status word means `active` or `offboarded`"
                ));
            }
        };
        let key = word.trim().to_lowercase();
        if key.is_empty() {
            return Err(
                "an empty status word is not mapped: an empty cell already means \"not stated\""
                    .to_owned(),
            );
        }
        if let Some((first, _)) = self.status_values.get(&key) {
            return Err(format!(
                "`{word}` is mapped twice (as `{first}` too; words are compared ignoring case)"
            ));
        }
        self.status_values
            .insert(key, (word.trim().to_owned(), meaning_is));
        Ok(())
    }

    /// Reads dates as `format` (chrono's `strftime` syntax, e.g. `%m/%d/%Y`).
    pub fn set_date_format(&mut self, format: &str) -> Result<(), String> {
        if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
            return Err(format!(
                "`{format}` is not a date format: use chrono's strftime codes, like %m/%d/%Y or %d.%m.%Y"
            ));
        }
        let (year, month, day) = EXAMPLE_DATE;
        let example = NaiveDate::from_ymd_opt(year, month, day).expect("a valid date");
        let written = example.format(format).to_string();
        if NaiveDate::parse_from_str(&written, format).ok() != Some(example) {
            return Err(format!(
                "`{format}` cannot be read back as a date ({example} would be written `{written}`): it needs a year, a month and a day, like %m/%d/%Y"
            ));
        }
        self.date_format = Some(format.to_owned());
        Ok(())
    }

    /// The header that names `column`: its mapping, else its own name.
    pub(super) fn header(&self, column: Column) -> &str {
        self.columns
            .get(column.name())
            .map_or(column.name(), String::as_str)
    }

    /// Whether `column` is named by a mapping rather than by its own name.
    pub(super) fn is_mapped(&self, column: Column) -> bool {
        self.columns.contains_key(column.name())
    }

    /// What the file's status `word` (trimmed, not empty) means, if it is mapped.
    pub(super) fn status(&self, word: &str) -> Option<StatusMeaning> {
        self.status_values
            .get(&word.to_lowercase())
            .map(|(_, meaning)| *meaning)
    }

    /// The mapped status words as configured, for messages.
    pub(super) fn status_words(&self) -> impl Iterator<Item = &str> {
        self.status_values.values().map(|(word, _)| word.as_str())
    }

    /// Reads a date written in the configured format, or as `YYYY-MM-DD` without one.
    pub(super) fn date(&self, text: &str) -> Option<NaiveDate> {
        match &self.date_format {
            Some(format) => NaiveDate::parse_from_str(text, format).ok(),
            None => super::parse_date(text),
        }
    }

    /// How a date must be written, for messages: `YYYY-MM-DD`, or the format with an example.
    pub(super) fn date_shape(&self) -> String {
        match &self.date_format {
            Some(format) => {
                let (year, month, day) = EXAMPLE_DATE;
                let example = NaiveDate::from_ymd_opt(year, month, day).expect("a valid date");
                format!(
                    "the configured date_format `{format}`, like `{}`",
                    example.format(format)
                )
            }
            None => "YYYY-MM-DD".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_ours_and_each_header_is_one_column() {
        let mut format = RosterFormat::default();
        format.map_column("email", " Work Email ").unwrap();
        assert_eq!(format.header(Column::Email), "Work Email");
        assert!(format.is_mapped(Column::Email));
        assert_eq!(format.header(Column::OrgRole), "org_role");
        assert!(!format.is_mapped(Column::OrgRole));
        assert_eq!(
            format.map_column("mail", "Email").unwrap_err(),
            "`mail` is not a roster column: expected one of email, name, org_role, employee_id, status, start_date, end_date"
        );
        assert_eq!(
            format.map_column("name", "work email").unwrap_err(),
            "maps `name` to `work email`, which `email` is mapped to already; one header cell is one column"
        );
        assert!(format.map_column("name", "  ").is_err());
    }

    #[test]
    fn status_words_mean_active_or_offboarded_ignoring_case() {
        let mut format = RosterFormat::default();
        format.map_status("Terminated", "offboarded").unwrap();
        format.map_status("On Leave", "Active").unwrap();
        assert_eq!(format.status("TERMINATED"), Some(StatusMeaning::Offboarded));
        assert_eq!(format.status("on leave"), Some(StatusMeaning::Active));
        assert_eq!(format.status("Retired"), None);
        assert_eq!(
            format.map_status("terminated", "active").unwrap_err(),
            "`terminated` is mapped twice (as `Terminated` too; words are compared ignoring case)"
        );
        assert_eq!(
            format.map_status("Gone", "left").unwrap_err(),
            "`Gone` = `left`: a status word means `active` or `offboarded`"
        );
        assert!(format.map_status(" ", "active").is_err());
    }

    #[test]
    fn a_date_format_must_read_back_a_whole_date() {
        let mut format = RosterFormat::default();
        assert_eq!(
            format.date("2026-03-31"),
            NaiveDate::from_ymd_opt(2026, 3, 31)
        );
        assert_eq!(format.date_shape(), "YYYY-MM-DD");
        format.set_date_format("%m/%d/%Y").unwrap();
        assert_eq!(
            format.date("03/31/2026"),
            NaiveDate::from_ymd_opt(2026, 3, 31)
        );
        assert_eq!(format.date("3/1/2026"), NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(format.date("2026-03-31"), None);
        assert_eq!(format.date("31/03/2026"), None);
        assert_eq!(
            format.date_shape(),
            "the configured date_format `%m/%d/%Y`, like `03/31/2026`"
        );
        assert_eq!(
            format.set_date_format("%m/%Y").unwrap_err(),
            "`%m/%Y` cannot be read back as a date (2026-03-31 would be written `03/2026`): it needs a year, a month and a day, like %m/%d/%Y"
        );
        assert!(format.set_date_format("%Q/%d").is_err());
        assert!(format.set_date_format("%d.%m.%Y").is_ok());
    }
}
