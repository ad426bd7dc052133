//! Identity resolution: which employee an account belongs to (docs/reference/checks.md#identity).
//!
//! In order: a manual link set by an admin; else a case-insensitive match of the account's login
//! name to an employee's email, after mapping the login's domain through `email_aliases`
//! (account domain → HR domain). Auto links are derived here on every read, never recorded.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::event::EmailAlias;
use crate::projection::{AccountState, EmployeeState, Employees, Mark, SystemState, lowercase};

/// How an account is linked to an employee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Matched by email.
    Auto,
    /// Set by an admin; wins over an email match.
    Manual,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Auto => "auto",
            LinkKind::Manual => "manual",
        }
    }
}

/// An account's resolved link to an employee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmployeeLink<'a> {
    pub employee: &'a EmployeeState,
    pub kind: LinkKind,
    /// The manual link's entry, for evidence.
    pub manual_since: Option<Mark>,
    /// The entry since which the facts the link rests on stand: the manual link's, or for an
    /// auto link the later of the entries that set the account's login name and the employee's
    /// email (the aliases in force are the caller's to date).
    pub since: Mark,
}

/// Domain aliases from the configuration: account domain → HR domain, lower-cased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmailAliases(BTreeMap<String, String>);

impl EmailAliases {
    pub fn new(aliases: impl IntoIterator<Item = (String, String)>) -> Self {
        EmailAliases(
            aliases
                .into_iter()
                .map(|(from, to)| (from.to_lowercase(), to.to_lowercase()))
                .collect(),
        )
    }

    /// The aliases as `SettingsChanged` records them, in account-domain order.
    pub fn to_record(&self) -> Vec<EmailAlias> {
        self.0
            .iter()
            .map(|(from, to)| EmailAlias {
                from: from.clone(),
                to: to.clone(),
            })
            .collect()
    }

    /// The HR email a login name stands for: lower-cased, with an aliased domain replaced;
    /// borrowed when that changes nothing.
    pub fn hr_email<'a>(&self, login_name: &'a str) -> Cow<'a, str> {
        let login = lowercase(login_name);
        match login.rsplit_once('@') {
            Some((local, domain)) => match self.0.get(domain) {
                Some(hr_domain) => Cow::Owned(format!("{local}@{hr_domain}")),
                None => login,
            },
            None => login,
        }
    }

    /// The login names whose HR email is `email` (lower-cased): `email` itself and, for every
    /// account domain aliased to its domain, the same local part at that domain. An email
    /// match can link only accounts with one of these login names.
    pub fn logins_for(&self, email: &str) -> Vec<String> {
        let email = lowercase(email).into_owned();
        let aliased = match email.rsplit_once('@') {
            Some((local, domain)) => self
                .0
                .iter()
                .filter(|(_, to)| *to == domain)
                .map(|(from, _)| format!("{local}@{from}"))
                .collect(),
            None => Vec::new(),
        };
        std::iter::once(email).chain(aliased).collect()
    }
}

/// The employee an account of `system` belongs to, if any.
pub fn resolve<'a>(
    system: &SystemState,
    employees: &'a Employees,
    account: &AccountState,
    aliases: &EmailAliases,
) -> Option<EmployeeLink<'a>> {
    if let Some(manual) = system.links.get(&account.snapshot.id) {
        // A manual link to an employee the roster does not know is refused when it is made; if
        // the employee is missing anyway, the account is not linked to anyone real.
        return employees
            .get(&manual.employee_id)
            .map(|employee| EmployeeLink {
                employee,
                kind: LinkKind::Manual,
                manual_since: Some(manual.since),
                since: manual.since,
            });
    }
    employees
        .by_email(&aliases.hr_email(&account.snapshot.login_name))
        .map(|employee| EmployeeLink {
            employee,
            kind: LinkKind::Auto,
            manual_since: None,
            since: if employee.email_since.seq > account.login_since.seq {
                employee.email_since
            } else {
                account.login_since
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_map_the_login_domain_case_insensitively() {
        let aliases = EmailAliases::new([("Corp.Example".to_owned(), "example.com".to_owned())]);
        assert_eq!(aliases.hr_email("Dana@corp.example"), "dana@example.com");
        assert_eq!(aliases.hr_email("dana@other.example"), "dana@other.example");
        assert_eq!(aliases.hr_email("no-at-sign"), "no-at-sign");
        // Every login name a match can link, and only those.
        assert_eq!(
            aliases.logins_for("Dana@Example.com"),
            ["dana@example.com", "dana@corp.example"]
        );
        for login in aliases.logins_for("Dana@Example.com") {
            assert_eq!(aliases.hr_email(&login), "dana@example.com");
        }
        assert_eq!(
            aliases.logins_for("dana@corp.example"),
            ["dana@corp.example"]
        );
    }
}
