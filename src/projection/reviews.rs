//! User access reviews (docs/reference/checks.md#reviews): each review with the population pinned
//! when it started, every decision recorded on it (a later one on the same account supersedes the
//! earlier, which is kept), and its completion.
//!
//! Applying is infallible: the service decided and validated every event before it was
//! appended (`commands::review`), so this only folds facts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Mark;
use crate::event::{Actor, ReviewDecision, ReviewScope, ReviewedAccount, SystemId};
use crate::hash::Hash256;
use crate::time::Timestamp;

/// One decision as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionState {
    pub account_id: String,
    pub decision: ReviewDecision,
    pub reason: String,
    pub new_role: Option<String>,
    pub reviewer_employee_id: String,
    /// Who appended it: the reviewer's token.
    pub actor: Actor,
    pub decided: Mark,
}

/// One review: what it was pinned to, and what was decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewState {
    pub review_id: String,
    pub system: SystemId,
    pub pinned_seq: u64,
    pub scope: ReviewScope,
    pub population_sha256: Hash256,
    /// In account id order, gathered from every part of its `AccessReviewStarted`.
    pub population: Vec<ReviewedAccount>,
    pub due_at: Timestamp,
    pub reviewers: Vec<String>,
    pub action_grace_seconds: u64,
    pub interval_seconds: u64,
    pub started: Mark,
    /// Every decision in the order recorded; the last one of an account is in force.
    pub decisions: Vec<DecisionState>,
    pub completed: Option<Mark>,
    /// Every reviewer handed over, in the order recorded: (from, to, when).
    pub reassignments: Vec<(String, String, Mark)>,
    /// When an admin withdrew it.
    pub cancelled: Option<Mark>,
}

impl ReviewState {
    /// The account of the population with this id.
    pub fn account(&self, account_id: &str) -> Option<&ReviewedAccount> {
        self.population
            .binary_search_by(|account| account.account_id.as_str().cmp(account_id))
            .ok()
            .map(|index| &self.population[index])
    }

    /// The decision in force per account: the last one recorded on it.
    pub fn current_decisions(&self) -> BTreeMap<&str, &DecisionState> {
        self.decisions
            .iter()
            .map(|decision| (decision.account_id.as_str(), decision))
            .collect()
    }

    /// The accounts of the population with no decision yet, in account id order.
    pub fn undecided(&self) -> Vec<&ReviewedAccount> {
        let decided = self.current_decisions();
        self.population
            .iter()
            .filter(|account| !decided.contains_key(account.account_id.as_str()))
            .collect()
    }

    /// Whether `employee_id` is one of its reviewers.
    pub fn has_reviewer(&self, employee_id: &str) -> bool {
        self.reviewers
            .iter()
            .any(|reviewer| reviewer == employee_id)
    }
}

/// Every review ever started, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviews {
    by_id: BTreeMap<String, ReviewState>,
}

impl Reviews {
    /// Records a part of a review's `AccessReviewStarted`: the first part begins the review,
    /// later parts only add their accounts to it.
    pub(super) fn start(&mut self, review: ReviewState, population: &[ReviewedAccount]) {
        self.by_id
            .entry(review.review_id.clone())
            .or_insert(review)
            .population
            .extend(population.iter().cloned());
    }

    pub(super) fn decide(&mut self, review_id: &str, decision: DecisionState) {
        if let Some(review) = self.by_id.get_mut(review_id) {
            review.decisions.push(decision);
        }
    }

    pub(super) fn complete(&mut self, review_id: &str, completed: Mark) {
        if let Some(review) = self.by_id.get_mut(review_id) {
            review.completed = Some(completed);
        }
    }

    /// Hands `from`'s part to `to`: `to` takes `from`'s place among the reviewers (or, already
    /// one of them, stays once).
    pub(super) fn reassign(&mut self, review_id: &str, from: &str, to: &str, at: Mark) {
        if let Some(review) = self.by_id.get_mut(review_id) {
            let already = review.has_reviewer(to);
            if let Some(place) = review.reviewers.iter().position(|id| id == from) {
                if already {
                    review.reviewers.remove(place);
                } else {
                    review.reviewers[place] = to.to_owned();
                }
            } else if !already {
                review.reviewers.push(to.to_owned());
            }
            review
                .reassignments
                .push((from.to_owned(), to.to_owned(), at));
        }
    }

    pub(super) fn cancel(&mut self, review_id: &str, cancelled: Mark) {
        if let Some(review) = self.by_id.get_mut(review_id) {
            review.cancelled = Some(cancelled);
        }
    }

    pub fn get(&self, review_id: &str) -> Option<&ReviewState> {
        self.by_id.get(review_id)
    }

    /// Every review, in the order they were started (`AR-2` before `AR-10`).
    pub fn all(&self) -> impl Iterator<Item = &ReviewState> {
        let mut all: Vec<&ReviewState> = self.by_id.values().collect();
        all.sort_by_key(|review| review.started.seq);
        all.into_iter()
    }

    /// How many reviews were ever started: the next one is numbered after them.
    pub fn started_count(&self) -> usize {
        self.by_id.len()
    }
}
