//! The one error type of the Tailscale client, and how HTTP outcomes map onto the ledger's
//! [`SyncErrorClass`].
//!
//! A failed sync is recorded as `SyncFailed { error_class, message }`, so every failure is
//! reduced to a class an operator can act on and a message that says what was asked, of which
//! endpoint, and what came back. Messages never contain a secret: they are built from the method,
//! the path, the status and Tailscale's own `message`, and the client scrubs its configured
//! secrets from them once more before handing them out.

use reqwest::StatusCode;

use crate::event::SyncErrorClass;

/// Why a call to the Tailscale API failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// What kind of failure this is, as recorded in `SyncFailed`.
    pub class: SyncErrorClass,
    /// What was asked, where, and why it failed; never contains a secret.
    pub message: String,
}

impl FetchError {
    pub(crate) fn new(class: SyncErrorClass, message: impl Into<String>) -> Self {
        FetchError {
            class,
            message: message.into(),
        }
    }

    /// An answer that is not the JSON the API documents.
    ///
    /// Only serde's category and position go into the message: serde's own text can quote the
    /// offending value, and in a token response that value could be the access token.
    pub(crate) fn malformed(request: &str, error: &serde_json::Error) -> Self {
        FetchError::new(
            SyncErrorClass::Malformed,
            format!(
                "{request}: the answer is not the JSON the Tailscale API documents ({:?} error at line {} column {})",
                error.classify(),
                error.line(),
                error.column()
            ),
        )
    }

    /// Puts what the caller was doing in front of the message.
    pub(crate) fn with_context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The message without the count of attempts it may end with, which differs between
    /// failures of one cause.
    pub fn without_attempts(&self) -> &str {
        match self.message.rfind(" (after ") {
            Some(at) if self.message.ends_with(" attempts)") => &self.message[..at],
            _ => &self.message,
        }
    }

    /// Replaces every occurrence of each secret in the message by `[redacted]`.
    pub(crate) fn scrubbed<'s>(mut self, secrets: impl IntoIterator<Item = &'s str>) -> Self {
        for secret in secrets {
            if !secret.is_empty() && self.message.contains(secret) {
                self.message = self.message.replace(secret, "[redacted]");
            }
        }
        self
    }
}

/// The class of a final (not retried, or retried in vain) HTTP error status.
///
/// Statuses the API does not document for these endpoints (400, 409, ...) mean the exchange did
/// not go as the documentation says, so they are reported as `malformed` rather than guessed
/// into a credential or availability problem.
pub(crate) fn class_of_status(status: StatusCode) -> SyncErrorClass {
    match status {
        StatusCode::UNAUTHORIZED => SyncErrorClass::Auth,
        StatusCode::FORBIDDEN => SyncErrorClass::Permission,
        StatusCode::NOT_FOUND => SyncErrorClass::NotFound,
        StatusCode::TOO_MANY_REQUESTS => SyncErrorClass::RateLimited,
        status if status.is_server_error() => SyncErrorClass::Unavailable,
        _ => SyncErrorClass::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_classes() {
        let expected = [
            (StatusCode::UNAUTHORIZED, SyncErrorClass::Auth),
            (StatusCode::FORBIDDEN, SyncErrorClass::Permission),
            (StatusCode::NOT_FOUND, SyncErrorClass::NotFound),
            (StatusCode::TOO_MANY_REQUESTS, SyncErrorClass::RateLimited),
            (StatusCode::BAD_GATEWAY, SyncErrorClass::Unavailable),
            (StatusCode::CONFLICT, SyncErrorClass::Malformed),
        ];
        for (status, class) in expected {
            assert_eq!(class_of_status(status), class, "{status}");
        }
    }

    #[test]
    fn the_count_of_attempts_is_left_out_on_request() {
        let error = FetchError::new(
            SyncErrorClass::Unavailable,
            "GET /x: HTTP 503 (after 7 attempts)",
        );
        assert_eq!(error.without_attempts(), "GET /x: HTTP 503");
        let error = FetchError::new(SyncErrorClass::Auth, "GET /x: HTTP 401 (after all)");
        assert_eq!(error.without_attempts(), "GET /x: HTTP 401 (after all)");
    }

    #[test]
    fn scrubbing_removes_every_occurrence() {
        let error = FetchError::new(SyncErrorClass::Auth, "token abc refused; abc again")
            .scrubbed(["abc", ""]);
        assert_eq!(error.message, "token [redacted] refused; [redacted] again");
    }
}
