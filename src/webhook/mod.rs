//! Tailscale's signed webhooks (docs/reference/sync.md#webhooks): the HTTP endpoint that receives
//! deliveries, verifies them, drops duplicates, hands new ones to a [`DeliverySink`] and asks for a
//! sync through a coalescing [`SyncTrigger`].
//!
//! - [`signature`]: the `Tailscale-Webhook-Signature` header, HMAC-SHA256, the 5-minute window.
//! - [`delivery`]: the body as events, `data` as any JSON, which types start a sync.
//! - [`dedup`]: the 25-hour memory of recorded body digests.
//! - [`coalesce`]: a burst of triggers becomes a bounded number of syncs.
//! - [`server`]: the axum endpoint and the order in which a request is judged.
//! - [`wire`]: the endpoint as `serve` runs it: deliveries appended as `WebhookReceived`
//!   through the service, syncs through `Service::sync_system_now`, duplicates seeded from the
//!   ledger.
//!
//! Everything but the server and its wiring is pure, with instants passed in. The receiver
//! decides nothing about accounts: a delivery is a reason to sync now, and the sync records what
//! changed.

pub mod coalesce;
pub mod dedup;
pub mod delivery;
pub mod server;
pub mod signature;
pub mod wire;

pub use coalesce::{Coalescer, DEFAULT_MIN_GAP, SyncTrigger, run_coalesced};
pub use dedup::{Admission, DEDUP_WINDOW, Deduplicator};
pub use delivery::{
    Delivery, DeliveryError, MAX_RECORDED_EVENTS, REGISTERED_SUBSCRIPTIONS, WebhookEvent,
};
pub use server::{
    Accepted, DeliverySink, Refusal, SinkError, WEBHOOK_PATH, WebhookReceiver, serve,
};
pub use signature::{SIGNATURE_HEADER, SignatureError};
