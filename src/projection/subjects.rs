//! The per-subject index of `GetHistory` (SPEC §11): for every account id and employee id, the
//! seqs of the entries about it, kept as the entries are applied, so a history is a few point
//! reads rather than a scan of the ledger. Being part of the projections, it is in their
//! checkpoints and rebuilt by replay wherever they are (an older checkpoint layout is replayed).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// The ids one event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subjects<'a> {
    pub account_ids: Vec<&'a str>,
    pub employee_ids: Vec<&'a str>,
}

/// Which accounts and employees `event` is about: the one place that decides what a history
/// holds.
pub fn subjects_of(event: &Event) -> Subjects<'_> {
    fn accounts(ids: Vec<&str>) -> Subjects<'_> {
        Subjects {
            account_ids: ids,
            employee_ids: Vec::new(),
        }
    }
    fn employees(ids: Vec<&str>) -> Subjects<'_> {
        Subjects {
            account_ids: Vec::new(),
            employee_ids: ids,
        }
    }
    match event {
        Event::UserSeen { account: seen, .. } => accounts(vec![&seen.id]),
        Event::UserRemoved { account_id, .. }
        | Event::RoleChanged { account_id, .. }
        | Event::StatusChanged { account_id, .. }
        | Event::AccountDeclassified { account_id, .. } => accounts(vec![account_id]),
        Event::AccountLinked {
            account_id,
            employee_id,
            ..
        }
        | Event::AccountUnlinked {
            account_id,
            employee_id,
            ..
        } => Subjects {
            account_ids: vec![account_id],
            employee_ids: vec![employee_id],
        },
        Event::AccountClassified {
            account_id,
            owner_employee_id,
            ..
        } => Subjects {
            account_ids: vec![account_id],
            employee_ids: owner_employee_id.iter().map(String::as_str).collect(),
        },
        Event::EmployeeOnboarded { employee: record } => employees(vec![&record.employee_id]),
        Event::EmployeeUpdated { employee_id, .. }
        | Event::EmployeeOffboarded { employee_id, .. }
        | Event::EmployeeReinstated { employee_id, .. } => employees(vec![employee_id]),
        Event::SyncAnomaly {
            withheld_account_ids: account_ids,
            ..
        }
        | Event::RemovalsConfirmed { account_ids, .. } => {
            accounts(account_ids.iter().map(String::as_str).collect())
        }
        Event::AccessPolicySet { .. }
        | Event::SyncCompleted { .. }
        | Event::SyncFailed { .. }
        | Event::CredentialObserved { .. }
        | Event::RosterRejected { .. }
        | Event::RosterAccepted { .. } => Subjects::default(),
        // Tailscale's `data.user` names a login, but the receiver does not read `data`; the
        // sync the delivery starts records the account's events.
        Event::WebhookReceived { .. } => Subjects::default(),
        // Settings are about the whole system, no one account or employee.
        Event::SettingsChanged { .. } => Subjects::default(),
        Event::ExceptionGranted {
            account_id,
            employee_id,
            ..
        } => Subjects {
            account_ids: account_id.iter().map(String::as_str).collect(),
            employee_ids: employee_id.iter().map(String::as_str).collect(),
        },
        // The revocation names only the exception; its grant names the subject.
        Event::ExceptionRevoked { .. } => Subjects::default(),
    }
}

/// The seqs of the entries about each account id and each employee id, ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectIndex {
    accounts: BTreeMap<String, Vec<u64>>,
    employees: BTreeMap<String, Vec<u64>>,
}

impl SubjectIndex {
    pub(super) fn apply(&mut self, seq: u64, event: &Event) {
        let subjects = subjects_of(event);
        for (index, ids) in [
            (&mut self.accounts, subjects.account_ids),
            (&mut self.employees, subjects.employee_ids),
        ] {
            for id in ids {
                let seqs = index.entry(id.to_owned()).or_default();
                // An event may name one id twice (a withheld list); record the entry once.
                if seqs.last() != Some(&seq) {
                    seqs.push(seq);
                }
            }
        }
    }

    /// The seqs of the entries about any of these accounts or employees, ascending.
    pub fn seqs<'a>(
        &self,
        account_ids: impl IntoIterator<Item = &'a String>,
        employee_ids: impl IntoIterator<Item = &'a String>,
    ) -> BTreeSet<u64> {
        let accounts = account_ids
            .into_iter()
            .filter_map(|id| self.accounts.get(id));
        let employees = employee_ids
            .into_iter()
            .filter_map(|id| self.employees.get(id));
        accounts.chain(employees).flatten().copied().collect()
    }
}
