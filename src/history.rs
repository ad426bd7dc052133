//! Which events are about a subject: an account (by id or login name) or an employee (by id or
//! email), resolved against the projections — by lookups in their maps and indexes (accounts by
//! login name, devices by the login that registered them, keys by their user id), never a scan —
//! whose per-subject index (`projection::subjects_of` decides what each event is about) gives the
//! seqs of its entries. Pure: the caller reads them.

use std::collections::BTreeSet;

use crate::projection::Projections;

/// The accounts and employees a `GetHistory` subject names: which events the history keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub account_ids: BTreeSet<String>,
    pub employee_ids: BTreeSet<String>,
    /// The devices the accounts registered and the keys they created, as any listing had them.
    pub device_ids: BTreeSet<String>,
    pub key_ids: BTreeSet<String>,
}

impl HistoryFilter {
    /// Resolves `text` as an account id or login name (in any system) and as an employee id or
    /// email; emails and login names compare case-insensitively. `None` if it names nothing.
    pub fn resolve(projections: &Projections, text: &str) -> Option<Self> {
        let mut subject = HistoryFilter::default();
        for state in projections
            .systems()
            .filter_map(|system| projections.system(system))
        {
            let by_id = state.accounts.get(text);
            for account in by_id.into_iter().chain(state.accounts_with_login(text)) {
                let id = &account.snapshot.id;
                subject.account_ids.insert(id.clone());
                subject.device_ids.extend(
                    state
                        .leftovers
                        .devices_registered_by(&account.snapshot.login_name)
                        .map(|device| device.device.id.clone()),
                );
                subject.key_ids.extend(
                    state
                        .leftovers
                        .keys_created_by(id)
                        .map(|key| key.key.id.clone()),
                );
            }
        }
        let employees = projections.employees();
        if let Some(employee) = employees.get(text).or_else(|| employees.by_email(text)) {
            subject
                .employee_ids
                .insert(employee.record.employee_id.clone());
        }
        (!subject.account_ids.is_empty() || !subject.employee_ids.is_empty()).then_some(subject)
    }

    /// The seqs of the entries about this subject, ascending, from the projections' index
    /// (none from projections folded for the checks alone, which keep no index).
    pub fn seqs(&self, projections: &Projections) -> BTreeSet<u64> {
        projections.subjects().map_or_else(BTreeSet::new, |index| {
            index.seqs(
                &self.account_ids,
                &self.employee_ids,
                self.device_ids.iter().chain(&self.key_ids),
            )
        })
    }
}
