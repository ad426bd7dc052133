//! Alerts (docs/operating.md#alerts): notifications derived from the ledger (`derive.rs`), routed
//! (`route.rs`), with the alarms the service computes live (`live.rs`), written for each kind of destination (`message.rs`), sent (`send.rs`) and
//! recorded as `AlertDelivered` by the loop `serve` runs (`run.rs`). The ledger is the delivery
//! state: pending is what was derived minus what was recorded as delivered.

pub mod derive;
pub mod live;
pub mod message;
pub mod route;
pub mod run;
pub mod send;

use std::time::Duration;

pub use derive::{Change, Derived, Deriver, Notification};
pub use live::LiveFindings;
pub use route::{Outgoing, Route, Schedule};
pub use send::{Destination, Sender};

/// What `[alerts]` configures.
#[derive(Clone, Debug)]
pub struct AlertsSettings {
    /// The web console's address, linked from Slack and email messages.
    pub console_url: Option<String>,
    /// How far back notifications are derived: a destination down longer loses the oldest.
    pub lookback: Duration,
    pub destinations: Vec<Destination>,
    pub routes: Vec<Route>,
}

/// How far back notifications are derived by default: a long weekend's outage.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(4 * 24 * 3600);
