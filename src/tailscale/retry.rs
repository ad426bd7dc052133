//! The retry policy for transient HTTP failures: exponential backoff with jitter inside a budget.
//!
//! Tailscale documents no rate limits, so the client cannot pace itself in advance; instead it
//! retries 429, 5xx, timeouts and connection errors, waits longer after each failure, honours a
//! `Retry-After` the server sends, and gives up once the next wait would overrun the total budget.
//! The budget, not an attempt count, bounds one request's retries; [`within_budget`] bounds a
//! whole piece of work (one sync, one roster read) that many requests share: no retry is waited
//! for past its deadline, and the work is cut when the deadline passes.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    /// The deadline of the work the current task's requests belong to.
    static DEADLINE: Instant;
}

/// Work that did not finish within its time budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget {
    pub budget: Duration,
}

/// Runs `work` with a deadline `budget` from now that every request it makes shares: a retry
/// whose wait would end past it is not made, and the work is cut at the deadline.
pub async fn within_budget<T>(
    budget: Duration,
    work: impl Future<Output = T>,
) -> Result<T, OverBudget> {
    let deadline = Instant::now() + budget;
    DEADLINE
        .scope(deadline, tokio::time::timeout_at(deadline, work))
        .await
        .map_err(|_| OverBudget { budget })
}

/// How a request that failed for a transient reason is retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles after every further failure.
    pub initial_backoff: Duration,
    /// The longest wait computed from the backoff (a `Retry-After` may ask for longer).
    pub max_backoff: Duration,
    /// The total time, from the first attempt, within which retries may happen.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            budget: Duration::from_secs(120),
        }
    }
}

/// The retry state of one request: when it started and how long the next backoff is.
pub(crate) struct Backoff<'a> {
    policy: &'a RetryPolicy,
    started: Instant,
    next: Duration,
}

impl<'a> Backoff<'a> {
    /// Starts the clock of a request's budget.
    pub(crate) fn start(policy: &'a RetryPolicy) -> Self {
        Backoff {
            policy,
            started: Instant::now(),
            next: policy.initial_backoff,
        }
    }

    /// The wait before the next attempt, or `None` when that wait would overrun the budget.
    ///
    /// A `retry_after` sent by the server replaces the computed backoff, because the server knows
    /// better than our guess when it will accept the request again.
    pub(crate) fn next_wait(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        let computed = with_jitter(self.next);
        self.next = self.next.saturating_mul(2).min(self.policy.max_backoff);
        let wait = retry_after.unwrap_or(computed);
        let elapsed = self.started.elapsed();
        let shared = DEADLINE
            .try_with(|deadline| Instant::now() + wait <= *deadline)
            .unwrap_or(true);
        (shared && elapsed.saturating_add(wait) <= self.policy.budget).then_some(wait)
    }
}

/// A wait between half and all of `backoff`, so that clients failing together do not retry in
/// lockstep ("equal jitter").
fn with_jitter(backoff: Duration) -> Duration {
    let half = backoff / 2;
    let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(fastrand::u64(0..=spread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_up_to_the_maximum_with_jitter() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            budget: Duration::from_secs(3600),
        };
        let mut backoff = Backoff::start(&policy);
        let waits: Vec<Duration> = (0..5).map(|_| backoff.next_wait(None).unwrap()).collect();
        let ceilings = [100, 200, 400, 400, 400];
        for (wait, ceiling) in waits.iter().zip(ceilings) {
            let ceiling = Duration::from_millis(ceiling);
            assert!(
                *wait >= ceiling / 2 && *wait <= ceiling,
                "{wait:?} vs {ceiling:?}"
            );
        }
    }

    #[test]
    fn retry_after_replaces_the_backoff_but_not_the_budget() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            budget: Duration::from_secs(10),
        };
        let mut backoff = Backoff::start(&policy);
        assert_eq!(
            backoff.next_wait(Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(backoff.next_wait(Some(Duration::from_secs(11))), None);
    }

    #[tokio::test]
    async fn a_shared_deadline_refuses_waits_past_it_and_cuts_the_work() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            budget: Duration::from_secs(3600),
        };
        let waits = within_budget(Duration::from_secs(5), async {
            let mut backoff = Backoff::start(&policy);
            (
                backoff.next_wait(Some(Duration::from_secs(4))),
                backoff.next_wait(Some(Duration::from_secs(6))),
            )
        })
        .await;
        assert_eq!(waits, Ok((Some(Duration::from_secs(4)), None)));
        let cut = within_budget(
            Duration::from_millis(10),
            tokio::time::sleep(Duration::from_secs(3600)),
        )
        .await;
        assert_eq!(
            cut,
            Err(OverBudget {
                budget: Duration::from_millis(10)
            })
        );
    }
}
