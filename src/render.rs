//! Plain-text tables for people: the check table, the check timeline and the offboarding report,
//! as the CLI and the demo print them.

use std::fmt::Write as _;

mod shown;

pub use shown::{Show, shown_lines};

use crate::checks::{CheckResult, CheckState};
use crate::entry::Entry;
use crate::event::{ChangeActor, Event, SystemId};
use crate::projection::{DecisionState, ReviewState};
use crate::report::OffboardingRow;
use crate::service::{ListedException, ReviewView};
use crate::sync::SyncReport;
use crate::timeline::Timeline;

/// One line per check, then one indented line per finding.
pub fn check_table(results: &[CheckResult]) -> String {
    let mut table = String::new();
    for result in results {
        // Writing to a String cannot fail.
        let _ = writeln!(
            table,
            "  {:<28} {:<8} {}",
            result.check_id,
            result.state.as_str(),
            result.title.shown()
        );
        // Messages already name their deadline, so it is not repeated here.
        for finding in &result.findings {
            let excepted = finding
                .exception_id
                .as_ref()
                .map_or(String::new(), |id| format!(" (exception {id})"));
            let _ = writeln!(
                table,
                "      {} {}: {}{excepted}",
                finding.state.as_str(),
                finding.reason.as_str(),
                finding.message.shown()
            );
        }
    }
    table
}

/// The timeline of every check: per check its shares of the window, its intervals, and the
/// findings open in the window with their time to resolution. Subjects are Tailscale's and HR's
/// text, escaped, so a control character cannot act on a terminal.
pub fn timeline_table(timeline: &Timeline) -> String {
    let mut table = String::new();
    let _ = writeln!(
        table,
        "checks of {} from {} to {} ({}):",
        timeline.system,
        timeline.window.from,
        timeline.window.to,
        timeline
            .head
            .map_or("an empty ledger".to_owned(), |head| format!(
                "ledger {head}"
            ))
    );
    for check in &timeline.checks {
        let shares = [CheckState::Passing, CheckState::Due, CheckState::Failing]
            .map(|state| {
                format!(
                    "{} {:.1}%",
                    state.as_str(),
                    100.0 * timeline.share(check, state)
                )
            })
            .join(", ");
        let _ = writeln!(table, "  {:<27} {shares}", check.check_id);
        for interval in &check.intervals {
            let _ = writeln!(
                table,
                "      {} .. {}  {:<8} {} finding(s)",
                interval.start,
                interval.end,
                interval.state.as_str(),
                interval.findings
            );
        }
        for finding in &check.findings {
            let login = finding.subject.login_name.as_deref();
            // An employee id that is the login name (the default) is not said twice.
            let employee = finding
                .subject
                .employee_id
                .as_deref()
                .filter(|id| login.is_none_or(|login| !id.eq_ignore_ascii_case(login)));
            let subject = [login, employee]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" / ");
            let closed = match (finding.closed_at, finding.time_to_resolution()) {
                (Some(closed_at), Some(micros)) => format!(
                    "closed {closed_at}{} after {}",
                    finding
                        .closing_seq
                        .map_or(" by time".to_owned(), |seq| format!(" by seq {seq}")),
                    duration_words(micros / 1_000_000)
                ),
                _ => "open at the end".to_owned(),
            };
            let _ = writeln!(
                table,
                "      - {} [{}] opened {}, {closed}",
                finding.reason.as_str(),
                if subject.is_empty() {
                    finding.subject.system.to_string()
                } else {
                    subject.shown().to_string()
                },
                finding.opened_at
            );
        }
    }
    table
}

fn duration_words(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let seconds = seconds.unsigned_abs();
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    match (days, hours) {
        (0, 0) => format!("{sign}{minutes}m"),
        (0, _) => format!("{sign}{hours}h{minutes:02}m"),
        _ => format!("{sign}{days}d{hours:02}h"),
    }
}

/// One block per row of the offboarding report.
/// The exceptions `ListExceptions` answered: one line each with its subject, expiry and whether
/// it held, then its reason (an admin's text, escaped).
pub fn exception_table(exceptions: &[ListedException]) -> String {
    if exceptions.is_empty() {
        return "  (no exception granted)\n".to_owned();
    }
    let mut table = String::new();
    for listed in exceptions {
        let exception = &listed.exception;
        let subject = match (&exception.account_id, &exception.employee_id) {
            (Some(account), _) => format!("account {}", account.shown()),
            (None, Some(employee)) => format!("employee {}", employee.shown()),
            (None, None) => String::new(),
        };
        let until = exception
            .expires_at
            .map_or("never expires".to_owned(), |at| format!("expires {at}"));
        let standing = match (&exception.revoked, listed.in_force) {
            (_, true) => "in force".to_owned(),
            (Some((mark, _)), false) => format!("revoked {} (seq {})", mark.at, mark.seq),
            (None, false) => "expired".to_owned(),
        };
        let _ = writeln!(
            table,
            "  {} {} for {subject}: granted {} (seq {}), {until}; {standing}\n      {}",
            exception.exception_id,
            exception.check_id,
            exception.granted.at,
            exception.granted.seq,
            exception.reason.shown()
        );
    }
    table
}

/// An access review for people: what it is pinned to and its digest, each account of its
/// population with the decision in force, then every decision in order (superseded ones
/// included) and what became of each revoke or modify. Logins, roles, ids and reasons come
/// from Tailscale, HR and reviewers: escaped.
pub fn review_report(view: &ReviewView) -> String {
    let review = &view.review;
    let mut text = String::new();
    let state = review_state(review);
    let _ = writeln!(
        text,
        "review {} of {} access to {}: {state}\n  pinned to seq {}, started {} (seq {}); reviewers {}\n  population {} accounts, sha256 {}",
        review.review_id,
        review.scope,
        review.system,
        review.pinned_seq,
        review.started.at,
        review.started.seq,
        review
            .reviewers
            .iter()
            .map(|id| id.shown().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        review.population.len(),
        review.population_sha256
    );
    for (from, to, at) in &review.reassignments {
        let _ = writeln!(
            text,
            "  reviewer {} replaced by {} at {} (seq {})",
            from.shown(),
            to.shown(),
            at.at,
            at.seq
        );
    }
    let decided = review.current_decisions();
    for account in &review.population {
        let decision = decided.get(account.account_id.as_str()).map_or_else(
            || "undecided".to_owned(),
            |decision| decision_words(decision),
        );
        let employee = account
            .employee_id
            .as_ref()
            .map_or("no employee".to_owned(), |id| {
                format!("employee {}", id.shown())
            });
        let _ = writeln!(
            text,
            "  {} {} ({}, {employee}): {decision}",
            account.account_id.shown(),
            account.login_name.shown(),
            account.role.shown(),
        );
    }
    if !review.decisions.is_empty() {
        let _ = writeln!(text, "decisions:");
        for decision in &review.decisions {
            let _ = writeln!(
                text,
                "  seq {} {} by {} ({}): {} {}: {}",
                decision.decided.seq,
                decision.decided.at,
                decision.reviewer_employee_id.shown(),
                decision.actor,
                decision_words(decision),
                decision.account_id.shown(),
                decision.reason.shown()
            );
        }
    }
    if !view.follow_through.is_empty() {
        let _ = writeln!(text, "follow-through:");
        for follow in &view.follow_through {
            let done = match follow.done {
                Some(done) if follow.in_time() => {
                    format!("done at {} (seq {}), in time", done.at, done.seq)
                }
                Some(done) => format!("done at {} (seq {}), late", done.at, done.seq),
                None => "not done yet".to_owned(),
            };
            let _ = writeln!(
                text,
                "  {} {}: due by {}; {done}",
                follow.decision,
                follow.account_id.shown(),
                follow.deadline
            );
        }
    }
    text
}

/// Where a review stands: open (and when due), completed or cancelled, with the entry.
pub fn review_state(review: &ReviewState) -> String {
    match (review.completed, review.cancelled) {
        (Some(completed), _) => format!("completed {} (seq {})", completed.at, completed.seq),
        (None, Some(cancelled)) => format!("cancelled {} (seq {})", cancelled.at, cancelled.seq),
        (None, None) => format!("open, due {}", review.due_at),
    }
}

/// `keep`, `revoke`, or `modify to <role>`.
fn decision_words(decision: &DecisionState) -> String {
    match &decision.new_role {
        Some(role) => format!("{} to {}", decision.decision, role.shown()),
        None => decision.decision.to_string(),
    }
}

pub fn offboarding_table(rows: &[OffboardingRow]) -> String {
    if rows.is_empty() {
        return "  (no offboarding in the window)\n".to_owned();
    }
    let mut table = String::new();
    for row in rows {
        let mark = |mark: Option<crate::projection::Mark>| {
            mark.map_or("-".to_owned(), |mark| {
                format!("{} (seq {})", mark.at, mark.seq)
            })
        };
        let verdict = match row.within_grace {
            Some(true) => "removed within the grace period",
            Some(false) => "NOT removed within the grace period",
            None => "grace period still running",
        };
        let person = if row.employee_id.eq_ignore_ascii_case(&row.email) {
            row.email.shown().to_string()
        } else {
            format!("{} ({})", row.employee_id.shown(), row.email.shown())
        };
        // The account is named only when it is not the person's email already.
        let account = if row.login_name.eq_ignore_ascii_case(&row.email) {
            String::new()
        } else {
            format!(", account {}", row.login_name.shown())
        };
        // Who removed it is the audit log's text: escaped where it is written.
        let removed_by = row.removed_by.as_ref().map_or(String::new(), |removal| {
            let actor = removal
                .actor
                .as_ref()
                .map_or_else(|| "an unnamed actor".to_owned(), change_actor);
            format!(
                "\n    removed by:                {actor}, {} at {} by Tailscale's audit log (seq {})",
                removal.action.shown(),
                removal.at,
                removal.seq
            )
        });
        let _ = writeln!(
            table,
            "  {person}{account} [{} link, since {} (seq {})]\n    \
             left:                      {}\n    \
             HR recorded it:            {} (seq {})\n    \
             last seen with access:     {}\n    \
             first seen without access: {}{removed_by}\n    \
             time to removal:           {} of {} allowed: {verdict}",
            row.link,
            row.link_since.at,
            row.link_since.seq,
            row.effective_at,
            row.hr_recorded.at,
            row.hr_recorded.seq,
            mark(row.last_with_access),
            mark(row.first_without_access),
            row.elapsed_seconds
                .map_or("still holds access".to_owned(), duration_words),
            duration_words(i64::try_from(row.grace_seconds).unwrap_or(i64::MAX)),
        );
    }
    table
}

/// One line saying how a sync ended.
pub fn sync_summary(report: &SyncReport) -> String {
    format!("sync {} {}", report.sync_id, report.outcome)
}

/// One line for a ledger entry: seq, event type, actor, and what it says.
pub fn entry_line(entry: &Entry) -> String {
    entry_line_naming(entry, |_, _| None)
}

/// [`entry_line`], naming an account by the login name `login_of` gives for its id (an event
/// such as `AccountClassified` carries only the id).
pub fn entry_line_naming(
    entry: &Entry,
    login_of: impl Fn(&SystemId, &str) -> Option<String>,
) -> String {
    format!(
        "seq {:>3}  {:<20} {:<16} {}",
        entry.seq,
        entry.event.type_name(),
        entry.actor.to_string().shown(),
        // Upstream text is one line here, whatever it holds.
        describe(&entry.event, login_of).shown()
    )
    .trim_end()
    .to_owned()
}

/// A few words on what an event says.
fn describe(event: &Event, login_of: impl Fn(&SystemId, &str) -> Option<String>) -> String {
    match event {
        Event::UserSeen { account, .. } => format!(
            "{} ({}, {}, {})",
            account.login_name, account.role, account.status, account.account_type
        ),
        Event::UserRemoved {
            login_name,
            observed_at,
            ..
        } => match observed_at {
            Some(observed_at) => format!("{login_name} (withheld; unlisted since {observed_at})"),
            None => login_name.clone(),
        },
        Event::RoleChanged {
            login_name,
            from,
            to,
            ..
        }
        | Event::StatusChanged {
            login_name,
            from,
            to,
            ..
        } => format!("{login_name}: {from} -> {to}"),
        Event::EmployeeOnboarded { employee } => {
            format!("{} as {}", employee.email, employee.org_role)
        }
        Event::EmployeeUpdated {
            employee_id,
            name,
            email,
            org_role,
        } => {
            let mut changes = Vec::new();
            if let Some(change) = org_role {
                changes.push(format!("org role {} -> {}", change.from, change.to));
            }
            if let Some(change) = email {
                changes.push(format!("email {} -> {}", change.from, change.to));
            }
            if let Some(change) = name {
                let name = |name: &Option<String>| name.clone().unwrap_or_else(|| "-".to_owned());
                changes.push(format!(
                    "name {} -> {}",
                    name(&change.from),
                    name(&change.to)
                ));
            }
            format!("{employee_id}: {}", changes.join("; "))
        }
        Event::EmployeeOffboarded {
            employee_id,
            effective_at,
            reason,
        } => format!(
            "{employee_id}, effective {effective_at}{}",
            because(reason.as_deref())
        ),
        Event::EmployeeReinstated {
            employee_id,
            reason,
        } => format!("{employee_id}{}", because(reason.as_deref())),
        Event::AccessPolicySet {
            allowed_org_roles,
            privileged_org_roles,
            offboarding_grace_seconds,
            reason,
            ..
        } => format!(
            "allowed: {}; privileged: {}; grace {}{}",
            allowed_org_roles.join(", "),
            privileged_org_roles.join(", "),
            humantime::format_duration(std::time::Duration::from_secs(*offboarding_grace_seconds)),
            because(reason.as_deref())
        ),
        Event::AccountClassified {
            system,
            account_id,
            classification,
            owner_employee_id,
            reason,
        } => {
            let owner = owner_employee_id
                .as_ref()
                .map_or(String::new(), |owner| format!(", owned by {owner}"));
            format!(
                "{} as {classification}{owner}{}",
                account_named(system, account_id, &login_of),
                because(Some(reason))
            )
        }
        Event::AccountDeclassified {
            system,
            account_id,
            reason,
        } => format!(
            "{}: classification removed{}",
            account_named(system, account_id, &login_of),
            because(Some(reason))
        ),
        Event::AccountLinked {
            system,
            account_id,
            employee_id,
            reason,
        } => format!(
            "{} -> {employee_id}{}",
            account_named(system, account_id, &login_of),
            because(Some(reason))
        ),
        Event::AccountUnlinked {
            system,
            account_id,
            employee_id,
            reason,
        } => format!(
            "{} no longer -> {employee_id}{}",
            account_named(system, account_id, &login_of),
            because(Some(reason))
        ),
        Event::SyncCompleted {
            sync_id,
            accounts_observed,
            events_appended,
            ..
        } => format!("{sync_id}: {accounts_observed} accounts listed, {events_appended} changes"),
        Event::CredentialObserved {
            credential_id,
            expires_at,
            invalid,
            ..
        } => {
            let expiry = match expires_at {
                Some(expires_at) => format!(", expires {expires_at}"),
                None => String::new(),
            };
            let invalid = if *invalid == Some(true) {
                ", INVALID"
            } else {
                ""
            };
            format!("{credential_id}{expiry}{invalid}")
        }
        Event::SyncFailed { error_class, .. } => error_class.to_string(),
        Event::SyncAnomaly {
            removals_withheld, ..
        } => format!("{removals_withheld} removals withheld"),
        Event::RemovalsConfirmed {
            sync_id,
            account_ids,
            reason,
            ..
        } => format!(
            "{} removal(s) withheld since {sync_id} confirmed{}",
            account_ids.len(),
            because(Some(reason))
        ),
        Event::RosterRejected {
            sha256,
            problem_count,
            ..
        } => format!("{problem_count} problem(s) in the file with SHA-256 {sha256}"),
        Event::RosterAccepted { sha256 } => format!("the file with SHA-256 {sha256}"),
        Event::WebhookReceived {
            event_count,
            events,
            starts_sync,
            ..
        } => {
            // The types are Tailscale's text: escaped, so a control character cannot act on a
            // terminal.
            let mut types: Vec<String> = events
                .iter()
                .map(|event| event.event_type.shown().to_string())
                .collect();
            let listed = events.len() as u64;
            if *event_count > listed {
                types.push(format!("and {} more", event_count - listed));
            }
            let sync = if *starts_sync { "; sync started" } else { "" };
            format!("{}{sync}", types.join(", "))
        }
        Event::SettingsChanged { changed, .. } => format!("changed: {}", changed.join(", ")),
        Event::ExceptionGranted {
            exception_id,
            check_id,
            account_id,
            employee_id,
            expires_at,
            reason,
            ..
        } => {
            let subject = account_id
                .as_deref()
                .or(employee_id.as_deref())
                .unwrap_or("");
            let until = expires_at.map_or("never expires".to_owned(), |at| format!("until {at}"));
            // Ids and reasons are an admin's text: escaped, so a control character cannot act
            // on a terminal.
            format!(
                "{exception_id}: {check_id} for {}, {until}{}",
                subject.shown(),
                because(Some(reason))
            )
        }
        Event::ExceptionRevoked {
            exception_id,
            reason,
            ..
        } => format!("{exception_id}{}", because(Some(reason))),
        // Names, users and descriptions are Tailscale's text: escaped, like the types above.
        Event::DeviceSeen { device, .. } | Event::DeviceChanged { device, .. } => {
            let owner = if device.tags.is_empty() {
                format!("registered by {}", device.user.shown())
            } else {
                format!(
                    "tagged {}, registered by {}",
                    device.tags.join(" ").shown(),
                    device.user.shown()
                )
            };
            let authorized = if device.authorized {
                ""
            } else {
                ", not authorized"
            };
            format!("{} ({owner}{authorized})", device.name.shown())
        }
        Event::DeviceRemoved {
            device_id, name, ..
        } => format!("{} ({})", name.shown(), device_id.shown()),
        Event::KeySeen { key, .. } | Event::KeyChanged { key, .. } => {
            let expiry = match key.expires {
                Some(expires) => format!(", expires {expires}"),
                None => String::new(),
            };
            let state = match (key.revoked, key.invalid) {
                (Some(revoked), _) => format!(", revoked {revoked}"),
                (None, true) => ", INVALID".to_owned(),
                (None, false) => String::new(),
            };
            format!(
                "{} {} by {}{expiry}{state}",
                key.key_type.shown(),
                key.id.shown(),
                key.user_id.shown()
            )
        }
        Event::KeyRemoved {
            key_id,
            description,
            ..
        } => format!(
            "{} ({}); no longer listed",
            key_id.shown(),
            description.shown()
        ),
        Event::ChangeAttributed {
            event_time,
            actor,
            action,
            target,
            error,
            ..
        } => {
            let by = actor
                .as_ref()
                .map_or_else(|| "an unnamed actor".to_owned(), change_actor);
            let failed = if error.is_some() { " (FAILED)" } else { "" };
            format!(
                "{} {} {} by {by} at {event_time}{failed}",
                action.shown(),
                target.target_type.shown(),
                if target.name.is_empty() {
                    &target.id
                } else {
                    &target.name
                }
                .shown(),
            )
        }
        Event::AccessReviewStarted {
            review_id,
            pinned_seq,
            scope,
            population_count,
            part,
            parts,
            due_at,
            ..
        } => {
            let part = if *parts > 1 {
                format!(", part {part} of {parts}")
            } else {
                String::new()
            };
            format!(
                "{review_id}: {scope} access at seq {pinned_seq}, {population_count} accounts, due {due_at}{part}"
            )
        }
        // The account id and reason are a reviewer's text: escaped for the terminal.
        Event::AccessReviewDecided {
            review_id,
            account_id,
            decision,
            new_role,
            reason,
            ..
        } => {
            let role = new_role
                .as_ref()
                .map_or(String::new(), |role| format!(" to {}", role.shown()));
            format!(
                "{review_id}: {decision}{role} {}: {}",
                account_id.shown(),
                reason.shown()
            )
        }
        Event::AccessReviewCompleted {
            review_id, decided, ..
        } => format!("{review_id}: {decided} accounts decided"),
        Event::AccessReviewReviewerReassigned {
            review_id,
            from_employee_id,
            to_employee_id,
            reason,
            ..
        } => format!(
            "{review_id}: reviewer {from_employee_id} -> {to_employee_id}{}",
            because(Some(reason))
        ),
        Event::AccessReviewCancelled {
            review_id, reason, ..
        } => format!("{review_id}: cancelled{}", because(Some(reason))),
        Event::AlertDelivered {
            route,
            destination,
            notification_id,
            check_id,
            state,
            subject,
            ..
        } => format!(
            "{notification_id} to {} ({}): {check_id} {state} {}",
            destination.shown(),
            route.shown(),
            subject.shown()
        ),
        Event::WitnessRefused {
            witness,
            old_size,
            size,
            answer,
            ..
        } => format!(
            "witness {} refused size {size} (from {old_size}): {}",
            witness.shown(),
            answer.shown()
        ),
    }
}

/// An account by its login name when `login_of` knows it, else by its id.
fn account_named(
    system: &SystemId,
    account_id: &str,
    login_of: &impl Fn(&SystemId, &str) -> Option<String>,
) -> String {
    login_of(system, account_id).unwrap_or_else(|| account_id.to_owned())
}

/// `: "reason"` for a recorded reason (an admin's text: the line it ends up in is escaped).
fn because(reason: Option<&str>) -> String {
    match reason {
        Some(reason) if !reason.is_empty() => format!(": \"{reason}\""),
        _ => String::new(),
    }
}

/// Who made a change, in words: the login name, else the id, with the actor's type; escaped, as
/// it is Tailscale's text.
pub fn change_actor(actor: &ChangeActor) -> String {
    let name = if actor.login_name.is_empty() {
        &actor.id
    } else {
        &actor.login_name
    };
    format!("{} ({})", name.shown(), actor.actor_type.shown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_days_hours_and_minutes() {
        assert_eq!(duration_words(59), "0m");
        assert_eq!(duration_words(3_660), "1h01m");
        assert_eq!(duration_words(-90_000), "-1d01h");
    }
}
