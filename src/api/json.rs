//! The proto3 JSON form of `GetStatusResponse`, for `tailledger sync --json` and
//! `tailledger status --json`: camelCase names, enum names, RFC 3339 times, 64-bit integers as
//! strings, and default values left out, as protobuf's JSON mapping prints them; and the sync
//! outcome of `tailledger sync --json`, read from the `SyncNowResponse` that `convert` builds.

use serde_json::{Map, Value, json};

use super::pb;
use crate::checks::{CheckResult, Finding};
use crate::service::CheckReport;

/// An object without the members whose values are protobuf defaults.
fn object(members: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    let is_default = |value: &Value| match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    Value::Object(
        members
            .into_iter()
            .filter(|(_, value)| !is_default(value))
            .map(|(key, value)| (key.to_owned(), value))
            .collect::<Map<_, _>>(),
    )
}

fn finding(finding: &Finding) -> Value {
    let subject = &finding.subject;
    object([
        ("state", json!(finding.state.as_str())),
        ("reason", json!(finding.reason.as_str())),
        ("message", json!(finding.message)),
        (
            "subject",
            object([
                ("system", json!(subject.system.to_string())),
                ("accountId", json!(subject.account_id)),
                ("loginName", json!(subject.login_name)),
                ("employeeId", json!(subject.employee_id)),
                ("deviceId", json!(subject.device_id)),
                ("keyId", json!(subject.key_id)),
            ]),
        ),
        ("since", json!(finding.since.to_string())),
        (
            "deadline",
            json!(finding.deadline.map(|deadline| deadline.to_string())),
        ),
        (
            "evidenceSeqs",
            json!(
                finding
                    .evidence
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
            ),
        ),
        ("exceptionId", json!(finding.exception_id)),
    ])
}

fn check(check: &CheckResult) -> Value {
    object([
        ("checkId", json!(check.check_id)),
        ("title", json!(check.title)),
        ("state", json!(check.state.as_str())),
        (
            "findings",
            Value::Array(check.findings.iter().map(finding).collect()),
        ),
    ])
}

/// `status` as protobuf's JSON mapping prints a `GetStatusResponse`.
pub fn status_json(status: &CheckReport) -> Value {
    object([
        ("evaluatedAt", json!(status.evaluated_at.to_string())),
        (
            "ledgerSeq",
            json!(
                status
                    .head
                    .map(|head| head.seq.to_string())
                    .unwrap_or_default()
            ),
        ),
        (
            "headHash",
            json!(
                status
                    .head
                    .map(|head| head.hash.to_string())
                    .unwrap_or_default()
            ),
        ),
        (
            "checks",
            Value::Array(status.checks.iter().map(check).collect()),
        ),
        (
            "settingsRecordedFromSeq",
            json!(status.settings_recorded_from_seq.map(|seq| seq.to_string())),
        ),
    ])
}

/// The sync part of `tailledger sync --json`: the fields of `SyncNowResponse` without its events,
/// every one present (empty when it does not apply), 64-bit counts as strings.
pub fn sync_json(response: &pb::SyncNowResponse) -> Value {
    json!({
        "syncId": response.sync_id,
        "outcome": response.outcome,
        "errorClass": response.error_class,
        "message": response.message,
        "accountsObserved": response.accounts_observed.to_string(),
        "eventsAppended": response.events_appended.to_string(),
        "anomaly": response.anomaly,
        "notListed": response.not_listed,
    })
}
