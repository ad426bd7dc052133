//! Truto's unified HRIS records (docs/reference/sync.md#truto; the records as Truto documents them)
//! mapped onto roster rows: pure, and checked by the same row rules as a CSV file.
//!
//! Employees and employments are read as Truto documents them; the names Truto has not
//! confirmed (`work_email`, `employment_status`, `termination_date`) are read when present and
//! never required, so the mapping holds whichever answer Truto gives. An employee becomes one
//! row: work email → `email`; job title or group → `org_role`; `employee_number` (else Truto's
//! `id`) → `employee_id`; the end date of the current employment (the one with the latest
//! `effective_date`) → `end_date`, with the meaning docs/reference/sync.md#roster-csv gives it.
//! Each row is then checked by the CSV parser's row checker, so a Truto roster is all or nothing
//! with every problem named, like a file; a problem's `line` is the employee's position in Truto's
//! listing (1 = the first).

use std::collections::HashMap;

use chrono::{DateTime, NaiveTime};
use chrono_tz::Tz;
use csv::ByteRecord;
use serde::{Deserialize, Deserializer};

use super::columns::{Column, Columns};
use super::mapping::RosterFormat;
use super::row::RowChecker;
use super::{Roster, RosterErrors, RosterProblem};

/// Where an employee's org role is taken from (`[roster.truto] org_role_from`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum OrgRoleFrom {
    /// The employee's `job_title`, else that of the current employment.
    #[default]
    JobTitle,
    /// The name of the employee's first group of type `department`, else of the first group.
    Group,
}

impl OrgRoleFrom {
    /// Reads the configuration's word for it.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "job_title" => Ok(OrgRoleFrom::JobTitle),
            "group" => Ok(OrgRoleFrom::Group),
            other => Err(format!(
                "`{other}` is not a source of the org role: expected `job_title` or `group`"
            )),
        }
    }
}

/// An employee as Truto's `GET /unified/hris/employees` lists it; fields it does not send are
/// empty.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TrutoEmployee {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    #[serde(default, deserialize_with = "optional_id_text")]
    pub employee_number: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub groups: Vec<TrutoGroup>,
    #[serde(default, deserialize_with = "list")]
    pub emails: Vec<TrutoEmail>,
    /// Not confirmed by Truto's documentation; used when present.
    #[serde(default)]
    pub work_email: Option<String>,
    /// Not confirmed; `terminated` or `inactive` offboards when no end date says when.
    #[serde(default)]
    pub employment_status: Option<String>,
    /// Not confirmed; the end date when no employment gives one.
    #[serde(default)]
    pub termination_date: Option<String>,
    /// Employments embedded in the employee, when Truto sends them there.
    #[serde(default, deserialize_with = "list")]
    pub employments: Vec<TrutoEmployment>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct TrutoGroup {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct TrutoEmail {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub is_primary: Option<bool>,
}

/// An employment as `GET /unified/hris/employments` lists it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TrutoEmployment {
    #[serde(default, deserialize_with = "optional_id_text")]
    pub id: Option<String>,
    #[serde(default)]
    pub employee: Option<TrutoReference>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub effective_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
}

/// `{"id": …}`, how an employment names its employee.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TrutoReference {
    #[serde(default, deserialize_with = "optional_id_text")]
    pub id: Option<String>,
}

/// Every employee and employment Truto listed, in the order it listed them.
#[derive(Clone, Debug, Default)]
pub struct TrutoListing {
    pub employees: Vec<TrutoEmployee>,
    pub employments: Vec<TrutoEmployment>,
}

/// The roster an HRIS listing states: every employee, or every problem. Dates without a time
/// are last working days in `timezone`.
pub fn roster_from_truto(
    listing: &TrutoListing,
    org_role_from: OrgRoleFrom,
    timezone: Tz,
) -> Result<Roster, RosterErrors> {
    let format = RosterFormat::default();
    let mut problems = Vec::new();
    let header: ByteRecord = Column::ALL.iter().map(|column| column.name()).collect();
    let columns = Columns::read(&header, 0, &format, &mut problems);
    let mut by_employee: HashMap<&str, Vec<&TrutoEmployment>> = HashMap::new();
    for employment in &listing.employments {
        if let Some(employee) = employment.employee.as_ref().and_then(|e| e.id.as_deref()) {
            by_employee.entry(employee).or_default().push(employment);
        }
    }
    let mut checker = RowChecker::new(timezone, &format);
    let mut rows = Vec::with_capacity(listing.employees.len());
    for (line, employee) in (1..).zip(&listing.employees) {
        let listed = by_employee.get(employee.id.as_str());
        let current = current_employment(
            employee
                .employments
                .iter()
                .chain(listed.into_iter().flatten().copied()),
        );
        let problems_before = problems.len();
        let email = work_email(employee);
        if email.is_none() {
            problems.push(RosterProblem::new(
                line,
                Some("email"),
                format!(
                    "employee `{}` has no work email in Truto (no `work_email`, and no `emails` entry of type `work` or marked primary)",
                    employee.id
                ),
            ));
        }
        let org_role = org_role(employee, current, org_role_from);
        if org_role.is_none() {
            let source = match org_role_from {
                OrgRoleFrom::JobTitle => "job title",
                OrgRoleFrom::Group => "group",
            };
            problems.push(RosterProblem::new(
                line,
                Some("org_role"),
                format!(
                    "employee `{}` has no {source} in Truto, which `org_role_from` takes the org role from",
                    employee.id
                ),
            ));
        }
        if problems.len() > problems_before {
            continue;
        }
        let end_date = current
            .and_then(|employment| employment.end_date.as_deref())
            .or(employee.termination_date.as_deref())
            .map(calendar_or_exact)
            .unwrap_or_default();
        let left = employee.employment_status.as_deref().is_some_and(|status| {
            matches!(
                status.to_ascii_lowercase().as_str(),
                "terminated" | "inactive"
            )
        });
        let name = employee.name.clone().unwrap_or_else(|| {
            let parts = [&employee.first_name, &employee.last_name];
            let parts: Vec<&str> = parts.iter().filter_map(|part| part.as_deref()).collect();
            parts.join(" ")
        });
        let employee_id = employee
            .employee_number
            .clone()
            .unwrap_or_else(|| employee.id.clone());
        // In the order of `Column::ALL`, the header above.
        let record: ByteRecord = [
            email.unwrap_or_default(),
            name.as_str(),
            org_role.unwrap_or_default(),
            employee_id.as_str(),
            if left { "offboarded" } else { "" },
            "",
            end_date.as_str(),
        ]
        .into_iter()
        .collect();
        rows.extend(checker.check(&record, line, &columns, &mut problems));
    }
    if !problems.is_empty() {
        return Err(RosterErrors(problems));
    }
    Ok(Roster {
        states_names: true,
        states_departures: true,
        rows,
    })
}

/// The employment in force: the one with the latest `effective_date` (an employment embedded in
/// the employee and listed too is the same one either way); ties go to the later listed.
fn current_employment<'a>(
    employments: impl Iterator<Item = &'a TrutoEmployment>,
) -> Option<&'a TrutoEmployment> {
    employments.max_by(|a, b| effective(a).cmp(&effective(b)))
}

/// The instant an employment takes effect, for ordering; one without a readable date is the
/// oldest.
fn effective(employment: &TrutoEmployment) -> Option<chrono::NaiveDateTime> {
    let text = employment.effective_date.as_deref()?.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.naive_utc())
        .ok()
        .or_else(|| super::parse_date(text).map(|day| day.and_time(NaiveTime::MIN)))
}

/// The work email: `work_email`, else the `emails` entry of type `work`, else the primary one.
fn work_email(employee: &TrutoEmployee) -> Option<&str> {
    let listed = |wanted: fn(&TrutoEmail) -> bool| {
        employee
            .emails
            .iter()
            .filter(|entry| wanted(entry))
            .find_map(|entry| non_empty(entry.email.as_deref()))
    };
    non_empty(employee.work_email.as_deref())
        .or_else(|| {
            listed(|entry| {
                entry
                    .kind
                    .as_deref()
                    .is_some_and(|kind| kind.eq_ignore_ascii_case("work"))
            })
        })
        .or_else(|| listed(|entry| entry.is_primary == Some(true)))
}

fn org_role<'a>(
    employee: &'a TrutoEmployee,
    current: Option<&'a TrutoEmployment>,
    from: OrgRoleFrom,
) -> Option<&'a str> {
    match from {
        OrgRoleFrom::JobTitle => non_empty(employee.job_title.as_deref())
            .or_else(|| current.and_then(|employment| non_empty(employment.job_title.as_deref()))),
        OrgRoleFrom::Group => {
            let named = |group: &&'a TrutoGroup| non_empty(group.name.as_deref()).is_some();
            let department = employee.groups.iter().filter(named).find(|group| {
                group
                    .kind
                    .as_deref()
                    .is_some_and(|kind| kind.eq_ignore_ascii_case("department"))
            });
            department
                .or_else(|| employee.groups.iter().find(named))
                .and_then(|group| non_empty(group.name.as_deref()))
        }
    }
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// An end date as the roster reads it. Truto writes dates as ISO 8601 timestamps; one at exactly
/// midnight UTC is an HR calendar date in disguise (HR systems keep end dates as days), so it is
/// read as that last working day. Any other time is exact, and anything else is left for the row
/// checker to refuse with its text.
fn calendar_or_exact(text: &str) -> String {
    let text = text.trim();
    match DateTime::parse_from_rfc3339(text) {
        Ok(instant)
            if instant.offset().local_minus_utc() == 0 && instant.time() == NaiveTime::MIN =>
        {
            instant.date_naive().to_string()
        }
        _ => text.to_owned(),
    }
}

/// Truto's ids are strings; some integrations send numbers, which are the same id.
fn id_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    optional_id_text(deserializer)?.ok_or_else(|| serde::de::Error::custom("the id is missing"))
}

fn optional_id_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Id>::deserialize(deserializer)?.map(|id| match id {
        Id::Text(text) => text,
        Id::Number(number) => number.to_string(),
    }))
}

/// A list that may be sent as `null`.
fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn employment(effective_date: Option<&str>, job_title: &str) -> TrutoEmployment {
        TrutoEmployment {
            effective_date: effective_date.map(str::to_owned),
            job_title: Some(job_title.to_owned()),
            ..TrutoEmployment::default()
        }
    }

    fn email(address: &str, kind: Option<&str>, is_primary: Option<bool>) -> TrutoEmail {
        TrutoEmail {
            email: Some(address.to_owned()),
            kind: kind.map(str::to_owned),
            is_primary,
        }
    }

    #[test]
    fn the_employment_in_force_is_the_latest_by_instant_or_date() {
        let listed = [
            employment(Some("2024-06-01T00:00:00Z"), "Engineer"),
            employment(Some("2025-03-31"), "Manager"),
            employment(None, "Unknown"),
            employment(Some("2025-01-01T09:30:00+02:00"), "Lead"),
        ];
        let current = current_employment(listed.iter()).unwrap();
        assert_eq!(current.job_title.as_deref(), Some("Manager"));
        assert_eq!(
            effective(&listed[3]),
            Some(
                NaiveDate::from_ymd_opt(2025, 1, 1)
                    .unwrap()
                    .and_hms_opt(7, 30, 0)
                    .unwrap()
            )
        );
        assert_eq!(effective(&listed[2]), None);
    }

    #[test]
    fn the_work_email_is_the_field_then_the_work_entry_then_the_primary_one() {
        let mut employee = TrutoEmployee {
            emails: vec![
                email("home@example.com", Some("personal"), Some(false)),
                email("main@example.com", None, Some(true)),
            ],
            ..TrutoEmployee::default()
        };
        assert_eq!(work_email(&employee), Some("main@example.com"));
        employee
            .emails
            .push(email("ann@acme.example", Some("WORK"), None));
        assert_eq!(work_email(&employee), Some("ann@acme.example"));
        employee.work_email = Some("ann.field@acme.example".to_owned());
        assert_eq!(work_email(&employee), Some("ann.field@acme.example"));
    }

    #[test]
    fn the_org_role_source_is_one_of_two_words() {
        assert!(matches!(
            OrgRoleFrom::parse("job_title"),
            Ok(OrgRoleFrom::JobTitle)
        ));
        assert!(matches!(
            OrgRoleFrom::parse("group"),
            Ok(OrgRoleFrom::Group)
        ));
        assert!(OrgRoleFrom::parse("title").unwrap_err().contains("`title`"));
    }
}
