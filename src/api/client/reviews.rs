//! The client's access reviews (docs/reference/api.md#reviews): starting, deciding (one decision or
//! a file's worth), completing, and reading them back as the domain's `ReviewView`.

use super::{ApiClient, ClientError, instant, mark, non_empty, timestamp, unusable, verified};
use crate::checks::FollowThrough;
use crate::commands::review::{DecisionInput, StartReview};
use crate::entry::Entry;
use crate::event::{ReviewedAccount, SystemId};
use crate::projection::{DecisionState, ReviewState};
use crate::service::ReviewView;

use super::super::pb;

/// What `StartAccessReview` answered: the new review's id and the batch.
#[derive(Clone, Debug)]
pub struct StartedReview {
    pub review_id: String,
    pub entries: Vec<Entry>,
}

impl ApiClient {
    /// Starts a review pinned to the server's head.
    pub async fn start_access_review(
        &mut self,
        request: StartReview,
    ) -> Result<StartedReview, ClientError> {
        let response = self
            .admin
            .start_access_review(pb::StartAccessReviewRequest {
                system: request.system.to_string(),
                reviewer_employee_ids: request.reviewers,
                due_at: Some(timestamp(request.due_at)),
                scope: request.scope.to_string(),
            })
            .await?
            .into_inner();
        Ok(StartedReview {
            entries: verified(&response.events)?,
            review_id: response.review_id,
        })
    }

    /// Records decisions on a review, all or none.
    pub async fn decide_access_review(
        &mut self,
        review_id: String,
        decisions: Vec<DecisionInput>,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .decide_access_review(pb::DecideAccessReviewRequest {
                review_id,
                decisions: decisions
                    .into_iter()
                    .map(|input| pb::ReviewDecisionInput {
                        account_id: input.account_id,
                        decision: input.decision,
                        reason: input.reason,
                        new_role: input.new_role,
                        line: input.line.unwrap_or(0),
                    })
                    .collect(),
                ..pb::DecideAccessReviewRequest::default()
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Completes a review.
    pub async fn complete_access_review(
        &mut self,
        review_id: String,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .complete_access_review(pb::CompleteAccessReviewRequest { review_id })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Hands reviewer `from`'s part of a review to employee `to`.
    pub async fn reassign_access_reviewer(
        &mut self,
        review_id: String,
        from: String,
        to: String,
        reason: String,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .reassign_access_reviewer(pb::ReassignAccessReviewerRequest {
                review_id,
                from_employee_id: from,
                to_employee_id: to,
                reason,
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Withdraws an open review.
    pub async fn cancel_access_review(
        &mut self,
        review_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .cancel_access_review(pb::CancelAccessReviewRequest { review_id, reason })
            .await?;
        verified(&response.into_inner().events)
    }

    /// One review with its population, decisions and follow-through.
    pub async fn access_review(&mut self, review_id: String) -> Result<ReviewView, ClientError> {
        let review = self
            .ledger
            .get_access_review(pb::GetAccessReviewRequest { review_id })
            .await?
            .into_inner()
            .review
            .ok_or_else(|| unusable("the answer holds no review"))?;
        review_view(review)
    }

    /// The reviews of `system`, without their populations.
    pub async fn access_reviews(
        &mut self,
        system: &SystemId,
    ) -> Result<Vec<ListedReview>, ClientError> {
        let reviews = self
            .ledger
            .list_access_reviews(pb::ListAccessReviewsRequest {
                system: system.to_string(),
            })
            .await?
            .into_inner()
            .reviews;
        reviews
            .into_iter()
            .map(|review| {
                let population_count = review.population_count;
                let decided_count = review.decided_count;
                Ok(ListedReview {
                    review: review_view(review)?.review,
                    population_count,
                    decided_count,
                })
            })
            .collect()
    }
}

/// A review as `ListAccessReviews` lists it: without its population and decisions, which it
/// counts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ListedReview {
    pub review: ReviewState,
    pub population_count: u64,
    pub decided_count: u64,
}

fn parsed<T: std::str::FromStr<Err: std::fmt::Display>>(text: &str) -> Result<T, ClientError> {
    text.parse().map_err(unusable)
}

fn review_view(review: pb::AccessReview) -> Result<ReviewView, ClientError> {
    let decisions = review
        .decisions
        .into_iter()
        .map(|decision| {
            Ok(DecisionState {
                decision: parsed(&decision.decision)?,
                actor: parsed(&decision.actor)?,
                decided: mark("decided_at", decision.decided_at, decision.decided_seq)?
                    .ok_or_else(|| unusable("a decision has no `decided_at`"))?,
                new_role: non_empty(decision.new_role),
                account_id: decision.account_id,
                reason: decision.reason,
                reviewer_employee_id: decision.reviewer_employee_id,
            })
        })
        .collect::<Result<Vec<_>, ClientError>>()?;
    let follow_through = review
        .follow_through
        .into_iter()
        .map(|follow| {
            Ok(FollowThrough {
                decision: parsed(&follow.decision)?,
                decided: mark("decided_at", follow.decided_at, follow.decided_seq)?
                    .ok_or_else(|| unusable("a follow-through has no `decided_at`"))?,
                deadline: instant("deadline", follow.deadline)?
                    .ok_or_else(|| unusable("a follow-through has no `deadline`"))?,
                done: mark("done_at", follow.done_at, follow.done_seq)?,
                new_role: non_empty(follow.new_role),
                account_id: follow.account_id,
            })
        })
        .collect::<Result<Vec<_>, ClientError>>()?;
    let population = review
        .population
        .into_iter()
        .map(|account| ReviewedAccount {
            account_id: account.account_id,
            login_name: account.login_name,
            role: account.role,
            employee_id: non_empty(account.employee_id),
            link: non_empty(account.link),
            org_role: non_empty(account.org_role),
            findings: account.findings,
        })
        .collect();
    Ok(ReviewView {
        review: ReviewState {
            scope: parsed(&review.scope)?,
            population_sha256: parsed(&review.population_sha256)?,
            due_at: instant("due_at", review.due_at)?
                .ok_or_else(|| unusable("a review has no `due_at`"))?,
            started: mark("started_at", review.started_at, review.started_seq)?
                .ok_or_else(|| unusable("a review has no `started_at`"))?,
            completed: mark("completed_at", review.completed_at, review.completed_seq)?,
            cancelled: mark("cancelled_at", review.cancelled_at, review.cancelled_seq)?,
            reassignments: review
                .reassignments
                .into_iter()
                .map(|handed| {
                    let at = mark("reassigned_at", handed.reassigned_at, handed.reassigned_seq)?
                        .ok_or_else(|| unusable("a reassignment has no `reassigned_at`"))?;
                    Ok((handed.from_employee_id, handed.to_employee_id, at))
                })
                .collect::<Result<Vec<_>, ClientError>>()?,
            review_id: review.review_id,
            system: SystemId(review.system),
            pinned_seq: review.pinned_seq,
            population,
            reviewers: review.reviewers,
            action_grace_seconds: review.action_grace_seconds,
            interval_seconds: review.interval_seconds,
            decisions,
        },
        follow_through,
    })
}
