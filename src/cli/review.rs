//! `tailledger review …` (docs/reference/cli.md#review): start an access review, show it, decide
//! (one account, or a reviewer's spreadsheet with `--csv`, all or nothing), complete it; each one
//! client call through [`super::answer::ask`].

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::answer::{Answer, ask};
use super::dates::{Edge, Zone, instant};
use super::{Failure, Outcome, ServerArgs};
use crate::as_of::AsOf;
use crate::commands::review::{DecisionInput, StartReview, parse_decisions_csv};
use crate::event::{ReviewScope, SystemId};

#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// Start a review of who holds access now (admin token): the population is pinned to the
    /// ledger's head, with its SHA-256.
    Start {
        /// `privileged` (accounts with an admin role) or `all`.
        #[arg(long, default_value = "privileged")]
        scope: ReviewScope,
        /// An employee id who decides; repeat for several.
        #[arg(long = "reviewer", value_name = "EMPLOYEE_ID", required = true)]
        reviewers: Vec<String>,
        /// When the review should be complete: RFC 3339, or a date (the end of that day in the
        /// server's `roster.timezone`).
        #[arg(long, value_name = "TIME|DATE")]
        due: AsOf,
    },
    /// Show a review: its population, every decision, and the follow-through.
    Show {
        /// The review's id, `AR-<n>`.
        review_id: String,
    },
    /// Decide about accounts of a review (a reviewer's token, or an admin's naming an employee):
    /// one with `--account`, or every row of `--csv FILE`.
    Decide(Decide),
    /// Complete a review whose every account has a decision (admin token).
    Complete {
        /// The review's id, `AR-<n>`.
        review_id: String,
    },
    /// List the tailnet's reviews: state, due date, reviewers and how many accounts are
    /// decided (a reviewer token lists only its own reviews).
    List,
    /// Hand a reviewer's part of an open review to another employee (admin token); decisions
    /// already recorded stay in force.
    Reassign {
        /// The review's id, `AR-<n>`.
        review_id: String,
        /// The reviewer being replaced.
        #[arg(long, value_name = "EMPLOYEE_ID")]
        from: String,
        /// The employee who decides instead: on the roster, not offboarded.
        #[arg(long, value_name = "EMPLOYEE_ID")]
        to: String,
        /// Why; recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// Withdraw an open review (admin token): it takes no more decisions, is never completed,
    /// and its decisions call for no action from then on.
    Cancel {
        /// The review's id, `AR-<n>`.
        review_id: String,
        /// Why; recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args, Debug)]
pub struct Decide {
    /// The review's id, `AR-<n>`.
    review_id: String,
    /// A file of decisions, `account_id,decision,reason[,new_role]` with that header (`-` for
    /// standard input): all are recorded, or none and every bad row is named with its line.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["account", "decision", "reason", "new_role"])]
    csv: Option<PathBuf>,
    /// The account decided about.
    #[arg(long, value_name = "ACCOUNT_ID", required_unless_present = "csv")]
    account: Option<String>,
    /// `keep`, `modify` or `revoke`.
    #[arg(long, required_unless_present = "csv")]
    decision: Option<String>,
    /// Why; recorded in the ledger.
    #[arg(long, required_unless_present = "csv")]
    reason: Option<String>,
    /// The role a `modify` is to give the account.
    #[arg(long, value_name = "ROLE")]
    new_role: Option<String>,
}

/// The decisions `decide` sends: the file's rows, or the one given by flags.
fn decisions(decide: Decide) -> Result<Vec<DecisionInput>, Failure> {
    let Some(file) = decide.csv else {
        return Ok(vec![DecisionInput {
            account_id: decide.account.unwrap_or_default(),
            decision: decide.decision.unwrap_or_default(),
            reason: decide.reason.unwrap_or_default(),
            new_role: decide.new_role.unwrap_or_default(),
            line: None,
        }]);
    };
    let bytes = super::admin::read_input(&file)?;
    parse_decisions_csv(&bytes).map_err(|problems| {
        Failure::input(format!(
            "{} cannot be read, so nothing was recorded:\n  {}",
            file.display(),
            problems.join("\n  ")
        ))
    })
}

/// Runs one review subcommand against the server.
pub fn run(server: &ServerArgs, json: bool, command: ReviewCommand) -> Outcome {
    // A file is read before connecting, so a bad one is reported without a server.
    let (command, decided) = match command {
        ReviewCommand::Decide(decide) => {
            let review_id = decide.review_id.clone();
            (None, Some((review_id, decisions(decide)?)))
        }
        other => (Some(other), None),
    };
    ask(server, json, async move |client| {
        if let Some((review_id, decisions)) = decided {
            let answer: Box<dyn Answer> =
                Box::new(client.decide_access_review(review_id, decisions).await?);
            return Ok(answer);
        }
        Ok::<Box<dyn Answer>, Failure>(match command {
            Some(ReviewCommand::Start {
                scope,
                reviewers,
                due,
            }) => {
                let zone = Zone::of_server(client, &[Some(due)]).await?;
                let due_at = instant("--due", due, Edge::End, zone)?;
                Box::new(
                    client
                        .start_access_review(StartReview {
                            system: SystemId::tailscale(),
                            scope,
                            reviewers,
                            due_at,
                        })
                        .await?,
                )
            }
            Some(ReviewCommand::Show { review_id }) => {
                Box::new(client.access_review(review_id).await?)
            }
            Some(ReviewCommand::Complete { review_id }) => {
                Box::new(client.complete_access_review(review_id).await?)
            }
            Some(ReviewCommand::List) => {
                Box::new(client.access_reviews(&SystemId::tailscale()).await?)
            }
            Some(ReviewCommand::Reassign {
                review_id,
                from,
                to,
                reason,
            }) => Box::new(
                client
                    .reassign_access_reviewer(review_id, from, to, reason)
                    .await?,
            ),
            Some(ReviewCommand::Cancel { review_id, reason }) => {
                Box::new(client.cancel_access_review(review_id, reason).await?)
            }
            Some(ReviewCommand::Decide(_)) | None => unreachable!("decisions were taken above"),
        })
    })
}
