//! The checks' recent answers, reused while nothing they rest on has changed.
//!
//! An answer rests on the projections it was computed from (their head), the settings in force
//! and the instant; and between the instant it was computed for and the next instant at which
//! time alone changes it (`Evaluation::next_time_change`), it is the same at every instant. So a
//! `GetStatus` (or a page of `ListAccounts`) asked again with the same head, within that span,
//! is answered from here instead of evaluating every account again; an append moves the head and
//! the next question evaluates afresh. An answer whose words depend on the instant itself (a
//! system of which nothing is recorded dates its `no-policy` finding "now") is not kept.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use crate::checks::{CheckResult, CheckSettings, Evaluation};
use crate::event::SystemId;
use crate::hash::Digest;
use crate::projection::Projections;
use crate::time::Timestamp;

/// How many answers are kept: now, and a few instants of the past being looked at.
const KEPT: usize = 8;

/// One answer and the span over which it holds.
struct Answer {
    system: SystemId,
    head: Option<Digest>,
    settings: CheckSettings,
    from: Timestamp,
    /// The first instant it no longer holds at, if any.
    until: Option<Timestamp>,
    checks: Vec<CheckResult>,
}

impl Answer {
    fn holds(
        &self,
        system: &SystemId,
        head: Option<Digest>,
        at: Timestamp,
        settings: &CheckSettings,
    ) -> bool {
        self.system == *system
            && self.head == head
            && self.from <= at
            && self.until.is_none_or(|until| at < until)
            && self.settings == *settings
    }
}

/// The recent answers, most recent first.
#[derive(Default)]
pub(super) struct Answers {
    kept: Mutex<VecDeque<Answer>>,
}

impl Answers {
    /// The checks of `system` at `at` over `projections` with `settings`.
    pub(super) fn checks(
        &self,
        projections: &Projections,
        system: &SystemId,
        at: Timestamp,
        settings: &CheckSettings,
    ) -> Vec<CheckResult> {
        let head = projections.last_digest();
        if let Some(answer) = self
            .lock()
            .iter()
            .find(|answer| answer.holds(system, head, at, settings))
        {
            return answer.checks.clone();
        }
        let evaluation = Evaluation::once(projections, system, at, settings);
        let checks = evaluation.results(projections);
        let dated = projections
            .system(system)
            .is_some_and(|state| state.first_recorded.is_some());
        if dated {
            let mut kept = self.lock();
            kept.truncate(KEPT - 1);
            kept.push_front(Answer {
                system: system.clone(),
                head,
                settings: settings.clone(),
                from: at,
                until: evaluation.next_time_change(projections, at),
                checks: checks.clone(),
            });
        }
        checks
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Answer>> {
        // The deque is only ever pushed to and truncated whole.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
