//! The compliance checks of SPEC §7 (with the corrections of §18) and §14's
//! `offboarded-leftovers-removed` (`leftovers.rs`), as a pure evaluation of (projections,
//! instant).
//!
//! A check yields findings; a check with no finding is `PASSING`, any `FAILING` finding makes it
//! `FAILING`, else any `DUE` finding makes it `DUE`. Every finding names its subject, a reason
//! code, a sentence, `since`, the `deadline` where there is one, and the seqs of the entries that
//! prove it. Nothing here reads the clock or the ledger: time and state are handed in.

mod leftovers;

use serde::Serialize;

use crate::access::StatusClass;
use crate::event::SystemId;
use crate::identity::{EmailAliases, EmployeeLink, resolve};
use crate::projection::{AccountState, EmployeeState, Mark, Projections, SystemState};
use crate::time::Timestamp;

/// How long before a credential expires the integration check turns `DUE`.
pub const CREDENTIAL_WARNING_SECONDS: u64 = 14 * 24 * 3600;
/// Tailscale roles that administer the tailnet.
pub const PRIVILEGED_ROLES: [&str; 4] = ["owner", "admin", "it-admin", "network-admin"];

/// The checks, in the order they are reported: id and title.
pub const CHECKS: [(&str, &str); 6] = [
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
];

/// The configuration the checks depend on (it is not in the ledger).
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

/// A check's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckState {
    Passing,
    Due,
    Failing,
}

impl CheckState {
    /// The state as the spec, the tables and the proto's enum spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Passing => "PASSING",
            CheckState::Due => "DUE",
            CheckState::Failing => "FAILING",
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
}

impl Reason {
    /// Every reason code.
    pub const ALL: [Reason; 16] = [
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
    let empty = SystemState::default();
    let state = projections.system(system).unwrap_or(&empty);
    let context = Context {
        projections,
        system,
        state,
        now,
        settings,
    };
    let findings: [Vec<Finding>; 6] = [
        context.user_identified(),
        context.offboarded_access_removed(),
        context.access_control_configured(),
        context.user_access_valid(),
        context.integration_healthy(),
        context.offboarded_leftovers_removed(),
    ];
    CHECKS
        .into_iter()
        .zip(findings)
        .map(|((check_id, title), findings)| CheckResult {
            check_id,
            title,
            state: findings
                .iter()
                .map(|finding| finding.state)
                .max()
                .unwrap_or(CheckState::Passing),
            findings,
        })
        .collect()
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

impl Context<'_> {
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
    fn with_access(&self) -> impl Iterator<Item = &AccountState> {
        self.state.present_accounts().filter(|account| {
            holds_access(account.present, &account.snapshot.status, self.settings)
        })
    }

    fn employee_of(&self, account: &AccountState) -> Option<EmployeeLink<'_>> {
        resolve(
            self.state,
            self.projections.employees(),
            account,
            &self.settings.email_aliases,
        )
    }

    fn user_identified(&self) -> Vec<Finding> {
        self.with_access()
            .filter(|account| {
                !self
                    .state
                    .classifications
                    .contains_key(&account.snapshot.id)
            })
            .filter(|account| self.employee_of(account).is_none())
            .map(|account| {
                let withdrawn = self.state.identity_withdrawn.get(&account.snapshot.id);
                Finding {
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
                }
            })
            .collect()
    }

    fn offboarded_access_removed(&self) -> Vec<Finding> {
        let grace = self.state.offboarding_grace_seconds();
        self.with_access()
            .filter_map(|account| {
                let link = self.employee_of(account)?;
                let offboarding = link.employee.offboarding.as_ref()?;
                if offboarding.effective_at > self.now {
                    return None;
                }
                let deadline = offboarding.effective_at.saturating_add_seconds(seconds(grace));
                let (state, since) = if self.now > deadline {
                    (CheckState::Failing, deadline)
                } else {
                    (CheckState::Due, offboarding.effective_at)
                };
                Some(Finding {
                    state,
                    reason: Reason::AccessRetained,
                    message: format!(
                        "{} still holds access to {} although {} left at {}; access must be removed by {}",
                        account.snapshot.login_name,
                        self.system,
                        other_name(&account.snapshot.login_name, &link.employee.record.employee_id)
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
            })
            .collect()
    }

    fn no_policy(&self) -> Option<Finding> {
        self.state.policy.is_none().then(|| Finding {
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

    fn access_control_configured(&self) -> Vec<Finding> {
        self.no_policy().into_iter().collect()
    }

    fn user_access_valid(&self) -> Vec<Finding> {
        if let Some(finding) = self.no_policy() {
            return vec![finding];
        }
        let Some(policy) = &self.state.policy else {
            return Vec::new();
        };
        let mut findings = Vec::new();
        for account in self.with_access() {
            if self
                .state
                .classifications
                .contains_key(&account.snapshot.id)
            {
                continue;
            }
            let Some(link) = self.employee_of(account) else {
                continue;
            };
            let employee = link.employee;
            if employee.has_left(self.now) {
                continue;
            }
            let org_role = &employee.record.org_role;
            let base = [employee.org_role_since, policy.since, account.present_since];
            let allowed = eq_ignore_case(&policy.allowed_org_roles, "*")
                || eq_ignore_case(&policy.allowed_org_roles, org_role);
            if !allowed {
                findings.push(Finding {
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
        }
        findings
    }

    fn integration_healthy(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        let finding = |state, reason, message: String, since, deadline, seqs: Vec<u64>| Finding {
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
                let stale_at = last
                    .at
                    .saturating_add_seconds(seconds(3 * self.settings.sync_interval_seconds));
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
                format!(
                    "the roster file (SHA-256 {}) was refused with {} problem(s){example}; nothing of it is recorded until it is fixed",
                    rejection.sha256, rejection.problem_count
                ),
                rejection.recorded.at,
                None,
                vec![rejection.recorded.seq],
            ));
        }
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
            let warn_from = expires_at.saturating_add_seconds(-seconds(CREDENTIAL_WARNING_SECONDS));
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

/// The employee id, when it says more than the login name (an id defaults to the email, which
/// is usually the login): a sentence names a person once.
fn other_name<'a>(login_name: &str, employee_id: &'a str) -> Option<&'a str> {
    (!employee_id.eq_ignore_ascii_case(login_name)).then_some(employee_id)
}

/// ` as <employee id>`, or nothing when the id is the login name.
fn as_employee(login_name: &str, employee_id: &str) -> String {
    other_name(login_name, employee_id).map_or_else(String::new, |id| format!(" as {id}"))
}
