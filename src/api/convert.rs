//! Conversions between the domain's types and the protobuf messages: the only place that knows
//! both. Arguments coming in are checked here and refused with `INVALID_ARGUMENT` naming the
//! field.

use tonic::Status;

use super::errors::invalid_argument;
use super::pb;
use crate::as_of::AsOf;
use crate::checks::{CheckResult, CheckState, Finding, Subject};
use crate::entry::Entry;
use crate::event::{
    AccountSnapshot, ChangeActor, Classification, DeviceSnapshot, EmployeeRecord, Event,
    KeySnapshot, ReviewScope, ReviewedAccount, SystemId,
};
use crate::hash::{Digest, Hash256};
use crate::projection::{EmployeeState, Mark};
use crate::report::OffboardingRow;
use crate::service::{AccountView, CheckReport, ListedException, ReviewView, Service};
use crate::sync::{SyncOutcome, SyncReport};
use crate::time::Timestamp;

const MICROS_PER_SECOND: i64 = 1_000_000;

pub fn timestamp(instant: Timestamp) -> prost_types::Timestamp {
    let micros = instant.as_micros();
    prost_types::Timestamp {
        seconds: micros.div_euclid(MICROS_PER_SECOND),
        // The remainder is below 1,000,000, so nanoseconds fit an i32.
        nanos: i32::try_from(micros.rem_euclid(MICROS_PER_SECOND) * 1_000)
            .expect("a sub-second remainder fits in i32 nanoseconds"),
    }
}

/// A read's `as_of` instant or `as_of_date` (`YYYY-MM-DD`), not both.
pub fn as_of_arg(
    as_of: Option<prost_types::Timestamp>,
    as_of_date: &str,
) -> Result<Option<AsOf>, Status> {
    instant_or_date_arg(("as_of", as_of), ("as_of_date", as_of_date))
}

/// An instant field or a date field (`YYYY-MM-DD`), not both, each named by its field.
pub fn instant_or_date_arg(
    (instant_field, instant): (&'static str, Option<prost_types::Timestamp>),
    (date_field, date): (&'static str, &str),
) -> Result<Option<AsOf>, Status> {
    let instant = timestamp_arg(instant_field, instant)?;
    let date = date.trim();
    if date.is_empty() {
        return Ok(instant.map(AsOf::Instant));
    }
    if instant.is_some() {
        return Err(invalid_argument(
            date_field,
            &format!("cannot be given together with `{instant_field}`"),
        ));
    }
    match date.parse::<AsOf>() {
        Ok(day @ AsOf::Date(_)) => Ok(Some(day)),
        _ => Err(invalid_argument(
            date_field,
            &format!("`{date}` is not a date written YYYY-MM-DD"),
        )),
    }
}

/// An optional timestamp argument; absent stays absent.
pub fn timestamp_arg(
    field: &'static str,
    value: Option<prost_types::Timestamp>,
) -> Result<Option<Timestamp>, Status> {
    let Some(value) = value else {
        return Ok(None);
    };
    let out_of_range = || invalid_argument(field, "is outside the years 0001 to 9999");
    if !(0..1_000_000_000).contains(&value.nanos) {
        return Err(invalid_argument(
            field,
            "has nanos outside 0 to 999,999,999",
        ));
    }
    let micros = value
        .seconds
        .checked_mul(MICROS_PER_SECOND)
        .and_then(|micros| micros.checked_add(i64::from(value.nanos / 1_000)))
        .ok_or_else(out_of_range)?;
    Timestamp::from_micros(micros)
        .map(Some)
        .ok_or_else(out_of_range)
}

/// The `system` argument: required, and one the service audits.
pub fn system_arg(service: &Service, value: &str) -> Result<SystemId, Status> {
    Ok(service.known_system(&required("system", value)?)?)
}

/// A required non-empty text argument, trimmed and bounded (see `commands::required`).
pub fn required(field: &'static str, value: &str) -> Result<String, Status> {
    Ok(crate::commands::required(field, value)?)
}

pub fn duration(seconds: u64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

/// A duration argument in whole seconds; absent stays absent.
pub fn duration_arg(
    field: &'static str,
    value: Option<prost_types::Duration>,
) -> Result<Option<u64>, Status> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.seconds < 0 || value.nanos < 0 {
        return Err(invalid_argument(field, "must not be negative"));
    }
    if value.nanos != 0 {
        return Err(invalid_argument(field, "must be whole seconds"));
    }
    // A non-negative i64 always fits a u64.
    Ok(Some(
        u64::try_from(value.seconds).expect("checked non-negative"),
    ))
}

pub fn classification_arg(value: &str) -> Result<Option<Classification>, Status> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "service" => Ok(Some(Classification::Service)),
        "external" => Ok(Some(Classification::External)),
        "test" => Ok(Some(Classification::Test)),
        other => Err(invalid_argument(
            "classification",
            &format!("`{other}` is not one of service, external, test (or empty to remove it)"),
        )),
    }
}

pub fn classification(value: Classification) -> String {
    value.to_string()
}

pub fn employee_arg(record: Option<pb::EmployeeRecord>) -> Result<EmployeeRecord, Status> {
    let record = record.ok_or_else(|| invalid_argument("employee", "is required"))?;
    let start_date = match record.start_date.trim() {
        "" => None,
        text => Some(text.parse().map_err(|_| {
            invalid_argument(
                "employee.start_date",
                &format!("`{text}` is not a date (YYYY-MM-DD)"),
            )
        })?),
    };
    Ok(EmployeeRecord {
        employee_id: required("employee.employee_id", &record.employee_id)?,
        email: required("employee.email", &record.email)?,
        name: Some(record.name).filter(|name| !name.trim().is_empty()),
        org_role: required("employee.org_role", &record.org_role)?,
        start_date,
    })
}

pub fn employee(record: &EmployeeRecord) -> pb::EmployeeRecord {
    pb::EmployeeRecord {
        employee_id: record.employee_id.clone(),
        email: record.email.clone(),
        name: record.name.clone().unwrap_or_default(),
        org_role: record.org_role.clone(),
        start_date: record
            .start_date
            .map(|date| date.to_string())
            .unwrap_or_default(),
    }
}

fn snapshot(snapshot: &AccountSnapshot) -> pb::AccountSnapshot {
    pb::AccountSnapshot {
        id: snapshot.id.clone(),
        login_name: snapshot.login_name.clone(),
        display_name: snapshot.display_name.clone(),
        role: snapshot.role.clone(),
        status: snapshot.status.clone(),
        r#type: snapshot.account_type.clone(),
        created: snapshot.created.map(timestamp),
    }
}

fn change<T: Clone>(
    change: &Option<crate::event::FieldChange<T>>,
    text: impl Fn(T) -> String,
) -> Option<pb::FieldChange> {
    change.as_ref().map(|change| pb::FieldChange {
        from: text(change.from.clone()),
        to: text(change.to.clone()),
    })
}

/// The typed event of an entry.
fn typed(event: &Event) -> pb::event::Event {
    use pb::event::Event as Typed;
    match event.clone() {
        Event::UserSeen {
            system,
            account: snapshot,
        } => Typed::UserSeen(pb::UserSeen {
            system: system.0,
            account: Some(self::snapshot(&snapshot)),
        }),
        Event::UserRemoved {
            system,
            account_id,
            login_name,
            observed_at,
        } => Typed::UserRemoved(pb::UserRemoved {
            system: system.0,
            account_id,
            login_name,
            observed_at: observed_at.map(timestamp),
        }),
        Event::RoleChanged {
            system,
            account_id,
            login_name,
            from,
            to,
        } => Typed::RoleChanged(pb::RoleChanged {
            system: system.0,
            account_id,
            login_name,
            from,
            to,
        }),
        Event::StatusChanged {
            system,
            account_id,
            login_name,
            from,
            to,
        } => Typed::StatusChanged(pb::StatusChanged {
            system: system.0,
            account_id,
            login_name,
            from,
            to,
        }),
        Event::EmployeeOnboarded { employee: record } => {
            Typed::EmployeeOnboarded(pb::EmployeeOnboarded {
                employee: Some(employee(&record)),
            })
        }
        Event::EmployeeUpdated {
            employee_id,
            name,
            email,
            org_role,
        } => Typed::EmployeeUpdated(pb::EmployeeUpdated {
            employee_id,
            name: change(&name, Option::unwrap_or_default),
            email: change(&email, |text| text),
            org_role: change(&org_role, |text| text),
        }),
        Event::EmployeeOffboarded {
            employee_id,
            effective_at,
            reason,
        } => Typed::EmployeeOffboarded(pb::EmployeeOffboarded {
            employee_id,
            effective_at: Some(timestamp(effective_at)),
            reason: reason.unwrap_or_default(),
        }),
        Event::EmployeeReinstated {
            employee_id,
            reason,
        } => Typed::EmployeeReinstated(pb::EmployeeReinstated {
            employee_id,
            reason: reason.unwrap_or_default(),
        }),
        Event::AccountLinked {
            system,
            account_id,
            employee_id,
            reason,
        } => Typed::AccountLinked(pb::AccountLinked {
            system: system.0,
            account_id,
            employee_id,
            reason,
        }),
        Event::AccountUnlinked {
            system,
            account_id,
            employee_id,
            reason,
        } => Typed::AccountUnlinked(pb::AccountUnlinked {
            system: system.0,
            account_id,
            employee_id,
            reason,
        }),
        Event::AccountClassified {
            system,
            account_id,
            classification: kind,
            owner_employee_id,
            reason,
        } => Typed::AccountClassified(pb::AccountClassified {
            system: system.0,
            account_id,
            classification: classification(kind),
            owner_employee_id: owner_employee_id.unwrap_or_default(),
            reason,
        }),
        Event::AccountDeclassified {
            system,
            account_id,
            reason,
        } => Typed::AccountDeclassified(pb::AccountDeclassified {
            system: system.0,
            account_id,
            reason,
        }),
        Event::AccessPolicySet {
            system,
            allowed_org_roles,
            privileged_org_roles,
            offboarding_grace_seconds,
            reason,
        } => Typed::AccessPolicySet(pb::AccessPolicySet {
            system: system.0,
            allowed_org_roles,
            privileged_org_roles,
            offboarding_grace: Some(duration(offboarding_grace_seconds)),
            reason: reason.unwrap_or_default(),
        }),
        Event::SyncCompleted {
            system,
            sync_id,
            started_at,
            finished_at,
            accounts_observed,
            listing_sha256,
            events_appended,
        } => Typed::SyncCompleted(pb::SyncCompleted {
            system: system.0,
            sync_id,
            started_at: Some(timestamp(started_at)),
            finished_at: Some(timestamp(finished_at)),
            accounts_observed,
            listing_sha256: listing_sha256.to_string(),
            events_appended,
        }),
        Event::SyncFailed {
            system,
            sync_id,
            started_at,
            finished_at,
            error_class,
            message,
        } => Typed::SyncFailed(pb::SyncFailed {
            system: system.0,
            sync_id,
            started_at: Some(timestamp(started_at)),
            finished_at: Some(timestamp(finished_at)),
            error_class: error_class.to_string(),
            message,
        }),
        Event::SyncAnomaly {
            system,
            sync_id,
            accounts_before,
            removals_withheld,
            withheld_account_ids,
        } => Typed::SyncAnomaly(pb::SyncAnomaly {
            system: system.0,
            sync_id,
            accounts_before,
            removals_withheld,
            withheld_account_ids,
        }),
        Event::CredentialObserved {
            system,
            credential_id,
            credential_kind,
            expires_at,
            invalid,
        } => Typed::CredentialObserved(pb::CredentialObserved {
            system: system.0,
            credential_id,
            credential_kind: credential_kind.as_str().to_owned(),
            expires_at: expires_at.map(timestamp),
            invalid: invalid == Some(true),
        }),
        Event::RemovalsConfirmed {
            system,
            sync_id,
            account_ids,
            reason,
        } => Typed::RemovalsConfirmed(pb::RemovalsConfirmed {
            system: system.0,
            sync_id,
            account_ids,
            reason,
        }),
        Event::RosterRejected {
            sha256,
            problem_count,
            problems,
        } => Typed::RosterRejected(pb::RosterRejected {
            sha256: sha256.to_string(),
            problem_count,
            problems: problems
                .into_iter()
                .map(|problem| pb::RosterProblem {
                    line: problem.line,
                    column: problem.column.unwrap_or_default(),
                    reason: problem.reason,
                })
                .collect(),
        }),
        Event::RosterAccepted { sha256 } => Typed::RosterAccepted(pb::RosterAccepted {
            sha256: sha256.to_string(),
        }),
        Event::WebhookReceived {
            system,
            body_sha256,
            body_bytes,
            signed_at,
            event_count,
            events,
            body,
            starts_sync,
        } => Typed::WebhookReceived(pb::WebhookReceived {
            system: system.0,
            body_sha256: body_sha256.to_string(),
            body_bytes,
            signed_at: Some(timestamp(signed_at)),
            event_count,
            events: events
                .into_iter()
                .map(|event| pb::DeliveredEvent {
                    event_type: event.event_type,
                    timestamp: event.timestamp.map(timestamp),
                })
                .collect(),
            body: body.unwrap_or_default(),
            starts_sync,
        }),
        Event::SettingsChanged {
            system,
            settings,
            changed,
        } => Typed::SettingsChanged(pb::SettingsChanged {
            system: system.0,
            settings: Some(pb::Settings {
                email_aliases: settings
                    .email_aliases
                    .into_iter()
                    .map(|alias| pb::EmailAlias {
                        from: alias.from,
                        to: alias.to,
                    })
                    .collect(),
                include_shared_users: settings.include_shared_users,
                max_removal_fraction_millionths: settings.max_removal_fraction_millionths,
                removal_guard_hold: Some(duration(settings.removal_guard_hold_seconds)),
                suspended_is_removed: settings.suspended_is_removed,
                sync_interval: Some(duration(settings.sync_interval_seconds)),
                timezone: settings.timezone,
            }),
            changed,
        }),
        Event::ExceptionGranted {
            exception_id,
            system,
            check_id,
            account_id,
            employee_id,
            reason,
            evidence_ref,
            expires_at,
        } => Typed::ExceptionGranted(pb::ExceptionGranted {
            exception_id,
            system: system.0,
            check_id,
            account_id: account_id.unwrap_or_default(),
            employee_id: employee_id.unwrap_or_default(),
            reason,
            evidence_ref: evidence_ref.unwrap_or_default(),
            expires_at: expires_at.map(timestamp),
        }),
        Event::ExceptionRevoked {
            exception_id,
            system,
            reason,
        } => Typed::ExceptionRevoked(pb::ExceptionRevoked {
            exception_id,
            system: system.0,
            reason,
        }),
        Event::DeviceSeen { system, device } => Typed::DeviceSeen(pb::DeviceSeen {
            system: system.0,
            device: Some(device_snapshot(device)),
        }),
        Event::DeviceChanged { system, device } => Typed::DeviceChanged(pb::DeviceChanged {
            system: system.0,
            device: Some(device_snapshot(device)),
        }),
        Event::DeviceRemoved {
            system,
            device_id,
            name,
        } => Typed::DeviceRemoved(pb::DeviceRemoved {
            system: system.0,
            device_id,
            name,
        }),
        Event::KeySeen { system, key } => Typed::KeySeen(pb::KeySeen {
            system: system.0,
            key: Some(key_snapshot(key)),
        }),
        Event::KeyChanged { system, key } => Typed::KeyChanged(pb::KeyChanged {
            system: system.0,
            key: Some(key_snapshot(key)),
        }),
        Event::KeyRemoved {
            system,
            key_id,
            description,
        } => Typed::KeyRemoved(pb::KeyRemoved {
            system: system.0,
            key_id,
            description,
        }),
        Event::ChangeAttributed {
            system,
            event_time,
            event_group_id,
            origin,
            actor,
            action,
            target,
            old,
            new,
            error,
        } => Typed::ChangeAttributed(pb::ChangeAttributed {
            system: system.0,
            event_time: Some(timestamp(event_time)),
            event_group_id,
            origin,
            actor: actor.map(change_actor),
            action,
            target: Some(pb::ChangeTarget {
                id: target.id,
                name: target.name,
                target_type: target.target_type,
                property: target.property.unwrap_or_default(),
            }),
            old: old.unwrap_or_default(),
            new: new.unwrap_or_default(),
            error: error.unwrap_or_default(),
        }),
        Event::AccessReviewStarted {
            review_id,
            system,
            pinned_seq,
            scope,
            population_sha256,
            population_count,
            part,
            parts,
            population,
            due_at,
            reviewers,
            action_grace_seconds,
            interval_seconds,
        } => Typed::AccessReviewStarted(pb::AccessReviewStarted {
            review_id,
            system: system.0,
            pinned_seq,
            scope: scope.to_string(),
            population_sha256: population_sha256.to_string(),
            population_count,
            part,
            parts,
            population: population.iter().map(reviewed_account).collect(),
            due_at: Some(timestamp(due_at)),
            reviewers,
            action_grace_seconds,
            interval_seconds,
        }),
        Event::AccessReviewDecided {
            review_id,
            system,
            account_id,
            decision,
            reason,
            new_role,
            reviewer_employee_id,
        } => Typed::AccessReviewDecided(pb::AccessReviewDecided {
            review_id,
            system: system.0,
            account_id,
            decision: decision.to_string(),
            reason,
            new_role: new_role.unwrap_or_default(),
            reviewer_employee_id,
        }),
        Event::AccessReviewCompleted {
            review_id,
            system,
            decided,
        } => Typed::AccessReviewCompleted(pb::AccessReviewCompleted {
            review_id,
            system: system.0,
            decided,
        }),
        Event::AccessReviewReviewerReassigned {
            review_id,
            system,
            from_employee_id,
            to_employee_id,
            reason,
        } => Typed::AccessReviewReviewerReassigned(pb::AccessReviewReviewerReassigned {
            review_id,
            system: system.0,
            from_employee_id,
            to_employee_id,
            reason,
        }),
        Event::AccessReviewCancelled {
            review_id,
            system,
            reason,
        } => Typed::AccessReviewCancelled(pb::AccessReviewCancelled {
            review_id,
            system: system.0,
            reason,
        }),
        Event::AlertDelivered {
            system,
            route,
            destination,
            notification_id,
            check_id,
            reason,
            subject,
            state,
            changed_at,
            delivered_at,
            digest_id,
        } => Typed::AlertDelivered(pb::AlertDelivered {
            system: system.0,
            route,
            destination,
            notification_id,
            check_id,
            reason,
            subject,
            state,
            changed_at: Some(timestamp(changed_at)),
            delivered_at: Some(timestamp(delivered_at)),
            digest_id: digest_id.unwrap_or_default(),
        }),
        Event::WitnessRefused {
            witness,
            old_size,
            size,
            root,
            answer,
        } => Typed::WitnessRefused(pb::WitnessRefused {
            witness,
            old_size,
            size,
            root: root.to_string(),
            answer,
        }),
    }
}

/// One account of a review's population.
pub fn reviewed_account(account: &ReviewedAccount) -> pb::ReviewedAccount {
    pb::ReviewedAccount {
        account_id: account.account_id.clone(),
        login_name: account.login_name.clone(),
        role: account.role.clone(),
        employee_id: account.employee_id.clone().unwrap_or_default(),
        link: account.link.clone().unwrap_or_default(),
        org_role: account.org_role.clone().unwrap_or_default(),
        findings: account.findings.clone(),
    }
}

fn device_snapshot(device: DeviceSnapshot) -> pb::DeviceSnapshot {
    pb::DeviceSnapshot {
        id: device.id,
        name: device.name,
        user: device.user,
        tags: device.tags,
        authorized: device.authorized,
        key_expiry_disabled: device.key_expiry_disabled,
        expires: device.expires.map(timestamp),
        os: device.os,
        created: device.created.map(timestamp),
    }
}

fn key_snapshot(key: KeySnapshot) -> pb::KeySnapshot {
    pb::KeySnapshot {
        id: key.id,
        key_type: key.key_type,
        description: key.description,
        user_id: key.user_id,
        created: key.created.map(timestamp),
        expires: key.expires.map(timestamp),
        revoked: key.revoked.map(timestamp),
        invalid: key.invalid,
        reusable: key.reusable,
        tags: key.tags,
    }
}

/// An entry as the API sends it: envelope, typed event and the exact canonical JSON.
pub fn event(entry: &Entry) -> pb::Event {
    pb::Event {
        seq: entry.seq,
        recorded_at: Some(timestamp(entry.recorded_at)),
        actor: entry.actor.to_string(),
        r#type: entry.event.type_name().to_owned(),
        prev_hash: entry.prev_hash.to_string(),
        hash: entry.hash.to_string(),
        // Canonical JSON is UTF-8 by definition (RFC 8785 outputs UTF-8 text).
        canonical_json: String::from_utf8(entry.canonical_form()).expect("canonical JSON is UTF-8"),
        event: Some(typed(&entry.event)),
    }
}

pub fn events(entries: &[Entry]) -> Vec<pb::Event> {
    entries.iter().map(event).collect()
}

pub fn check_state(state: CheckState) -> pb::CheckState {
    match state {
        CheckState::Passing => pb::CheckState::Passing,
        CheckState::Due => pb::CheckState::Due,
        CheckState::Failing => pb::CheckState::Failing,
        CheckState::Excepted => pb::CheckState::Excepted,
    }
}

pub fn subject(subject: &Subject) -> pb::Subject {
    pb::Subject {
        system: subject.system.to_string(),
        account_id: subject.account_id.clone().unwrap_or_default(),
        login_name: subject.login_name.clone().unwrap_or_default(),
        employee_id: subject.employee_id.clone().unwrap_or_default(),
        device_id: subject.device_id.clone().unwrap_or_default(),
        key_id: subject.key_id.clone().unwrap_or_default(),
    }
}

fn finding(finding: &Finding) -> pb::Finding {
    pb::Finding {
        state: check_state(finding.state).into(),
        reason: finding.reason.as_str().to_owned(),
        message: finding.message.clone(),
        subject: Some(subject(&finding.subject)),
        since: Some(timestamp(finding.since)),
        deadline: finding.deadline.map(timestamp),
        evidence_seqs: finding.evidence.clone(),
        exception_id: finding.exception_id.clone().unwrap_or_default(),
    }
}

pub fn check(result: &CheckResult) -> pb::Check {
    pb::Check {
        check_id: result.check_id.to_owned(),
        title: result.title.to_owned(),
        state: check_state(result.state).into(),
        findings: result.findings.iter().map(finding).collect(),
    }
}

/// How a sync ended, as `SyncNow` and `tailledger sync --json` tell it: the one place an outcome
/// becomes fields.
pub fn sync_now_response(report: &SyncReport) -> pb::SyncNowResponse {
    let mut response = pb::SyncNowResponse {
        sync_id: report.sync_id.clone(),
        events: events(&report.appended.entries),
        ..Default::default()
    };
    match &report.outcome {
        SyncOutcome::Completed {
            accounts_observed,
            events_appended,
            anomaly,
            not_listed,
        } => {
            response.not_listed = not_listed
                .iter()
                .map(|part| part.as_str().to_owned())
                .collect();
            response.outcome = "completed".to_owned();
            response.accounts_observed = *accounts_observed;
            response.events_appended = *events_appended;
            response.anomaly = *anomaly;
        }
        SyncOutcome::Failed {
            error_class,
            message,
        } => {
            response.outcome = "failed".to_owned();
            response.error_class = error_class.to_string();
            response.message = message.clone();
        }
    }
    response
}

/// The status answer of `GetStatus`.
pub fn status_response(report: &CheckReport) -> pb::GetStatusResponse {
    let (ledger_seq, head_hash) = digest_parts(report.head);
    pb::GetStatusResponse {
        evaluated_at: Some(timestamp(report.evaluated_at)),
        ledger_seq,
        head_hash,
        checks: report.checks.iter().map(check).collect(),
        settings_recorded_from_seq: report.settings_recorded_from_seq.unwrap_or(0),
    }
}

pub fn digest_parts(head: Option<Digest>) -> (u64, String) {
    head.map_or((0, String::new()), |digest| {
        (digest.seq, digest.hash.to_string())
    })
}

/// Proof hashes as the API writes them: lowercase hex.
pub fn hex_hashes(hashes: &[Hash256]) -> Vec<String> {
    hashes.iter().map(Hash256::to_string).collect()
}

fn mark_parts(mark: Option<Mark>) -> (Option<prost_types::Timestamp>, u64) {
    mark.map_or((None, 0), |mark| (Some(timestamp(mark.at)), mark.seq))
}

/// An exception as `ListExceptions` answers it.
pub fn exception(listed: &ListedException) -> pb::Exception {
    let exception = &listed.exception;
    let (revoked_at, revoked_seq) = mark_parts(exception.revoked.as_ref().map(|(mark, _)| *mark));
    pb::Exception {
        exception_id: exception.exception_id.clone(),
        system: exception.system.to_string(),
        check_id: exception.check_id.clone(),
        account_id: exception.account_id.clone().unwrap_or_default(),
        employee_id: exception.employee_id.clone().unwrap_or_default(),
        reason: exception.reason.clone(),
        evidence_ref: exception.evidence_ref.clone().unwrap_or_default(),
        expires_at: exception.expires_at.map(timestamp),
        granted_at: Some(timestamp(exception.granted.at)),
        granted_seq: exception.granted.seq,
        revoked_at,
        revoked_seq,
        revoke_reason: exception
            .revoked
            .as_ref()
            .map(|(_, reason)| reason.clone())
            .unwrap_or_default(),
        in_force: listed.in_force,
    }
}

/// A review's scope argument: `all` or `privileged`.
pub fn review_scope_arg(value: &str) -> Result<ReviewScope, Status> {
    value
        .trim()
        .parse()
        .map_err(|reason: String| invalid_argument("scope", &reason))
}

/// A review as `GetAccessReview` answers it, or, not `full`, as `ListAccessReviews` lists it:
/// without its population, decisions and follow-through.
pub fn access_review(view: &ReviewView, full: bool) -> pb::AccessReview {
    let review = &view.review;
    let (completed_at, completed_seq) = mark_parts(review.completed);
    let (cancelled_at, cancelled_seq) = mark_parts(review.cancelled);
    pb::AccessReview {
        cancelled_at,
        cancelled_seq,
        reassignments: review
            .reassignments
            .iter()
            .map(|(from, to, at)| pb::ReviewerReassignment {
                from_employee_id: from.clone(),
                to_employee_id: to.clone(),
                reassigned_at: Some(timestamp(at.at)),
                reassigned_seq: at.seq,
            })
            .collect(),
        review_id: review.review_id.clone(),
        system: review.system.to_string(),
        scope: review.scope.to_string(),
        pinned_seq: review.pinned_seq,
        population_sha256: review.population_sha256.to_string(),
        population_count: review.population.len() as u64,
        population: if full {
            review.population.iter().map(reviewed_account).collect()
        } else {
            Vec::new()
        },
        due_at: Some(timestamp(review.due_at)),
        reviewers: review.reviewers.clone(),
        action_grace_seconds: review.action_grace_seconds,
        interval_seconds: review.interval_seconds,
        started_at: Some(timestamp(review.started.at)),
        started_seq: review.started.seq,
        decisions: if full {
            review
                .decisions
                .iter()
                .map(|decision| pb::RecordedDecision {
                    account_id: decision.account_id.clone(),
                    decision: decision.decision.to_string(),
                    reason: decision.reason.clone(),
                    new_role: decision.new_role.clone().unwrap_or_default(),
                    reviewer_employee_id: decision.reviewer_employee_id.clone(),
                    actor: decision.actor.to_string(),
                    decided_at: Some(timestamp(decision.decided.at)),
                    decided_seq: decision.decided.seq,
                })
                .collect()
        } else {
            Vec::new()
        },
        completed_at,
        completed_seq,
        follow_through: if full {
            view.follow_through
                .iter()
                .map(|follow| {
                    let (done_at, done_seq) = mark_parts(follow.done);
                    pb::FollowThrough {
                        account_id: follow.account_id.clone(),
                        decision: follow.decision.to_string(),
                        new_role: follow.new_role.clone().unwrap_or_default(),
                        decided_at: Some(timestamp(follow.decided.at)),
                        decided_seq: follow.decided.seq,
                        deadline: Some(timestamp(follow.deadline)),
                        done_at,
                        done_seq,
                    }
                })
                .collect()
        } else {
            Vec::new()
        },
        decided_count: review.current_decisions().len() as u64,
    }
}

/// The id of the exception a `GrantException` batch granted.
pub fn granted_exception_id(entries: &[Entry]) -> String {
    entries
        .iter()
        .find_map(|entry| match &entry.event {
            Event::ExceptionGranted { exception_id, .. } => Some(exception_id.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

pub fn offboarding_row(row: &OffboardingRow) -> pb::OffboardingRow {
    let (last_with_access_at, last_with_access_seq) = mark_parts(row.last_with_access);
    let (first_without_access_at, first_without_access_seq) = mark_parts(row.first_without_access);
    pb::OffboardingRow {
        employee_id: row.employee_id.clone(),
        email: row.email.clone(),
        effective_at: Some(timestamp(row.effective_at)),
        hr_recorded_at: Some(timestamp(row.hr_recorded.at)),
        hr_recorded_seq: row.hr_recorded.seq,
        system: row.system.to_string(),
        account_id: row.account_id.clone(),
        login_name: row.login_name.clone(),
        link: row.link.to_owned(),
        link_since_at: Some(timestamp(row.link_since.at)),
        link_since_seq: row.link_since.seq,
        last_with_access_at,
        last_with_access_seq,
        first_without_access_at,
        first_without_access_seq,
        elapsed_seconds: row.elapsed_seconds,
        grace_seconds: row.grace_seconds,
        within_grace: row.within_grace,
        removed_at: row.removed_by.as_ref().map(|removal| timestamp(removal.at)),
        removed_by: row
            .removed_by
            .as_ref()
            .and_then(|removal| removal.actor.clone())
            .map(change_actor),
        removal_action: row
            .removed_by
            .as_ref()
            .map(|removal| removal.action.clone())
            .unwrap_or_default(),
        removal_seq: row.removed_by.as_ref().map_or(0, |removal| removal.seq),
    }
}

fn change_actor(actor: ChangeActor) -> pb::ChangeActor {
    pb::ChangeActor {
        id: actor.id,
        actor_type: actor.actor_type,
        login_name: actor.login_name,
    }
}

pub fn account(view: &AccountView) -> pb::Account {
    let account = &view.account.snapshot;
    pb::Account {
        account_id: account.id.clone(),
        login_name: account.login_name.clone(),
        display_name: account.display_name.clone(),
        role: account.role.clone(),
        status: account.status.clone(),
        r#type: account.account_type.clone(),
        holds_access: view.holds_access,
        link: view
            .link
            .as_ref()
            .map(|(employee_id, kind)| pb::AccountLink {
                employee_id: employee_id.clone(),
                kind: kind.as_str().to_owned(),
            }),
        classification: view
            .classification
            .as_ref()
            .map(|state| pb::AccountClassification {
                classification: classification(state.classification),
                owner_employee_id: state.owner_employee_id.clone().unwrap_or_default(),
                reason: state.reason.clone(),
            }),
        first_seen: Some(timestamp(view.account.first_seen)),
        removed_at: view.account.removed_at.map(timestamp),
        access_valid: view.findings.is_empty(),
        access_reason: view
            .findings
            .iter()
            .map(|reason| reason.as_str())
            .collect::<Vec<_>>()
            .join(","),
        created: account.created.map(timestamp),
    }
}

pub fn employee_view(employee: &EmployeeState, now: Timestamp) -> pb::Employee {
    let pb::EmployeeRecord {
        employee_id,
        email,
        name,
        org_role,
        start_date,
    } = self::employee(&employee.record);
    pb::Employee {
        employee_id,
        email,
        name,
        org_role,
        status: employee.status_at(now).as_str().to_owned(),
        offboarding_effective_at: employee
            .offboarding
            .as_ref()
            .map(|offboarding| timestamp(offboarding.effective_at)),
        start_date,
    }
}
