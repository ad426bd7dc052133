//! The sync orchestrator: fetch, plan, append one atomic batch.
//!
//! This is the edge of the sync: it reads the clock, calls the Tailscale client, and appends.
//! Any fetch failure becomes a batch holding only `SyncFailed`, so a failed sync never changes
//! account state. Syncs of one system are serialised by a lock, so two never overlap.

use std::sync::Arc;

use crate::entry::Entry;
use crate::event::{Actor, SyncErrorClass, SystemId};
use crate::projection::{CredentialState, ProjectedLedger};
use crate::store::StoreError;
use crate::tailscale::{FetchError, TailscaleClient};
use crate::time::Clock;

use super::{Listing, Observation, SyncContext, SyncOptions, plan_failure, plan_sync};

/// What one sync did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    pub sync_id: String,
    pub outcome: SyncOutcome,
    /// The batch the sync appended, `SyncCompleted` or `SyncFailed` last.
    pub entries: Vec<Entry>,
}

/// How a sync ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    Completed {
        accounts_observed: u64,
        /// Events appended besides `SyncCompleted`.
        events_appended: u64,
        /// Whether the removal guard withheld removals.
        anomaly: bool,
    },
    Failed {
        error_class: SyncErrorClass,
        message: String,
    },
}

/// Runs the syncs of one Tailscale tailnet.
pub struct Syncer {
    system: SystemId,
    client: TailscaleClient,
    books: Arc<ProjectedLedger>,
    clock: Arc<dyn Clock>,
    options: SyncOptions,
    running: tokio::sync::Mutex<()>,
}

impl Syncer {
    pub fn new(
        system: SystemId,
        client: TailscaleClient,
        books: Arc<ProjectedLedger>,
        clock: Arc<dyn Clock>,
        options: SyncOptions,
    ) -> Self {
        Syncer {
            system,
            client,
            books,
            clock,
            options,
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// The system this syncer observes.
    pub fn system(&self) -> &SystemId {
        &self.system
    }

    /// Runs one sync now, waiting for a running one of the same system to finish first.
    /// Returns an error only when the ledger itself could not append.
    pub async fn sync_now(&self) -> Result<SyncReport, StoreError> {
        let _running = self.running.lock().await;
        let started_at = self.clock.now();
        let syncs_finished = self
            .books
            .read(|projections| projections.system(&self.system).syncs_finished);
        let context = SyncContext {
            system: self.system.clone(),
            sync_id: format!("{}-{:06}", self.system, syncs_finished + 1),
            started_at,
        };

        let events = match self.observe().await {
            Ok(observation) => {
                let state = self
                    .books
                    .read(|projections| projections.system(&self.system));
                plan_sync(
                    &state,
                    &observation,
                    &context,
                    self.clock.now(),
                    &self.options,
                )
            }
            Err(error) => {
                tracing::warn!(
                    system = %self.system,
                    sync_id = %context.sync_id,
                    class = ?error.class,
                    "sync failed: {}",
                    error.message
                );
                plan_failure(&context, self.clock.now(), error.class, error.message)
            }
        };
        let recorded_at = self.clock.now();
        let entries = self
            .books
            .append(recorded_at, Actor::Sync(self.system.clone()), events)?;
        let report = SyncReport {
            sync_id: context.sync_id,
            outcome: outcome_of(&entries),
            entries,
        };
        tracing::info!(system = %self.system, sync_id = %report.sync_id, outcome = ?report.outcome, "sync finished");
        Ok(report)
    }

    /// Fetches the listing and, if it can be read, the credential's metadata.
    async fn observe(&self) -> Result<Observation, FetchError> {
        let users = self.client.list_users().await?;
        let listing = Listing::new(users.iter().map(|user| user.to_snapshot()).collect()).map_err(
            |error| FetchError {
                class: SyncErrorClass::Malformed,
                message: format!("the users list cannot be used: {error}"),
            },
        )?;
        // The credential's expiry feeds a health warning, not the access record, so a failure to
        // read it must not stop the sync; it is logged and the last known value stays.
        let credential = match self.client.credential_info().await {
            Ok(info) => Some(CredentialState {
                id: info.id,
                kind: info.kind,
                expires_at: info.expires_at,
            }),
            Err(error) => {
                tracing::warn!(system = %self.system, class = ?error.class, "could not read the credential's expiry: {}", error.message);
                None
            }
        };
        Ok(Observation {
            listing,
            credential,
        })
    }
}

/// Reads the outcome from the batch's closing event.
fn outcome_of(entries: &[Entry]) -> SyncOutcome {
    use crate::event::Event;
    let anomaly = entries
        .iter()
        .any(|entry| matches!(entry.event, Event::SyncAnomaly { .. }));
    match entries.last().map(|entry| &entry.event) {
        Some(Event::SyncCompleted {
            accounts_observed,
            events_appended,
            ..
        }) => SyncOutcome::Completed {
            accounts_observed: *accounts_observed,
            events_appended: *events_appended,
            anomaly,
        },
        Some(Event::SyncFailed {
            error_class,
            message,
            ..
        }) => SyncOutcome::Failed {
            error_class: *error_class,
            message: message.clone(),
        },
        // Both planners end their batch with SyncCompleted or SyncFailed.
        _ => unreachable!("a sync batch ends with SyncCompleted or SyncFailed"),
    }
}
