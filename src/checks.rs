//! The compliance checks of docs/reference/checks.md#check-ids, among them
//! `offboarded-leftovers-removed` (`leftovers.rs`) and the access review checks (`reviews.rs`),
//! as a pure evaluation of (projections, instant).
//!
//! A check yields findings; a check with no finding is `PASSING`, any `FAILING` finding makes it
//! `FAILING`, else any `DUE` finding makes it `DUE`. Every finding names its subject, a reason
//! code, a sentence, `since`, the `deadline` where there is one, and the seqs of the entries that
//! prove it. Nothing here reads the clock or the ledger: time and state are handed in.

mod evaluation;
mod leftovers;
mod reviews;

use serde::Serialize;

use crate::access::StatusClass;
use crate::event::{SettingsRecord, SystemId};
use crate::identity::{EmailAliases, EmployeeLink, resolve};
use crate::projection::{
    AccountState, EmployeeState, ExceptionState, Mark, Projections, Said, SystemState,
};
use crate::time::Timestamp;

use evaluation::AccountFindings;
pub use evaluation::Evaluation;
pub use reviews::{FollowThrough, REVIEW_WARNING_SECONDS, ReviewSettings, follow_through};

/// How long before a credential expires the integration check turns `DUE`.
pub const CREDENTIAL_WARNING_SECONDS: u64 = 14 * 24 * 3600;
/// Tailscale roles that administer the tailnet.
pub const PRIVILEGED_ROLES: [&str; 4] = ["owner", "admin", "it-admin", "network-admin"];

/// The checks, in the order they are reported: id and title.
pub const CHECKS: [(&str, &str); 8] = [
    ("user-identified", "User should be identified"),
    (
        "offboarded-access-removed",
        "Tailscale access should be removed for offboarded user",
    ),
    (
        "access-control-configured",
        "Critical system access control should be configured",
    ),
    (
        "user-access-valid",
        "User access to Critical System should be valid",
    ),
    ("integration-healthy", "Integration should be healthy"),
    (
        "offboarded-leftovers-removed",
        "Devices and keys of offboarded users should be removed",
    ),
    (
        "access-review-actions-done",
        "Access review decisions should be carried out",
    ),
    (
        "access-review-current",
        "User access should be reviewed periodically",
    ),
];

/// The settings the checks depend on: those recorded in force at the instant evaluated
/// (`SettingsChanged`), or the configured ones where nothing is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSettings {
    pub email_aliases: EmailAliases,
    /// Whether a suspended account counts as having no access (the default).
    pub suspended_is_removed: bool,
    pub sync_interval_seconds: u64,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            email_aliases: EmailAliases::default(),
            suspended_is_removed: true,
            sync_interval_seconds: 15 * 60,
        }
    }
}

impl From<&SettingsRecord> for CheckSettings {
    fn from(recorded: &SettingsRecord) -> Self {
        CheckSettings {
            email_aliases: EmailAliases::new(
                recorded
                    .email_aliases
                    .iter()
                    .map(|alias| (alias.from.clone(), alias.to.clone())),
            ),
            suspended_is_removed: recorded.suspended_is_removed,
            sync_interval_seconds: recorded.sync_interval_seconds,
        }
    }
}

/// A check's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckState {
    Passing,
    Due,
    Failing,
    /// A finding an exception in force accepts (docs/reference/checks.md#exceptions); never a
    /// check's state.
    Excepted,
}

impl CheckState {
    /// The state as the spec, the tables and the proto's enum spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Passing => "PASSING",
            CheckState::Due => "DUE",
            CheckState::Failing => "FAILING",
            CheckState::Excepted => "EXCEPTED",
        }
    }
}

/// Why a finding was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Unidentified,
    AccessRetained,
    NoPolicy,
    RoleNotAllowed,
    PrivilegeNotAllowed,
    NoSuccessfulSync,
    LastSyncFailed,
    SyncStale,
    CredentialExpired,
    CredentialExpiring,
    RemovalsWithheld,
    CredentialInvalid,
    RosterRejected,
    DeviceRetained,
    KeyRetained,
    CoverageMissing,
    ReviewActionPending,
    AccessReviewDue,
    AccessReviewOverdue,
    RosterDisagrees,
    /// A source's clock and the local one differ beyond the tolerance: found live by the
    /// service, never from the ledger.
    ClockSkew,
    /// The archive off the machine is behind past `[archive] max_lag`: found live by the
    /// service, never from the ledger.
    ArchiveBehind,
    /// A configured witness refuses to cosign the ledger's checkpoints (a fork, or a bug): found
    /// live from the witness client's last answer; each refusal is also recorded.
    WitnessRefused,
    /// A configured witness has not cosigned the head and has been failing past `[witnesses]
    /// max_lag`: found live, never from the ledger.
    WitnessBehind,
}

impl Reason {
    /// Every reason code.
    pub const ALL: [Reason; 24] = [
        Reason::Unidentified,
        Reason::AccessRetained,
        Reason::NoPolicy,
        Reason::RoleNotAllowed,
        Reason::PrivilegeNotAllowed,
        Reason::NoSuccessfulSync,
        Reason::LastSyncFailed,
        Reason::SyncStale,
        Reason::CredentialExpired,
        Reason::CredentialExpiring,
        Reason::RemovalsWithheld,
        Reason::CredentialInvalid,
        Reason::RosterRejected,
        Reason::DeviceRetained,
        Reason::KeyRetained,
        Reason::CoverageMissing,
        Reason::ReviewActionPending,
        Reason::AccessReviewDue,
        Reason::AccessReviewOverdue,
        Reason::RosterDisagrees,
        Reason::ClockSkew,
        Reason::ArchiveBehind,
        Reason::WitnessRefused,
        Reason::WitnessBehind,
    ];

    /// The reason with this code, if any.
    pub fn parse(code: &str) -> Option<Reason> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unidentified => "unidentified",
            Reason::AccessRetained => "access-retained",
            Reason::NoPolicy => "no-policy",
            Reason::RoleNotAllowed => "role-not-allowed",
            Reason::PrivilegeNotAllowed => "privilege-not-allowed",
            Reason::NoSuccessfulSync => "no-successful-sync",
            Reason::LastSyncFailed => "last-sync-failed",
            Reason::SyncStale => "sync-stale",
            Reason::CredentialExpired => "credential-expired",
            Reason::CredentialExpiring => "credential-expiring",
            Reason::RemovalsWithheld => "removals-withheld",
            Reason::CredentialInvalid => "credential-invalid",
            Reason::RosterRejected => "roster-rejected",
            Reason::DeviceRetained => "device-retained",
            Reason::KeyRetained => "key-retained",
            Reason::CoverageMissing => "coverage-missing",
            Reason::ReviewActionPending => "review-action-pending",
            Reason::AccessReviewDue => "access-review-due",
            Reason::AccessReviewOverdue => "access-review-overdue",
            Reason::RosterDisagrees => "roster-disagrees",
            Reason::ClockSkew => "clock-skew",
            Reason::ArchiveBehind => "archive-behind",
            Reason::WitnessRefused => "witness-refused",
            Reason::WitnessBehind => "witness-behind",
        }
    }
}

/// What a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subject {
    pub system: SystemId,
    pub account_id: Option<String>,
    pub login_name: Option<String>,
    pub employee_id: Option<String>,
    /// The device or key a finding of `offboarded-leftovers-removed` is about.
    pub device_id: Option<String>,
    pub key_id: Option<String>,
}

/// One thing a check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `FAILING` or `DUE`.
    pub state: CheckState,
    pub reason: Reason,
    pub message: String,
    pub subject: Subject,
    /// Since when this is true.
    pub since: Timestamp,
    /// When a `DUE` finding turns `FAILING`, or when a failing one should have been dealt with.
    pub deadline: Option<Timestamp>,
    /// The seqs of the entries that prove it, ascending.
    pub evidence: Vec<u64>,
    /// The exception that accepts it, when its state is `EXCEPTED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_id: Option<String>,
}

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub check_id: &'static str,
    pub title: &'static str,
    pub state: CheckState,
    pub findings: Vec<Finding>,
}

/// Whether an account holds access: it is in the last listing and its status lets it in.
/// A status nobody knows is assumed to let the account in, so it is checked rather than missed.
pub fn holds_access(present: bool, status: &str, settings: &CheckSettings) -> bool {
    present
        && match StatusClass::of(status) {
            StatusClass::Enabled | StatusClass::Unknown(_) => true,
            StatusClass::Suspended => !settings.suspended_is_removed,
            StatusClass::NeedsApproval | StatusClass::OverBillingLimit => false,
        }
}

/// Evaluates every check for `system` at `now`.
pub fn evaluate(
    projections: &Projections,
    system: &SystemId,
    now: Timestamp,
    settings: &CheckSettings,
) -> Vec<CheckResult> {
    Evaluation::once(projections, system, now, settings).results(projections)
}

/// The first instant after `after` at which the passing of time alone changes what [`evaluate`]
/// answers for `system` with these projections: an offboarding taking effect, its grace period
/// running out, a credential entering its warning window or expiring, the last successful sync
/// becoming stale, an exception expiring, a leaver's devices and keys coming due and failing,
/// a key expiring, a review decision's action grace running out, a scope's review coming due
/// and falling overdue. `None` when no instant to come changes the answer by itself. Between
/// `after` and that instant every evaluation answers the same checks, states and findings, so a
/// reader following the state through a window (the timeline) evaluates only at the entries and
/// at these instants. An employee's start date changes no check, so it is no such instant.
pub fn next_time_change(
    projections: &Projections,
    system: &SystemId,
    after: Timestamp,
    settings: &CheckSettings,
) -> Option<Timestamp> {
    Evaluation::once(projections, system, after, settings).next_time_change(projections, after)
}

/// The check results from the findings of every check, in [`CHECKS`] order, with the
/// exceptions in force at `now` applied.
fn results(
    projections: &Projections,
    system: &SystemId,
    now: Timestamp,
    findings: [Vec<Finding>; 8],
) -> Vec<CheckResult> {
    let in_force: Vec<&ExceptionState> = projections
        .exceptions()
        .all()
        .filter(|exception| &exception.system == system && exception.in_force_at(now))
        .collect();
    CHECKS
        .into_iter()
        .zip(findings)
        .map(|((check_id, title), mut findings)| {
            for finding in &mut findings {
                except(finding, check_id, &in_force);
            }
            CheckResult {
                check_id,
                title,
                // Excepted findings are reported but do not count
                // (docs/reference/checks.md#exceptions).
                state: findings
                    .iter()
                    .map(|finding| finding.state)
                    .filter(|state| *state != CheckState::Excepted)
                    .max()
                    .unwrap_or(CheckState::Passing),
                findings,
            }
        })
        .collect()
}

/// Marks `finding` of `check_id` `EXCEPTED` when one of the exceptions `in_force` covers it,
/// with the grant's entry added to its evidence.
fn except(finding: &mut Finding, check_id: &str, in_force: &[&ExceptionState]) {
    let subject = &finding.subject;
    let Some(exception) = in_force.iter().find(|exception| {
        exception.covers(
            check_id,
            subject.account_id.as_deref(),
            subject.employee_id.as_deref(),
        )
    }) else {
        return;
    };
    finding.state = CheckState::Excepted;
    finding.exception_id = Some(exception.exception_id.clone());
    finding.evidence.push(exception.granted.seq);
    finding.evidence.sort_unstable();
    finding.evidence.dedup();
}

struct Context<'a> {
    projections: &'a Projections,
    system: &'a SystemId,
    state: &'a SystemState,
    now: Timestamp,
    settings: &'a CheckSettings,
}

/// Seqs for evidence, ascending and without repeats.
fn evidence(seqs: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut seqs: Vec<u64> = seqs.into_iter().filter(|seq| *seq > 0).collect();
    seqs.sort_unstable();
    seqs.dedup();
    seqs
}

fn latest(marks: impl IntoIterator<Item = Mark>) -> Timestamp {
    marks
        .into_iter()
        .map(|mark| mark.at)
        .max()
        .unwrap_or(Timestamp::MIN)
}

/// Seconds as a signed offset (no configured duration comes near `i64::MAX`).
fn seconds(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

fn eq_ignore_case(list: &[String], value: &str) -> bool {
    list.iter().any(|item| item.eq_ignore_ascii_case(value))
}

impl<'a> Context<'a> {
    fn new(
        projections: &'a Projections,
        system: &'a SystemId,
        empty: &'a SystemState,
        now: Timestamp,
        settings: &'a CheckSettings,
    ) -> Self {
        Context {
            projections,
            system,
            state: projections.system(system).unwrap_or(empty),
            now,
            settings,
        }
    }
}

/// The instant a comparison `now > limit` first holds: a microsecond after `limit`.
fn just_after(limit: Timestamp) -> Timestamp {
    limit.saturating_add_micros(1)
}

impl<'a> Context<'a> {
    /// Every instant at which the passing of time may change an answer of a check that is not
    /// per account (some may be past): the last successful sync becoming stale, the credential
    /// entering its warning window and expiring, a leaver's devices and keys coming due and
    /// failing, review decisions and reviews coming due and failing, an exception expiring.
    fn system_time_changes(&self) -> impl Iterator<Item = Timestamp> + '_ {
        let stale = self
            .state
            .last_completed_sync
            .map(|last| just_after(self.stale_at(last.at)));
        let credential = self
            .state
            .credential
            .as_ref()
            .filter(|_| self.state.credential_since.is_some())
            .and_then(|credential| credential.expires_at)
            .into_iter()
            .flat_map(|expires_at| [warning_from(expires_at), expires_at]);
        // An exception stops holding at its expiry, to the microsecond; a revocation is an entry.
        let expiries = self
            .projections
            .exceptions()
            .all()
            .filter(|exception| exception.system == *self.system && exception.revoked.is_none())
            .filter_map(|exception| exception.expires_at);
        stale
            .into_iter()
            .chain(credential)
            .chain(self.leftover_changes())
            .chain(self.review_changes())
            .chain(expiries)
    }

    /// The instants at which time alone may change what the per-account checks say of an
    /// account holding access with this link: its employee's offboarding taking effect and the
    /// grace running out.
    fn account_time_changes(&self, link: Option<&EmployeeLink<'_>>) -> Option<[Timestamp; 2]> {
        let offboarding = link?.employee.offboarding.as_ref()?;
        Some([
            offboarding.effective_at,
            just_after(self.offboarding_deadline(offboarding.effective_at)),
        ])
    }

    /// When access must be gone after an offboarding effective at `effective_at`.
    fn offboarding_deadline(&self, effective_at: Timestamp) -> Timestamp {
        effective_at.saturating_add_seconds(seconds(self.state.offboarding_grace_seconds()))
    }

    /// After this instant, a last successful sync at `last` is stale (3 sync intervals).
    fn stale_at(&self, last: Timestamp) -> Timestamp {
        last.saturating_add_seconds(seconds(3 * self.settings.sync_interval_seconds))
    }

    fn subject(&self, account: Option<&AccountState>, employee: Option<&EmployeeState>) -> Subject {
        Subject {
            system: self.system.clone(),
            account_id: account.map(|a| a.snapshot.id.clone()),
            login_name: account.map(|a| a.snapshot.login_name.clone()),
            employee_id: employee.map(|e| e.record.employee_id.clone()),
            device_id: None,
            key_id: None,
        }
    }

    /// Accounts that hold access now.
    fn with_access(&self) -> impl Iterator<Item = &'a AccountState> + '_ {
        self.state.present_accounts().filter(|account| {
            holds_access(account.present, &account.snapshot.status, self.settings)
        })
    }

    fn employee_of(&self, account: &AccountState) -> Option<EmployeeLink<'a>> {
        resolve(
            self.state,
            self.projections.employees(),
            account,
            &self.settings.email_aliases,
        )
    }

    /// What the per-account checks find about `account`, which holds access and has `link`.
    fn account_findings(
        &self,
        account: &AccountState,
        link: Option<&EmployeeLink<'_>>,
    ) -> AccountFindings {
        AccountFindings {
            unidentified: self.unidentified(account, link),
            retained: link.and_then(|link| self.access_retained(account, link)),
            invalid: link.map_or_else(Vec::new, |link| self.access_invalid(account, link)),
        }
    }

    /// `user-identified`: an account holding access is linked to an employee or classified.
    fn unidentified(
        &self,
        account: &AccountState,
        link: Option<&EmployeeLink<'_>>,
    ) -> Option<Finding> {
        if link.is_some()
            || self
                .state
                .classifications
                .contains_key(&account.snapshot.id)
        {
            return None;
        }
        let withdrawn = self.state.identity_withdrawn.get(&account.snapshot.id);
        Some(Finding {
            exception_id: None,
            state: CheckState::Failing,
            reason: Reason::Unidentified,
            message: format!(
                "{} holds access to {} but is neither linked to an employee nor classified",
                account.snapshot.login_name, self.system
            ),
            subject: self.subject(Some(account), None),
            since: latest(
                [account.present_since]
                    .into_iter()
                    .chain(withdrawn.copied()),
            ),
            deadline: None,
            evidence: evidence(
                [account.present_since.seq]
                    .into_iter()
                    .chain(withdrawn.map(|mark| mark.seq)),
            ),
        })
    }

    /// `offboarded-access-removed`: an account of someone whose offboarding took effect.
    fn access_retained(&self, account: &AccountState, link: &EmployeeLink<'_>) -> Option<Finding> {
        let offboarding = link.employee.offboarding.as_ref()?;
        if offboarding.effective_at > self.now {
            return None;
        }
        let deadline = self.offboarding_deadline(offboarding.effective_at);
        let (state, since) = if self.now > deadline {
            (CheckState::Failing, deadline)
        } else {
            (CheckState::Due, offboarding.effective_at)
        };
        Some(Finding {
            exception_id: None,
            state,
            reason: Reason::AccessRetained,
            message: format!(
                "{} still holds access to {} although {} left at {}; access must be removed by {}",
                account.snapshot.login_name,
                self.system,
                other_name(
                    &account.snapshot.login_name,
                    &link.employee.record.employee_id
                )
                .unwrap_or("its owner"),
                offboarding.effective_at,
                deadline
            ),
            subject: self.subject(Some(account), Some(link.employee)),
            since,
            deadline: Some(deadline),
            evidence: evidence(
                [
                    offboarding.recorded.seq,
                    account.present_since.seq,
                    account.last_change.seq,
                ]
                .into_iter()
                .chain(link.manual_since.map(|mark| mark.seq))
                .chain(self.state.last_completed_sync.map(|mark| mark.seq)),
            ),
        })
    }

    fn no_policy(&self) -> Option<Finding> {
        self.state.policy.is_none().then(|| Finding {
            exception_id: None,
            state: CheckState::Failing,
            reason: Reason::NoPolicy,
            message: format!(
                "{} has no access policy: nobody has said which org roles may hold access",
                self.system
            ),
            subject: self.subject(None, None),
            since: self.state.first_recorded.map_or(self.now, |mark| mark.at),
            deadline: None,
            evidence: Vec::new(),
        })
    }

    /// `user-access-valid` of one linked account: its employee's org role may hold access, and
    /// a privileged role, under the access policy. Nothing without a policy (the check then has
    /// the one `no-policy` finding), for a classified account, or for someone who has left.
    fn access_invalid(&self, account: &AccountState, link: &EmployeeLink<'_>) -> Vec<Finding> {
        let mut findings = Vec::new();
        let Some(policy) = &self.state.policy else {
            return findings;
        };
        if self
            .state
            .classifications
            .contains_key(&account.snapshot.id)
        {
            return findings;
        }
        let employee = link.employee;
        if employee.has_left(self.now) {
            return findings;
        }
        let org_role = &employee.record.org_role;
        let base = [employee.org_role_since, policy.since, account.present_since];
        let allowed = eq_ignore_case(&policy.allowed_org_roles, "*")
            || eq_ignore_case(&policy.allowed_org_roles, org_role);
        if !allowed {
            findings.push(Finding {
                exception_id: None,
                state: CheckState::Failing,
                reason: Reason::RoleNotAllowed,
                message: format!(
                    "{} holds access to {}{}, whose org role {} is not allowed by the access policy",
                    account.snapshot.login_name,
                    self.system,
                    as_employee(&account.snapshot.login_name, &employee.record.employee_id),
                    org_role
                ),
                subject: self.subject(Some(account), Some(employee)),
                since: latest(base),
                deadline: None,
                evidence: evidence(base.map(|mark| mark.seq)),
            });
        }
        let privileged = PRIVILEGED_ROLES
            .iter()
            .any(|role| role.eq_ignore_ascii_case(&account.snapshot.role));
        if privileged
            && !policy.privileged_org_roles.is_empty()
            && !eq_ignore_case(&policy.privileged_org_roles, org_role)
        {
            let marks = [employee.org_role_since, policy.since, account.role_since];
            findings.push(Finding {
                exception_id: None,
                state: CheckState::Failing,
                reason: Reason::PrivilegeNotAllowed,
                message: format!(
                    "{} holds the privileged {} role {}{}, whose org role {} may not hold privileged roles",
                    account.snapshot.login_name,
                    self.system,
                    account.snapshot.role,
                    as_employee(&account.snapshot.login_name, &employee.record.employee_id),
                    org_role
                ),
                subject: self.subject(Some(account), Some(employee)),
                since: latest(marks),
                deadline: None,
                evidence: evidence(marks.map(|mark| mark.seq)),
            });
        }
        findings
    }

    /// A person the ledger holds otherwise than the configured roster last said (an admin's
    /// offboarding of someone the roster lists as active, or the reverse): never settled
    /// silently, so it fails the integration check until an admin or HR brings them together.
    fn roster_disagrees(&self) -> Vec<Finding> {
        let employees = self.projections.employees();
        let sources = employees.roster_sources();
        let source = sources.latest().unwrap_or_default();
        sources
            .disagreements()
            .filter_map(|(employee_id, statement)| {
                let employee = employees.get(employee_id)?;
                let (holds, mark) = match &employee.offboarding {
                    Some(offboarding) => (
                        format!("offboarded effective {}", offboarding.effective_at),
                        offboarding.recorded,
                    ),
                    None => ("active".to_owned(), employee.last_change),
                };
                Some(Finding {
                    exception_id: None,
                    state: CheckState::Failing,
                    reason: Reason::RosterDisagrees,
                    message: format!(
                        "the roster ({source}) says {employee_id} is {} (seq {}), but the ledger holds {employee_id} as {holds} (seq {}); an admin's decision stands until an admin withdraws it or the roster changes what it says of them",
                        match statement.said {
                            Said::Active => "active".to_owned(),
                            Said::Left(at) => format!("leaving at {at}"),
                        },
                        statement.recorded.seq,
                        mark.seq
                    ),
                    subject: self.subject(None, Some(employee)),
                    since: statement.recorded.at.max(mark.at),
                    deadline: None,
                    evidence: evidence([statement.recorded.seq, mark.seq]),
                })
            })
            .collect()
    }

    fn integration_healthy(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        let finding = |state, reason, message: String, since, deadline, seqs: Vec<u64>| Finding {
            exception_id: None,
            state,
            reason,
            message,
            subject: self.subject(None, None),
            since,
            deadline,
            evidence: evidence(seqs),
        };
        if let Some(failed) = &self.state.last_failed_sync {
            findings.push(finding(
                CheckState::Failing,
                Reason::LastSyncFailed,
                format!(
                    "the last sync of {} failed ({}): {}",
                    self.system, failed.error_class, failed.message
                ),
                failed.mark.at,
                None,
                vec![failed.mark.seq],
            ));
        }
        match self.state.last_completed_sync {
            None => findings.push(finding(
                CheckState::Failing,
                Reason::NoSuccessfulSync,
                format!("{} has never been synced successfully", self.system),
                self.state.first_recorded.map_or(self.now, |mark| mark.at),
                None,
                Vec::new(),
            )),
            Some(last) => {
                let stale_at = self.stale_at(last.at);
                if self.now > stale_at {
                    findings.push(finding(
                        CheckState::Failing,
                        Reason::SyncStale,
                        format!(
                            "the last successful sync of {} was at {}, more than 3 sync intervals ago",
                            self.system, last.at
                        ),
                        stale_at,
                        None,
                        vec![last.seq],
                    ));
                }
            }
        }
        for (account_id, withheld) in &self.state.withheld {
            let latest = self.state.withholding_syncs.get(&withheld.latest_sync_id);
            findings.push(Finding {
                exception_id: None,
                state: CheckState::Failing,
                reason: Reason::RemovalsWithheld,
                message: format!(
                    "the removal of {} from {} is withheld by the removal guard since sync {} (it has not been listed since {}); if it is real, confirm it with ConfirmRemovals for sync {}, otherwise it is released once the guard's hold has passed",
                    withheld.login_name,
                    self.system,
                    withheld.sync_id,
                    withheld.observed_at,
                    withheld.sync_id
                ),
                subject: self.subject(self.state.accounts.get(account_id), None),
                since: withheld.since.at,
                deadline: None,
                evidence: evidence(
                    [withheld.since.seq]
                        .into_iter()
                        .chain(latest.map(|mark| mark.seq)),
                ),
            });
        }
        findings.extend(self.coverage_missing());
        if let Some(rejection) = self.projections.employees().roster_rejection() {
            let example = rejection
                .first_problem
                .as_ref()
                .map(|problem| format!(", the first at {problem}"))
                .unwrap_or_default();
            findings.push(finding(
                CheckState::Failing,
                Reason::RosterRejected,
                match rejection.unreadable() {
                    Some(reason) => format!(
                        "the roster source could not be read ({reason}); HR's data is stale until a read succeeds"
                    ),
                    None => format!(
                        "the roster file (SHA-256 {}) was refused with {} problem(s){example}; nothing of it is recorded until it is fixed",
                        rejection.sha256, rejection.problem_count
                    ),
                },
                rejection.recorded.at,
                None,
                vec![rejection.recorded.seq],
            ));
        }
        findings.extend(self.roster_disagrees());
        if let (Some(credential), Some(recorded)) =
            (&self.state.credential, self.state.credential_since)
            && credential.invalid
        {
            findings.push(finding(
                CheckState::Failing,
                Reason::CredentialInvalid,
                format!(
                    "{} reports the credential {} as invalid (revoked or expired); replace it",
                    self.system, credential.id
                ),
                recorded.at,
                None,
                vec![recorded.seq],
            ));
        }
        if let (Some(credential), Some(recorded)) =
            (&self.state.credential, self.state.credential_since)
            && let Some(expires_at) = credential.expires_at
        {
            let warn_from = warning_from(expires_at);
            if expires_at <= self.now {
                findings.push(finding(
                    CheckState::Failing,
                    Reason::CredentialExpired,
                    format!(
                        "the credential {} of {} expired at {expires_at}",
                        credential.id, self.system
                    ),
                    expires_at,
                    Some(expires_at),
                    vec![recorded.seq],
                ));
            } else if warn_from <= self.now {
                findings.push(finding(
                    CheckState::Due,
                    Reason::CredentialExpiring,
                    format!(
                        "the credential {} of {} expires at {expires_at}; replace it before then",
                        credential.id, self.system
                    ),
                    warn_from,
                    Some(expires_at),
                    vec![recorded.seq],
                ));
            }
        }
        findings
    }
}

/// When a credential expiring at `expires_at` enters its warning window.
fn warning_from(expires_at: Timestamp) -> Timestamp {
    expires_at.saturating_add_seconds(-seconds(CREDENTIAL_WARNING_SECONDS))
}

/// The employee id, when it says more than the login name (an id defaults to the email, which
/// is usually the login): a sentence names a person once.
fn other_name<'a>(login_name: &str, employee_id: &'a str) -> Option<&'a str> {
    (!employee_id.eq_ignore_ascii_case(login_name)).then_some(employee_id)
}

/// ` as <employee id>`, or nothing when the id is the login name.
fn as_employee(login_name: &str, employee_id: &str) -> String {
    other_name(login_name, employee_id).map_or_else(String::new, |id| format!(" as {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::event::{AccountSnapshot, Actor, CredentialKind, EmployeeRecord, Event};
    use crate::hash::Hash256;

    const SECOND: i64 = 1_000_000;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// The projections of these events, all recorded at `recorded_at`.
    pub(super) fn projections(recorded_at: Timestamp, events: Vec<Event>) -> Projections {
        let mut projections = Projections::default();
        for event in events {
            let entry = Entry::seal(projections.last_digest(), recorded_at, Actor::Demo, event);
            projections.apply(&entry);
        }
        projections
    }

    /// Dana (`E-1`) holds access through account `u1`, auto-linked by email, and is
    /// offboarded effective `effective_at`.
    pub(super) fn dana_holds_access_and_leaves(effective_at: Timestamp) -> Vec<Event> {
        let system = SystemId::tailscale();
        vec![
            Event::AccessPolicySet {
                system: system.clone(),
                allowed_org_roles: vec!["IT".to_owned()],
                privileged_org_roles: Vec::new(),
                offboarding_grace_seconds: 3600,
                reason: None,
            },
            Event::EmployeeOnboarded {
                employee: EmployeeRecord {
                    employee_id: "E-1".to_owned(),
                    email: "dana@acme.example".to_owned(),
                    name: None,
                    org_role: "Sales".to_owned(),
                    start_date: None,
                },
            },
            Event::UserSeen {
                system,
                account: AccountSnapshot {
                    id: "u1".to_owned(),
                    login_name: "dana@acme.example".to_owned(),
                    display_name: "Dana".to_owned(),
                    role: "member".to_owned(),
                    status: "active".to_owned(),
                    account_type: "member".to_owned(),
                    created: None,
                },
            },
            Event::EmployeeOffboarded {
                employee_id: "E-1".to_owned(),
                effective_at,
                reason: None,
            },
        ]
    }

    fn synced(at: Timestamp, expires_at: Option<Timestamp>) -> Vec<Event> {
        let system = SystemId::tailscale();
        vec![
            Event::CredentialObserved {
                system: system.clone(),
                credential_id: "k1".to_owned(),
                credential_kind: CredentialKind::OauthClient,
                expires_at,
                invalid: None,
            },
            Event::SyncCompleted {
                system,
                sync_id: "s1".to_owned(),
                started_at: at,
                finished_at: at,
                accounts_observed: 1,
                listing_sha256: Hash256::ZERO,
                events_appended: 0,
            },
        ]
    }

    /// (state, reasons) of one check at `now`.
    fn answer(
        projections: &Projections,
        now: Timestamp,
        check_id: &str,
    ) -> (CheckState, Vec<Reason>) {
        let result = evaluate(
            projections,
            &SystemId::tailscale(),
            now,
            &CheckSettings::default(),
        )
        .into_iter()
        .find(|result| result.check_id == check_id)
        .unwrap();
        let reasons = result
            .findings
            .iter()
            .map(|finding| finding.reason)
            .collect();
        (result.state, reasons)
    }

    fn next(projections: &Projections, after: Timestamp) -> Option<Timestamp> {
        next_time_change(
            projections,
            &SystemId::tailscale(),
            after,
            &CheckSettings::default(),
        )
    }

    /// The answer a second before `instant`, at it and a second after: the change happens
    /// exactly at `instant` and holds after it.
    fn around(
        projections: &Projections,
        instant: Timestamp,
        check_id: &str,
    ) -> [(CheckState, Vec<Reason>); 3] {
        [-SECOND, 0, SECOND]
            .map(|offset| answer(projections, instant.saturating_add_micros(offset), check_id))
    }

    #[test]
    fn an_offboarding_taking_effect_and_its_grace_running_out_are_instants_of_change() {
        let effective_at = at("2026-03-02T18:00:00Z");
        let recorded = at("2026-03-02T09:00:00Z");
        let state = projections(recorded, dana_holds_access_and_leaves(effective_at));

        assert_eq!(next(&state, recorded), Some(effective_at));
        let [before, then, after] = around(&state, effective_at, "offboarded-access-removed");
        assert_eq!(before, (CheckState::Passing, vec![]));
        assert_eq!(then, (CheckState::Due, vec![Reason::AccessRetained]));
        assert_eq!(after, then);
        // Her role was not allowed while she worked; once she has left it no longer matters.
        let [before, then, after] = around(&state, effective_at, "user-access-valid");
        assert_eq!(before, (CheckState::Failing, vec![Reason::RoleNotAllowed]));
        assert_eq!((then.clone(), after), ((CheckState::Passing, vec![]), then));

        // The grace of an hour runs out: `DUE` until the deadline itself, `FAILING` after it.
        let deadline = effective_at.saturating_add_seconds(3600);
        let first_failing = deadline.saturating_add_micros(1);
        assert_eq!(next(&state, effective_at), Some(first_failing));
        assert_eq!(next(&state, deadline), Some(first_failing));
        let [before, then, after] = around(&state, first_failing, "offboarded-access-removed");
        assert_eq!(before.0, CheckState::Due);
        assert_eq!(
            answer(&state, deadline, "offboarded-access-removed").0,
            CheckState::Due
        );
        assert_eq!(then.0, CheckState::Failing);
        assert_eq!(after.0, CheckState::Failing);
        assert_eq!(
            next(&state, first_failing),
            Some(review_due_from(recorded)),
            "nothing else changes by itself before privileged access is due for review"
        );
    }

    /// When `access-review-current` turns `DUE` for a system first recorded at `first` with no
    /// review: 14 days before the default 90 days run out.
    fn review_due_from(first: Timestamp) -> Timestamp {
        first.saturating_add_seconds(seconds(
            ReviewSettings::default().privileged_interval_seconds - REVIEW_WARNING_SECONDS,
        ))
    }

    #[test]
    fn an_offboarding_of_someone_without_access_is_no_instant_of_change() {
        let effective_at = at("2026-03-02T18:00:00Z");
        let mut events = dana_holds_access_and_leaves(effective_at);
        events.remove(2);
        let state = projections(at("2026-03-02T09:00:00Z"), events);
        assert_eq!(
            next(&state, at("2026-03-02T09:00:00Z")),
            Some(review_due_from(at("2026-03-02T09:00:00Z"))),
            "only the access review coming due"
        );
    }

    #[test]
    fn a_credential_entering_its_warning_window_and_expiring_are_instants_of_change() {
        let synced_at = at("2026-03-02T09:00:00Z");
        let expires_at = at("2026-03-30T00:00:00Z");
        let settings = CheckSettings {
            // Syncs stay fresh for the whole test, so only the credential changes anything.
            sync_interval_seconds: 365 * 24 * 3600,
            ..CheckSettings::default()
        };
        let state = projections(synced_at, synced(synced_at, Some(expires_at)));
        let next = |after| next_time_change(&state, &SystemId::tailscale(), after, &settings);
        let answer = |now: Timestamp| {
            let result = evaluate(&state, &SystemId::tailscale(), now, &settings)
                .into_iter()
                .find(|result| result.check_id == "integration-healthy")
                .unwrap();
            (
                result.state,
                result
                    .findings
                    .iter()
                    .map(|finding| finding.reason)
                    .collect::<Vec<_>>(),
            )
        };
        let warn_from = at("2026-03-16T00:00:00Z");
        assert_eq!(next(synced_at), Some(warn_from));
        let [before, then, after] =
            [-SECOND, 0, SECOND].map(|offset| answer(warn_from.saturating_add_micros(offset)));
        assert_eq!(before, (CheckState::Passing, vec![]));
        assert_eq!(then, (CheckState::Due, vec![Reason::CredentialExpiring]));
        assert_eq!(after, then);

        assert_eq!(next(warn_from), Some(expires_at));
        let [before, then, after] =
            [-SECOND, 0, SECOND].map(|offset| answer(expires_at.saturating_add_micros(offset)));
        assert_eq!(before.1, vec![Reason::CredentialExpiring]);
        assert_eq!(then, (CheckState::Failing, vec![Reason::CredentialExpired]));
        assert_eq!(after, then);
        // Privileged access coming due for review, 76 days on, is the next change; the stale
        // sync is a year on.
        assert_eq!(next(expires_at), Some(review_due_from(synced_at)));
    }

    #[test]
    fn a_credential_without_expiry_is_no_instant_of_change() {
        let synced_at = at("2026-03-02T09:00:00Z");
        let state = projections(synced_at, synced(synced_at, None));
        let stale_from = synced_at
            .saturating_add_seconds(3 * 15 * 60)
            .saturating_add_micros(1);
        assert_eq!(
            next(&state, synced_at),
            Some(stale_from),
            "only the sync goes stale"
        );
    }

    #[test]
    fn a_sync_becoming_stale_is_an_instant_of_change() {
        let synced_at = at("2026-03-02T09:00:00Z");
        let state = projections(synced_at, synced(synced_at, None));
        // Three intervals of 15 minutes: stale once more than 45 minutes have passed.
        let stale_at = at("2026-03-02T09:45:00Z");
        let first_stale = stale_at.saturating_add_micros(1);
        assert_eq!(next(&state, synced_at), Some(first_stale));
        assert_eq!(next(&state, stale_at), Some(first_stale));
        let [before, then, after] = around(&state, first_stale, "integration-healthy");
        assert_eq!(before, (CheckState::Passing, vec![]));
        assert_eq!(
            answer(&state, stale_at, "integration-healthy").0,
            CheckState::Passing
        );
        assert_eq!(then, (CheckState::Failing, vec![Reason::SyncStale]));
        assert_eq!(after, then);
        assert_eq!(next(&state, first_stale), Some(review_due_from(synced_at)));
    }
}
