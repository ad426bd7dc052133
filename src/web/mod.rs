//! The web console (`[web] listen`; docs/admin.md#web-console): server-rendered pages for the
//! compliance lead, the reviewing manager and the auditor, on a listener under the bounds of
//! [`crate::listener::http`], over TLS with `[web.tls]`.
//!
//! People sign in with the API's tokens (`session.rs`): a token pasted once becomes a session
//! cookie; the roles and the access matrix are the API's, extended to every page and form
//! (`access.rs`). Every handler starts with one extractor (`extract.rs`): a page's checks the
//! session and its role, a form's also the request's origin and the session's CSRF token, before
//! the service sees anything. Each page calls the same [`Service`] operations the gRPC handlers
//! call (`pages.rs`, `reviews.rs`, `evidence.rs`); an admin action is recorded as
//! `web:<token name>` and answered with the entries it appended (`actions.rs`). Pages are
//! minijinja templates with every value escaped, outside text with its bidirectional and control
//! characters shown as escapes (`templates.rs`), under a strict Content-Security-Policy and no
//! script.

mod access;
mod actions;
mod evidence;
mod extract;
mod forms;
mod pages;
mod reviews;
mod session;
mod templates;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use access::{Need, allowed};
pub use session::{SESSION_COOKIE, Sessions};

use crate::api::{TlsIdentity, Tokens};
use crate::event::SystemId;
use crate::listener::{HttpLimits, http};
use crate::service::{Service, ServiceError};

/// The Content-Security-Policy of every answer: nothing but this server's stylesheet and
/// images, forms posted only back to it, no frames, no scripts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the console serves with.
pub struct Console {
    pub service: Arc<Service>,
    /// The tokens in force, shared with the gRPC server and replaced by a reload.
    pub tokens: Arc<Tokens>,
    pub system: SystemId,
    /// The certificate and key it serves TLS with (`[web.tls]`); its cookies are then `Secure`.
    /// `None` serves plain HTTP.
    pub tls: Option<TlsIdentity>,
    pub session_ttl: Duration,
}

/// The console's state as its handlers see it.
pub(crate) struct State {
    pub console: Console,
    pub sessions: Sessions,
    /// A permit for each evidence pack that may be made at once.
    pub packs: Arc<tokio::sync::Semaphore>,
}

pub(crate) type Shared = Arc<State>;

/// Why a request was refused; each is a page with the status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("sign in first")]
    SignedOut,
    #[error("your role ({role}) may not {what}")]
    Forbidden { role: &'static str, what: String },
    #[error("{0}")]
    BadForm(String),
    #[error("the form was not posted from this console ({0}); nothing was recorded")]
    CrossSite(String),
    #[error("no such page")]
    NotFound,
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("the evidence pack could not be made: {0}")]
    Evidence(String),
    #[error("{0}")]
    Busy(String),
}

impl WebError {
    fn status(&self) -> StatusCode {
        use crate::commands::CommandError;
        match self {
            WebError::SignedOut => StatusCode::UNAUTHORIZED,
            WebError::Forbidden { .. } | WebError::CrossSite(_) => StatusCode::FORBIDDEN,
            WebError::BadForm(_) => StatusCode::BAD_REQUEST,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Evidence(_) => StatusCode::INTERNAL_SERVER_ERROR,
            WebError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Service(error) => match error {
                ServiceError::Command(CommandError::NotFound { .. })
                | ServiceError::UnknownSubject(_) => StatusCode::NOT_FOUND,
                ServiceError::Command(CommandError::NotAllowed { .. }) => StatusCode::FORBIDDEN,
                ServiceError::Command(_)
                | ServiceError::FutureAsOf { .. }
                | ServiceError::NothingRecorded { .. }
                | ServiceError::BadWindow { .. }
                | ServiceError::UnknownSystem(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }
}

/// Serves the console on `listener` under `limits`, over TLS when it has an identity, until
/// `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    console: Console,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let tls = console.tls.as_ref().map(TlsIdentity::http_server_config);
    http::serve_tls(listener, "web", router(console), limits, tls, shutdown).await;
}

/// The console's routes, each a stable URL.
pub fn router(console: Console) -> Router {
    let state = Arc::new(State {
        sessions: Sessions::new(console.session_ttl),
        packs: Arc::new(tokio::sync::Semaphore::new(evidence::PACKS_AT_ONCE)),
        console,
    });
    Router::new()
        .route("/", get(pages::overview))
        .route("/style.css", get(templates::stylesheet))
        .route("/signin", get(session::sign_in_page).post(session::sign_in))
        .route("/signout", post(session::sign_out))
        .route("/checks/{check_id}", get(pages::check))
        .route("/accounts", get(pages::accounts))
        .route("/accounts/{account_id}", get(pages::account))
        .route("/accounts/{account_id}/link", post(actions::link))
        .route("/accounts/{account_id}/classify", post(actions::classify))
        .route("/people", get(pages::people))
        .route("/people/{employee_id}", get(pages::person))
        .route("/people/{employee_id}/offboard", post(actions::offboard))
        .route("/report", get(pages::report))
        .route(
            "/exceptions",
            get(pages::exceptions).post(actions::grant_exception),
        )
        .route(
            "/exceptions/{exception_id}/revoke",
            post(actions::revoke_exception),
        )
        .route("/ledger", get(pages::ledger))
        .route("/evidence", get(evidence::evidence))
        .route("/sync", post(actions::sync_now))
        .route("/reviews", get(reviews::list).post(reviews::start))
        .route("/reviews/{review_id}", get(reviews::review))
        .route("/reviews/{review_id}/decide", post(reviews::decide))
        .route("/reviews/{review_id}/complete", post(reviews::complete))
        .route("/reviews/{review_id}/reassign", post(reviews::reassign))
        .route("/reviews/{review_id}/cancel", post(reviews::cancel))
        .fallback(not_found)
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(state)
}

async fn not_found() -> Response {
    WebError::NotFound.into_response()
}

/// The headers every answer carries: the CSP, no sniffing, no referrer to other sites, no caching of pages
/// that show the ledger to one person.
async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers post forms with
    // `Origin: null`, which the origin check must refuse.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let WebError::SignedOut = self {
            return axum::response::Redirect::to("/signin").into_response();
        }
        if let WebError::Service(error) = &self
            && self.status() == StatusCode::SERVICE_UNAVAILABLE
        {
            tracing::warn!("web console: {error}");
        }
        let page = templates::render(
            "error.html",
            None,
            minijinja::context! { title => "Refused", status => self.status().as_u16(), message => self.to_string() },
        );
        (self.status(), axum::response::Html(page)).into_response()
    }
}
