//! [`Source`]: what a system's observation is, wherever it comes from.
//!
//! A source answers one question per sync: what does the system hold now? Today that is the
//! users of a Tailscale tailnet (and the credential the source itself uses); devices, keys and
//! audit entries are further parts of the same observation. The orchestrator does not know
//! where an observation comes from, so the check scenarios drive the real service through an
//! in-memory source, and the live tests through the Tailscale one.

use std::future::Future;
use std::pin::Pin;

use super::AuditWindow;
use super::Observation;
use crate::skew::DateReading;
use crate::tailscale::FetchError;

/// An observation on its way: a boxed future, so that sources of different types can stand
/// behind one `dyn Source`.
pub type Observing<'a> = Pin<Box<dyn Future<Output = Result<Observation, FetchError>> + Send + 'a>>;

/// Where a system's observations come from.
pub trait Source: Send + Sync {
    /// Observes the system once, reading its audit log over `audit_log` (from the ledger's
    /// last read, less an overlap, to now). A failure says which class of fault it was, for
    /// `SyncFailed`.
    fn observe(&self, audit_log: AuditWindow) -> Observing<'_>;

    /// The answer whose `Date` differed most from the local clock since the last call, for the
    /// orchestrator to judge the clock by; `None` for a source that reads no outside clock.
    fn take_date_reading(&self) -> Option<DateReading> {
        None
    }
}
