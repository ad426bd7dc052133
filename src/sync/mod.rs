//! Sync: turning what a system holds into events.
//!
//! `source` says what an observation is and where it comes from (`tailscale` is the real
//! source); `listing` normalises what a system listed (sorted by id, walked beside the ledger's
//! maps); `plan` is the pure decision of which events an observation means, given what the
//! ledger already knows (`leftovers`: its devices and keys); `run` is the orchestrator at the
//! edge that observes, plans and appends one atomic batch.

mod leftovers;
mod listing;
mod plan;
mod run;
mod source;
mod tailscale;

pub use leftovers::{
    AUDIT_LOG_OVERLAP_SECONDS, AUDIT_LOG_RETENTION_SECONDS, AuditWindow, Part, by_id,
};
pub use listing::{ById, Join, Joined, Keyed, Listing, ListingError};
pub use plan::{
    DEFAULT_REMOVAL_GUARD_HOLD_SECONDS, Observation, SyncContext, SyncOptions, SyncOutcome,
    plan_failure, plan_sync, user_removed,
};
pub use run::{DEFAULT_SYNC_BUDGET, SyncError, SyncReport, Syncer};
pub use source::{Observing, Source};
pub use tailscale::{Listers, TailscaleSource};
