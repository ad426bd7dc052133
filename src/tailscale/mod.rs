//! The Tailscale API client: the only code that talks HTTP to Tailscale.
//!
//! It lists the tailnet's users, devices and keys (`devices.rs`), reads the configuration audit
//! log (`audit_log.rs`), looks up the credential's own key, and creates and tests webhook
//! endpoints (`webhooks.rs`), authenticating with an API access token or an OAuth client,
//! retrying transient failures within a budget, and reducing every failure to a [`FetchError`]
//! whose class the ledger records in `SyncFailed`. Secrets are wrapped in [`Secret`] and never
//! appear in errors, logs or `Debug` output.

mod audit_log;
mod auth;
mod client;
mod config;
mod dates;
mod devices;
mod error;
mod retry;
mod secret;
mod transport;
mod types;
mod webhooks;

pub use audit_log::{AttributedChange, AuditEntry};
pub use auth::Credential;
pub use client::TailscaleClient;
pub use config::{ClientConfig, ClientConfigError, DEFAULT_API_BASE_URL, UserTypeFilter};
pub use dates::{PeerClock, http_date};
pub use devices::{Device, Key};
pub use error::FetchError;
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use types::{CredentialInfo, User};
pub use webhooks::CreatedWebhook;

// Truto's HRIS client shares the transport, its retry rules and the base URL check.
pub(crate) use client::parse_base_url;
pub(crate) use error::class_of_status;
pub(crate) use retry::within_budget;
pub(crate) use transport::Transport;
