//! The demo's access review chapters (docs/reference/checks.md#reviews): a quarterly review of
//! privileged access pinned to the ledger's head, in which Sam's admin role is to be revoked, and
//! the follow-through the ledger reads from the sync that shows it done.

use std::io::Write;
use std::time::Duration;

use super::{Cast, DemoError, Story, print_entries};
use crate::commands::review::{DecisionInput, Reviewer, StartReview};
use crate::event::{Actor, ReviewScope, SystemId};
use crate::render::review_report;
use crate::service::{ReviewReader, started_review_id};
use crate::time::Clock;

/// Dana's and Lena's employee ids: the roster's emails, as the demo's roster has no ids.
const DANA: &str = "dana.whitfield@acme-corp.example";
const LENA: &str = "lena.vogt@acme-corp.example";
const WEEK_SECONDS: i64 = 7 * 24 * 3600;

impl<W: Write> Story<'_, W> {
    /// Records one decision of `by` (a reviewer's employee id, its token named after them) on
    /// review `review_id`.
    async fn decide(
        &mut self,
        review_id: &str,
        by: &str,
        account_id: &str,
        decision: &str,
        reason: &str,
        new_role: &str,
    ) -> Result<(), DemoError> {
        let token = by.split('.').next().unwrap_or(by).to_owned();
        let entries = self
            .service
            .decide_access_review(
                Actor::Api(token.clone()),
                Reviewer {
                    token,
                    employee_id: Some(by.to_owned()),
                },
                review_id.to_owned(),
                vec![DecisionInput {
                    account_id: account_id.to_owned(),
                    decision: decision.to_owned(),
                    reason: reason.to_owned(),
                    new_role: new_role.to_owned(),
                    line: None,
                }],
            )
            .await?;
        print_entries(self.out, &self.ledger, &entries)
    }

    /// Prints the review as `tailledger review show` does.
    async fn show_review(&mut self, review_id: &str) -> Result<(), DemoError> {
        let view = self
            .service
            .access_review(review_id.to_owned(), ReviewReader::Anyone)
            .await?;
        write!(self.out, "{}", review_report(&view))?;
        Ok(())
    }
}

pub(super) async fn tell<W: Write>(story: &mut Story<'_, W>, cast: &Cast) -> Result<(), DemoError> {
    story.chapter("Sam is made an admin during an incident, and nobody takes it back")?;
    story.tailnet.set_role(&cast.sam.id, "admin")?;
    story.advance(Duration::from_secs(15 * 60)).await?;
    story.sync().await?;
    story.checks().await?;

    story.chapter(
        "The quarterly review of privileged access starts, pinned to the ledger's head; Dana and Lena review",
    )?;
    let due_at = story.clock.now().saturating_add_seconds(WEEK_SECONDS);
    let entries = story
        .service
        .start_access_review(
            Actor::Api("security-oncall".to_owned()),
            StartReview {
                system: SystemId::tailscale(),
                scope: ReviewScope::Privileged,
                reviewers: vec![DANA.to_owned(), LENA.to_owned()],
                due_at,
            },
        )
        .await?;
    print_entries(story.out, &story.ledger, &entries)?;
    let review_id = started_review_id(&entries);

    story.chapter(
        "Lena keeps Dana's owner role (Dana may not review her own); Dana revokes Sam's admin role",
    )?;
    story.advance(Duration::from_secs(3600)).await?;
    story
        .decide(
            &review_id,
            LENA,
            &cast.dana.id,
            "keep",
            "owns the tailnet",
            "",
        )
        .await?;
    story
        .decide(
            &review_id,
            DANA,
            &cast.sam.id,
            "modify",
            "incident is over; engineers do not administer",
            "member",
        )
        .await?;
    let entries = story
        .service
        .complete_access_review(Actor::Api("security-oncall".to_owned()), review_id.clone())
        .await?;
    print_entries(story.out, &story.ledger, &entries)?;
    story.checks().await?;

    story.chapter(
        "Two days later Sam's role is changed in Tailscale; the next sync shows it, and the decision is carried out",
    )?;
    story.advance(Duration::from_secs(2 * 24 * 3600)).await?;
    story.tailnet.set_role(&cast.sam.id, "member")?;
    story.advance(Duration::from_secs(15 * 60)).await?;
    story.sync().await?;
    story.checks().await?;
    story.show_review(&review_id).await?;
    // One more quiet sync, so the story's timeline, which ends at the last instant, holds the
    // one that showed the decision carried out.
    story.advance(Duration::from_secs(15 * 60)).await?;
    story.sync().await
}
