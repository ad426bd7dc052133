//! The service: the ledger with its projections, the clock, the check settings and the syncers,
//! and the operations the API, the CLI and the demo offer on them.
//!
//! Each operation that writes decides its events from the current projections and appends them
//! as one batch with nothing in between, or refuses and appends nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::checks::{CheckResult, CheckSettings, Reason, evaluate, holds_access};
use crate::commands::CommandError;
use crate::entry::Entry;
use crate::event::{Actor, Event, SystemId};
use crate::hash::Digest;
use crate::history;
use crate::identity::{LinkKind, resolve};
use crate::projection::{
    AccountState, ClassificationState, EmployeeState, ProjectedLedger, Projections,
};
use crate::report::{OffboardingRow, offboarding_report};
use crate::roster::{ImportSummary, RosterErrors, parse_roster, plan_import};
use crate::store::StoreError;
use crate::sync::{SyncReport, Syncer};
use crate::time::{Clock, Timestamp};

/// Why an operation failed; nothing was appended.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Roster(#[from] RosterErrors),
    #[error("no system `{0}` is audited here (this service audits `tailscale`)")]
    UnknownSystem(String),
    #[error("this service does not sync `{0}`: it has no credential for it")]
    NotSyncing(SystemId),
    #[error("`{0}` is no account id, login name, employee id or email the ledger knows")]
    UnknownSubject(String),
}

/// The checks of one system at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The instant the checks were evaluated at.
    pub evaluated_at: Timestamp,
    /// The last entry the answer is based on.
    pub head: Option<Digest>,
    pub checks: Vec<CheckResult>,
}

/// An account with what the service can say of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountView {
    pub account: AccountState,
    pub holds_access: bool,
    /// The employee it belongs to, and how the link was made.
    pub link: Option<(String, LinkKind)>,
    pub classification: Option<ClassificationState>,
    /// The reasons of the checks' findings about it; empty when its access is valid.
    pub findings: Vec<Reason>,
}

/// Everything the operations need.
pub struct Service {
    books: Arc<ProjectedLedger>,
    clock: Arc<dyn Clock>,
    settings: CheckSettings,
    timezone: chrono_tz::Tz,
    syncers: BTreeMap<SystemId, Arc<Syncer>>,
}

impl Service {
    pub fn new(
        books: Arc<ProjectedLedger>,
        clock: Arc<dyn Clock>,
        settings: CheckSettings,
        timezone: chrono_tz::Tz,
    ) -> Self {
        Service {
            books,
            clock,
            settings,
            timezone,
            syncers: BTreeMap::new(),
        }
    }

    /// Sets the syncer of its system, replacing any earlier one (say, after a credential
    /// rotation).
    pub fn set_syncer(&mut self, syncer: Syncer) {
        self.syncers
            .insert(syncer.system().clone(), Arc::new(syncer));
    }

    pub fn books(&self) -> &Arc<ProjectedLedger> {
        &self.books
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    /// Checks that `system` is one this service audits: today, the one tailnet of the instance.
    pub fn known_system(&self, system: &str) -> Result<SystemId, ServiceError> {
        let id = SystemId(system.to_owned());
        if id == SystemId::tailscale() {
            Ok(id)
        } else {
            Err(ServiceError::UnknownSystem(system.to_owned()))
        }
    }

    /// Decides events from the current state and appends them as one batch by `actor`.
    pub fn command(
        &self,
        actor: Actor,
        decide: impl FnOnce(&Projections) -> Result<Vec<Event>, CommandError>,
    ) -> Result<Vec<Entry>, ServiceError> {
        Ok(self
            .books
            .decide_and_append(self.clock.now(), actor, decide)??)
    }

    /// Imports a roster CSV: all of it, or nothing when any row has a problem.
    pub fn import_roster(
        &self,
        actor: Actor,
        csv: &[u8],
    ) -> Result<(ImportSummary, Vec<Entry>), ServiceError> {
        let rows = parse_roster(csv, self.timezone)?;
        let now = self.clock.now();
        let mut summary = ImportSummary::default();
        let entries = self.books.decide_and_append(now, actor, |projections| {
            let (events, decided) = plan_import(projections, rows, now)?;
            summary = decided;
            Ok::<_, RosterErrors>(events)
        })??;
        Ok((summary, entries))
    }

    /// The checks of `system` now, or as of a past instant.
    pub fn status(
        &self,
        system: &SystemId,
        as_of: Option<Timestamp>,
    ) -> Result<Status, ServiceError> {
        let evaluated_at = as_of.unwrap_or_else(|| self.clock.now());
        Ok(self.books.read_as_of(as_of, |projections| Status {
            evaluated_at,
            head: projections.last_digest(),
            checks: evaluate(projections, system, evaluated_at, &self.settings),
        })?)
    }

    /// The offboarding report for offboardings effective within the window.
    pub fn offboarding_report(
        &self,
        system: &SystemId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Vec<OffboardingRow> {
        let now = self.clock.now();
        self.books.read(|projections| {
            offboarding_report(projections, system, from, to, now, &self.settings)
        })
    }

    /// The accounts of `system`, now or as of an instant, with what the checks say of each.
    pub fn accounts(
        &self,
        system: &SystemId,
        as_of: Option<Timestamp>,
        include_removed: bool,
    ) -> Result<Vec<AccountView>, ServiceError> {
        let now = as_of.unwrap_or_else(|| self.clock.now());
        Ok(self.books.read_as_of(as_of, |projections| {
            let Some(state) = projections.system_ref(system) else {
                return Vec::new();
            };
            let mut reasons: BTreeMap<&str, Vec<Reason>> = BTreeMap::new();
            let checks = evaluate(projections, system, now, &self.settings);
            for finding in checks.iter().flat_map(|check| &check.findings) {
                if let Some(account_id) = &finding.subject.account_id
                    && let Some((key, _)) = state.accounts.get_key_value(account_id)
                {
                    reasons
                        .entry(key.as_str())
                        .or_default()
                        .push(finding.reason);
                }
            }
            state
                .accounts
                .values()
                .filter(|account| include_removed || account.present)
                .map(|account| {
                    let link = resolve(
                        state,
                        projections.employees(),
                        &account.snapshot.id,
                        &account.snapshot.login_name,
                        &self.settings.email_aliases,
                    );
                    AccountView {
                        holds_access: holds_access(
                            account.present,
                            &account.snapshot.status,
                            &self.settings,
                        ),
                        link: link
                            .map(|link| (link.employee.record.employee_id.clone(), link.kind)),
                        classification: state.classifications.get(&account.snapshot.id).cloned(),
                        findings: reasons
                            .get(account.snapshot.id.as_str())
                            .cloned()
                            .unwrap_or_default(),
                        account: account.clone(),
                    }
                })
                .collect()
        })?)
    }

    /// The employees, now or as of an instant.
    pub fn employees(&self, as_of: Option<Timestamp>) -> Result<Vec<EmployeeState>, ServiceError> {
        Ok(self.books.read_as_of(as_of, |projections| {
            projections.employees().iter().cloned().collect()
        })?)
    }

    /// Every entry about an account or employee, recorded within `[from, to]`.
    pub fn history(
        &self,
        subject: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<Entry>, ServiceError> {
        let subject = self
            .books
            .read(|projections| history::Subject::resolve(projections, subject))
            .ok_or_else(|| ServiceError::UnknownSubject(subject.to_owned()))?;
        let mut entries = Vec::new();
        for record in self.books.ledger().scan(1) {
            let (seq, entry) = record?;
            let entry = entry.map_err(|source| StoreError::Corrupt { seq, source })?;
            if to.is_some_and(|to| entry.recorded_at > to) {
                break;
            }
            if from.is_none_or(|from| entry.recorded_at >= from) && subject.is_about(&entry.event) {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    /// Runs a sync of `system` now.
    pub async fn sync_now(&self, system: &SystemId) -> Result<SyncReport, ServiceError> {
        let syncer = self
            .syncers
            .get(system)
            .cloned()
            .ok_or_else(|| ServiceError::NotSyncing(system.clone()))?;
        Ok(syncer.sync_now().await?)
    }
}
