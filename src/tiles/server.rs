//! `[tiles] listen` (docs/reference/tiles.md#serving): the tiled log over HTTP, on a listener
//! under the bounds of [`crate::listener::http`].
//!
//! `GET /checkpoint` is the checkpoint the log publishes ([`Service::published_checkpoint`], the
//! one the archive holds too: today signed at the head when asked, so it is never behind), and `GET /tile/<L>/<N>[.p/<W>]` its hash tiles: both public, since hashes and
//! a signed size name nobody. `GET /tile/entries/<N>[.p/<W>]` serves entry bundles, which hold
//! names and emails, only to a bearer of an auditor or admin token of the API. A tile the tree at
//! the head does not have is 404. Full tiles never change and say so (`immutable`); the
//! checkpoint and partial tiles are cached briefly.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

use super::path::{CHECKPOINT_PATH, TileKind, TilePath};
use crate::listener::{HttpLimits, http};
use crate::service::{Service, ServiceError};

/// Why a request for entries was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntriesDenied {
    /// No token, or one the API does not know: 401.
    Unauthenticated(String),
    /// A token whose role may not read entries: 403.
    Forbidden(String),
}

/// Says whether the `Authorization` header given (if any, and if text) may read entry bundles:
/// the API's tokens, auditor or admin. Built by the composition root from `[auth]`.
pub type EntriesAccess = Arc<dyn Fn(Option<&str>) -> Result<(), EntriesDenied> + Send + Sync>;

/// What the endpoint answers from.
pub struct TilesEndpoint {
    pub service: Arc<Service>,
    pub entries_access: EntriesAccess,
}

const FULL: &str = "public, max-age=31536000, immutable";
const FULL_PRIVATE: &str = "private, max-age=31536000, immutable";
const PARTIAL: &str = "public, max-age=60";
const PARTIAL_PRIVATE: &str = "private, max-age=60";
const CHECKPOINT_CACHE: &str = "public, max-age=5";

/// Serves the tiles on `listener` under `limits` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    endpoint: TilesEndpoint,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let router = Router::new()
        .fallback(answer)
        .with_state(Arc::new(endpoint));
    http::serve(listener, "tiles", router, limits, shutdown).await;
}

fn plain(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message + "\n",
    )
        .into_response()
}

async fn answer(State(endpoint): State<Arc<TilesEndpoint>>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "the tiles are read with GET".to_owned(),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let path = request.uri().path().trim_start_matches('/');
    if path == CHECKPOINT_PATH {
        return checkpoint(&endpoint.service).await;
    }
    let Some(tile) = TilePath::parse(path) else {
        return plain(
            StatusCode::NOT_FOUND,
            "no such object: a tiled log serves /checkpoint, /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>]".to_owned(),
        );
    };
    if tile.kind == TileKind::Entries {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        match (endpoint.entries_access)(authorization) {
            Ok(()) => {}
            Err(EntriesDenied::Unauthenticated(reason)) => {
                let mut response = plain(
                    StatusCode::UNAUTHORIZED,
                    format!("entry bundles need an auditor or admin token: {reason}"),
                );
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
            Err(EntriesDenied::Forbidden(reason)) => {
                return plain(StatusCode::FORBIDDEN, reason);
            }
        }
    }
    match endpoint.service.tile(tile).await {
        Ok(Some(object)) => {
            let cache = match (tile.kind, object.full) {
                (TileKind::Entries, true) => FULL_PRIVATE,
                (TileKind::Entries, false) => PARTIAL_PRIVATE,
                (_, true) => FULL,
                (_, false) => PARTIAL,
            };
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (header::CACHE_CONTROL, cache),
                ],
                Body::from(object.bytes),
            )
                .into_response()
        }
        Ok(None) => plain(
            StatusCode::NOT_FOUND,
            format!("{tile} is beyond the tree at the head"),
        ),
        Err(error) => failed(&error),
    }
}

async fn checkpoint(service: &Service) -> Response {
    match service.published_checkpoint().await {
        Ok(signed) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, CHECKPOINT_CACHE),
            ],
            signed.note,
        )
            .into_response(),
        Err(error @ ServiceError::EmptyTree) => plain(StatusCode::NOT_FOUND, error.to_string()),
        Err(error) => failed(&error),
    }
}

fn failed(error: &ServiceError) -> Response {
    tracing::error!("tiles endpoint: {error}");
    let status = match error {
        ServiceError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    plain(status, error.to_string())
}
