//! Access review decisions (docs/reference/checks.md#reviews): starting a review pinned to the
//! ledger's head, recording reviewers' decisions, completing it. Pure: projections, the request,
//! the check settings and the service's now in; the events to append, or a refusal naming the
//! field, out.
//!
//! A decision request holds one or many decisions (`review decide --csv`): all are judged
//! before anything is appended, every problem is reported (with the CSV line the caller gave),
//! and a request with any problem records nothing.

mod lifecycle;

use std::collections::BTreeMap;

use crate::canonical;
use crate::checks::{CheckSettings, PRIVILEGED_ROLES, ReviewSettings, evaluate, holds_access};
use crate::event::{
    Event, POPULATION_PART, ReviewDecision, ReviewScope, ReviewedAccount, SystemId,
};
use crate::identity::resolve;
use crate::projection::{EmployeeState, Projections, ReviewState};
use crate::time::Timestamp;

use super::{CommandError, known_employee, required};

pub use lifecycle::{cancel_review, reassign_reviewer};

/// What `StartAccessReview` asks for.
#[derive(Clone, Debug)]
pub struct StartReview {
    pub system: SystemId,
    pub scope: ReviewScope,
    pub reviewers: Vec<String>,
    pub due_at: Timestamp,
}

/// One decision as a reviewer gives it; `line` is the CSV line it came from, if any, for the
/// messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecisionInput {
    pub account_id: String,
    pub decision: String,
    pub reason: String,
    pub new_role: String,
    pub line: Option<u64>,
}

/// Who decides: the calling token's name and the employee it names, if it names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reviewer {
    pub token: String,
    pub employee_id: Option<String>,
}

/// The `AccessReviewStarted` events of a new review of `request.system`, pinned to the head
/// `projections` describe: every account holding access then (of the scope), with its link,
/// role, org role and the reason codes of the checks' findings about it at `now`, split into
/// parts of at most [`POPULATION_PART`] accounts. Refused: a system with no access policy (there
/// is nothing to review against), no reviewer, a reviewer not on the roster, a reviewer who has
/// left by `now` (a failed precondition naming the offboarding), a due date not after `now`.
pub fn start_review(
    projections: &Projections,
    request: &StartReview,
    settings: &CheckSettings,
    review_settings: &ReviewSettings,
    now: Timestamp,
) -> Result<Vec<Event>, CommandError> {
    let system = &request.system;
    let Some(state) = projections
        .system(system)
        .filter(|state| state.policy.is_some())
    else {
        return Err(CommandError::InvalidArgument {
            field: "system",
            reason: format!(
                "`{system}` has no access policy, so there is nothing to review its access against: set one first (`tailledger admin set-policy`)"
            ),
        });
    };
    let mut reviewers = Vec::new();
    for reviewer in &request.reviewers {
        let employee = known_employee(projections, reviewer).map_err(|error| match error {
            CommandError::NotFound { id, .. } => CommandError::InvalidArgument {
                field: "reviewer_employee_ids",
                reason: format!("`{id}` is no employee on the roster"),
            },
            other => other,
        })?;
        not_left("reviewer_employee_ids", employee, now, "review access")?;
        let employee_id = employee.record.employee_id.clone();
        if !reviewers.contains(&employee_id) {
            reviewers.push(employee_id);
        }
    }
    if reviewers.is_empty() {
        return Err(CommandError::InvalidArgument {
            field: "reviewer_employee_ids",
            reason: "must name at least one employee who decides".to_owned(),
        });
    }
    if request.due_at <= now {
        return Err(CommandError::InvalidArgument {
            field: "due_at",
            reason: format!("{} is not in the future (now is {now})", request.due_at),
        });
    }
    let results = evaluate(projections, system, now, settings);
    // Reason codes by account, gathered once: a population may hold 100,000 accounts.
    let mut findings: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for finding in results.iter().flat_map(|check| &check.findings) {
        if let Some(account_id) = finding.subject.account_id.as_deref() {
            findings
                .entry(account_id)
                .or_default()
                .push(finding.reason.as_str().to_owned());
        }
    }
    let population: Vec<ReviewedAccount> = state
        .present_accounts()
        .filter(|account| holds_access(account.present, &account.snapshot.status, settings))
        .filter(|account| {
            request.scope == ReviewScope::All
                || PRIVILEGED_ROLES
                    .iter()
                    .any(|role| role.eq_ignore_ascii_case(&account.snapshot.role))
        })
        .map(|account| {
            let link = resolve(
                state,
                projections.employees(),
                account,
                &settings.email_aliases,
            );
            let id = account.snapshot.id.as_str();
            ReviewedAccount {
                account_id: account.snapshot.id.clone(),
                login_name: account.snapshot.login_name.clone(),
                role: account.snapshot.role.clone(),
                employee_id: link
                    .as_ref()
                    .map(|link| link.employee.record.employee_id.clone()),
                link: link.as_ref().map(|link| link.kind.as_str().to_owned()),
                org_role: link
                    .as_ref()
                    .map(|link| link.employee.record.org_role.clone()),
                findings: findings.remove(id).unwrap_or_default(),
            }
        })
        .collect();
    let population_sha256 = canonical::population_sha256(population.iter());
    let review_id = format!("AR-{}", projections.reviews().started_count() + 1);
    let pinned_seq = projections.last_seq();
    let parts: Vec<&[ReviewedAccount]> = if population.is_empty() {
        vec![&[]]
    } else {
        population.chunks(POPULATION_PART).collect()
    };
    let count = parts.len() as u64;
    Ok(parts
        .into_iter()
        .zip(1..)
        .map(|(accounts, part)| Event::AccessReviewStarted {
            review_id: review_id.clone(),
            system: system.clone(),
            pinned_seq,
            scope: request.scope,
            population_sha256,
            population_count: population.len() as u64,
            part,
            parts: count,
            population: accounts.to_vec(),
            due_at: request.due_at,
            reviewers: reviewers.clone(),
            action_grace_seconds: review_settings.action_grace_seconds,
            interval_seconds: review_settings.interval_seconds(request.scope),
        })
        .collect())
}

/// The review `review_id` names, still open.
fn open_review<'a>(
    projections: &'a Projections,
    review_id: &str,
) -> Result<&'a ReviewState, CommandError> {
    let review_id = required("review_id", review_id)?;
    let review = projections
        .reviews()
        .get(&review_id)
        .ok_or_else(|| CommandError::NotFound {
            what: "access review",
            id: review_id.clone(),
        })?;
    if let Some(completed) = review.completed {
        return Err(CommandError::InvalidArgument {
            field: "review_id",
            reason: format!(
                "`{review_id}` was completed at {} (seq {}): it takes no more decisions",
                completed.at, completed.seq
            ),
        });
    }
    if let Some(cancelled) = review.cancelled {
        return Err(CommandError::InvalidArgument {
            field: "review_id",
            reason: format!(
                "`{review_id}` was cancelled at {} (seq {}): it takes no more decisions",
                cancelled.at, cancelled.seq
            ),
        });
    }
    Ok(review)
}

/// Refuses an employee who has left by `now` (an offboarding in effect at or before it) as a
/// failed precondition naming the offboarding: a leaver may not `act`.
fn not_left(
    field: &'static str,
    employee: &EmployeeState,
    now: Timestamp,
    act: &str,
) -> Result<(), CommandError> {
    match &employee.offboarding {
        Some(offboarding) if offboarding.effective_at <= now => {
            Err(CommandError::FailedPrecondition {
                field,
                reason: format!(
                    "`{}` was offboarded at {} (recorded at seq {}), so they may no longer {act}",
                    employee.record.employee_id, offboarding.effective_at, offboarding.recorded.seq
                ),
            })
        }
        _ => Ok(()),
    }
}

/// The reviewer's employee id, when `reviewer` may decide on `review` at `now`: its token names
/// an employee on the roster, who has not left, and who is one of the review's reviewers.
pub fn reviewer_of<'a>(
    projections: &Projections,
    review: &ReviewState,
    reviewer: &'a Reviewer,
    now: Timestamp,
) -> Result<&'a str, CommandError> {
    let token = &reviewer.token;
    let Some(employee_id) = reviewer.employee_id.as_deref() else {
        return Err(CommandError::NotAllowed {
            field: "employee_id",
            reason: format!(
                "token `{token}` names no employee, so it cannot decide: give its `[auth] tokens` entry an `employee_id`"
            ),
        });
    };
    let Some(employee) = projections.employees().get(employee_id) else {
        return Err(CommandError::NotAllowed {
            field: "employee_id",
            reason: format!(
                "`{employee_id}`, the employee token `{token}` names, is not on the roster"
            ),
        });
    };
    not_left("employee_id", employee, now, "decide a review")?;
    if !review.has_reviewer(employee_id) {
        return Err(CommandError::NotAllowed {
            field: "employee_id",
            reason: format!(
                "`{employee_id}` (token `{token}`) is not a reviewer of `{}`; its reviewers are {}",
                review.review_id,
                review.reviewers.join(", ")
            ),
        });
    }
    Ok(employee_id)
}

/// The `AccessReviewDecided` events of `decisions` on `review_id` by `reviewer` at `now`, or
/// every problem with them. A problem of a lone decision without a line names its own field;
/// several, or decisions from a file, are listed under `decisions`, each with its line (or
/// index).
pub fn decide_review(
    projections: &Projections,
    review_id: &str,
    reviewer: &Reviewer,
    decisions: &[DecisionInput],
    now: Timestamp,
) -> Result<Vec<Event>, CommandError> {
    let review = open_review(projections, review_id)?;
    let reviewer_employee_id = reviewer_of(projections, review, reviewer, now)?;
    if decisions.is_empty() {
        return Err(CommandError::InvalidArgument {
            field: "decisions",
            reason: "must hold at least one decision".to_owned(),
        });
    }
    let mut events = Vec::with_capacity(decisions.len());
    let mut problems: Vec<(String, CommandError)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (index, input) in decisions.iter().enumerate() {
        let place = input.line.map_or_else(
            || format!("decisions[{index}]"),
            |line| format!("line {line}"),
        );
        match decision(review, reviewer_employee_id, input) {
            Ok(event) => {
                let account_id = input.account_id.trim();
                if seen.contains(&account_id) {
                    problems.push((
                        place,
                        CommandError::InvalidArgument {
                            field: "account_id",
                            reason: format!("`{account_id}` is decided twice in one request"),
                        },
                    ));
                } else {
                    seen.push(account_id);
                    events.push(event);
                }
            }
            Err(problem) => problems.push((place, problem)),
        }
    }
    match problems.len() {
        0 => Ok(events),
        1 if decisions.len() == 1 && decisions[0].line.is_none() => Err(problems.remove(0).1),
        count => Err(CommandError::InvalidArgument {
            field: "decisions",
            reason: format!(
                "have {count} problem{}, so none was recorded: {}",
                if count == 1 { "" } else { "s" },
                problems
                    .iter()
                    .map(|(place, problem)| format!("{place}: {problem}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }),
    }
}

/// One decision, or why it is refused.
fn decision(
    review: &ReviewState,
    reviewer_employee_id: &str,
    input: &DecisionInput,
) -> Result<Event, CommandError> {
    let account_id = required("account_id", &input.account_id)?;
    let Some(account) = review.account(&account_id) else {
        return Err(CommandError::InvalidArgument {
            field: "account_id",
            reason: format!(
                "`{account_id}` is not in the population of `{}` (the accounts holding access at seq {})",
                review.review_id, review.pinned_seq
            ),
        });
    };
    if account.employee_id.as_deref() == Some(reviewer_employee_id) {
        return Err(CommandError::InvalidArgument {
            field: "account_id",
            reason: format!(
                "`{account_id}` belongs to `{reviewer_employee_id}`, the reviewer: self-review-refused (another reviewer must decide it)"
            ),
        });
    }
    let decision: ReviewDecision =
        input
            .decision
            .trim()
            .parse()
            .map_err(|reason| CommandError::InvalidArgument {
                field: "decision",
                reason,
            })?;
    let reason = required("reason", &input.reason)?;
    let new_role = match (decision, input.new_role.trim().is_empty()) {
        (ReviewDecision::Modify, true) => {
            return Err(CommandError::InvalidArgument {
                field: "new_role",
                reason: "must name the intended role of a `modify`".to_owned(),
            });
        }
        (ReviewDecision::Modify, false) => Some(required("new_role", &input.new_role)?),
        (_, true) => None,
        (_, false) => {
            return Err(CommandError::InvalidArgument {
                field: "new_role",
                reason: format!("is only for `modify`, not `{decision}`"),
            });
        }
    };
    Ok(Event::AccessReviewDecided {
        review_id: review.review_id.clone(),
        system: review.system.clone(),
        account_id,
        decision,
        reason,
        new_role,
        reviewer_employee_id: reviewer_employee_id.to_owned(),
    })
}

/// How many undecided accounts a refusal to complete names.
const UNDECIDED_NAMED: usize = 10;

/// The `AccessReviewCompleted` of `review_id`, or why not: unknown, completed already, or an
/// account of its population has no decision.
pub fn complete_review(projections: &Projections, review_id: &str) -> Result<Event, CommandError> {
    let review = open_review(projections, review_id)?;
    let undecided = review.undecided();
    if !undecided.is_empty() {
        let named: Vec<&str> = undecided
            .iter()
            .take(UNDECIDED_NAMED)
            .map(|account| account.account_id.as_str())
            .collect();
        let more = undecided.len() - named.len();
        return Err(CommandError::InvalidArgument {
            field: "review_id",
            reason: format!(
                "`{}` has {} account{} without a decision, so it cannot complete: {}{}",
                review.review_id,
                undecided.len(),
                if undecided.len() == 1 { "" } else { "s" },
                named.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        });
    }
    Ok(Event::AccessReviewCompleted {
        review_id: review.review_id.clone(),
        system: review.system.clone(),
        decided: review.current_decisions().len() as u64,
    })
}

/// The columns of a decisions file, in order; `new_role` may be left out.
const CSV_COLUMNS: [&str; 4] = ["account_id", "decision", "reason", "new_role"];

/// The decisions of a reviewer's spreadsheet (`review decide --csv`): a header
/// `account_id,decision,reason[,new_role]`, then one decision a row, each with its line for the
/// server's refusals. Every structural problem (the header, a row's number of fields, text that
/// is not UTF-8) is reported with its line, all at once; what the values mean is judged by
/// [`decide_review`], which reports every bad row too.
pub fn parse_decisions_csv(bytes: &[u8]) -> Result<Vec<DecisionInput>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut problems = Vec::new();
    let mut decisions = Vec::new();
    let mut columns = 0;
    for (index, record) in reader.records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(index as u64 + 1, |at| at.line());
                problems.push(format!("line {line}: {error}"));
                continue;
            }
        };
        let line = record.position().map_or(index as u64 + 1, |at| at.line());
        let fields: Vec<&str> = record.iter().collect();
        if index == 0 {
            columns = fields.len();
            let expected = &CSV_COLUMNS[..columns.clamp(3, 4)];
            if fields != expected {
                problems.push(format!(
                    "line {line}: the header is `{}`; it must be `account_id,decision,reason` or `account_id,decision,reason,new_role`",
                    fields.join(",")
                ));
                columns = 0;
            }
            continue;
        }
        if columns == 0 {
            continue;
        }
        if fields.len() != columns {
            problems.push(format!(
                "line {line}: {} fields, but the header has {columns}",
                fields.len()
            ));
            continue;
        }
        let field = |index: usize| {
            fields
                .get(index)
                .map_or(String::new(), |&text| text.to_owned())
        };
        decisions.push(DecisionInput {
            account_id: field(0),
            decision: field(1),
            reason: field(2),
            new_role: field(3),
            line: Some(line),
        });
    }
    if columns == 0 && problems.is_empty() {
        problems.push("line 1: the file is empty; it needs the header `account_id,decision,reason[,new_role]`".to_owned());
    }
    if decisions.is_empty() && problems.is_empty() {
        problems.push("the file holds no decision after its header".to_owned());
    }
    if problems.is_empty() {
        Ok(decisions)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::event::{AccountSnapshot, Actor, EmployeeRecord};

    /// A population of 100,000 accounts is recorded over parts of at most [`POPULATION_PART`]
    /// accounts, each far below gRPC's message limit, and folds back into the whole list with
    /// the digest of the whole. (Here, not in `tests/it`, so its memory does not count against
    /// the server tests that measure theirs.)
    #[test]
    fn a_population_of_a_hundred_thousand_accounts_is_split_into_bounded_parts() {
        const ACCOUNTS: usize = 100_000;
        let now = Timestamp::UNIX_EPOCH.saturating_add_seconds(1_000_000);
        let system = SystemId::tailscale();
        let mut projections = Projections::default();
        let mut head = None;
        let mut apply = |projections: &mut Projections, event: Event| {
            let entry = Entry::seal(head, now, Actor::Config, event);
            head = Some(entry.digest());
            projections.apply(&entry);
        };
        for index in 0..ACCOUNTS {
            let id = format!("u{index:06}");
            apply(
                &mut projections,
                Event::UserSeen {
                    system: system.clone(),
                    account: AccountSnapshot {
                        login_name: format!("{id}@acme.example"),
                        display_name: id.clone(),
                        id,
                        role: "member".to_owned(),
                        status: "active".to_owned(),
                        account_type: "member".to_owned(),
                        created: None,
                    },
                },
            );
        }
        apply(
            &mut projections,
            Event::AccessPolicySet {
                system: system.clone(),
                allowed_org_roles: vec!["*".to_owned()],
                privileged_org_roles: Vec::new(),
                offboarding_grace_seconds: 3600,
                reason: None,
            },
        );
        apply(
            &mut projections,
            Event::EmployeeOnboarded {
                employee: EmployeeRecord {
                    employee_id: "E-1".to_owned(),
                    email: "lead@acme.example".to_owned(),
                    name: None,
                    org_role: "IT".to_owned(),
                    start_date: None,
                },
            },
        );
        let request = StartReview {
            system,
            scope: ReviewScope::All,
            reviewers: vec!["E-1".to_owned()],
            due_at: now.saturating_add_seconds(86_400),
        };
        let settings = CheckSettings::default();
        let events = start_review(
            &projections,
            &request,
            &settings,
            &ReviewSettings::default(),
            now,
        )
        .unwrap();
        assert_eq!(events.len(), ACCOUNTS.div_ceil(POPULATION_PART));
        for (index, event) in events.iter().enumerate() {
            let Event::AccessReviewStarted {
                part,
                parts,
                population,
                population_count,
                ..
            } = event
            else {
                panic!("every event is a part of the review");
            };
            assert_eq!((*part, *parts), (index as u64 + 1, events.len() as u64));
            assert!(population.len() <= POPULATION_PART);
            assert_eq!(*population_count, ACCOUNTS as u64);
            let mut canonical = Vec::new();
            canonical::event(&mut canonical, event);
            assert!(
                canonical.len() < 128 * 1024,
                "a part stays far from gRPC's limit"
            );
        }
        for event in events {
            apply(&mut projections, event);
        }
        let review = projections.reviews().get("AR-1").unwrap();
        assert_eq!(review.population.len(), ACCOUNTS);
        assert_eq!(
            review.population_sha256,
            canonical::population_sha256(review.population.iter())
        );
    }

    #[test]
    fn a_decisions_file_is_read_with_its_lines_or_refused_with_every_problem() {
        let read = parse_decisions_csv(
            b"account_id,decision,reason,new_role\nu1,keep,owner,\nu2, modify ,least privilege,member\n",
        )
        .unwrap();
        assert_eq!(
            read,
            [
                DecisionInput {
                    account_id: "u1".into(),
                    decision: "keep".into(),
                    reason: "owner".into(),
                    new_role: String::new(),
                    line: Some(2),
                },
                DecisionInput {
                    account_id: "u2".into(),
                    decision: "modify".into(),
                    reason: "least privilege".into(),
                    new_role: "member".into(),
                    line: Some(3),
                },
            ]
        );
        let three = parse_decisions_csv(b"account_id,decision,reason\nu1,revoke,left\n").unwrap();
        assert_eq!(three[0].new_role, "");
        let problems =
            parse_decisions_csv(b"account_id,decision,reason\nu1,keep\nu2,keep,ok\nu3,a,b,c\n")
                .unwrap_err();
        assert_eq!(
            problems,
            [
                "line 2: 2 fields, but the header has 3",
                "line 4: 4 fields, but the header has 3"
            ]
        );
        let header = parse_decisions_csv(b"account,decision,why\nu1,keep,ok\n").unwrap_err();
        assert!(
            header[0].starts_with("line 1: the header is `account,decision,why`"),
            "{header:?}"
        );
        assert_eq!(parse_decisions_csv(b"").unwrap_err().len(), 1);
        assert_eq!(
            parse_decisions_csv(b"account_id,decision,reason\n").unwrap_err(),
            ["the file holds no decision after its header"]
        );
    }
}
