//! The webhook endpoint (docs/reference/sync.md#webhooks): `POST /webhooks/tailscale` on a listener
//! the caller bound, until a shutdown future completes, like the gRPC server.
//!
//! The listener keeps the bounds of [`crate::listener::http`] (`[webhook]` in the configuration):
//! a connection cap, a header timeout, and a deadline for the whole body (**408** when it
//! passes). Each request is judged in this order, and answered:
//! 1. a declared length over 8 MiB: **413** at once;
//! 2. no or malformed `Tailscale-Webhook-Signature`, or its `t` more than 5 min from the ledger
//!    clock: **401**, judged before the body is waited for (which is then read and discarded up
//!    to a bound, so the client reads the answer instead of a reset connection);
//! 3. a body over 1 MiB: **413** (read and discarded up to the same bound), no matching `v1`, or
//!    `t` gone out of the window meanwhile: **401**;
//! 4. a correctly signed body that is not a JSON array of events: **400**;
//! 5. a body identical to one recorded within 25 h: **200**, handed on to nothing;
//! 6. otherwise the delivery goes to the [`DeliverySink`] (which records `WebhookReceived`)
//!    and is answered **200** once recorded; a sink that could not record answers **503** so
//!    Tailscale retries, the one transient failure its example receiver allows for. When a
//!    recorded delivery holds a user or device event, the [`SyncTrigger`] is fired: the sync
//!    runs after the reply, coalesced.
//!
//! The signature is checked before the body is parsed, so unauthenticated input is never read
//! as JSON. The bodies kept in memory at once share a budget of [`MAX_BUFFERED_BYTES`], taken
//! byte by byte as they arrive: a client that trickles its body holds only the bytes it sent
//! (until the body deadline cuts it), so it cannot hold up a delivery sent whole.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_stream::StreamExt;

use super::coalesce::SyncTrigger;
use super::dedup::{Admission, Deduplicator};
use super::delivery::{Delivery, DeliveryError, MAX_BODY_BYTES};
use super::signature::{self, SIGNATURE_HEADER, SignatureError};
use crate::hash::Hash256;
use crate::listener::{BodyDeadline, HttpLimits, http};
use crate::metrics::{Metrics, WebhookLayer};
use crate::tailscale::Secret;
use crate::time::{Clock, Timestamp};

/// The path Tailscale posts to.
pub const WEBHOOK_PATH: &str = "/webhooks/tailscale";

/// How many bytes of request bodies are kept in memory at once (as many as 32 bodies of 1 MiB):
/// the endpoint faces the internet.
pub const MAX_BUFFERED_BYTES: usize = 32 * MAX_BODY_BYTES;

/// How much of an oversized body is read (and thrown away) before answering 413, so that a
/// client a little over the limit sees the answer; beyond this the connection is just closed.
const MAX_DRAINED_BYTES: usize = 8 * MAX_BODY_BYTES;

/// Where accepted deliveries go: in `serve`, [`super::wire`] appends them as `WebhookReceived`.
///
/// It is called once per new delivery (never for a duplicate or a refusal), on a blocking
/// thread, and the HTTP answer waits for it: `Ok` means recorded durably.
pub trait DeliverySink: Send + Sync {
    fn received(&self, delivery: &Delivery) -> Result<(), SinkError>;
}

/// Why a sink could not record a delivery (answered 503, so Tailscale retries).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(String);

impl SinkError {
    /// An explanation for the log; it must not hold a secret.
    pub fn new(message: impl Into<String>) -> Self {
        SinkError(message.into())
    }
}

/// Why a request was refused, each with its status.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 401.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// 413.
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// 400.
    #[error(transparent)]
    NotADelivery(#[from] DeliveryError),
    /// 400: the client went away or sent a broken body.
    #[error("the body could not be read: {0}")]
    Unreadable(String),
    /// 408: the listener's body deadline passed.
    #[error(transparent)]
    TooSlow(#[from] BodyDeadline),
    /// 503.
    #[error("the delivery could not be recorded: {0}")]
    NotRecorded(#[source] SinkError),
}

impl Refusal {
    /// The HTTP status this refusal answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Signature(_) => StatusCode::UNAUTHORIZED,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::NotADelivery(_) | Refusal::Unreadable(_) => StatusCode::BAD_REQUEST,
            Refusal::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Refusal::NotRecorded(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The short text answered: a 401 does not say which check failed (the log does).
    fn public_text(&self) -> &'static str {
        match self {
            Refusal::Signature(_) => "signature refused",
            Refusal::TooLarge => "body larger than 1 MiB",
            Refusal::NotADelivery(_) => "body is not a JSON array of events",
            Refusal::Unreadable(_) => "body could not be read",
            Refusal::TooSlow(_) => "body too slow",
            Refusal::NotRecorded(_) => "not recorded, retry later",
        }
    }
}

/// What became of an accepted request (both answered 200).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// New: handed to the sink and recorded; `sync_started` when the trigger was fired.
    Recorded {
        body_sha256: Hash256,
        sync_started: bool,
    },
    /// Identical to a delivery recorded at `first_recorded_at`; handed on to nothing.
    Duplicate {
        body_sha256: Hash256,
        first_recorded_at: Timestamp,
    },
}

/// The receiver: the secret, the ledger clock, the sink, the sync trigger and the memory of
/// recent deliveries.
pub struct WebhookReceiver {
    secret: Secret,
    clock: Arc<dyn Clock>,
    sink: Arc<dyn DeliverySink>,
    sync: SyncTrigger,
    recent: Mutex<Deduplicator>,
    /// One permit per byte of the bodies kept in memory.
    buffered: Semaphore,
}

impl fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("secret", &self.secret)
            .field("recent_deliveries", &self.lock_recent().len())
            .finish_non_exhaustive()
    }
}

impl WebhookReceiver {
    /// A receiver checking signatures with `secret` against `clock`, handing new deliveries to
    /// `sink` and firing `sync` for those that start a sync.
    pub fn new(
        secret: Secret,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn DeliverySink>,
        sync: SyncTrigger,
    ) -> Self {
        WebhookReceiver {
            secret,
            clock,
            sink,
            sync,
            recent: Mutex::new(Deduplicator::default()),
            buffered: Semaphore::new(MAX_BUFFERED_BYTES),
        }
    }

    /// Remembers deliveries already in the ledger (body digest, `recorded_at`), so that one
    /// recorded before a restart is still a duplicate after it.
    pub fn remember_recorded(&self, recorded: impl IntoIterator<Item = (Hash256, Timestamp)>) {
        let mut recent = self.lock_recent();
        for (digest, recorded_at) in recorded {
            recent.remember(digest, recorded_at);
        }
    }

    /// Judges a request whose body was read within the limit: steps 2 to 5 of the module doc.
    /// It may block in the sink.
    pub fn accept(&self, signature: Option<&[u8]>, body: Vec<u8>) -> Result<Accepted, Refusal> {
        let now = self.clock.now();
        let verified = signature::verify(&self.secret, signature, &body, now)?;
        let delivery = Delivery::parse(body, verified.signed_at, now)?;
        let body_sha256 = delivery.body_sha256;
        if let Admission::Duplicate { first_recorded_at } =
            self.lock_recent().admit(body_sha256, now)
        {
            return Ok(Accepted::Duplicate {
                body_sha256,
                first_recorded_at,
            });
        }
        // Until the sink says it recorded the delivery, the digest must not stay remembered,
        // even if the sink panics: Tailscale's retry would be taken for a duplicate.
        let mut admitted = Admitted {
            receiver: self,
            digest: body_sha256,
            recorded: false,
        };
        self.sink
            .received(&delivery)
            .map_err(Refusal::NotRecorded)?;
        admitted.recorded = true;
        let sync_started = delivery.starts_sync();
        if sync_started {
            self.sync.fire();
        }
        Ok(Accepted::Recorded {
            body_sha256,
            sync_started,
        })
    }

    /// The HTTP routes: `POST /webhooks/tailscale`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(WEBHOOK_PATH, post(receive))
            .with_state(self)
    }

    /// The memory, even if a panic elsewhere poisoned the lock: each change to it is one
    /// insert or remove, so it is never left half-changed.
    fn lock_recent(&self) -> std::sync::MutexGuard<'_, Deduplicator> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Forgets an admitted digest when dropped, that is unless the delivery was recorded.
struct Admitted<'a> {
    receiver: &'a WebhookReceiver,
    digest: Hash256,
    recorded: bool,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.receiver.lock_recent().forget(&self.digest);
        }
    }
}

/// Serves the endpoint on `listener` under `limits` until `shutdown` completes, then lets
/// requests in flight finish. Every answer is counted in `metrics`.
pub async fn serve(
    listener: TcpListener,
    receiver: Arc<WebhookReceiver>,
    metrics: Metrics,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let router = receiver.router().layer(WebhookLayer::new(metrics));
    http::serve(listener, "webhook", router, &limits, shutdown).await;
}

async fn receive(State(receiver): State<Arc<WebhookReceiver>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let signature = parts
        .headers
        .get(SIGNATURE_HEADER)
        .map(|value| value.as_bytes().to_vec());
    let declared_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let outcome = judge(receiver, signature, declared_length, body).await;
    match outcome {
        Ok(accepted) => {
            match accepted {
                Accepted::Recorded {
                    body_sha256,
                    sync_started,
                } => tracing::info!(%body_sha256, sync_started, "webhook delivery recorded"),
                Accepted::Duplicate {
                    body_sha256,
                    first_recorded_at,
                } => {
                    tracing::info!(%body_sha256, %first_recorded_at, "webhook delivery already recorded")
                }
            }
            (StatusCode::OK, "ok").into_response()
        }
        Err(refusal) => {
            let status = refusal.status();
            tracing::warn!(
                status = status.as_u16(),
                "webhook delivery refused: {refusal}"
            );
            (status, refusal.public_text()).into_response()
        }
    }
}

async fn judge(
    receiver: Arc<WebhookReceiver>,
    signature: Option<Vec<u8>>,
    declared_length: Option<u64>,
    body: Body,
) -> Result<Accepted, Refusal> {
    if declared_length.is_some_and(|length| length > MAX_DRAINED_BYTES as u64) {
        return Err(Refusal::TooLarge);
    }
    if let Err(refused) = signature::precheck(signature.as_deref(), receiver.clock.now()) {
        // Nothing of the body is kept, and the answer is the same however reading it ends.
        let _ = read_limited(body, None).await;
        return Err(refused.into());
    }
    let (body, _buffered) = read_limited(body, Some(&receiver.buffered)).await?;
    // The sink appends to the ledger, which may wait for the disk.
    let judging = receiver.clone();
    tokio::task::spawn_blocking(move || judging.accept(signature.as_deref(), body))
        .await
        .map_err(|error| {
            Refusal::NotRecorded(SinkError::new(format!("the receiver failed: {error}")))
        })?
}

/// The body, if it is at most [`MAX_BODY_BYTES`], with the permits of `budget` its bytes hold
/// (the bytes are kept only when there is a budget); an oversized one is read on (and dropped)
/// up to [`MAX_DRAINED_BYTES`] before it is refused.
async fn read_limited(
    body: Body,
    budget: Option<&Semaphore>,
) -> Result<(Vec<u8>, Option<SemaphorePermit<'_>>), Refusal> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut held: Option<SemaphorePermit<'_>> = None;
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| match BodyDeadline::of(&error) {
            Some(deadline) => Refusal::TooSlow(deadline),
            None => Refusal::Unreadable(error.to_string()),
        })?;
        total = total.saturating_add(chunk.len());
        if total > MAX_DRAINED_BYTES {
            return Err(Refusal::TooLarge);
        }
        let Some(budget) = budget.filter(|_| total <= MAX_BODY_BYTES) else {
            continue;
        };
        // A chunk is at most 1 MiB here, and the semaphore is never closed.
        let permit = budget
            .acquire_many(u32::try_from(chunk.len()).unwrap_or(u32::MAX))
            .await
            .map_err(|_| Refusal::Unreadable("the receiver is stopping".to_owned()))?;
        match &mut held {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        bytes.extend_from_slice(&chunk);
    }
    if total > MAX_BODY_BYTES {
        return Err(Refusal::TooLarge);
    }
    Ok((bytes, held))
}
