//! One HTTP exchange with Tailscale, retried under the [`RetryPolicy`], reduced to a body or a
//! [`FetchError`]. Truto's HRIS client (`crate::truto`) sends its requests through here too, so
//! both peers share the retry rules; the peer's name is what the messages call it.
//!
//! Both the API calls and the OAuth token grant go through here, so they share one definition of
//! what is transient (429, 5xx, timeouts, connection errors; not a name that does not resolve
//! or a refused connection, which fail at once), one backoff, and one way of
//! describing a failure. Only the caller knows what a final status means for its endpoint (a 401
//! from the token endpoint is a refused grant), so the final failure is returned as a
//! [`Failure`] for the caller to turn into a [`FetchError`]. The `Date` of every answer is read
//! against the local clock ([`PeerClock`]), for the caller to judge the clock by.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use super::dates::PeerClock;
use super::error::FetchError;
use super::retry::{Backoff, RetryPolicy};
use crate::event::SyncErrorClass;

/// The longest piece of Tailscale's `message` quoted in an error, in characters.
const MAX_QUOTED_MESSAGE: usize = 300;

/// The largest body read of one answer: a page of a listing of a large tailnet, or of Truto's,
/// is far below it. A longer body is refused once this much has arrived.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The HTTP client and the policy every request is sent with.
#[derive(Debug)]
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    /// Who answers, for messages: `Tailscale` or `Truto`.
    peer: &'static str,
    retry: RetryPolicy,
    timeout: Duration,
    /// The local clock, and the peer's `Date` read against it.
    pub(crate) clock: PeerClock,
}

/// How the last attempt of a request failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server answered with a non-success status.
    Status {
        status: StatusCode,
        /// Tailscale's `{"message": ...}`, if the body had one.
        api_message: Option<String>,
        /// The `Retry-After` delay the server asked for, in whole seconds.
        retry_after: Option<Duration>,
    },
    /// No complete answer arrived within the request timeout.
    Timeout,
    /// The connection could not be made or broke off.
    Network { detail: String },
    /// The peer's name does not resolve or nothing listens at its address: retrying within a
    /// sync cannot heal that, so it is not retried.
    Unreachable { detail: String },
    /// The body went on past [`MAX_BODY_BYTES`]; retrying would read it again.
    TooLarge,
}

/// A request that failed for good, with how many attempts were made.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) failure: Failure,
    pub(crate) attempts: u32,
}

impl Failed {
    /// The HTTP status of the last answer, if there was one.
    pub(crate) fn status(&self) -> Option<StatusCode> {
        match self.failure {
            Failure::Status { status, .. } => Some(status),
            Failure::Timeout
            | Failure::Network { .. }
            | Failure::Unreachable { .. }
            | Failure::TooLarge => None,
        }
    }
}

impl Transport {
    pub(crate) fn new(http: reqwest::Client, retry: RetryPolicy, timeout: Duration) -> Self {
        Self::for_peer("Tailscale", http, retry, timeout)
    }

    /// A transport to another peer than Tailscale, named `peer` in messages.
    pub(crate) fn for_peer(
        peer: &'static str,
        http: reqwest::Client,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Self {
        Transport {
            http,
            peer,
            retry,
            timeout,
            clock: PeerClock::new(peer),
        }
    }

    /// Sends the request built by `build` until it succeeds, fails for a reason that retrying
    /// cannot fix, or the retry budget runs out. `request` names it (method and path) in logs.
    pub(crate) async fn execute(
        &self,
        request: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Vec<u8>, Failed> {
        let mut backoff = Backoff::start(&self.retry);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let failure = match attempt(build(), &self.clock).await {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            let retry_after = match &failure {
                Failure::Status {
                    status,
                    retry_after,
                    ..
                } if is_transient(*status) => *retry_after,
                Failure::Status { .. } | Failure::Unreachable { .. } | Failure::TooLarge => {
                    return Err(Failed { failure, attempts });
                }
                Failure::Timeout | Failure::Network { .. } => None,
            };
            let Some(wait) = backoff.next_wait(retry_after) else {
                tracing::warn!(request, attempts, reason = %failure, peer = self.peer, "request failed; retry budget exhausted");
                return Err(Failed { failure, attempts });
            };
            tracing::warn!(
                request,
                attempt = attempts,
                reason = %failure,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                peer = self.peer,
                "request failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Describes a final failure of `request` as a [`FetchError`]. `class_of` gives the class of
    /// a final status (it differs between the API and the token endpoint); `hint` is appended to
    /// the message of a 404.
    pub(crate) fn describe(
        &self,
        request: &str,
        failed: &Failed,
        class_of: impl Fn(StatusCode) -> SyncErrorClass,
        not_found_hint: Option<&str>,
    ) -> FetchError {
        let attempts = match failed.attempts {
            1 => String::new(),
            n => format!(" (after {n} attempts)"),
        };
        match &failed.failure {
            Failure::Status {
                status,
                api_message,
                ..
            } => {
                let said = api_message
                    .as_deref()
                    .map(|text| format!(": {} said \"{text}\"", self.peer))
                    .unwrap_or_default();
                let hint = match (*status, not_found_hint) {
                    (StatusCode::NOT_FOUND, Some(hint)) => format!("; {hint}"),
                    _ => String::new(),
                };
                FetchError::new(
                    class_of(*status),
                    format!("{request}: HTTP {status}{said}{hint}{attempts}"),
                )
            }
            Failure::Timeout => FetchError::new(
                SyncErrorClass::Timeout,
                format!(
                    "{request}: no complete answer within the {} ms request timeout{attempts}",
                    self.timeout.as_millis()
                ),
            ),
            Failure::TooLarge => FetchError::new(
                SyncErrorClass::Malformed,
                format!(
                    "{request}: the answer is larger than the limit of {MAX_BODY_BYTES} bytes (64 MiB); reading stopped there and nothing of it was used"
                ),
            ),
            Failure::Network { detail } => FetchError::new(
                SyncErrorClass::Unavailable,
                format!(
                    "{request}: could not reach {}: {detail}{attempts}",
                    self.peer
                ),
            ),
            Failure::Unreachable { detail } => FetchError::new(
                SyncErrorClass::Unavailable,
                format!(
                    "{request}: could not reach {}: {detail} (not retried: check the configured URL and that it is reachable from here)",
                    self.peer
                ),
            ),
        }
    }
}

/// Decodes a success body, reporting any mismatch as `malformed`.
pub(crate) fn decode<T: DeserializeOwned>(request: &str, body: &[u8]) -> Result<T, FetchError> {
    serde_json::from_slice(body).map_err(|error| FetchError::malformed(request, &error))
}

fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// One attempt: send, read the answer's `Date` against `clock`, read the whole body, and sort
/// the outcome.
async fn attempt(request: RequestBuilder, clock: &PeerClock) -> Result<Vec<u8>, Failure> {
    let sent = clock.now();
    let response = request.send().await.map_err(Failure::from_reqwest)?;
    clock.read(response.headers(), sent);
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = read_body(response).await?;
    if status.is_success() {
        return Ok(body);
    }
    Err(Failure::Status {
        status,
        api_message: api_message(&body),
        retry_after,
    })
}

/// The body as it arrives, refused once it goes past [`MAX_BODY_BYTES`] (whatever length the
/// answer declared).
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Failure::from_reqwest)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Failure::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Tailscale's error text from a `{"message": "..."}` body, shortened for quoting.
fn api_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    Some(parsed.message.chars().take(MAX_QUOTED_MESSAGE).collect())
}

impl Failure {
    fn from_reqwest(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            return Failure::Timeout;
        }
        // The URL is left out (the caller names the request), and the source chain is kept
        // because it holds the actual reason, such as "Connection refused".
        let error = error.without_url();
        let mut detail = error.to_string();
        let mut unreachable = false;
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            unreachable |= cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
                || text.starts_with("dns error");
            detail.push_str(": ");
            detail.push_str(&text);
            source = cause.source();
        }
        if unreachable {
            Failure::Unreachable { detail }
        } else {
            Failure::Network { detail }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status { status, .. } => write!(f, "HTTP {status}"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Network { detail } | Failure::Unreachable { detail } => f.write_str(detail),
            Failure::TooLarge => write!(f, "a body over {MAX_BODY_BYTES} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::tailscale::types::UserList;

    /// JSON-ish bytes near the users list's shape, so the decoder is pushed past the first byte.
    fn users_like() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<Vec<u8>>(),
            "\\{\"users\": ?\\[(\\{(\"(id|loginName|role|status|created|type)\": ?(\"[a-z0-9:-]{0,12}\"|[0-9]{1,3}|null|true|\\[\\]),?){0,6}\\},?){0,3}\\]\\}?"
                .prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #[test]
        fn decoding_any_users_body_never_panics_and_failures_are_malformed(body in users_like()) {
            if let Err(error) = decode::<UserList>("GET /api/v2/tailnet/-/users", &body) {
                prop_assert_eq!(error.class, SyncErrorClass::Malformed);
                prop_assert!(error.message.starts_with("GET /api/v2/tailnet/-/users"));
            }
        }

        #[test]
        fn error_bodies_are_quoted_briefly_whatever_they_hold(body in any::<Vec<u8>>(), message in ".{0,2000}") {
            prop_assert!(api_message(&body).is_none_or(|quoted| quoted.chars().count() <= MAX_QUOTED_MESSAGE));
            let json = serde_json::json!({ "message": message }).to_string();
            let quoted = api_message(json.as_bytes());
            prop_assert!(quoted.is_some_and(|quoted| quoted.chars().count() <= MAX_QUOTED_MESSAGE));
        }
    }
}
