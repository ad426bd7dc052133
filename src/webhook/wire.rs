//! The webhook endpoint wired into the service (docs/reference/sync.md#webhooks): accepted
//! deliveries are appended as `WebhookReceived` through the service (and so through the ledger,
//! the only writer), and the ones holding a user or device event start a coalesced sync of the
//! system through [`Service::sync_system_now`]: the system's sync of a cycle, without the roster,
//! so a slow HR system never queues a removal the delivery announces.
//!
//! [`serve`] runs on a listener the caller bound, until a shutdown future completes, like the
//! gRPC server. Before it answers anything it seeds the receiver's memory of duplicates with the
//! deliveries the ledger recorded in the last 25 hours, so a delivery replayed after a restart
//! is not recorded twice.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::coalesce::{DEFAULT_MIN_GAP, SyncTrigger, run_coalesced};
use super::dedup::DEDUP_WINDOW;
use super::delivery::Delivery;
use super::server::{self, DeliverySink, SinkError, WebhookReceiver};
use crate::event::{Actor, SystemId};
use crate::listener::HttpLimits;
use crate::metrics::Metrics;
use crate::render;
use crate::service::{Service, ServiceError};
use crate::tailscale::Secret;

/// Records each accepted delivery of `system` as one `WebhookReceived` batch.
struct LedgerSink {
    service: Service,
    system: SystemId,
}

impl DeliverySink for LedgerSink {
    fn received(&self, delivery: &Delivery) -> Result<(), SinkError> {
        let system = self.system.clone();
        self.service
            .command(Actor::Webhook(system.clone()), move |_| {
                Ok(vec![delivery.record(system)])
            })
            .map(drop)
            // Store errors name paths and causes, never a secret (the webhook secret is not
            // handed to the service at all).
            .map_err(|error| SinkError::new(error.to_string()))
    }
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the recorded webhook deliveries could not be read: {0}")]
    Seed(#[source] ServiceError),
}

/// Serves the webhook endpoint of `system` on `listener` with `secret` until `shutdown`,
/// recording deliveries through `service` and syncing on them.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    system: SystemId,
    secret: Secret,
    metrics: Metrics,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebhookError> {
    let since = service
        .now()
        .saturating_add_micros(-i64::try_from(DEDUP_WINDOW.as_micros()).unwrap_or(i64::MAX));
    let recorded = service
        .webhook_deliveries_since(system.clone(), since)
        .await
        .map_err(WebhookError::Seed)?;
    let trigger = SyncTrigger::new();
    let receiver = Arc::new(WebhookReceiver::new(
        secret,
        service.clock(),
        Arc::new(LedgerSink {
            service: (*service).clone(),
            system: system.clone(),
        }),
        trigger.clone(),
    ));
    receiver.remember_recorded(recorded);

    let (stop, stopping) = watch::channel(false);
    let stop = &stop;
    let stopped = |mut receiver: watch::Receiver<bool>| async move {
        // The sender lives until the end of `serve`, so this only ends on a stop.
        let _ = receiver.wait_for(|stop| *stop).await;
    };
    let served = async {
        server::serve(
            listener,
            receiver,
            metrics,
            limits,
            stopped(stopping.clone()),
        )
        .await;
        stop.send_replace(true);
    };
    let syncs = run_coalesced(
        trigger,
        DEFAULT_MIN_GAP,
        || {
            let service = service.clone();
            let system = system.clone();
            async move {
                match service.sync_system_now(&system).await {
                    Ok(sync) => tracing::info!("webhook-started {}", render::sync_summary(&sync)),
                    // The delivery is recorded; polling covers the change if this sync could
                    // not be, and the scheduler retries a failed append.
                    Err(error) => tracing::error!("webhook-started sync not recorded: {error}"),
                }
            }
        },
        stopped(stopping.clone()),
    );
    let signal = async {
        tokio::select! {
            () = shutdown => {}
            () = stopped(stopping.clone()) => {}
        }
        stop.send_replace(true);
    };
    tokio::join!(served, syncs, signal);
    Ok(())
}
