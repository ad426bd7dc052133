//! Admin commands: pure decisions from (projections, request) to the events to append, or a
//! refusal that says which field is wrong and why. Confirming removals the removal guard
//! withheld is one of them: it releases them as `UserRemoved`, like the sync that held them.
//!
//! The API and the CLI call these and append what they return as one batch; a refusal appends
//! nothing. Upserting an employee is shared with the roster import, so both decide alike.

pub mod review;

use crate::checks::CHECKS;
use crate::event::{Classification, EmployeeRecord, Event, FieldChange, SettingsRecord, SystemId};
use crate::projection::{EmployeeState, Projections};
use crate::sync::user_removed;
use crate::time::Timestamp;

/// Why a command was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("`{field}` {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("no {what} `{id}` is known")]
    NotFound { what: &'static str, id: String },
    /// The caller may make this call, but not about this: a reviewer who is not one of the
    /// review's, or a token that names no employee.
    #[error("`{field}` {reason}")]
    NotAllowed { field: &'static str, reason: String },
    /// The request is well formed, but the state it acts on does not allow it now: a reviewer
    /// who has left.
    #[error("`{field}` {reason}")]
    FailedPrecondition { field: &'static str, reason: String },
}

/// The longest offboarding grace period a policy may set: a year.
pub const MAX_GRACE_SECONDS: u64 = 366 * 24 * 3600;

/// The longest id, name, role or reason a command accepts, in bytes. Real ones are far shorter,
/// and the bound keeps one request from bloating the ledger and every later answer.
pub const MAX_TEXT_BYTES: usize = 4096;

/// A required text: trimmed, not empty, at most [`MAX_TEXT_BYTES`].
pub fn required(field: &'static str, value: &str) -> Result<String, CommandError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(CommandError::InvalidArgument {
            field,
            reason: "must not be empty".to_owned(),
        });
    }
    if value.len() > MAX_TEXT_BYTES {
        return Err(CommandError::InvalidArgument {
            field,
            reason: format!(
                "is {} bytes long; at most {MAX_TEXT_BYTES} are accepted",
                value.len()
            ),
        });
    }
    Ok(value.to_owned())
}

/// The id of the account `account` names: an account id, or else a login name (compared
/// case-insensitively) that exactly one account holds, preferring an account with access over
/// removed ones. An unknown or ambiguous name is refused, naming the candidates.
fn known_account(
    projections: &Projections,
    system: &SystemId,
    account: &str,
) -> Result<String, CommandError> {
    let account = required("account_id", account)?;
    let Some(state) = projections.system(system) else {
        return Err(CommandError::NotFound {
            what: "account",
            id: account,
        });
    };
    if state.accounts.contains_key(&account) {
        return Ok(account);
    }
    let named: Vec<_> = state.accounts_with_login(&account).collect();
    let present: Vec<_> = named.iter().filter(|held| held.present).collect();
    let candidates: Vec<&str> = match present.as_slice() {
        [] => named.iter().map(|held| held.snapshot.id.as_str()).collect(),
        _ => present
            .iter()
            .map(|held| held.snapshot.id.as_str())
            .collect(),
    };
    match candidates.as_slice() {
        // Neither an id nor a login name of any account.
        [] => Err(CommandError::NotFound {
            what: "account",
            id: account,
        }),
        [one] => Ok((*one).to_owned()),
        several => Err(CommandError::InvalidArgument {
            field: "account_id",
            reason: format!(
                "`{account}` is the login name of {} accounts ({}): name one by its id",
                several.len(),
                several.join(", ")
            ),
        }),
    }
}

fn known_employee<'a>(
    projections: &'a Projections,
    employee_id: &str,
) -> Result<&'a EmployeeState, CommandError> {
    let employee_id = required("employee_id", employee_id)?;
    projections
        .employees()
        .get(&employee_id)
        .ok_or(CommandError::NotFound {
            what: "employee",
            id: employee_id,
        })
}

/// Links an account to an employee by hand.
pub fn link_account(
    projections: &Projections,
    system: &SystemId,
    account_id: &str,
    employee_id: &str,
    reason: &str,
) -> Result<Event, CommandError> {
    Ok(Event::AccountLinked {
        system: system.clone(),
        account_id: known_account(projections, system, account_id)?,
        employee_id: known_employee(projections, employee_id)?
            .record
            .employee_id
            .clone(),
        reason: required("reason", reason)?,
    })
}

/// Removes an account's manual link. A non-empty `expected_employee_id` must name the employee
/// the account is linked to, so an admin cannot remove a link they did not mean.
pub fn unlink_account(
    projections: &Projections,
    system: &SystemId,
    account_id: &str,
    expected_employee_id: &str,
    reason: &str,
) -> Result<Event, CommandError> {
    let account_id = known_account(projections, system, account_id)?;
    let link = projections
        .system(system)
        .and_then(|state| state.links.get(&account_id))
        .ok_or_else(|| CommandError::NotFound {
            what: "manual link of account",
            id: account_id.clone(),
        })?;
    let expected = expected_employee_id.trim();
    if !expected.is_empty() && link.employee_id != expected {
        return Err(CommandError::InvalidArgument {
            field: "employee_id",
            reason: format!(
                "is `{expected}`, but the account is linked to `{}`",
                link.employee_id
            ),
        });
    }
    Ok(Event::AccountUnlinked {
        system: system.clone(),
        employee_id: link.employee_id.clone(),
        account_id,
        reason: required("reason", reason)?,
    })
}

/// Classifies an account, or with `None` removes its classification.
pub fn classify_account(
    projections: &Projections,
    system: &SystemId,
    account_id: &str,
    classification: Option<Classification>,
    owner_employee_id: Option<&str>,
    reason: &str,
) -> Result<Event, CommandError> {
    let account_id = known_account(projections, system, account_id)?;
    let reason = required("reason", reason)?;
    let Some(classification) = classification else {
        let classified = projections
            .system(system)
            .is_some_and(|state| state.classifications.contains_key(&account_id));
        if !classified {
            return Err(CommandError::NotFound {
                what: "classification of account",
                id: account_id,
            });
        }
        return Ok(Event::AccountDeclassified {
            system: system.clone(),
            account_id,
            reason,
        });
    };
    let owner_employee_id = match owner_employee_id.filter(|owner| !owner.trim().is_empty()) {
        Some(owner) => Some(
            known_employee(projections, owner)?
                .record
                .employee_id
                .clone(),
        ),
        None => None,
    };
    Ok(Event::AccountClassified {
        system: system.clone(),
        account_id,
        classification,
        owner_employee_id,
        reason,
    })
}

/// Sets a system's access policy.
/// The one rule for an offboarding grace period, from the configuration or the API: at least
/// one second (a grace of zero would fail every offboarding the instant it takes effect, before
/// any sync could see the account removed) and at most 366 days.
pub fn check_grace(seconds: u64) -> Result<(), CommandError> {
    let reason = if seconds == 0 {
        "must be at least 1s: a grace of zero fails every offboarding the instant it takes effect, before a sync can see the access removed"
            .to_owned()
    } else if seconds > MAX_GRACE_SECONDS {
        format!("must be at most 366 days, not {seconds} s")
    } else {
        return Ok(());
    };
    Err(CommandError::InvalidArgument {
        field: "offboarding_grace",
        reason,
    })
}

pub fn set_access_policy(
    system: &SystemId,
    allowed_org_roles: &[String],
    privileged_org_roles: &[String],
    offboarding_grace_seconds: u64,
    reason: Option<&str>,
) -> Result<Event, CommandError> {
    let roles = |field: &'static str, roles: &[String]| -> Result<Vec<String>, CommandError> {
        let mut cleaned = roles
            .iter()
            .map(|role| required(field, role))
            .collect::<Result<Vec<_>, _>>()?;
        cleaned.sort_by_key(|role| role.to_lowercase());
        cleaned.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        Ok(cleaned)
    };
    check_grace(offboarding_grace_seconds)?;
    Ok(Event::AccessPolicySet {
        system: system.clone(),
        allowed_org_roles: roles("allowed_org_roles", allowed_org_roles)?,
        privileged_org_roles: roles("privileged_org_roles", privileged_org_roles)?,
        offboarding_grace_seconds,
        reason: reason
            .map(str::trim)
            .filter(|reason| !reason.is_empty())
            .map(str::to_owned),
    })
}

/// Whether appending `event` would change nothing, because the system's policy already says so.
pub fn policy_unchanged(projections: &Projections, event: &Event) -> bool {
    let Event::AccessPolicySet {
        system,
        allowed_org_roles,
        privileged_org_roles,
        offboarding_grace_seconds,
        ..
    } = event
    else {
        return false;
    };
    projections
        .system(system)
        .and_then(|state| state.policy.as_ref())
        .is_some_and(|policy| {
            &policy.allowed_org_roles == allowed_org_roles
                && &policy.privileged_org_roles == privileged_org_roles
                && policy.offboarding_grace_seconds == *offboarding_grace_seconds
        })
}

/// The `SettingsChanged` that records `settings` for `system`, unless they are the last
/// recorded ones (docs/reference/events.md#settings-events).
pub fn record_settings(
    projections: &Projections,
    system: &SystemId,
    settings: &SettingsRecord,
) -> Option<Event> {
    let last = projections
        .settings(system)
        .and_then(|history| history.last());
    let changed = settings.changed_from(last);
    (!changed.is_empty()).then(|| Event::SettingsChanged {
        system: system.clone(),
        settings: settings.clone(),
        changed,
    })
}

/// What an admin asks `GrantException` for.
#[derive(Clone, Debug)]
pub struct ExceptionRequest {
    pub system: SystemId,
    pub check_id: String,
    /// The subject: exactly one of an account id and an employee id; the other empty.
    pub account_id: String,
    pub employee_id: String,
    pub reason: String,
    pub evidence_ref: String,
    /// `None`: never expires.
    pub expires_at: Option<Timestamp>,
}

/// The `ExceptionGranted` accepting the finding `request` names
/// (docs/reference/checks.md#exceptions), numbered after every exception granted before, or why it
/// is refused: an unknown check, a subject that is not exactly one known account or employee, an
/// empty reason, or an expiry not after `now`.
pub fn grant_exception(
    projections: &Projections,
    request: &ExceptionRequest,
    now: Timestamp,
) -> Result<Event, CommandError> {
    let check_id = required("check_id", &request.check_id)?;
    if !CHECKS.iter().any(|(id, _)| *id == check_id) {
        return Err(CommandError::InvalidArgument {
            field: "check_id",
            reason: format!(
                "`{check_id}` is not a check; the checks are {}",
                CHECKS.map(|(id, _)| id).join(", ")
            ),
        });
    }
    let (account_id, employee_id) = match (
        request.account_id.trim().is_empty(),
        request.employee_id.trim().is_empty(),
    ) {
        (false, true) => (
            Some(known_account(
                projections,
                &request.system,
                &request.account_id,
            )?),
            None,
        ),
        (true, false) => (
            None,
            Some(
                known_employee(projections, &request.employee_id)?
                    .record
                    .employee_id
                    .clone(),
            ),
        ),
        _ => {
            return Err(CommandError::InvalidArgument {
                field: "account_id",
                reason: "or `employee_id` names the finding's subject: give exactly one of them"
                    .to_owned(),
            });
        }
    };
    let reason = required("reason", &request.reason)?;
    let evidence_ref = optional_text("evidence_ref", &request.evidence_ref)?;
    if let Some(expires_at) = request.expires_at
        && expires_at <= now
    {
        return Err(CommandError::InvalidArgument {
            field: "expires_at",
            reason: format!("{expires_at} is not in the future (now is {now})"),
        });
    }
    Ok(Event::ExceptionGranted {
        exception_id: format!("EX-{}", projections.exceptions().granted_count() + 1),
        system: request.system.clone(),
        check_id,
        account_id,
        employee_id,
        reason,
        evidence_ref,
        expires_at: request.expires_at,
    })
}

/// The `ExceptionRevoked` withdrawing `exception_id`, or why not: no such exception, or it was
/// revoked already or has expired (it no longer holds at `now`).
pub fn revoke_exception(
    projections: &Projections,
    exception_id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Event, CommandError> {
    let exception_id = required("exception_id", exception_id)?;
    let exception =
        projections
            .exceptions()
            .get(&exception_id)
            .ok_or_else(|| CommandError::NotFound {
                what: "exception",
                id: exception_id.clone(),
            })?;
    if !exception.in_force_at(now) {
        return Err(CommandError::InvalidArgument {
            field: "exception_id",
            reason: format!("`{exception_id}` no longer holds: it was revoked or has expired"),
        });
    }
    Ok(Event::ExceptionRevoked {
        exception_id,
        system: exception.system.clone(),
        reason: required("reason", reason)?,
    })
}

/// An optional text: trimmed, `None` when empty, at most [`MAX_TEXT_BYTES`].
fn optional_text(field: &'static str, value: &str) -> Result<Option<String>, CommandError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    required(field, value).map(Some)
}

/// Trims and checks an employee record as the API or the roster gives it.
pub fn clean_employee(record: EmployeeRecord) -> Result<EmployeeRecord, CommandError> {
    let record = EmployeeRecord {
        employee_id: required("employee_id", &record.employee_id)?,
        email: required("email", &record.email)?,
        org_role: required("org_role", &record.org_role)?,
        name: record
            .name
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty()),
        start_date: record.start_date,
    };
    if !record.email.contains('@') {
        return Err(CommandError::InvalidArgument {
            field: "email",
            reason: format!("`{}` is not an email address", record.email),
        });
    }
    Ok(record)
}

/// The events that make an employee say `record`: `EmployeeOnboarded` for someone new,
/// `EmployeeUpdated` with the changed fields for someone `known`, nothing if nothing changed.
/// Emails compare case-insensitively; names and org roles exactly.
pub fn employee_changes(known: Option<&EmployeeState>, record: EmployeeRecord) -> Vec<Event> {
    let Some(known) = known else {
        return vec![Event::EmployeeOnboarded { employee: record }];
    };
    let before = &known.record;
    let name = (before.name != record.name).then(|| FieldChange {
        from: before.name.clone(),
        to: record.name.clone(),
    });
    let email = (!before.email.eq_ignore_ascii_case(&record.email)).then(|| FieldChange {
        from: before.email.clone(),
        to: record.email.clone(),
    });
    let org_role = (before.org_role != record.org_role).then(|| FieldChange {
        from: before.org_role.clone(),
        to: record.org_role.clone(),
    });
    if name.is_none() && email.is_none() && org_role.is_none() {
        return Vec::new();
    }
    vec![Event::EmployeeUpdated {
        employee_id: record.employee_id,
        name,
        email,
        org_role,
    }]
}

/// Creates or updates one employee through the API; refuses an email that belongs to another.
pub fn upsert_employee(
    projections: &Projections,
    record: EmployeeRecord,
) -> Result<Vec<Event>, CommandError> {
    let record = clean_employee(record)?;
    if let Some(holder) = projections.employees().by_email(&record.email)
        && holder.record.employee_id != record.employee_id
    {
        return Err(CommandError::InvalidArgument {
            field: "email",
            reason: format!(
                "`{}` already belongs to employee `{}`",
                record.email, holder.record.employee_id
            ),
        });
    }
    let known = projections.employees().get(&record.employee_id);
    Ok(employee_changes(known, record))
}

/// Records that an employee left, or will leave, at `effective_at`. Nothing is appended when the
/// same offboarding is already recorded.
pub fn offboard_employee(
    projections: &Projections,
    employee_id: &str,
    effective_at: Timestamp,
    reason: Option<&str>,
) -> Result<Vec<Event>, CommandError> {
    let employee = known_employee(projections, employee_id)?;
    if employee
        .offboarding
        .as_ref()
        .is_some_and(|offboarding| offboarding.effective_at == effective_at)
    {
        return Ok(Vec::new());
    }
    Ok(vec![Event::EmployeeOffboarded {
        employee_id: employee.record.employee_id.clone(),
        effective_at,
        reason: reason
            .map(str::trim)
            .filter(|reason| !reason.is_empty())
            .map(str::to_owned),
    }])
}

/// Confirms the removals that the `SyncAnomaly` of sync `sync_id` withheld and that are still
/// withheld: a `RemovalsConfirmed` naming the accounts, then the `UserRemoved` of each, carrying
/// when the account was first missed.
pub fn confirm_removals(
    projections: &Projections,
    system: &SystemId,
    sync_id: &str,
    reason: &str,
) -> Result<Vec<Event>, CommandError> {
    let sync_id = required("sync_id", sync_id)?;
    let reason = required("reason", reason)?;
    let state = projections.system(system);
    let Some((state, anomaly)) =
        state.and_then(|state| Some((state, state.withholding_syncs.get(&sync_id)?)))
    else {
        return Err(CommandError::NotFound {
            what: "withheld removals of sync",
            id: sync_id,
        });
    };
    let released: Vec<_> = state
        .withheld
        .iter()
        .filter(|(_, withheld)| withheld.since.seq <= anomaly.seq)
        .filter_map(|(account_id, _)| state.accounts.get(account_id))
        .collect();
    let mut events = vec![Event::RemovalsConfirmed {
        system: system.clone(),
        sync_id,
        account_ids: released
            .iter()
            .map(|account| account.snapshot.id.clone())
            .collect(),
        reason,
    }];
    events.extend(
        released
            .into_iter()
            .map(|account| user_removed(system, state, account)),
    );
    Ok(events)
}
