//! `tailledger witness serve` (docs/auditing.md#run-a-witness): a C2SP `tlog-witness` witness an
//! auditor runs, answering `POST /add-checkpoint` on a listener under the bounds of
//! [`crate::listener::http`].
//!
//! A request is judged ([`judge`]) against the logs the witness was started with and the latest
//! tree it cosigned for the origin; if it passes, the witness cosigns the checkpoint with the
//! clock's time, stores the new size and root durably, and only then answers 200 with the
//! cosignature line. One request at a time goes from judging to storing (a lock held across
//! both), so two requests can never roll the stored size back.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use super::judge::{Refusal, judge};
use super::protocol::{ADD_CHECKPOINT, AddCheckpoint, SIZE_CONTENT_TYPE};
use super::state::WitnessState;
use crate::listener::{BodyDeadline, HttpLimits, http};
use crate::merkle::{SigningKey, VerifierKey, cosign};
use crate::time::Clock;

/// The largest request body read: 63 proof lines and a checkpoint with signatures fit easily.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the witness answers from.
pub struct Witness {
    /// The witness's own key.
    pub key: SigningKey,
    /// The logs it cosigns: each origin's trusted key.
    pub logs: BTreeMap<String, VerifierKey>,
    pub state: Arc<Mutex<WitnessState>>,
    pub clock: Arc<dyn Clock>,
}

/// Serves the witness on `listener` under `limits` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    witness: Witness,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let router = Router::new().fallback(answer).with_state(Arc::new(witness));
    http::serve(listener, "witness", router, limits, shutdown).await;
}

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into() + "\n",
    )
        .into_response()
}

async fn answer(State(witness): State<Arc<Witness>>, request: Request) -> Response {
    if request.uri().path() != ADD_CHECKPOINT {
        return plain(
            StatusCode::NOT_FOUND,
            "no such endpoint: a witness answers POST /add-checkpoint",
        );
    }
    if request.method() != Method::POST {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "add-checkpoint is a POST");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let body = match axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            return match BodyDeadline::of(&error) {
                Some(deadline) => plain(StatusCode::REQUEST_TIMEOUT, deadline.to_string()),
                None => plain(
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read, or is over {MAX_BODY_BYTES} bytes"),
                ),
            };
        }
    };
    let parsed = std::str::from_utf8(&body)
        .map_err(|_| Refusal::BadRequest("the body is not UTF-8".to_owned()))
        .and_then(|body| AddCheckpoint::parse(body).map_err(Refusal::BadRequest));
    match parsed {
        Ok(request) => add_checkpoint(&witness, request).await,
        Err(refusal) => refused(&refusal),
    }
}

async fn add_checkpoint(witness: &Witness, request: AddCheckpoint) -> Response {
    let mut state = Arc::clone(&witness.state).lock_owned().await;
    let origin = request.note.split('\n').next().unwrap_or_default();
    let checkpoint = match judge(&witness.logs, state.latest(origin), &request) {
        Ok(checkpoint) => checkpoint,
        Err(refusal) => return refused(&refusal),
    };
    let time = u64::try_from(witness.clock.now().to_datetime().timestamp()).unwrap_or(0);
    let line = match checkpoint
        .body()
        .and_then(|text| cosign(&text, &witness.key, time))
    {
        Ok(line) => line,
        Err(error) => return plain(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let note = format!("{}{line}", request.note);
    let (origin, size, root) = (checkpoint.origin.clone(), checkpoint.size, checkpoint.root);
    let recorded = super::blocking(move || state.record(&origin, size, root, &note)).await;
    match recorded {
        Ok(()) => {
            tracing::info!(origin = %checkpoint.origin.escape_debug(), size, "cosigned");
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                line,
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!("could not store the witness's state: {error}");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the witness could not store its state; nothing was cosigned",
            )
        }
    }
}

fn refused(refusal: &Refusal) -> Response {
    let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
    match refusal {
        Refusal::Conflict(size) => (
            status,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            format!("{size}\n"),
        )
            .into_response(),
        Refusal::Inconsistent(_) => {
            tracing::warn!("refused a checkpoint: {refusal}");
            plain(status, refusal.to_string())
        }
        _ => plain(status, refusal.to_string()),
    }
}
