//! The service's part of user access reviews (docs/reference/checks.md#reviews): starting one
//! pinned to the head, reviewers' decisions, completion, and reading reviews with their
//! follow-through.
//!
//! The decisions are `commands::review`'s; here they are handed the state, the check settings
//! in force and the clock's now, and appended as one batch. Who may read or decide comes in as
//! a `ReviewReader` or `Reviewer` from the API's authenticated caller.

use super::{Service, ServiceError};
use crate::checks::{CheckSettings, FollowThrough, ReviewSettings, follow_through};
use crate::commands::CommandError;
use crate::commands::review::{self, DecisionInput, Reviewer, StartReview};
use crate::entry::Entry;
use crate::event::{Actor, Event, SystemId};
use crate::projection::{Projections, ReviewState};
use crate::time::Timestamp;

/// Who reads reviews: anyone the read API lets in, or a reviewer, who sees only the reviews
/// they are a reviewer of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewReader {
    Anyone,
    Reviewer { token: String, employee_id: String },
}

impl ReviewReader {
    fn may_read(&self, review: &ReviewState) -> bool {
        match self {
            ReviewReader::Anyone => true,
            ReviewReader::Reviewer { employee_id, .. } => review.has_reviewer(employee_id),
        }
    }
}

/// A review as `GetAccessReview` answers it: what was recorded, and what became of each revoke
/// and modify decision by now.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReviewView {
    pub review: ReviewState,
    pub follow_through: Vec<FollowThrough>,
}

/// The id of the review a batch of [`Service::start_access_review`] started (its parts all
/// carry it), or `""` for any other batch.
pub fn started_review_id(entries: &[Entry]) -> String {
    entries
        .iter()
        .find_map(|entry| match &entry.event {
            Event::AccessReviewStarted { review_id, .. } => Some(review_id.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

impl Service {
    /// Records `[access_review]` on the reviews started from now on.
    pub fn set_review_settings(&mut self, settings: ReviewSettings) {
        self.review_settings = settings;
    }

    /// Starts a review pinned to the head: its population is every account holding access now
    /// (of the scope), judged with the check settings in force now.
    pub async fn start_access_review(
        &self,
        actor: Actor,
        request: StartReview,
    ) -> Result<Vec<Entry>, ServiceError> {
        let now = self.now();
        let settings = self.settings_at(&request.system, now).settings;
        let review_settings = self.review_settings;
        self.command_blocking(actor, move |projections| {
            review::start_review(projections, &request, &settings, &review_settings, now)
        })
        .await
    }

    /// Records `decisions` on a review by `reviewer`, all or none; a reviewer who has left by
    /// now decides nothing.
    pub async fn decide_access_review(
        &self,
        actor: Actor,
        reviewer: Reviewer,
        review_id: String,
        decisions: Vec<DecisionInput>,
    ) -> Result<Vec<Entry>, ServiceError> {
        let now = self.clock.now();
        self.command_blocking(actor, move |projections| {
            review::decide_review(projections, &review_id, &reviewer, &decisions, now)
        })
        .await
    }

    /// Completes a review every account of which has a decision.
    pub async fn complete_access_review(
        &self,
        actor: Actor,
        review_id: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(actor, move |projections| {
            Ok(vec![review::complete_review(projections, &review_id)?])
        })
        .await
    }

    /// Hands reviewer `from`'s part of an open review to employee `to`, who must be on the
    /// roster and not have left by now.
    pub async fn reassign_access_reviewer(
        &self,
        actor: Actor,
        review_id: String,
        from: String,
        to: String,
        reason: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        let now = self.clock.now();
        self.command_blocking(actor, move |projections| {
            Ok(vec![review::reassign_reviewer(
                projections,
                &review_id,
                &from,
                &to,
                &reason,
                now,
            )?])
        })
        .await
    }

    /// Withdraws an open review: it takes no more decisions and is never completed.
    pub async fn cancel_access_review(
        &self,
        actor: Actor,
        review_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(actor, move |projections| {
            Ok(vec![review::cancel_review(
                projections,
                &review_id,
                &reason,
            )?])
        })
        .await
    }

    /// One review with its follow-through now; a reviewer may read only their own reviews.
    pub async fn access_review(
        &self,
        review_id: String,
        reader: ReviewReader,
    ) -> Result<ReviewView, ServiceError> {
        let now = self.now();
        self.blocking(move |service| {
            let found = service.ledger.read(|projections| {
                let review = projections.reviews().get(&review_id)?;
                // Read before the projections are, so no read lock is taken inside another.
                Some(review.system.clone())
            });
            let settings = found.map(|system| service.settings_at(&system, now).settings);
            let found = settings.and_then(|settings| {
                service.ledger.read(|projections| {
                    let review = projections.reviews().get(&review_id)?;
                    Some(view(projections, review, now, &settings))
                })
            });
            let view = found.ok_or_else(|| CommandError::NotFound {
                what: "access review",
                id: review_id.clone(),
            })?;
            if let ReviewReader::Reviewer { token, employee_id } = &reader
                && !reader.may_read(&view.review)
            {
                return Err(CommandError::NotAllowed {
                    field: "review_id",
                    reason: format!(
                        "`{review_id}` is not a review of `{employee_id}` (token `{token}`), who may read only the reviews they decide"
                    ),
                }
                .into());
            }
            Ok(view)
        })
        .await
    }

    /// The reviews of `system` the reader may read, in the order they were started, as of a
    /// past instant (the evidence pack's window end) or now, with their follow-through then.
    pub async fn access_reviews(
        &self,
        system: SystemId,
        reader: ReviewReader,
        as_of: Option<Timestamp>,
    ) -> Result<Vec<ReviewView>, ServiceError> {
        let at = self.instant(as_of);
        self.blocking(move |service| {
            let settings = service.settings_at(&system, at).settings;
            Ok(service.ledger.read_as_of(as_of, |projections| {
                projections
                    .reviews()
                    .all()
                    .filter(|review| review.system == system && reader.may_read(review))
                    .map(|review| view(projections, review, at, &settings))
                    .collect()
            })?)
        })
        .await
    }
}

/// `review` with what became of its decisions at `now`.
fn view(
    projections: &Projections,
    review: &ReviewState,
    now: Timestamp,
    settings: &CheckSettings,
) -> ReviewView {
    ReviewView {
        review: review.clone(),
        follow_through: follow_through(projections, review, now, settings),
    }
}
