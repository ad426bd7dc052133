//! The per-subject index of `GetHistory` (docs/reference/api.md#ledger-service): for every account,
//! employee, device and key id, the seqs of the entries about it, kept as the entries are applied,
//! so a history is a few point reads rather than a scan of the ledger. It is part of the
//! projections, but checkpointed apart from them and in parts, each holding the seqs since the
//! previous part ([`SubjectIndex::after`]), so that a checkpoint costs what changed, not the whole
//! history.

use std::collections::{BTreeSet, HashMap};

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::event::Event;

/// Ids of one kind an event is about: nearly always none or one, held without an allocation
/// (every entry replayed asks).
pub type Ids<'a> = SmallVec<[&'a str; 1]>;

fn one(id: &str) -> Ids<'_> {
    SmallVec::from_buf([id])
}

/// The ids one event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subjects<'a> {
    pub account_ids: Ids<'a>,
    pub employee_ids: Ids<'a>,
    /// Devices and keys, by their ids.
    pub thing_ids: Ids<'a>,
}

/// Which accounts and employees `event` is about: the one place that decides what a history
/// holds.
pub fn subjects_of(event: &Event) -> Subjects<'_> {
    fn accounts(ids: Ids<'_>) -> Subjects<'_> {
        Subjects {
            account_ids: ids,
            ..Subjects::default()
        }
    }
    fn employees(ids: Ids<'_>) -> Subjects<'_> {
        Subjects {
            employee_ids: ids,
            ..Subjects::default()
        }
    }
    fn things(ids: Ids<'_>) -> Subjects<'_> {
        Subjects {
            thing_ids: ids,
            ..Subjects::default()
        }
    }
    match event {
        Event::UserSeen { account: seen, .. } => accounts(one(&seen.id)),
        Event::UserRemoved { account_id, .. }
        | Event::RoleChanged { account_id, .. }
        | Event::StatusChanged { account_id, .. }
        | Event::AccountDeclassified { account_id, .. } => accounts(one(account_id)),
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
            account_ids: one(account_id),
            employee_ids: one(employee_id),
            ..Subjects::default()
        },
        Event::AccountClassified {
            account_id,
            owner_employee_id,
            ..
        } => Subjects {
            account_ids: one(account_id),
            employee_ids: owner_employee_id.iter().map(String::as_str).collect(),
            ..Subjects::default()
        },
        Event::EmployeeOnboarded { employee: record } => employees(one(&record.employee_id)),
        Event::EmployeeUpdated { employee_id, .. }
        | Event::EmployeeOffboarded { employee_id, .. }
        | Event::EmployeeReinstated { employee_id, .. } => employees(one(employee_id)),
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
            ..Subjects::default()
        },
        // The revocation names only the exception; its grant names the subject.
        Event::ExceptionRevoked { .. } => Subjects::default(),
        Event::DeviceSeen { device: seen, .. } | Event::DeviceChanged { device: seen, .. } => {
            things(one(&seen.id))
        }
        Event::DeviceRemoved { device_id, .. } => things(one(device_id)),
        Event::KeySeen { key: seen, .. } | Event::KeyChanged { key: seen, .. } => {
            things(one(&seen.id))
        }
        Event::KeyRemoved { key_id, .. } => things(one(key_id)),
        // A review is about every account of its population (this part's), and a decision
        // about its account; the completion closes the review as a whole.
        Event::AccessReviewStarted { population, .. } => accounts(
            population
                .iter()
                .map(|account| account.account_id.as_str())
                .collect(),
        ),
        Event::AccessReviewDecided { account_id, .. } => accounts(one(account_id)),
        Event::AccessReviewCompleted { .. } | Event::AccessReviewCancelled { .. } => {
            Subjects::default()
        }
        // A reassignment is about the two reviewers.
        Event::AccessReviewReviewerReassigned {
            from_employee_id,
            to_employee_id,
            ..
        } => employees(
            [from_employee_id.as_str(), to_employee_id.as_str()]
                .into_iter()
                .collect(),
        ),
        // A delivery is about a notification; the finding it covered is named as text.
        Event::AlertDelivered { .. } | Event::WitnessRefused { .. } => Subjects::default(),
        // The audit log's target is an account, a device or a key, by its id.
        Event::ChangeAttributed { target, .. } => Subjects {
            account_ids: one(&target.id),
            thing_ids: one(&target.id),
            ..Subjects::default()
        },
    }
}

/// Seqs by id. Hashed, not ordered: nothing walks it in id order, and every entry replayed
/// looks an id up in it (an ordered map's string comparisons were a tenth of replay). The hash
/// is seeded per process, so ids chosen upstream cannot be made to collide.
/// An id of up to 24 bytes (every account and employee id seen) is held in the map's slot
/// itself, so a lookup compares it without reaching into another allocation.
type Seqs = HashMap<CompactString, Vec<u64>, foldhash::fast::RandomState>;

/// The seqs of the entries about each account id and each employee id, ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectIndex {
    accounts: Seqs,
    employees: Seqs,
    /// Devices and keys.
    things: Seqs,
}

impl SubjectIndex {
    /// Adds the entry at `seq`, which follows every entry already in the index.
    pub fn apply(&mut self, seq: u64, event: &Event) {
        let subjects = subjects_of(event);
        for (index, ids) in [
            (&mut self.accounts, subjects.account_ids),
            (&mut self.employees, subjects.employee_ids),
            (&mut self.things, subjects.thing_ids),
        ] {
            for id in ids {
                // Looked up by the borrowed id first: most entries are about a known subject, and
                // an owned key for each would be an allocation per id per entry replayed.
                match index.get_mut(id) {
                    // An event may name one id twice (a withheld list); record the entry once.
                    Some(seqs) if seqs.last() == Some(&seq) => {}
                    Some(seqs) => seqs.push(seq),
                    None => {
                        index.insert(CompactString::from(id), vec![seq]);
                    }
                }
            }
        }
    }

    /// The part of the index for the entries after seq `after`: each subject with the seqs
    /// above it, none without.
    pub fn after(&self, after: u64) -> SubjectIndex {
        let part = |seqs: &Seqs| -> Seqs {
            seqs.iter()
                .filter(|(_, seqs)| seqs.last().is_some_and(|&last| last > after))
                .map(|(id, seqs)| {
                    let start = seqs.partition_point(|&seq| seq <= after);
                    (id.clone(), seqs[start..].to_vec())
                })
                .collect()
        };
        SubjectIndex {
            accounts: part(&self.accounts),
            employees: part(&self.employees),
            things: part(&self.things),
        }
    }

    /// Adds a later part (what [`SubjectIndex::after`] gave), whose seqs all follow every seq
    /// already held.
    pub fn extend(&mut self, part: SubjectIndex) {
        for (index, part) in [
            (&mut self.accounts, part.accounts),
            (&mut self.employees, part.employees),
            (&mut self.things, part.things),
        ] {
            for (id, seqs) in part {
                index.entry(id).or_default().extend(seqs);
            }
        }
    }

    /// The seqs of the entries about any of these accounts, employees, devices or keys,
    /// ascending.
    pub fn seqs<'a>(
        &self,
        account_ids: impl IntoIterator<Item = &'a String>,
        employee_ids: impl IntoIterator<Item = &'a String>,
        thing_ids: impl IntoIterator<Item = &'a String>,
    ) -> BTreeSet<u64> {
        let accounts = account_ids
            .into_iter()
            .filter_map(|id| self.accounts.get(id.as_str()));
        let employees = employee_ids
            .into_iter()
            .filter_map(|id| self.employees.get(id.as_str()));
        let things = thing_ids
            .into_iter()
            .filter_map(|id| self.things.get(id.as_str()));
        accounts
            .chain(employees)
            .chain(things)
            .flatten()
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::SubjectIndex;
    use crate::event::Event;

    /// A part names only the subjects of the entries after its start: a subject whose last entry
    /// is exactly at the start is not in it, not even with no seqs.
    #[test]
    fn a_part_leaves_out_a_subject_whose_last_entry_is_at_its_start() {
        let mut index = SubjectIndex::default();
        for (seq, account_id) in [(1, "a2"), (2, "a1"), (3, "a2")] {
            index.apply(seq, &Event::declassified(account_id));
        }
        let part = index.after(2);
        assert!(!part.accounts.contains_key("a1"));
        assert_eq!(part.accounts.get("a2"), Some(&vec![3]));
    }
}
