//! The access review checks: `access-review-actions-done`
//! (docs/reference/checks.md#access-review-actions-done), whether the revoke and modify decisions
//! of reviews were carried out, and `access-review-current`
//! (docs/reference/checks.md#access-review-current), whether each scope was reviewed recently
//! enough.
//!
//! A decision counts from when it is recorded, whether or not its review is completed yet: the
//! reviewer decided, and the clock for acting runs from then (a later decision on the account
//! replaces it). It is carried out, and its finding gone, from the entry that shows it — the
//! sync that no longer lists the account with access (revoke), or lists it with the new role
//! (modify) — and it is open again should a later sync show the access back. A review of one
//! scope says nothing of the other: `all` and `privileged` are each due on their own interval,
//! the one recorded on their last completed review, or the default counted from the system's
//! first entry while none is completed (the configured intervals reach the ledger only on the
//! reviews that record them).

use super::{CheckState, Context, Finding, Reason, Subject, evidence, holds_access, seconds};
use crate::event::{ReviewDecision, ReviewScope};
use crate::projection::{DecisionState, Mark, ReviewState};
use crate::time::Timestamp;

const DAY_SECONDS: u64 = 24 * 3600;

/// How long before a review is due `access-review-current` turns `DUE`.
pub const REVIEW_WARNING_SECONDS: u64 = 14 * DAY_SECONDS;

/// The `[access_review]` settings: how long a completed review keeps each scope reviewed, and
/// how long a revoke or modify may take. Recorded on every review as it starts, so the checks
/// read them from the ledger, never from today's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReviewSettings {
    pub privileged_interval_seconds: u64,
    pub all_interval_seconds: u64,
    pub action_grace_seconds: u64,
}

impl Default for ReviewSettings {
    /// 90 days for privileged access, 365 for all, 7 days to act
    /// (docs/reference/config.md#access-review).
    fn default() -> Self {
        ReviewSettings {
            privileged_interval_seconds: 90 * DAY_SECONDS,
            all_interval_seconds: 365 * DAY_SECONDS,
            action_grace_seconds: 7 * DAY_SECONDS,
        }
    }
}

impl ReviewSettings {
    /// How long a completed review of `scope` keeps that scope reviewed.
    pub fn interval_seconds(&self, scope: ReviewScope) -> u64 {
        match scope {
            ReviewScope::All => self.all_interval_seconds,
            ReviewScope::Privileged => self.privileged_interval_seconds,
        }
    }
}

/// The scopes `access-review-current` reports on, in its order.
const SCOPES: [ReviewScope; 2] = [ReviewScope::Privileged, ReviewScope::All];

/// A revoke or modify decision in force, and when it must be done by.
struct Action<'a> {
    review: &'a ReviewState,
    decision: &'a DecisionState,
    deadline: Timestamp,
}

/// When a scope must next be reviewed, and the entry that says so.
struct NextReview {
    due_by: Timestamp,
    /// The completed review's entry, or the system's first.
    since: Mark,
    /// The completed review, if any.
    review_id: Option<String>,
}

impl Context<'_> {
    /// The system's reviews.
    fn reviews(&self) -> impl Iterator<Item = &ReviewState> {
        self.projections
            .reviews()
            .all()
            .filter(|review| &review.system == self.system)
    }

    /// Every revoke and modify decision in force on the system's reviews.
    fn actions(&self) -> impl Iterator<Item = Action<'_>> {
        // A cancelled review's decisions call for nothing from its cancellation on.
        let open = self.reviews().filter(|review| review.cancelled.is_none());
        open.flat_map(|review| {
            review
                .current_decisions()
                .into_values()
                .filter(|decision| decision.decision != ReviewDecision::Keep)
                .map(|decision| Action {
                    review,
                    decision,
                    deadline: decision
                        .decided
                        .at
                        .saturating_add_seconds(seconds(review.action_grace_seconds)),
                })
                .collect::<Vec<_>>()
        })
    }

    /// Whether the state as last synced shows the decision done: the account without access
    /// (a revoke, and a modify too, as no access holds no role), or with the new role.
    fn carried_out(&self, decision: &DecisionState) -> bool {
        let Some(account) = self.state.accounts.get(&decision.account_id) else {
            return true;
        };
        if !holds_access(account.present, &account.snapshot.status, self.settings) {
            return true;
        }
        decision.decision == ReviewDecision::Modify
            && decision
                .new_role
                .as_deref()
                .is_some_and(|role| role.eq_ignore_ascii_case(&account.snapshot.role))
    }

    pub(super) fn access_review_actions_done(&self) -> Vec<Finding> {
        self.actions()
            .filter(|action| !self.carried_out(action.decision))
            .map(|action| {
                let Action {
                    review,
                    decision,
                    deadline,
                } = action;
                let reviewed = review.account(&decision.account_id);
                let login = reviewed.map_or(decision.account_id.as_str(), |account| {
                    account.login_name.as_str()
                });
                let what = match &decision.new_role {
                    Some(role) => format!("change the role of {login} to {role}"),
                    None => format!("revoke the access of {login}"),
                };
                let (state, when) = if self.now >= deadline {
                    (CheckState::Failing, "was due")
                } else {
                    (CheckState::Due, "is due")
                };
                Finding {
                    exception_id: None,
                    state,
                    reason: Reason::ReviewActionPending,
                    message: format!(
                        "{} decided at {} to {what} on {}; no sync shows it done, and it {when} by {deadline}",
                        review.review_id, decision.decided.at, self.system
                    ),
                    subject: Subject {
                        system: self.system.clone(),
                        account_id: Some(decision.account_id.clone()),
                        login_name: reviewed.map(|account| account.login_name.clone()),
                        employee_id: reviewed.and_then(|account| account.employee_id.clone()),
                        device_id: None,
                        key_id: None,
                    },
                    since: decision.decided.at,
                    deadline: Some(deadline),
                    evidence: evidence([review.started.seq, decision.decided.seq]),
                }
            })
            .collect()
    }

    /// When `scope` must next be reviewed: its last completed review's interval after that
    /// review, or the default interval after the system's first entry; `None` for a system
    /// nothing was recorded about.
    fn next_review(&self, scope: ReviewScope) -> Option<NextReview> {
        let last = self
            .reviews()
            .filter(|review| review.scope == scope)
            .filter_map(|review| Some((review.completed?, review)))
            .max_by_key(|(completed, _)| completed.seq);
        let (since, interval, review_id) = match last {
            Some((completed, review)) => (
                completed,
                review.interval_seconds,
                Some(review.review_id.clone()),
            ),
            None => (
                self.state.first_recorded?,
                ReviewSettings::default().interval_seconds(scope),
                None,
            ),
        };
        Some(NextReview {
            due_by: since.at.saturating_add_seconds(seconds(interval)),
            since,
            review_id,
        })
    }

    pub(super) fn access_review_current(&self) -> Vec<Finding> {
        SCOPES
            .into_iter()
            .filter_map(|scope| {
                let next = self.next_review(scope)?;
                let warn_from = next
                    .due_by
                    .saturating_add_seconds(-seconds(REVIEW_WARNING_SECONDS));
                let (state, reason, since) = if self.now >= next.due_by {
                    (
                        CheckState::Failing,
                        Reason::AccessReviewOverdue,
                        next.due_by,
                    )
                } else if self.now >= warn_from {
                    (CheckState::Due, Reason::AccessReviewDue, warn_from)
                } else {
                    return None;
                };
                let last = next.review_id.as_ref().map_or_else(
                    || "no review of it was completed".to_owned(),
                    |id| format!("the last completed review was {id} at {}", next.since.at),
                );
                Some(Finding {
                    exception_id: None,
                    state,
                    reason,
                    message: format!(
                        "{scope} access to {} must be reviewed by {}: {last}",
                        self.system, next.due_by
                    ),
                    subject: Subject {
                        system: self.system.clone(),
                        account_id: None,
                        login_name: None,
                        employee_id: None,
                        device_id: None,
                        key_id: None,
                    },
                    since,
                    deadline: Some(next.due_by),
                    evidence: evidence([next.since.seq]),
                })
            })
            .collect()
    }

    /// The instants at which time alone changes these checks: a decision's action grace running
    /// out, a scope's review coming due (14 days before) and falling overdue.
    pub(super) fn review_changes(&self) -> impl Iterator<Item = Timestamp> + '_ {
        let actions = self.actions().map(|action| action.deadline);
        let reviews = SCOPES
            .into_iter()
            .filter_map(|scope| self.next_review(scope))
            .flat_map(|next| {
                [
                    next.due_by
                        .saturating_add_seconds(-seconds(REVIEW_WARNING_SECONDS)),
                    next.due_by,
                ]
            });
        actions.chain(reviews).collect::<Vec<_>>().into_iter()
    }
}

/// What became of one revoke or modify decision in force on a review: by when it had to be
/// done, and the entry that showed it done, if one has.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FollowThrough {
    pub account_id: String,
    pub decision: ReviewDecision,
    pub new_role: Option<String>,
    pub decided: Mark,
    pub deadline: Timestamp,
    /// The entry from which the state showed it done: the sync that removed the access or set
    /// the new role, or the decision itself when that had happened before it.
    pub done: Option<Mark>,
}

impl FollowThrough {
    /// Whether it was done by its deadline.
    pub fn in_time(&self) -> bool {
        self.done.is_some_and(|done| done.at < self.deadline)
    }
}

/// The follow-through of every revoke and modify decision in force on `review`, by account id,
/// as the projections show it at `now`.
pub fn follow_through(
    projections: &crate::projection::Projections,
    review: &ReviewState,
    now: Timestamp,
    settings: &super::CheckSettings,
) -> Vec<FollowThrough> {
    let empty = crate::projection::SystemState::default();
    let context = Context::new(projections, &review.system, &empty, now, settings);
    context
        .actions()
        .filter(|action| action.review.review_id == review.review_id)
        .map(|action| {
            let decision = action.decision;
            let done = context.carried_out(decision).then(|| {
                let shown = context
                    .state
                    .accounts
                    .get(&decision.account_id)
                    .map(|account| {
                        if holds_access(account.present, &account.snapshot.status, settings) {
                            account.role_since
                        } else {
                            account
                                .access_changes
                                .last()
                                .map_or(account.last_change, |change| change.mark)
                        }
                    });
                shown
                    .filter(|mark| mark.seq > decision.decided.seq)
                    .unwrap_or(decision.decided)
            });
            FollowThrough {
                account_id: decision.account_id.clone(),
                decision: decision.decision,
                new_role: decision.new_role.clone(),
                decided: decision.decided,
                deadline: action.deadline,
                done,
            }
        })
        .collect()
}
