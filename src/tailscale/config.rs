//! What a [`TailscaleClient`](super::TailscaleClient) is built from, with Tailscale's defaults.

use std::time::Duration;

use super::auth::Credential;
use super::retry::RetryPolicy;

/// Tailscale's API endpoint.
pub const DEFAULT_API_BASE_URL: &str = "https://api.tailscale.com";

/// Which users the list asks for (Tailscale's `type` query parameter).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum UserTypeFilter {
    /// Members and users shared into the tailnet.
    #[default]
    All,
    /// Members only; users shared in from other tailnets are left out.
    Member,
    /// Users shared in from other tailnets only.
    Shared,
}

impl UserTypeFilter {
    /// The value of the `type` query parameter.
    pub fn as_query(self) -> &'static str {
        match self {
            UserTypeFilter::All => "all",
            UserTypeFilter::Member => "member",
            UserTypeFilter::Shared => "shared",
        }
    }
}

/// Everything a client needs. [`ClientConfig::new`] fills in Tailscale's defaults.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Scheme, host and port of the API, without `/api/v2`.
    pub api_base_url: String,
    /// `-` (the credential's own tailnet), a tailnet id, or a legacy tailnet name.
    pub tailnet: String,
    pub user_type: UserTypeFilter,
    pub credential: Credential,
    /// The longest wait for one complete answer, body included.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// A configuration for Tailscale's real API and the credential's own tailnet, listing all
    /// users, with a 30 s request timeout and the default retry policy.
    pub fn new(credential: Credential) -> Self {
        ClientConfig {
            api_base_url: DEFAULT_API_BASE_URL.to_owned(),
            tailnet: "-".to_owned(),
            user_type: UserTypeFilter::All,
            credential,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// Why a client could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    #[error("api_base_url `{url}` is not an http(s) URL: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error(
        "the API token does not have the form tskey-api-<keyId>-<secret>, so its key id cannot be read from it; configure the key id"
    )]
    UnknownKeyId,
    #[error("the tailnet name is empty; use `-` for the credential's own tailnet")]
    EmptyTailnet,
    #[error("the HTTP client could not be set up: {0}")]
    HttpClient(String),
}
