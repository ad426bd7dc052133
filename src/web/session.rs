//! Sign-in and sessions: an API token pasted once is exchanged for a random session id in a
//! cookie (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` when the console serves TLS,
//! expiring with the session). Sessions live in memory only: a restart signs everyone out. The token itself is
//! never kept, only its SHA-256, and every request checks that a token with that hash, name and
//! role is still configured, so a token revoked by a reload ends its sessions at once.
//!
//! Each session has a CSRF token of its own, which every form carries (`forms.rs`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use tokio::time::Instant;

use super::access::{Anyone, Need, allowed};
use super::extract::Posted;
use super::forms::{self, Fields};
use super::templates;
use super::{Shared, WebError};
use crate::api::{Auth, Role};
use crate::hash::Hash256;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tailledger_session";

/// The most sessions held at once; signing in beyond it ends the oldest.
const MAX_SESSIONS: usize = 10_000;

/// A signed-in person, as the handlers see them.
#[derive(Clone, Debug)]
pub struct Session {
    /// The token's name: the actor is `web:<name>`.
    pub name: String,
    pub role: Role,
    pub employee_id: Option<String>,
    /// Every form of this session carries it.
    pub csrf: String,
}

impl Session {
    /// The session if its role may do what `need` covers.
    pub fn require(&self, need: Need) -> Result<&Session, WebError> {
        if allowed(self.role, need) {
            Ok(self)
        } else {
            Err(WebError::Forbidden {
                role: self.role.as_str(),
                what: need.what().to_owned(),
            })
        }
    }
}

struct Held {
    session: Session,
    /// The SHA-256 of the token signed in with.
    token_sha256: Hash256,
    started: Instant,
}

/// The sessions signed in, by id.
pub struct Sessions {
    ttl: Duration,
    held: Mutex<HashMap<String, Held>>,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Sessions {
            ttl,
            held: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        // A map of plain values: a panic elsewhere leaves it usable.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new session for the configured token matching `token`; its id.
    fn start(&self, auth: &Auth, token: &str, now: Instant) -> Result<(String, Session), String> {
        let entry = auth
            .identify(token.trim())
            .map_err(|_| "this token is not one the server knows".to_owned())?;
        let session = Session {
            name: entry.name.clone(),
            role: entry.role,
            employee_id: entry.employee_id.clone(),
            csrf: random_id(),
        };
        let id = random_id();
        let mut held = self.lock();
        held.retain(|_, held| now.duration_since(held.started) < self.ttl);
        if held.len() >= MAX_SESSIONS
            && let Some(oldest) = held
                .iter()
                .min_by_key(|(_, held)| held.started)
                .map(|(id, _)| id.clone())
        {
            held.remove(&oldest);
        }
        held.insert(
            id.clone(),
            Held {
                session: session.clone(),
                token_sha256: entry.sha256,
                started: now,
            },
        );
        Ok((id, session))
    }

    /// The session `id` names, if it has not expired and its token is still configured as it
    /// was; a session that fails either is ended.
    fn get(&self, id: &str, auth: &Auth, now: Instant) -> Option<Session> {
        let mut held = self.lock();
        let current = held.get(id)?;
        let still_configured = match auth {
            Auth::Disabled => false,
            Auth::Tokens(tokens) => tokens.iter().any(|token| {
                token.sha256 == current.token_sha256
                    && token.name == current.session.name
                    && token.role == current.session.role
                    && token.employee_id == current.session.employee_id
            }),
        };
        if !still_configured || now.duration_since(current.started) >= self.ttl {
            held.remove(id);
            return None;
        }
        Some(current.session.clone())
    }

    fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// How many sessions are held (expired ones included until the next sign-in).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// 32 bytes from the operating system's CSPRNG, as hex.
fn random_id() -> String {
    let mut bytes = [0u8; 32];
    // Without the OS's random source no session could be safe; there is no fallback.
    getrandom::getrandom(&mut bytes).expect("the operating system's random source works");
    hex::encode(bytes)
}

/// The session id the request's cookie carries.
fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The signed-in person making the request; a request without a live session is sent to the
/// sign-in page.
pub struct SignedIn(pub Session);

impl FromRequestParts<Shared> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, WebError> {
        let id = cookie_id(&parts.headers).ok_or(WebError::SignedOut)?;
        let auth = state.console.tokens.current();
        state
            .sessions
            .get(&id, &auth, Instant::now())
            .map(SignedIn)
            .ok_or(WebError::SignedOut)
    }
}

/// `GET /signin`: the form with its `token` field.
pub async fn sign_in_page() -> Response {
    templates::page("signin.html", None, minijinja::context! {})
}

/// `POST /signin`: a token for a session cookie; a wrong token is refused with the form again,
/// which never shows what was typed.
pub async fn sign_in(
    State(state): State<Shared>,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    forms::same_origin(&headers)?;
    let token = fields.get("token");
    let auth = state.console.tokens.current();
    match state.sessions.start(&auth, token, Instant::now()) {
        Ok((id, session)) => {
            tracing::info!(token = %session.name, role = session.role.as_str(), "web console: signed in");
            let landing = if session.role == Role::Reviewer {
                "/reviews"
            } else {
                "/"
            };
            Ok(with_cookie(
                Redirect::to(landing).into_response(),
                &id,
                state.console.session_ttl,
                state.console.tls.is_some(),
            ))
        }
        Err(message) => Ok((
            axum::http::StatusCode::UNAUTHORIZED,
            templates::page(
                "signin.html",
                None,
                minijinja::context! { error => message },
            ),
        )
            .into_response()),
    }
}

/// `POST /signout`: ends the session and clears the cookie.
pub async fn sign_out(
    State(state): State<Shared>,
    headers: HeaderMap,
    _form: Posted<Anyone>,
) -> Result<Response, WebError> {
    if let Some(id) = cookie_id(&headers) {
        state.sessions.end(&id);
    }
    Ok(with_cookie(
        Redirect::to("/signin").into_response(),
        "",
        Duration::ZERO,
        state.console.tls.is_some(),
    ))
}

/// `response` setting the session cookie to `id` for `ttl` (clearing it for zero), `Secure`
/// when the console serves TLS.
fn with_cookie(mut response: Response, id: &str, ttl: Duration, secure: bool) -> Response {
    let cookie = format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("hex and fixed text are a header value"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TokenEntry;

    fn auth(name: &str) -> Auth {
        Auth::Tokens(vec![TokenEntry {
            name: name.to_owned(),
            role: Role::Auditor,
            sha256: Hash256::of(b"secret-1"),
            employee_id: None,
        }])
    }

    #[test]
    fn a_session_ends_when_it_expires_or_its_token_goes() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let start = Instant::now();
        assert!(sessions.start(&auth("a"), "wrong", start).is_err());
        let (id, session) = sessions.start(&auth("a"), "secret-1", start).unwrap();
        assert_eq!(session.name, "a");
        assert_ne!(session.csrf, id);
        assert!(sessions.get(&id, &auth("a"), start).is_some());
        assert!(
            sessions
                .get(&id, &auth("a"), start + Duration::from_secs(60))
                .is_none()
        );
        let (id, _) = sessions.start(&auth("a"), "secret-1", start).unwrap();
        // The same hash under another name is another token: the session ends.
        assert!(sessions.get(&id, &auth("b"), start).is_none());
        assert!(sessions.get(&id, &auth("a"), start).is_none());
    }
}
