//! The sync orchestrator: observe, plan, append one atomic batch.
//!
//! This is the edge of the sync: it reads the clock and asks its [`Source`]; planning and
//! appending are one [`Ledger::decide_and_append`], so the plan is made against the state the
//! batch is appended to, borrowed, with nothing in between. Any observation failure becomes a
//! batch holding only `SyncFailed`, so a failed sync never changes account state. Syncs of one
//! system are serialised by a lock, so two never overlap. A sync whose batch the store could not
//! write is remembered, and recorded as `SyncFailed` (class `unavailable`) before the next sync,
//! once the store takes writes again. One observation has one time budget, shared by all its
//! requests and their retries; an observation that overruns it is a failed sync (`timeout`). The
//! worst `Date` the source's answers carried is judged against the local clock before anything is
//! decided: beyond `[server] max_clock_skew` the sync records nothing, not even its failure, since
//! every instant of it would be the local clock's.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::event::SyncErrorClass;
use crate::event::{Actor, SystemId};
use crate::ledger::{Appended, Ledger, WriteError};
use crate::projection::SystemState;
use crate::skew::{ClockBehind, ClockSkew, DateReading};
use crate::store::StoreError;
use crate::tailscale::{FetchError, within_budget};
use crate::time::{Clock, Timestamp};

use super::{AuditWindow, Source, SyncContext, SyncOptions, SyncOutcome, plan_failure, plan_sync};

/// How long one sync may take when nothing else is configured (`[tailscale] sync_budget`).
pub const DEFAULT_SYNC_BUDGET: Duration = Duration::from_secs(30);

/// What one sync did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    pub sync_id: String,
    pub outcome: SyncOutcome,
    /// The batch the sync appended, `SyncCompleted` or `SyncFailed` last.
    pub appended: Appended,
}

/// Why a sync recorded nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The ledger could not append.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source's `Date` and the local clock differ beyond the tolerance.
    #[error(transparent)]
    ClockSkew(ClockSkew),
    /// The local clock reads too far before the last entry's instant.
    #[error(transparent)]
    ClockBehind(#[from] ClockBehind),
}

impl From<WriteError> for SyncError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Store(error) => SyncError::Store(error),
            WriteError::ClockBehind(error) => SyncError::ClockBehind(error),
        }
    }
}

/// Runs the syncs of one system from its source.
pub struct Syncer {
    system: SystemId,
    source: Box<dyn Source>,
    ledger: Arc<Ledger>,
    clock: Arc<dyn Clock>,
    options: SyncOptions,
    /// The time one observation may take, retries included.
    budget: Duration,
    running: tokio::sync::Mutex<()>,
    /// The earliest sync whose batch could not be stored and is not recorded yet.
    unrecorded: Mutex<Option<Unrecorded>>,
    /// The worst `Date` of the last sync whose answers carried one.
    last_date: Mutex<Option<DateReading>>,
}

/// A sync that ran but whose batch the store could not write.
struct Unrecorded {
    started_at: Timestamp,
    finished_at: Timestamp,
    /// Why the store refused it, in words.
    cause: String,
}

impl Syncer {
    pub fn new(
        system: SystemId,
        source: Box<dyn Source>,
        ledger: Arc<Ledger>,
        clock: Arc<dyn Clock>,
        options: SyncOptions,
    ) -> Self {
        Syncer {
            system,
            source,
            ledger,
            clock,
            options,
            budget: DEFAULT_SYNC_BUDGET,
            running: tokio::sync::Mutex::new(()),
            unrecorded: Mutex::new(None),
            last_date: Mutex::new(None),
        }
    }

    /// Gives each observation `budget` instead of [`DEFAULT_SYNC_BUDGET`].
    #[must_use]
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The answer of the last sync whose `Date` differed most from the local clock, if its
    /// answers carried one: what the clock was last measured against.
    pub fn last_date_reading(&self) -> Option<DateReading> {
        *self
            .last_date
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The system this syncer observes.
    pub fn system(&self) -> &SystemId {
        &self.system
    }

    /// Runs one sync now, waiting for a running one of the same system to finish first.
    /// Returns an error only when the ledger itself could not append, or the clock could not
    /// be vouched for (then nothing is appended).
    pub async fn sync_now(&self) -> Result<SyncReport, SyncError> {
        let _running = self.running.lock().await;
        self.record_unrecorded().await?;
        // Answers to anyone before this sync are not this sync's.
        let _ = self.source.take_date_reading();
        let started_at = self.clock.now();
        let window = self.ledger.read(|projections| {
            let empty = SystemState::default();
            let state = projections.system(&self.system).unwrap_or(&empty);
            AuditWindow::next(&state.leftovers, started_at)
        });
        let observed = within_budget(self.budget, self.source.observe(window))
            .await
            .unwrap_or_else(|over| {
                Err(FetchError {
                    class: SyncErrorClass::Timeout,
                    message: format!(
                        "the sync did not finish within its budget of {} (`[tailscale] sync_budget`), so nothing of it was recorded",
                        humantime::format_duration(over.budget)
                    ),
                })
            });
        let finished_at = self.clock.now();
        if let Some(reading) = self.source.take_date_reading() {
            *self
                .last_date
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(reading);
            if let Err(skew) = reading.judge(self.ledger.max_clock_skew()) {
                tracing::error!(system = %self.system, "sync not recorded: {skew}");
                return Err(SyncError::ClockSkew(skew));
            }
        }
        let ledger = self.ledger.clone();
        let system = self.system.clone();
        let options = self.options.clone();
        // The append is a durable write: it runs where blocking is allowed.
        let decided = tokio::task::spawn_blocking(move || {
            ledger.decide_and_append(finished_at, Actor::Sync(system.clone()), |projections| {
                let empty = SystemState::default();
                let state = projections.system(&system).unwrap_or(&empty);
                let context = SyncContext::next(&system, state, started_at);
                let (events, outcome) = match observed {
                    Ok(observation) => {
                        plan_sync(state, &observation, &context, finished_at, &options)
                    }
                    Err(error) => {
                        tracing::warn!(
                            system = %system,
                            sync_id = %context.sync_id,
                            class = %error.class,
                            "sync failed: {}",
                            error.message
                        );
                        plan_failure(&context, finished_at, error)
                    }
                };
                Ok::<_, Infallible>((events, (context.sync_id, outcome)))
            })
        })
        .await
        // The closure does not panic; if it did, the panic is the bug to see.
        .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()));
        let decided = match decided {
            Ok(decided) => decided,
            Err(WriteError::Store(error)) => {
                self.lock_unrecorded().get_or_insert(Unrecorded {
                    started_at,
                    finished_at,
                    cause: error.to_string(),
                });
                return Err(error.into());
            }
            Err(WriteError::ClockBehind(behind)) => {
                tracing::error!(system = %self.system, "sync not recorded: {behind}");
                return Err(behind.into());
            }
        };
        let Ok((appended, (sync_id, outcome))) = decided;
        let report = SyncReport {
            sync_id,
            outcome,
            appended,
        };
        tracing::info!(system = %self.system, sync_id = %report.sync_id, "sync finished: {}", report.outcome);
        Ok(report)
    }

    /// Records the sync whose batch could not be stored, if there is one, as `SyncFailed`. Fails,
    /// keeping it for the next try, while the store still cannot write.
    async fn record_unrecorded(&self) -> Result<(), SyncError> {
        let Some(unrecorded) = self.lock_unrecorded().take() else {
            return Ok(());
        };
        let ledger = self.ledger.clone();
        let system = self.system.clone();
        let now = self.clock.now();
        let error = FetchError {
            class: SyncErrorClass::Unavailable,
            message: format!(
                "the ledger could not store this sync's batch: {}",
                unrecorded.cause
            ),
        };
        let (started_at, finished_at) = (unrecorded.started_at, unrecorded.finished_at);
        let appended = tokio::task::spawn_blocking(move || {
            ledger.decide_and_append(now, Actor::Sync(system.clone()), |projections| {
                let empty = SystemState::default();
                let state = projections.system(&system).unwrap_or(&empty);
                let context = SyncContext::next(&system, state, started_at);
                Ok::<_, Infallible>(plan_failure(&context, finished_at, error))
            })
        })
        .await
        .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()));
        match appended {
            Ok(_) => {
                tracing::info!(system = %self.system, "recorded the sync the ledger could not store as failed");
                Ok(())
            }
            Err(error) => {
                *self.lock_unrecorded() = Some(unrecorded);
                Err(error.into())
            }
        }
    }

    fn lock_unrecorded(&self) -> std::sync::MutexGuard<'_, Option<Unrecorded>> {
        // The guarded value is only replaced whole.
        self.unrecorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
