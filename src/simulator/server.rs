//! The HTTP side of the simulator: routes, credential checks, fault application, and serving on
//! a listener the caller bound (so tests can use `127.0.0.1:0`).

use std::future::Future;
use std::io;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::fault::{Endpoint, Fault};
use super::user::{SimUser, tailscale_time};
use super::{SimulatedTailnet, State as TailnetState};
use crate::time::Timestamp;

/// The largest body the truncation fault reads back before cutting it.
const MAX_TRUNCATED_BODY: usize = 16 * 1024 * 1024;

/// A simulator serving in the background; dropping it stops the server too.
#[derive(Debug)]
pub struct SimulatorHandle {
    base_url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl SimulatorHandle {
    /// `http://127.0.0.1:<port>`: the `api_base_url` a client should use.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stops accepting requests, lets requests in flight finish, and waits for the server.
    pub async fn shutdown(self) -> io::Result<()> {
        // The server also stops when the sender is dropped, so a send that finds the receiver
        // gone (the server already ended) needs no handling.
        let _ = self.stop.send(());
        self.task.await.map_err(io::Error::other)?
    }
}

impl SimulatedTailnet {
    /// The routes of the simulated API, with fault injection and request counting in front.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v2/oauth/token", post(grant_token))
            .route("/api/v2/tailnet/{tailnet}/users", get(list_users))
            .route("/api/v2/tailnet/{tailnet}/keys/{key_id}", get(get_key))
            .route(
                "/api/v2/tailnet/{tailnet}/devices",
                get(super::devices::list_devices),
            )
            .route(
                "/api/v2/tailnet/{tailnet}/keys",
                get(super::devices::list_keys),
            )
            .route(
                "/api/v2/tailnet/{tailnet}/logging/configuration",
                get(super::audit_log::read),
            )
            .merge(super::webhook::routes())
            .layer(middleware::from_fn_with_state(
                self.clone(),
                count_and_fault,
            ))
            .layer(middleware::from_fn_with_state(
                self.date.clone(),
                super::date::date_answers,
            ))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown` completes, then lets requests in flight finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serves on `listener` in a background task until the handle is shut down or dropped.
    pub fn start(&self, listener: TcpListener) -> io::Result<SimulatorHandle> {
        spawn(self.router(), listener)
    }
}

/// Serves `router` on `listener` in a background task until the handle is shut down or dropped.
pub(super) fn spawn(router: Router, listener: TcpListener) -> io::Result<SimulatorHandle> {
    let base_url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    // Either a stop message or the handle being dropped ends the wait; both mean "stop".
    let shutdown = async {
        let _ = stopped.await;
    };
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok(SimulatorHandle {
        base_url,
        stop,
        task,
    })
}

/// Counts the request, then applies the oldest armed fault that matches it, if any.
async fn count_and_fault(
    State(tailnet): State<SimulatedTailnet>,
    request: Request,
    next: Next,
) -> Response {
    let endpoint = Endpoint::of_path(request.uri().path());
    let fault = {
        let mut state = tailnet.lock();
        let counters = &mut state.counters;
        counters.requests += 1;
        match endpoint {
            Some(Endpoint::OauthToken) => counters.token_requests += 1,
            Some(Endpoint::Users) => counters.users_requests += 1,
            Some(Endpoint::Key) => counters.key_requests += 1,
            Some(Endpoint::Devices) => counters.devices_requests += 1,
            Some(Endpoint::Keys) => counters.keys_requests += 1,
            Some(Endpoint::AuditLog) => counters.audit_log_requests += 1,
            None => {}
        }
        state.faults.take(endpoint)
    };
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    match fault {
        // Only numbers outside 100..=999 are not status codes; a test that arms one gets a 500.
        Fault::Status { status, message } => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &message,
        ),
        Fault::RateLimited { retry_after_secs } => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "too many requests");
            if let Some(seconds) = retry_after_secs {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Fault::TruncatedBody => truncate(next.run(request).await).await,
        Fault::Trickle { chunk_delay } => trickle(next.run(request).await, chunk_delay).await,
        Fault::Body(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Fault::EndlessBody => endless_body(),
    }
}

/// A 200 whose JSON body never ends: spaces for as long as the client reads.
pub(super) fn endless_body() -> Response {
    let spaces = axum::body::Bytes::from_static(&[b' '; 64 * 1024]);
    let endless = tokio_stream::iter(std::iter::repeat(Ok::<_, std::convert::Infallible>(spaces)));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(endless),
    )
        .into_response()
}

/// The same response with only the first half of its body.
pub(super) async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_TRUNCATED_BODY)
        .await
        .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

/// The same response, its body sent a few bytes at a time with a pause before each: a server
/// that answers, but too slowly to finish within any sensible timeout.
pub(super) async fn trickle(response: Response, chunk_delay: std::time::Duration) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_TRUNCATED_BODY)
        .await
        .unwrap_or_default();
    let chunks: Vec<axum::body::Bytes> = bytes
        .chunks(8)
        .map(axum::body::Bytes::copy_from_slice)
        .collect();
    let stream =
        tokio_stream::StreamExt::then(tokio_stream::iter(chunks), move |chunk| async move {
            tokio::time::sleep(chunk_delay).await;
            Ok::<_, std::convert::Infallible>(chunk)
        });
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Tailscale's error shape: `{"message": "..."}`.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// The fields of a client-credentials grant request.
#[derive(Deserialize)]
struct GrantRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
}

async fn grant_token(
    State(tailnet): State<SimulatedTailnet>,
    Form(grant): Form<GrantRequest>,
) -> Response {
    if grant.grant_type.as_deref() != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "unsupported_grant_type" })),
        )
            .into_response();
    }
    let mut state = tailnet.lock();
    let known = match (&grant.client_id, &grant.client_secret) {
        (Some(id), Some(secret)) => state.oauth_clients.get(id) == Some(secret),
        _ => false,
    };
    let Some(client_id) = grant.client_id.filter(|_| known) else {
        return error(StatusCode::UNAUTHORIZED, "invalid client credentials");
    };
    let access_token = format!(
        "tskey-api-{client_id}T{}-{}",
        state.counters.token_grants + 1,
        std::iter::repeat_with(fastrand::alphanumeric)
            .take(24)
            .collect::<String>()
    );
    let lifetime = state.token_lifetime;
    state
        .access_tokens
        .push((access_token.clone(), Instant::now() + lifetime, client_id));
    state.counters.token_grants += 1;
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "scope": "users:read",
    }))
    .into_response()
}

#[derive(Deserialize)]
struct UsersQuery {
    #[serde(rename = "type")]
    user_type: Option<String>,
}

#[derive(Serialize)]
struct UsersBody<'a> {
    users: Vec<&'a SimUser>,
}

async fn list_users(
    State(tailnet): State<SimulatedTailnet>,
    Path(name): Path<String>,
    Query(query): Query<UsersQuery>,
    headers: HeaderMap,
) -> Response {
    let state = tailnet.lock();
    if let Some(refusal) = refusal(&state, &headers, &name) {
        return refusal;
    }
    // Like Tailscale, the list holds members only unless shared users are asked for.
    let wanted = query.user_type.as_deref().unwrap_or("member");
    if !matches!(wanted, "member" | "shared" | "all") {
        return error(
            StatusCode::BAD_REQUEST,
            "type must be member, shared or all",
        );
    }
    let users = state
        .users
        .values()
        .filter(|user| wanted == "all" || user.user_type == wanted)
        .collect();
    Json(UsersBody { users }).into_response()
}

/// A key as Tailscale describes it (no secret: that is only returned at creation).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyBody<'a> {
    id: &'a str,
    key_type: &'a str,
    description: &'a str,
    #[serde(serialize_with = "tailscale_time")]
    created: Option<Timestamp>,
    #[serde(serialize_with = "tailscale_time")]
    expires: Option<Timestamp>,
    invalid: bool,
}

async fn get_key(
    State(tailnet): State<SimulatedTailnet>,
    Path((name, key_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = tailnet.lock();
    if let Some(refusal) = refusal(&state, &headers, &name) {
        return refusal;
    }
    let Some(key) = state.keys.get(&key_id) else {
        return error(StatusCode::NOT_FOUND, "key not found");
    };
    Json(KeyBody {
        id: &key_id,
        key_type: key.key_type,
        description: &key.description,
        created: Some(key.created),
        expires: key.expires,
        invalid: key.invalid,
    })
    .into_response()
}

/// The refusal of a request without a valid bearer token (401) or for another tailnet (404).
pub(super) fn refusal(
    state: &TailnetState,
    headers: &HeaderMap,
    tailnet: &str,
) -> Option<Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(bearer) = bearer else {
        return Some(error(StatusCode::UNAUTHORIZED, "missing API key"));
    };
    if !token_is_valid(state, bearer) {
        return Some(error(StatusCode::UNAUTHORIZED, "API token invalid"));
    }
    if tailnet != "-" && tailnet != state.tailnet_id {
        return Some(error(StatusCode::NOT_FOUND, "tailnet not found"));
    }
    None
}

fn token_is_valid(state: &TailnetState, bearer: &str) -> bool {
    if let Some(key_id) = state.api_tokens.get(bearer) {
        return key_is_usable(state, key_id);
    }
    state
        .access_tokens
        .iter()
        .any(|(token, expiry, _)| token == bearer && Instant::now() < *expiry)
}

/// The key id of the credential behind the request's bearer (an OAuth client's id for its
/// access tokens), if it is one the simulator knows.
pub(super) fn caller_key_id(state: &TailnetState, headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    if let Some(key_id) = state.api_tokens.get(bearer) {
        return Some(key_id.clone());
    }
    state
        .access_tokens
        .iter()
        .find(|(token, _, _)| token == bearer)
        .map(|(_, _, client_id)| client_id.clone())
}

/// An API token works while its key is neither revoked nor expired.
fn key_is_usable(state: &TailnetState, key_id: &str) -> bool {
    state.keys.get(key_id).is_some_and(|key| {
        !key.invalid && key.expires.is_none_or(|expires| Timestamp::now() < expires)
    })
}
