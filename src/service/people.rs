//! A person's page (`GET /people/{id}` of the console): the person as of an instant, the
//! accounts linked to them then, and every entry about them, found through the projections'
//! indexes rather than by scanning every account: the accounts whose login name an email match
//! could link to them (the accounts-by-login lookup, after the domain aliases in force) and the
//! accounts an admin ever linked to them by hand (the `AccountLinked` entries of their
//! per-subject history). Each candidate is kept only if it resolves to them at that instant.

use std::collections::BTreeSet;

use super::{AccountView, Service, ServiceError, account_view, findings_by_account};
use crate::entry::Entry;
use crate::event::{Event, SystemId};
use crate::identity::resolve;
use crate::projection::EmployeeState;
use crate::time::Timestamp;

/// A person as of an instant.
#[derive(Clone, Debug)]
pub struct PersonView {
    pub employee: EmployeeState,
    /// The accounts of the system linked to them, in account id order.
    pub accounts: Vec<AccountView>,
    /// Every entry about them recorded by the instant, in seq order.
    pub history: Vec<Entry>,
}

impl Service {
    /// Employee `employee_id` as of `at` with the accounts of `system` linked to them then and
    /// the entries about them recorded by then; `None` if the roster did not list them by then.
    pub async fn person(
        &self,
        system: SystemId,
        employee_id: String,
        at: Timestamp,
    ) -> Result<Option<PersonView>, ServiceError> {
        let seqs = self.ledger.read(|projections| {
            projections
                .subjects()
                .map_or_else(BTreeSet::new, |index| index.seqs([], [&employee_id], []))
        });
        self.blocking(move |service| {
            let mut history = Vec::new();
            for seq in seqs {
                match service.ledger.log().get(seq)? {
                    Some(entry) if entry.recorded_at > at => break,
                    Some(entry) => history.push(entry),
                    None => {}
                }
            }
            let by_hand: BTreeSet<&str> = history
                .iter()
                .filter_map(|entry| match &entry.event {
                    Event::AccountLinked { account_id, .. } => Some(account_id.as_str()),
                    _ => None,
                })
                .collect();
            let in_force = service.settings_at(&system, at);
            let settings = &in_force.settings;
            let found = service.ledger.read_as_of(Some(at), |projections| {
                let employee = projections.employees().get(&employee_id)?;
                let Some(state) = projections.system(&system) else {
                    return Some((employee.clone(), Vec::new()));
                };
                let by_login = settings
                    .email_aliases
                    .logins_for(&employee.record.email)
                    .into_iter()
                    .flat_map(|login| {
                        state
                            .accounts_with_login(&login)
                            .map(|account| account.snapshot.id.as_str())
                            .collect::<Vec<_>>()
                    });
                let candidates: BTreeSet<&str> = by_hand.iter().copied().chain(by_login).collect();
                let linked: Vec<_> = candidates
                    .into_iter()
                    .filter_map(|account_id| state.accounts.get(account_id))
                    .filter(|account| {
                        resolve(
                            state,
                            projections.employees(),
                            account,
                            &settings.email_aliases,
                        )
                        .is_some_and(|link| link.employee.record.employee_id == employee_id)
                    })
                    .collect();
                let checks = service.answers.checks(projections, &system, at, settings);
                let reasons = findings_by_account(state, &checks);
                let accounts = linked
                    .into_iter()
                    .map(|account| account_view(projections, state, &reasons, settings, account))
                    .collect();
                Some((employee.clone(), accounts))
            })?;
            Ok(found.map(|(employee, accounts)| PersonView {
                employee,
                accounts,
                history,
            }))
        })
        .await
    }
}
