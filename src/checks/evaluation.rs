//! The checks' answer kept up to date as entries are applied, so that following it through a
//! window costs what the entries change rather than a pass over every account at every instant.
//!
//! The per-account checks (`user-identified`, `offboarded-access-removed`, `user-access-valid`)
//! are kept per account: an account is evaluated again only when an entry touches it (by the
//! subjects the entry names, the employee it is linked to or would link to by email), when an
//! instant at which time alone changes its answer has come, when the last successful sync its
//! findings cite has moved, or — for every account — when the policy or the settings changed.
//! The checks about the system as a whole (the policy, the integration, what leavers left
//! behind, the access reviews) are cheap and computed afresh at each evaluation. A one-off [`Evaluation::once`] is
//! the same pass over every account without the indexes, and is what [`super::evaluate`] runs, so
//! the timeline's property test (the timeline equals a fresh evaluation at every boundary) is
//! the check that the incremental path misses nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use foldhash::fast::RandomState as Hashed;

use super::{CheckResult, CheckSettings, Context, Finding, holds_access};
use crate::event::{Event, SystemId};
use crate::projection::{AccountState, Mark, Projections, SystemState, subjects_of};
use crate::time::Timestamp;

/// What the per-account checks found about one account holding access.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct AccountFindings {
    /// `user-identified`.
    pub(super) unidentified: Option<Finding>,
    /// `offboarded-access-removed`; its evidence cites the last successful sync.
    pub(super) retained: Option<Finding>,
    /// `user-access-valid`: the org role, then the privileged role.
    pub(super) invalid: Vec<Finding>,
}

impl AccountFindings {
    fn is_empty(&self) -> bool {
        self.unidentified.is_none() && self.retained.is_none() && self.invalid.is_empty()
    }
}

/// An account id as the evaluation files it: allocated once while the account holds access and
/// shared by every index that files it, instead of a `String` clone per index each time a batch
/// touches the account (much of `insert` and `unfile`, together a quarter of a long timeline).
type Name = Arc<str>;

/// Accounts filed under an employee id or an HR email. A key whose accounts have all gone stays,
/// empty: the keys are as few as the employees, and an account losing and regaining access with
/// every other batch would otherwise drop and allocate its key each time.
type Filed = HashMap<String, HashSet<Name, Hashed>, Hashed>;

/// What an account holding access was last evaluated with: how to find it again when what it
/// rests on changes.
struct Holding {
    employee_id: Option<String>,
    hr_email: String,
    /// Its entries in `instants`.
    instants: Vec<Timestamp>,
}

/// The checks of one system as of an instant, ready to be brought forward.
pub struct Evaluation {
    system: SystemId,
    settings: CheckSettings,
    /// The instant evaluated last.
    now: Timestamp,
    /// Whether the indexes an [`Evaluation::advance`] needs are kept.
    tracked: bool,
    /// The accounts with a per-account finding, in id order (the order a pass over the
    /// accounts gives).
    findings: BTreeMap<Name, AccountFindings>,
    /// Every account holding access, by id.
    holding: HashMap<Name, Holding, Hashed>,
    /// Accounts holding access by the employee they are linked to.
    by_employee: Filed,
    /// Accounts holding access by the HR email their login name stands for.
    by_email: Filed,
    /// (instant, account id): when time alone may change an account's answer; all after `now`.
    instants: BTreeSet<(Timestamp, Name)>,
    /// The accounts whose findings cite the last successful sync.
    citing_sync: HashSet<Name, Hashed>,
    /// What every account's answer rests on, as evaluated.
    policy_since: Option<Mark>,
    last_sync: Option<Mark>,
    /// What the entries applied since the last evaluation touched.
    touched_accounts: Noted,
    touched_employees: Noted,
    /// Employee emails, lower-cased, that an entry since the last evaluation gave or took away.
    touched_emails: BTreeSet<String>,
}

/// Ids noted since the last evaluation, in buffers kept from one evaluation to the next: every
/// entry of a timeline is noted, and copying its ids into a kept buffer costs no allocation.
#[derive(Default)]
struct Noted {
    ids: Vec<String>,
    /// How many of `ids` hold an id noted; the rest are spare buffers.
    len: usize,
}

impl Noted {
    fn push(&mut self, id: &str) {
        match self.ids.get_mut(self.len) {
            Some(spare) => {
                spare.clear();
                spare.push_str(id);
            }
            None => self.ids.push(id.to_owned()),
        }
        self.len += 1;
    }

    /// The ids noted, sorted, each once; the next `push` starts afresh.
    fn drain(&mut self) -> impl Iterator<Item = &str> {
        let noted = &mut self.ids[..self.len];
        self.len = 0;
        noted.sort_unstable();
        let mut previous = None;
        noted.iter().map(String::as_str).filter(move |id| {
            let again = previous == Some(*id);
            previous = Some(*id);
            !again
        })
    }
}

impl Evaluation {
    /// Evaluates every check of `system` at `now`, keeping what [`Evaluation::advance`] needs.
    pub fn new(
        projections: &Projections,
        system: &SystemId,
        now: Timestamp,
        settings: &CheckSettings,
    ) -> Self {
        Self::build(projections, system, now, settings, true)
    }

    /// Evaluates every check of `system` at `now`, to be read rather than brought forward.
    pub fn once(
        projections: &Projections,
        system: &SystemId,
        now: Timestamp,
        settings: &CheckSettings,
    ) -> Self {
        Self::build(projections, system, now, settings, false)
    }

    fn build(
        projections: &Projections,
        system: &SystemId,
        now: Timestamp,
        settings: &CheckSettings,
        tracked: bool,
    ) -> Self {
        let empty = SystemState::default();
        let context = Context::new(projections, system, &empty, now, settings);
        let mut evaluation = Evaluation {
            system: system.clone(),
            settings: settings.clone(),
            now,
            tracked,
            findings: BTreeMap::new(),
            holding: HashMap::default(),
            by_employee: HashMap::default(),
            by_email: HashMap::default(),
            instants: BTreeSet::new(),
            citing_sync: HashSet::default(),
            policy_since: context.state.policy.as_ref().map(|policy| policy.since),
            last_sync: context.state.last_completed_sync,
            touched_accounts: Noted::default(),
            touched_employees: Noted::default(),
            touched_emails: BTreeSet::new(),
        };
        for account in context.with_access() {
            evaluation.insert(&context, account);
        }
        evaluation
    }

    /// Records what an entry touches, for the next [`Evaluation::advance`]; called with the
    /// projections the entry is about to be applied to, so that an employee's email before the
    /// entry is known as well as after it (which `advance` reads): an account whose login stood
    /// for either may link differently now.
    pub fn note(&mut self, projections: &Projections, event: &Event) {
        let subjects = subjects_of(event);
        for employee_id in &subjects.employee_ids {
            if let Some(employee) = projections.employees().get(employee_id) {
                self.touched_emails
                    .insert(employee.record.email.to_lowercase());
            }
        }
        for account_id in subjects.account_ids {
            self.touched_accounts.push(account_id);
        }
        for employee_id in subjects.employee_ids {
            self.touched_employees.push(employee_id);
        }
    }

    /// Brings the evaluation to `now`, with `settings` in force, over `projections`: the
    /// projections evaluated last with every entry noted since applied.
    pub fn advance(&mut self, projections: &Projections, now: Timestamp, settings: &CheckSettings) {
        let system = self.system.clone();
        let empty = SystemState::default();
        let state = projections.system(&system).unwrap_or(&empty);
        let policy_since = state.policy.as_ref().map(|policy| policy.since);
        if *settings != self.settings || policy_since != self.policy_since || !self.tracked {
            *self = Self::new(projections, &system, now, settings);
            return;
        }
        let mut again = std::mem::take(&mut self.touched_accounts);
        let mut emails = std::mem::take(&mut self.touched_emails);
        for employee_id in self.touched_employees.drain() {
            for account_id in self.by_employee.get(employee_id).into_iter().flatten() {
                again.push(account_id);
            }
            if let Some(employee) = projections.employees().get(employee_id) {
                emails.insert(employee.record.email.to_lowercase());
            }
        }
        for email in &emails {
            for account_id in self.by_email.get(email).into_iter().flatten() {
                again.push(account_id);
            }
        }
        emails.clear();
        self.touched_emails = emails;
        while let Some(first) = self.instants.first()
            && first.0 <= now
        {
            if let Some((_, account_id)) = self.instants.pop_first() {
                again.push(&account_id);
            }
        }
        if state.last_completed_sync != self.last_sync {
            self.last_sync = state.last_completed_sync;
            for account_id in &self.citing_sync {
                again.push(account_id);
            }
        }
        self.now = now;
        let context = Context::new(projections, &system, &empty, now, settings);
        for account_id in again.drain() {
            match state
                .accounts
                .get(account_id)
                .filter(|account| holds_access(account.present, &account.snapshot.status, settings))
            {
                Some(account) => self.insert(&context, account),
                None => self.remove(account_id),
            }
        }
        // Its buffers serve the next batch.
        self.touched_accounts = again;
    }

    /// Evaluates `account`, which holds access, and files what it rests on; an account filed
    /// before under the same link, email and instants keeps its filing.
    fn insert(&mut self, context: &Context<'_>, account: &AccountState) {
        let id = &self.name(&account.snapshot.id);
        let link = context.employee_of(account);
        let findings = context.account_findings(account, link.as_ref());
        let instants: Vec<Timestamp> = context
            .account_time_changes(link.as_ref())
            .into_iter()
            .flatten()
            .filter(|instant| *instant > self.now)
            .collect();
        let retained = findings.retained.is_some();
        if findings.is_empty() {
            self.findings.remove(id);
        } else {
            self.findings.insert(Arc::clone(id), findings);
        }
        if !self.tracked {
            self.instants.extend(
                instants
                    .into_iter()
                    .map(|instant| (instant, Arc::clone(id))),
            );
            return;
        }
        if retained {
            self.citing_sync.insert(Arc::clone(id));
        } else {
            self.citing_sync.remove(id);
        }
        // A manual link names its employee even while the roster does not know them: the
        // account links once they are onboarded.
        let employee_id = context
            .state
            .links
            .get(&**id)
            .map(|manual| manual.employee_id.as_str())
            .or_else(|| link.map(|link| link.employee.record.employee_id.as_str()));
        let hr_email = context
            .settings
            .email_aliases
            .hr_email(&account.snapshot.login_name);
        if self.holding.get(id).is_some_and(|kept| {
            kept.employee_id.as_deref() == employee_id
                && kept.hr_email == hr_email
                && kept.instants == instants
        }) {
            return;
        }
        self.unfile(id);
        for instant in &instants {
            self.instants.insert((*instant, Arc::clone(id)));
        }
        if let Some(employee_id) = employee_id {
            file(&mut self.by_employee, employee_id, id);
        }
        file(&mut self.by_email, &hr_email, id);
        self.holding.insert(
            Arc::clone(id),
            Holding {
                employee_id: employee_id.map(str::to_owned),
                hr_email: hr_email.into_owned(),
                instants,
            },
        );
    }

    /// `account_id` as the indexes hold it: the name they file it under while it holds access.
    fn name(&self, account_id: &str) -> Name {
        match self.holding.get_key_value(account_id) {
            Some((name, _)) => Arc::clone(name),
            None => Name::from(account_id),
        }
    }

    /// Forgets what was found and filed about `account_id`.
    fn remove(&mut self, account_id: &str) {
        self.findings.remove(account_id);
        self.citing_sync.remove(account_id);
        self.unfile(account_id);
    }

    /// Takes `account_id` out of the indexes.
    fn unfile(&mut self, account_id: &str) {
        let Some((name, holding)) = self.holding.remove_entry(account_id) else {
            return;
        };
        for instant in holding.instants {
            self.instants.remove(&(instant, Arc::clone(&name)));
        }
        if let Some(employee_id) = holding.employee_id {
            forget(&mut self.by_employee, &employee_id, account_id);
        }
        forget(&mut self.by_email, &holding.hr_email, account_id);
    }

    /// The result of every check, in [`super::CHECKS`] order, as of the instant evaluated.
    pub fn results(&self, projections: &Projections) -> Vec<CheckResult> {
        let empty = SystemState::default();
        let context = Context::new(projections, &self.system, &empty, self.now, &self.settings);
        let accounts = || self.findings.values();
        let no_policy = context.no_policy();
        let findings = [
            accounts()
                .filter_map(|found| found.unidentified.clone())
                .collect(),
            accounts()
                .filter_map(|found| found.retained.clone())
                .collect(),
            no_policy.iter().cloned().collect(),
            match no_policy {
                Some(finding) => vec![finding],
                None => accounts()
                    .flat_map(|found| found.invalid.iter().cloned())
                    .collect(),
            },
            context.integration_healthy(),
            context.offboarded_leftovers_removed(),
            context.access_review_actions_done(),
            context.access_review_current(),
        ];
        super::results(projections, &self.system, self.now, findings)
    }

    /// The first instant after `after` (not before the instant evaluated) at which time alone
    /// changes the answer; see [`super::next_time_change`].
    pub fn next_time_change(
        &self,
        projections: &Projections,
        after: Timestamp,
    ) -> Option<Timestamp> {
        let empty = SystemState::default();
        let context = Context::new(projections, &self.system, &empty, after, &self.settings);
        let per_account = self
            .instants
            .iter()
            .map(|(instant, _)| *instant)
            .find(|instant| *instant > after);
        context
            .system_time_changes()
            .filter(|instant| *instant > after)
            .chain(per_account)
            .min()
    }
}

/// Files `account_id` under `key`.
fn file(index: &mut Filed, key: &str, account_id: &Name) {
    let account_id = Arc::clone(account_id);
    match index.get_mut(key) {
        Some(accounts) => {
            accounts.insert(account_id);
        }
        None => {
            index.insert(key.to_owned(), HashSet::from_iter([account_id]));
        }
    }
}

/// Removes `account_id` from the accounts filed under `key`; the key stays.
fn forget(index: &mut Filed, key: &str, account_id: &str) {
    if let Some(accounts) = index.get_mut(key) {
        accounts.remove(account_id);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{dana_holds_access_and_leaves, projections};
    use super::*;

    /// An account that stops holding access leaves no filing behind under its employee or its
    /// email: a stale one would not change an answer, only have every later touch of that
    /// employee evaluate the account again for nothing.
    #[test]
    fn an_account_that_loses_access_is_unfiled_from_its_employee_and_its_email() {
        let system = SystemId::tailscale();
        let (recorded_at, leaving_at) = (Timestamp::UNIX_EPOCH, Timestamp::MAX);
        let events = dana_holds_access_and_leaves(leaving_at);
        let before = projections(recorded_at, events.clone());
        let settings = CheckSettings::default();
        let mut evaluation = Evaluation::new(&before, &system, recorded_at, &settings);
        let filed = |evaluation: &Evaluation| {
            (
                evaluation.by_employee.get("E-1").map(HashSet::len),
                evaluation
                    .by_email
                    .get("dana@acme.example")
                    .map(HashSet::len),
            )
        };
        assert_eq!(filed(&evaluation), (Some(1), Some(1)));

        let removed = Event::UserRemoved {
            system: system.clone(),
            account_id: "u1".to_owned(),
            login_name: "dana@acme.example".to_owned(),
            observed_at: None,
        };
        evaluation.note(&before, &removed);
        let after = projections(recorded_at, [events, vec![removed]].concat());
        evaluation.advance(&after, recorded_at, &settings);
        assert_eq!(filed(&evaluation), (Some(0), Some(0)));
        assert!(evaluation.holding.is_empty());
    }
}
