//! The pack's CSV files (RFC 4180, UTF-8, one header row), one documented column set each (the
//! README's "Evidence pack" lists them).
//!
//! A text cell from Tailscale or HR that a spreadsheet would read as a formula (starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`, which
//! spreadsheets show as text; the `csv` crate quotes whatever needs quoting.

use super::Pack;
use crate::projection::Mark;
use crate::time::Timestamp;

/// Every CSV file of the pack, named, as bytes.
pub fn all(pack: &Pack) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("check_timeline.csv", check_timeline(pack)),
        ("findings.csv", findings(pack)),
        ("offboarding.csv", offboarding(pack)),
        ("exceptions.csv", exceptions(pack)),
        ("reviews.csv", reviews(pack)),
        ("review_population.csv", review_population(pack)),
        ("review_decisions.csv", review_decisions(pack)),
        ("accounts_at_end.csv", accounts(pack)),
        ("employees_at_end.csv", employees(pack)),
        ("alert_deliveries.csv", alert_deliveries(pack)),
    ]
}

/// An untrusted text cell, defused for spreadsheets.
fn text(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    }
}

fn instant(at: Option<Timestamp>) -> String {
    at.map(|at| at.to_string()).unwrap_or_default()
}

fn number(value: Option<impl ToString>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

fn mark(mark: Option<&Mark>) -> [String; 2] {
    [
        instant(mark.map(|mark| mark.at)),
        number(mark.map(|mark| mark.seq)),
    ]
}

fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing into memory cannot fail, and every row has the header's length.
    writer.write_record(header).expect("a CSV row is written");
    for row in rows {
        debug_assert_eq!(row.len(), header.len());
        writer.write_record(&row).expect("a CSV row is written");
    }
    writer.into_inner().expect("the CSV is flushed into memory")
}

fn check_timeline(pack: &Pack) -> Vec<u8> {
    let window = pack.timeline.window;
    table(
        &[
            "check_id",
            "check_title",
            "interval_start",
            "interval_end",
            "state",
            "findings",
            "share_of_window",
        ],
        pack.timeline.checks.iter().flat_map(|check| {
            check.intervals.iter().map(move |interval| {
                let share = (interval.end.as_micros() - interval.start.as_micros()) as f64
                    / window.micros() as f64;
                vec![
                    check.check_id.to_owned(),
                    check.title.to_owned(),
                    interval.start.to_string(),
                    interval.end.to_string(),
                    interval.state.as_str().to_owned(),
                    interval.findings.to_string(),
                    format!("{share:.6}"),
                ]
            })
        }),
    )
}

fn findings(pack: &Pack) -> Vec<u8> {
    table(
        &[
            "check_id",
            "system",
            "account_id",
            "login_name",
            "employee_id",
            "reason",
            "opened_at",
            "closed_at",
            "time_to_resolution_seconds",
            "closing_seq",
        ],
        pack.timeline.checks.iter().flat_map(|check| {
            check.findings.iter().map(move |finding| {
                let subject = &finding.subject;
                vec![
                    check.check_id.to_owned(),
                    text(&subject.system.0),
                    text(subject.account_id.as_deref().unwrap_or_default()),
                    text(subject.login_name.as_deref().unwrap_or_default()),
                    text(subject.employee_id.as_deref().unwrap_or_default()),
                    finding.reason.as_str().to_owned(),
                    finding.opened_at.to_string(),
                    instant(finding.closed_at),
                    number(
                        finding
                            .time_to_resolution()
                            .map(|micros| micros / 1_000_000),
                    ),
                    number(finding.closing_seq),
                ]
            })
        }),
    )
}

fn offboarding(pack: &Pack) -> Vec<u8> {
    table(
        &[
            "employee_id",
            "email",
            "effective_at",
            "hr_recorded_at",
            "hr_recorded_seq",
            "system",
            "account_id",
            "login_name",
            "link",
            "link_since_at",
            "link_since_seq",
            "last_with_access_at",
            "last_with_access_seq",
            "first_without_access_at",
            "first_without_access_seq",
            "elapsed_seconds",
            "grace_seconds",
            "within_grace",
            "removed_by",
            "removal_action",
            "removed_at_by_tailscale",
            "removal_seq",
        ],
        pack.offboarding.iter().map(|row| {
            let [last_at, last_seq] = mark(row.last_with_access.as_ref());
            let [first_at, first_seq] = mark(row.first_without_access.as_ref());
            let removal = row.removed_by.as_ref();
            vec![
                text(&row.employee_id),
                text(&row.email),
                row.effective_at.to_string(),
                row.hr_recorded.at.to_string(),
                row.hr_recorded.seq.to_string(),
                text(&row.system.0),
                text(&row.account_id),
                text(&row.login_name),
                row.link.to_owned(),
                row.link_since.at.to_string(),
                row.link_since.seq.to_string(),
                last_at,
                last_seq,
                first_at,
                first_seq,
                number(row.elapsed_seconds),
                row.grace_seconds.to_string(),
                number(row.within_grace),
                text(
                    removal
                        .and_then(|removal| removal.actor.as_ref())
                        .map_or("", |actor| actor.login_name.as_str()),
                ),
                text(removal.map_or("", |removal| removal.action.as_str())),
                instant(removal.map(|removal| removal.at)),
                number(removal.map(|removal| removal.seq)),
            ]
        }),
    )
}

fn exceptions(pack: &Pack) -> Vec<u8> {
    table(
        &[
            "exception_id",
            "check_id",
            "account_id",
            "employee_id",
            "reason",
            "evidence_ref",
            "granted_at",
            "granted_seq",
            "expires_at",
            "revoked_at",
            "revoke_reason",
        ],
        pack.exceptions.iter().map(|exception| {
            let revoked = exception.revoked.as_ref();
            vec![
                text(&exception.exception_id),
                text(&exception.check_id),
                text(exception.account_id.as_deref().unwrap_or_default()),
                text(exception.employee_id.as_deref().unwrap_or_default()),
                text(&exception.reason),
                text(exception.evidence_ref.as_deref().unwrap_or_default()),
                exception.granted.at.to_string(),
                exception.granted.seq.to_string(),
                instant(exception.expires_at),
                instant(revoked.map(|(mark, _)| mark.at)),
                text(revoked.map_or("", |(_, reason)| reason.as_str())),
            ]
        }),
    )
}

fn reviews(pack: &Pack) -> Vec<u8> {
    table(
        &[
            "review_id",
            "system",
            "scope",
            "pinned_seq",
            "population_count",
            "population_sha256",
            "reviewers",
            "started_at",
            "started_seq",
            "due_at",
            "completed_at",
            "completed_seq",
            "cancelled_at",
            "cancelled_seq",
            "reviewers_reassigned",
        ],
        pack.reviews.iter().map(|view| {
            let review = &view.review;
            let [completed_at, completed_seq] = mark(review.completed.as_ref());
            let [cancelled_at, cancelled_seq] = mark(review.cancelled.as_ref());
            // `FROM>TO@SEQ`, space-separated, in the order recorded.
            let reassigned: Vec<String> = review
                .reassignments
                .iter()
                .map(|(from, to, at)| format!("{from}>{to}@{}", at.seq))
                .collect();
            vec![
                text(&review.review_id),
                text(&review.system.0),
                review.scope.to_string(),
                review.pinned_seq.to_string(),
                review.population.len().to_string(),
                review.population_sha256.to_string(),
                text(&review.reviewers.join(" ")),
                review.started.at.to_string(),
                review.started.seq.to_string(),
                review.due_at.to_string(),
                completed_at,
                completed_seq,
                cancelled_at,
                cancelled_seq,
                text(&reassigned.join(" ")),
            ]
        }),
    )
}

/// Every account of every review's population, as it stood at the pinned seq: the rows whose
/// RFC 8785 list `reviews.csv`'s `population_sha256` is the digest of.
fn review_population(pack: &Pack) -> Vec<u8> {
    table(
        &[
            "review_id",
            "account_id",
            "login_name",
            "role",
            "employee_id",
            "link",
            "org_role",
            "findings",
        ],
        pack.reviews.iter().flat_map(|view| {
            view.review.population.iter().map(|account| {
                vec![
                    text(&view.review.review_id),
                    text(&account.account_id),
                    text(&account.login_name),
                    text(&account.role),
                    text(account.employee_id.as_deref().unwrap_or_default()),
                    text(account.link.as_deref().unwrap_or_default()),
                    text(account.org_role.as_deref().unwrap_or_default()),
                    account.findings.join(" "),
                ]
            })
        }),
    )
}

/// Every decision recorded, superseded ones included (`in_force` says which are not), and for
/// a revoke or modify in force, by when it had to be done and the entry that showed it done;
/// `reviewer_offboarded_at` flags a decision its reviewer made after having left (an
/// offboarding in effect when it was recorded, as the ledger knows it at the window's end).
fn review_decisions(pack: &Pack) -> Vec<u8> {
    table(
        &[
            "review_id",
            "account_id",
            "decision",
            "new_role",
            "reason",
            "reviewer_employee_id",
            "actor",
            "decided_at",
            "decided_seq",
            "in_force",
            "action_deadline",
            "done_at",
            "done_seq",
            "done_in_time",
            "reviewer_offboarded_at",
        ],
        pack.reviews.iter().flat_map(|view| {
            let in_force = view.review.current_decisions();
            view.review.decisions.iter().map(move |decision| {
                let current = in_force
                    .get(decision.account_id.as_str())
                    .is_some_and(|current| current.decided.seq == decision.decided.seq);
                let follow = view
                    .follow_through
                    .iter()
                    .find(|follow| current && follow.decided.seq == decision.decided.seq);
                let [done_at, done_seq] = mark(follow.and_then(|follow| follow.done.as_ref()));
                vec![
                    text(&view.review.review_id),
                    text(&decision.account_id),
                    decision.decision.to_string(),
                    text(decision.new_role.as_deref().unwrap_or_default()),
                    text(&decision.reason),
                    text(&decision.reviewer_employee_id),
                    text(&decision.actor.to_string()),
                    decision.decided.at.to_string(),
                    decision.decided.seq.to_string(),
                    current.to_string(),
                    instant(follow.map(|follow| follow.deadline)),
                    done_at,
                    done_seq,
                    number(follow.map(|follow| follow.in_time())),
                    instant(pack.left_before(&decision.reviewer_employee_id, decision.decided.at)),
                ]
            })
        }),
    )
}

fn accounts(pack: &Pack) -> Vec<u8> {
    table(
        &[
            "account_id",
            "login_name",
            "display_name",
            "role",
            "status",
            "type",
            "present",
            "holds_access",
            "employee_id",
            "link",
            "classification",
            "findings",
        ],
        pack.accounts.iter().map(|view| {
            let account = &view.account.snapshot;
            vec![
                text(&account.id),
                text(&account.login_name),
                text(&account.display_name),
                text(&account.role),
                text(&account.status),
                text(&account.account_type),
                view.account.present.to_string(),
                view.holds_access.to_string(),
                text(view.link.as_ref().map_or("", |(employee, _)| employee)),
                view.link
                    .as_ref()
                    .map_or("", |(_, kind)| kind.as_str())
                    .to_owned(),
                view.classification
                    .as_ref()
                    .map_or(String::new(), |classification| {
                        classification.classification.to_string()
                    }),
                view.findings
                    .iter()
                    .map(|reason| reason.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        }),
    )
}

fn employees(pack: &Pack) -> Vec<u8> {
    let end = pack.timeline.window.to.saturating_add_micros(-1);
    table(
        &[
            "employee_id",
            "email",
            "name",
            "org_role",
            "start_date",
            "status",
            "offboarding_effective_at",
        ],
        pack.employees.iter().map(|employee| {
            let record = &employee.record;
            vec![
                text(&record.employee_id),
                text(&record.email),
                text(record.name.as_deref().unwrap_or_default()),
                text(&record.org_role),
                number(record.start_date),
                employee.status_at(end).as_str().to_owned(),
                instant(
                    employee
                        .offboarding
                        .as_ref()
                        .map(|offboarding| offboarding.effective_at),
                ),
            ]
        }),
    )
}

/// Every alert delivery recorded in the window: which destination was told, through which route,
/// of which change, when the change happened and when the destination acknowledged it.
fn alert_deliveries(pack: &Pack) -> Vec<u8> {
    table(
        &[
            "seq",
            "recorded_at",
            "destination",
            "route",
            "notification_id",
            "check_id",
            "reason",
            "subject",
            "state",
            "changed_at",
            "delivered_at",
            "digest_id",
        ],
        pack.alert_deliveries.iter().filter_map(|entry| {
            let crate::event::Event::AlertDelivered {
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
                ..
            } = &entry.event
            else {
                return None;
            };
            Some(vec![
                entry.seq.to_string(),
                entry.recorded_at.to_string(),
                text(destination),
                text(route),
                text(notification_id),
                text(check_id),
                text(reason),
                text(subject),
                text(state),
                changed_at.to_string(),
                delivered_at.to_string(),
                text(digest_id.as_deref().unwrap_or_default()),
            ])
        }),
    )
}
