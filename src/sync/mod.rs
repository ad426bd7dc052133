//! Sync: turning a system's listing into events.
//!
//! `listing` normalises what a system returned; `plan` is the pure decision of which events a
//! listing means, given what the ledger already knows; `run` is the orchestrator at the edge that
//! fetches, plans, and appends one atomic batch.

mod listing;
mod plan;
mod run;

pub use listing::{Listing, ListingError};
pub use plan::{Observation, SyncContext, SyncOptions, plan_failure, plan_sync};
pub use run::{SyncOutcome, SyncReport, Syncer};
