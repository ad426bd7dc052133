//! The pack's `index.html`: one self-contained page (inline CSS and SVG, no script, no network)
//! rendered by minijinja from `index.html.j2`. The template's name ends in `.html`, so every
//! value is HTML-escaped as it is written; the page never marks a value safe.

use minijinja::{Environment, UndefinedBehavior, context};
use serde::Serialize;

use super::{Pack, PackCheckpoint};
use crate::checks::CheckState;
use crate::merkle::note_signers;
use crate::service::ReviewView;
use crate::time::Timestamp;

const TEMPLATE: &str = include_str!("index.html.j2");

/// The states a check's time is told in, in the order of the page's legend.
const STATES: [CheckState; 3] = [CheckState::Passing, CheckState::Due, CheckState::Failing];

/// The width of a timeline bar in the SVG's own units.
const BAR_WIDTH: f64 = 1000.0;

#[derive(Serialize)]
struct Bar {
    x: String,
    width: String,
    state: &'static str,
    class: String,
    findings: usize,
    start: String,
    end: String,
}

#[derive(Serialize)]
struct Share {
    state: &'static str,
    percent: String,
}

#[derive(Serialize)]
struct FindingRow {
    subject: String,
    reason: &'static str,
    opened_at: String,
    closed_at: String,
    resolution: String,
    closing_seq: String,
}

#[derive(Serialize)]
struct CheckSection {
    check_id: &'static str,
    title: &'static str,
    state_at_end: &'static str,
    shares: Vec<Share>,
    bars: Vec<Bar>,
    findings: Vec<FindingRow>,
}

#[derive(Serialize)]
struct ExceptionLine {
    id: String,
    check_id: String,
    subject: String,
    reason: String,
    evidence_ref: String,
    granted_at: String,
    ends: String,
}

#[derive(Serialize)]
struct ReviewLine {
    id: String,
    scope: String,
    pinned_seq: u64,
    population: usize,
    sha256: String,
    reviewers: String,
    started: String,
    due: String,
    completed: String,
    decisions: Vec<DecisionLine>,
}

/// One account of a review's population and the decision in force on it.
#[derive(Serialize)]
struct DecisionLine {
    account: String,
    role: String,
    employee: String,
    decision: String,
    reason: String,
    by: String,
    follow_through: String,
}

/// The pack's signed checkpoint, as the page tells it.
#[derive(Serialize)]
struct CheckpointLine {
    origin: String,
    size: u64,
    root: String,
    signers: String,
    note: String,
    export_size: u64,
    /// The export's tree is the checkpoint's, not a start of a larger one.
    same_tree: bool,
}

#[derive(Serialize)]
struct OffboardingLine {
    employee: String,
    email: String,
    effective_at: String,
    account: String,
    link: String,
    removed_by: String,
    first_without_access: String,
    elapsed: String,
    grace: String,
    within_grace: &'static str,
}

/// The page of `pack`.
pub fn page(pack: &Pack) -> String {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    // The template is a constant of this crate, and a test renders it.
    environment
        .add_template("index.html", TEMPLATE)
        .expect("the page template parses");
    let window = pack.timeline.window;
    let length = window.micros() as f64;
    let checks: Vec<CheckSection> = pack
        .timeline
        .checks
        .iter()
        .map(|check| CheckSection {
            check_id: check.check_id,
            title: check.title,
            state_at_end: check
                .intervals
                .last()
                .map_or("", |interval| interval.state.as_str()),
            shares: STATES
                .iter()
                .map(|state| Share {
                    state: state.as_str(),
                    percent: format!("{:.1}", 100.0 * pack.timeline.share(check, *state)),
                })
                .collect(),
            bars: check
                .intervals
                .iter()
                .map(|interval| {
                    let x = (interval.start.as_micros() - window.from.as_micros()) as f64 / length
                        * BAR_WIDTH;
                    let width = (interval.end.as_micros() - interval.start.as_micros()) as f64
                        / length
                        * BAR_WIDTH;
                    Bar {
                        x: format!("{x:.3}"),
                        width: format!("{width:.3}"),
                        state: interval.state.as_str(),
                        class: interval.state.as_str().to_lowercase(),
                        findings: interval.findings,
                        start: interval.start.to_string(),
                        end: interval.end.to_string(),
                    }
                })
                .collect(),
            findings: check
                .findings
                .iter()
                .map(|finding| FindingRow {
                    subject: [
                        finding.subject.login_name.as_deref(),
                        finding.subject.account_id.as_deref(),
                        finding.subject.employee_id.as_deref(),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · "),
                    reason: finding.reason.as_str(),
                    opened_at: finding.opened_at.to_string(),
                    closed_at: optional(finding.closed_at),
                    resolution: finding
                        .time_to_resolution()
                        .map_or_else(String::new, |micros| duration(micros / 1_000_000)),
                    closing_seq: finding
                        .closing_seq
                        .map_or_else(String::new, |seq| seq.to_string()),
                })
                .collect(),
        })
        .collect();
    let offboarding: Vec<OffboardingLine> = pack
        .offboarding
        .iter()
        .map(|row| OffboardingLine {
            employee: row.employee_id.clone(),
            email: row.email.clone(),
            effective_at: row.effective_at.to_string(),
            account: format!("{} ({})", row.login_name, row.account_id),
            link: format!(
                "{} since {} (seq {})",
                row.link, row.link_since.at, row.link_since.seq
            ),
            removed_by: row.removed_by.as_ref().map_or_else(
                || "not in the audit log".to_owned(),
                |removal| {
                    let actor = removal
                        .actor
                        .as_ref()
                        .map_or("someone unnamed", |actor| actor.login_name.as_str());
                    format!(
                        "{actor}, {} at {} by Tailscale's audit log (seq {})",
                        removal.action, removal.at, removal.seq
                    )
                },
            ),
            first_without_access: row.first_without_access.as_ref().map_or_else(
                || "still holds access".to_owned(),
                |mark| format!("{} (seq {})", mark.at, mark.seq),
            ),
            elapsed: row.elapsed_seconds.map_or_else(String::new, duration),
            grace: duration(i64::try_from(row.grace_seconds).unwrap_or(i64::MAX)),
            within_grace: match row.within_grace {
                Some(true) => "yes",
                Some(false) => "no",
                None => "not yet known",
            },
        })
        .collect();
    let exceptions: Vec<ExceptionLine> = pack
        .exceptions
        .iter()
        .map(|exception| ExceptionLine {
            id: exception.exception_id.clone(),
            check_id: exception.check_id.clone(),
            subject: exception
                .account_id
                .clone()
                .or_else(|| exception.employee_id.clone())
                .unwrap_or_default(),
            reason: exception.reason.clone(),
            evidence_ref: exception.evidence_ref.clone().unwrap_or_default(),
            granted_at: format!("{} (seq {})", exception.granted.at, exception.granted.seq),
            ends: match (&exception.revoked, exception.expires_at) {
                (Some((revoked, reason)), _) => format!("revoked {} ({reason})", revoked.at),
                (None, Some(expires)) => format!("expires {expires}"),
                (None, None) => "never expires".to_owned(),
            },
        })
        .collect();
    let reviews: Vec<ReviewLine> = pack
        .reviews
        .iter()
        .map(|view| review_line(pack, view))
        .collect();
    let head = pack.head();
    let template = environment
        .get_template("index.html")
        .expect("the page template was added");
    template
        .render(context! {
            system => pack.timeline.system.0.clone(),
            from => window.from.to_string(),
            to => window.to.to_string(),
            head_seq => head.map(|head| head.seq),
            head_hash => head.map(|head| head.hash.to_string()),
            written_at => pack.written_at.to_string(),
            version => pack.version,
            states => STATES.map(CheckState::as_str),
            checks => checks,
            offboarding => offboarding,
            exceptions => exceptions,
            reviews => reviews,
            checkpoint => pack.checkpoint.as_ref().map(checkpoint_line),
            accounts => pack.accounts.len(),
            employees => pack.employees.len(),
        })
        // Every value the template reads is given above; a test renders it.
        .expect("the page renders")
}

fn checkpoint_line(checkpoint: &PackCheckpoint) -> CheckpointLine {
    CheckpointLine {
        origin: checkpoint.checkpoint.origin.clone(),
        size: checkpoint.checkpoint.size,
        root: checkpoint.checkpoint.root.to_string(),
        signers: note_signers(&checkpoint.note).join(", "),
        note: checkpoint.note.clone(),
        export_size: checkpoint.export_size,
        same_tree: checkpoint.export_size == checkpoint.checkpoint.size,
    }
}

/// A review for the page: what it was pinned to, and per account the decision in force, who
/// made it and when (flagged when they had left by then), and what became of a revoke or
/// modify by the window's end.
fn review_line(pack: &Pack, view: &ReviewView) -> ReviewLine {
    let review = &view.review;
    let decided = review.current_decisions();
    let decisions = review
        .population
        .iter()
        .map(|account| {
            let decision = decided.get(account.account_id.as_str());
            let follow = decision.and_then(|decision| {
                view.follow_through
                    .iter()
                    .find(|follow| follow.decided.seq == decision.decided.seq)
            });
            DecisionLine {
                account: format!("{} ({})", account.login_name, account.account_id),
                role: account.role.clone(),
                employee: account.employee_id.clone().unwrap_or_default(),
                decision: decision.map_or_else(
                    || "undecided".to_owned(),
                    |decision| match &decision.new_role {
                        Some(role) => format!("{} to {role}", decision.decision),
                        None => decision.decision.to_string(),
                    },
                ),
                reason: decision.map_or_else(String::new, |decision| decision.reason.clone()),
                by: decision.map_or_else(String::new, |decision| {
                    let left = pack
                        .left_before(&decision.reviewer_employee_id, decision.decided.at)
                        .map_or_else(String::new, |left| {
                            format!(", a leaver: offboarded at {left}")
                        });
                    format!(
                        "{} at {} (seq {}){left}",
                        decision.reviewer_employee_id, decision.decided.at, decision.decided.seq
                    )
                }),
                follow_through: follow.map_or_else(String::new, |follow| match follow.done {
                    Some(done) => format!(
                        "done at {} (seq {}), {} the deadline {}",
                        done.at,
                        done.seq,
                        if follow.in_time() { "before" } else { "after" },
                        follow.deadline
                    ),
                    None => format!("not done by the window's end; due by {}", follow.deadline),
                }),
            }
        })
        .collect();
    ReviewLine {
        id: review.review_id.clone(),
        scope: review.scope.to_string(),
        pinned_seq: review.pinned_seq,
        population: review.population.len(),
        sha256: review.population_sha256.to_string(),
        reviewers: review.reviewers.join(", "),
        started: format!("{} (seq {})", review.started.at, review.started.seq),
        due: review.due_at.to_string(),
        completed: review.completed.map_or_else(
            || "not completed by the window's end".to_owned(),
            |completed| format!("{} (seq {})", completed.at, completed.seq),
        ),
        decisions,
    }
}

fn optional(at: Option<Timestamp>) -> String {
    at.map_or_else(String::new, |at| at.to_string())
}

/// A duration in seconds as people read it: `3d 4h`, `12m 5s`, `-2h`.
fn duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let seconds = seconds.unsigned_abs();
    let std = std::time::Duration::from_secs(seconds);
    format!("{sign}{}", humantime::format_duration(std))
}
