//! An open review's reviewers handed over, and a review withdrawn
//! (docs/admin.md#access-reviews): pure decisions from (projections, request, now) to one
//! `AccessReviewReviewerReassigned` or `AccessReviewCancelled`, or a refusal naming the field.
//! Both are recorded, so the evidence shows who decided on whose behalf and why a review never
//! completed.

use crate::event::Event;
use crate::projection::Projections;
use crate::time::Timestamp;

use super::super::{CommandError, known_employee, required};
use super::{not_left, open_review};

/// The `AccessReviewReviewerReassigned` that hands `from`'s part of `review_id` to `to` at
/// `now`. Refused: an unknown review (not found), a completed or cancelled one (`review_id`),
/// `from` not one of its reviewers (`from_employee_id`), `to` the same as `from`, not on the
/// roster or already a reviewer (`to_employee_id`), `to` offboarded by `now` (a failed
/// precondition naming the offboarding), an empty reason.
pub fn reassign_reviewer(
    projections: &Projections,
    review_id: &str,
    from: &str,
    to: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Event, CommandError> {
    let review = open_review(projections, review_id)?;
    let from = required("from_employee_id", from)?;
    if !review.has_reviewer(&from) {
        return Err(CommandError::InvalidArgument {
            field: "from_employee_id",
            reason: format!(
                "`{from}` is not a reviewer of `{}`; its reviewers are {}",
                review.review_id,
                review.reviewers.join(", ")
            ),
        });
    }
    let to = required("to_employee_id", to)?;
    if to == from {
        return Err(CommandError::InvalidArgument {
            field: "to_employee_id",
            reason: format!("`{to}` is the reviewer being replaced"),
        });
    }
    let employee = known_employee(projections, &to).map_err(|error| match error {
        CommandError::NotFound { id, .. } => CommandError::InvalidArgument {
            field: "to_employee_id",
            reason: format!("`{id}` is no employee on the roster"),
        },
        other => other,
    })?;
    not_left("to_employee_id", employee, now, "review access")?;
    if review.has_reviewer(&to) {
        return Err(CommandError::InvalidArgument {
            field: "to_employee_id",
            reason: format!("`{to}` is already a reviewer of `{}`", review.review_id),
        });
    }
    Ok(Event::AccessReviewReviewerReassigned {
        review_id: review.review_id.clone(),
        system: review.system.clone(),
        from_employee_id: from,
        to_employee_id: employee.record.employee_id.clone(),
        reason: required("reason", reason)?,
    })
}

/// The `AccessReviewCancelled` of `review_id`. Refused: an unknown review (not found), a
/// completed or already cancelled one (`review_id`), an empty reason.
pub fn cancel_review(
    projections: &Projections,
    review_id: &str,
    reason: &str,
) -> Result<Event, CommandError> {
    let review = open_review(projections, review_id)?;
    Ok(Event::AccessReviewCancelled {
        review_id: review.review_id.clone(),
        system: review.system.clone(),
        reason: required("reason", reason)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::review::{DecisionInput, Reviewer, complete_review, decide_review};
    use crate::entry::Entry;
    use crate::event::{Actor, EmployeeRecord, ReviewScope, ReviewedAccount, SystemId};
    use crate::hash::{Digest, Hash256};

    /// A ledger's projections built one event at a time.
    struct Scenario {
        projections: Projections,
        head: Option<Digest>,
        now: Timestamp,
    }

    impl Scenario {
        /// E-1 and E-2 on the roster, E-3 offboarded; `AR-1` of one account, reviewed by E-1.
        fn new() -> Scenario {
            let mut scenario = Scenario {
                projections: Projections::default(),
                head: None,
                now: Timestamp::UNIX_EPOCH.saturating_add_seconds(86_400),
            };
            for id in ["E-1", "E-2", "E-3"] {
                scenario.apply(Event::EmployeeOnboarded {
                    employee: EmployeeRecord {
                        employee_id: id.to_owned(),
                        email: format!("{id}@acme.example"),
                        name: None,
                        org_role: "IT".to_owned(),
                        start_date: None,
                    },
                });
            }
            scenario.apply(Event::EmployeeOffboarded {
                employee_id: "E-3".to_owned(),
                effective_at: Timestamp::UNIX_EPOCH,
                reason: None,
            });
            scenario.apply(Event::AccessReviewStarted {
                review_id: "AR-1".to_owned(),
                system: SystemId::tailscale(),
                pinned_seq: 4,
                scope: ReviewScope::All,
                population_sha256: Hash256::ZERO,
                population_count: 1,
                part: 1,
                parts: 1,
                population: vec![ReviewedAccount {
                    account_id: "uA".to_owned(),
                    login_name: "a@acme.example".to_owned(),
                    role: "member".to_owned(),
                    employee_id: None,
                    link: None,
                    org_role: None,
                    findings: Vec::new(),
                }],
                due_at: Timestamp::MAX,
                reviewers: vec!["E-1".to_owned()],
                action_grace_seconds: 3600,
                interval_seconds: 86_400,
            });
            scenario
        }

        fn apply(&mut self, event: Event) {
            let entry = Entry::seal(self.head, self.now, Actor::Config, event);
            self.head = Some(entry.digest());
            self.projections.apply(&entry);
        }

        fn reassign(&self, review: &str, from: &str, to: &str) -> Result<Event, CommandError> {
            reassign_reviewer(&self.projections, review, from, to, "on leave", self.now)
        }

        fn decide_as(&self, employee_id: &str) -> Result<Vec<Event>, CommandError> {
            let reviewer = Reviewer {
                token: employee_id.to_owned(),
                employee_id: Some(employee_id.to_owned()),
            };
            let decision = DecisionInput {
                account_id: "uA".to_owned(),
                decision: "keep".to_owned(),
                reason: "needed".to_owned(),
                ..DecisionInput::default()
            };
            decide_review(&self.projections, "AR-1", &reviewer, &[decision], self.now)
        }
    }

    fn field(refusal: CommandError) -> &'static str {
        match refusal {
            CommandError::InvalidArgument { field, .. }
            | CommandError::NotAllowed { field, .. }
            | CommandError::FailedPrecondition { field, .. } => field,
            CommandError::NotFound { .. } => "not found",
        }
    }

    #[test]
    fn a_reassignment_is_refused_naming_the_field_and_otherwise_hands_the_part_over() {
        let mut scenario = Scenario::new();
        for (review, from, to, refused) in [
            ("AR-9", "E-1", "E-2", "not found"),
            ("AR-1", "E-2", "E-1", "from_employee_id"),
            ("AR-1", "E-1", "E-1", "to_employee_id"),
            ("AR-1", "E-1", "E-404", "to_employee_id"),
            ("AR-1", "E-1", "E-3", "to_employee_id"),
            ("AR-1", "", "E-2", "from_employee_id"),
        ] {
            let refusal = scenario.reassign(review, from, to).unwrap_err();
            assert_eq!(field(refusal), refused, "{review} {from} -> {to}");
        }
        assert!(matches!(
            scenario.reassign("AR-1", "E-1", "E-3").unwrap_err(),
            CommandError::FailedPrecondition { .. }
        ));
        let no_reason = reassign_reviewer(
            &scenario.projections,
            "AR-1",
            "E-1",
            "E-2",
            " ",
            scenario.now,
        );
        assert_eq!(field(no_reason.unwrap_err()), "reason");

        let handed = scenario.reassign("AR-1", "E-1", "E-2").unwrap();
        scenario.apply(handed);
        let review = scenario.projections.reviews().get("AR-1").unwrap();
        assert_eq!(review.reviewers, ["E-2"]);
        assert_eq!(review.reassignments.len(), 1);
        assert_eq!(field(scenario.decide_as("E-1").unwrap_err()), "employee_id");
        assert_eq!(scenario.decide_as("E-2").unwrap().len(), 1);
    }

    #[test]
    fn a_cancelled_review_takes_nothing_more_and_a_completed_one_cannot_be_cancelled() {
        let mut scenario = Scenario::new();
        assert_eq!(
            field(cancel_review(&scenario.projections, "AR-1", "").unwrap_err()),
            "reason"
        );
        assert_eq!(
            field(cancel_review(&scenario.projections, "AR-7", "wrong scope").unwrap_err()),
            "not found"
        );
        let cancelled = cancel_review(&scenario.projections, "AR-1", "wrong scope").unwrap();
        scenario.apply(cancelled);
        assert!(
            scenario
                .projections
                .reviews()
                .get("AR-1")
                .unwrap()
                .cancelled
                .is_some()
        );
        for refusal in [
            scenario.decide_as("E-1").map(|_| ()),
            cancel_review(&scenario.projections, "AR-1", "again").map(|_| ()),
            scenario.reassign("AR-1", "E-1", "E-2").map(|_| ()),
            complete_review(&scenario.projections, "AR-1").map(|_| ()),
        ] {
            let refusal = refusal.unwrap_err();
            assert!(refusal.to_string().contains("was cancelled"), "{refusal}");
        }

        let mut completed = Scenario::new();
        let decided = completed.decide_as("E-1").unwrap();
        decided.into_iter().for_each(|event| completed.apply(event));
        let done = complete_review(&completed.projections, "AR-1").unwrap();
        completed.apply(done);
        let refusal = cancel_review(&completed.projections, "AR-1", "too late").unwrap_err();
        assert!(refusal.to_string().contains("was completed"), "{refusal}");
    }
}
