//! Which events are about a subject: an account (by id or login name) or an employee (by id or
//! email). Pure: the caller resolves the subject against the projections and scans the ledger.

use std::collections::BTreeSet;

use crate::event::Event;
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
            for account in state.accounts.values() {
                if account.snapshot.id == text
                    || account.snapshot.login_name.eq_ignore_ascii_case(text)
                {
                    subject.account_ids.insert(account.snapshot.id.clone());
                    let login = &account.snapshot.login_name;
                    subject.device_ids.extend(
                        state
                            .leftovers
                            .devices
                            .values()
                            .filter(|device| device.device.user.eq_ignore_ascii_case(login))
                            .map(|device| device.device.id.clone()),
                    );
                    subject.key_ids.extend(
                        state
                            .leftovers
                            .keys
                            .values()
                            .filter(|key| key.key.user_id == account.snapshot.id)
                            .map(|key| key.key.id.clone()),
                    );
                }
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

    /// Whether `event` is about this subject.
    pub fn is_about(&self, event: &Event) -> bool {
        let account = |id: &String| self.account_ids.contains(id);
        let employee = |id: &String| self.employee_ids.contains(id);
        let device = |id: &String| self.device_ids.contains(id);
        let key = |id: &String| self.key_ids.contains(id);
        match event {
            Event::UserSeen { account: seen, .. } => account(&seen.id),
            Event::UserRemoved { account_id, .. }
            | Event::RoleChanged { account_id, .. }
            | Event::StatusChanged { account_id, .. }
            | Event::AccountDeclassified { account_id, .. } => account(account_id),
            Event::AccountLinked {
                account_id,
                employee_id,
                ..
            }
            | Event::AccountUnlinked {
                account_id,
                employee_id,
                ..
            } => account(account_id) || employee(employee_id),
            Event::AccountClassified {
                account_id,
                owner_employee_id,
                ..
            } => account(account_id) || owner_employee_id.as_ref().is_some_and(employee),
            Event::EmployeeOnboarded { employee: record } => employee(&record.employee_id),
            Event::EmployeeUpdated { employee_id, .. }
            | Event::EmployeeOffboarded { employee_id, .. }
            | Event::EmployeeReinstated { employee_id, .. } => employee(employee_id),
            Event::SyncAnomaly {
                withheld_account_ids: account_ids,
                ..
            }
            | Event::RemovalsConfirmed { account_ids, .. } => account_ids.iter().any(account),
            Event::AccessPolicySet { .. }
            | Event::SyncCompleted { .. }
            | Event::SyncFailed { .. }
            | Event::CredentialObserved { .. }
            | Event::RosterRejected { .. }
            | Event::RosterAccepted { .. } => false,
            // Tailscale's `data.user` names a login, but the receiver does not read `data`;
            // the sync the delivery starts records the account's events.
            Event::WebhookReceived { .. } => false,
            Event::DeviceSeen { device: seen, .. } | Event::DeviceChanged { device: seen, .. } => {
                device(&seen.id)
            }
            Event::DeviceRemoved { device_id, .. } => device(device_id),
            Event::KeySeen { key: seen, .. } | Event::KeyChanged { key: seen, .. } => key(&seen.id),
            Event::KeyRemoved { key_id, .. } => key(key_id),
            // The audit log's target is an account, a device or a key, by its id.
            Event::ChangeAttributed { target, .. } => {
                account(&target.id) || device(&target.id) || key(&target.id)
            }
        }
    }
}
