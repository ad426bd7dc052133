//! The configuration file (docs/reference/config.md#rules): read, validated at start, and turned
//! into the settings the service runs with.
//!
//! Every refusal names the file, the line, the key and why: unknown keys, bad durations or
//! addresses, an environment variable that is not set, authentication disabled on a non-loopback
//! address, a TLS certificate or key that cannot be read or used, two tokens with one name or one
//! SHA-256, an empty `data_dir` or one that is a file, an email alias that is not a domain, a
//! `sync_interval` under [`MIN_SYNC_INTERVAL`], an offboarding grace the API would refuse too
//! ([`commands::check_grace`]), a `[roster]` whose source, columns, status words, date format or
//! `[roster.truto]` table cannot be used (`config/roster.rs`), a `[webhook] listen` that is no
//! address or the gRPC port, a `[metrics] listen` that is no address or the port of another
//! listener, a `[web] listen` likewise or without tokens to sign in with, a listener bound
//! (`max_connections`, `header_timeout`, `body_timeout` of `[webhook]`, `[metrics]`, `[web]`
//! and `[tiles]`) that is no count or no duration, a `[tiles]` without a signing key, a
//! `[store] cache_capacity` that is no size (`config/store.rs`), an `[archive]` with no place,
//! two places or a bad bucket, retention or lag (`config/archive.rs`), and a
//! file that is not UTF-8 (with the byte offset). Secrets (the
//! webhook endpoint's too) never appear in the file, only the names of the environment variables
//! that hold them; their values are read once here and never printed. The TLS private key is a
//! file the configuration names; it is read and checked here, and its bytes appear in no message.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

mod access_review;
mod alerts;
mod archive;
mod checkpoint;
mod tiles;
mod witness;

use archive::RawArchive;
pub use archive::{
    ArchiveSettings, ArchiveTarget, DEFAULT_RETENTION, check_bucket_name, s3_endpoint,
};
use checkpoint::RawCheckpoint;
pub use checkpoint::{CheckpointSettings, create_signing_key, read_signing_key};

use crate::api::{Auth, Role, ServerLimits, TlsFile, TlsIdentity, TokenEntry};
use crate::checks::{CheckSettings, ReviewSettings};
use crate::commands::{self, CommandError};
use crate::event::SettingsRecord;
use crate::identity::EmailAliases;
use crate::listener::HttpLimits;
use crate::sync::{Listers, SyncOptions};
use crate::tailscale::{ClientConfig, Credential, DEFAULT_API_BASE_URL, Secret, UserTypeFilter};

mod roster;
mod store;

use access_review::RawAccessReview;
pub use roster::{RosterInput, RosterSettings};
use store::RawStore;
pub use store::StoreSettings;
pub use tiles::TilesSettings;
pub use witness::{WitnessPeer, WitnessSettings};

/// The shortest `sync_interval`: each sync lists every user, and Tailscale's API is shared with
/// everything else the tailnet's admins run.
pub const MIN_SYNC_INTERVAL: Duration = Duration::from_secs(10);

/// A configuration the service cannot run with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// The dotted key, e.g. `tailscale.sync_interval`, when one is at fault.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The access policy the configuration asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySettings {
    pub allowed_org_roles: Vec<String>,
    pub privileged_org_roles: Vec<String>,
    pub offboarding_grace_seconds: u64,
}

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub auth: Auth,
    /// The server's certificate and key; `None` serves plaintext.
    pub tls: Option<TlsIdentity>,
    /// The bounds on the server's connections (`[server]`).
    pub server: ServerLimits,
    /// How far the local clock may be from a source's `Date` and before the last entry's
    /// instant (`[server] max_clock_skew`).
    pub max_clock_skew: Duration,
    pub client: ClientConfig,
    /// Which parts of the tailnet a sync lists besides its users.
    pub listers: Listers,
    pub sync_interval: Duration,
    /// How long one sync may take, every request and retry included (`[tailscale] sync_budget`).
    pub sync_budget: Duration,
    pub sync_options: SyncOptions,
    pub checks: CheckSettings,
    pub policy: Option<PolicySettings>,
    pub roster: Option<RosterSettings>,
    /// `[checkpoint]`: the signing key and the checkpoint files.
    pub checkpoint: Option<CheckpointSettings>,
    /// The webhook endpoint (`[webhook]`); `None` serves none.
    pub webhook: Option<WebhookSettings>,
    /// How the ledger database is opened (`[store]`).
    pub store: StoreSettings,
    /// The Prometheus endpoint (`[metrics]`); `None` serves none.
    pub metrics: Option<MetricsSettings>,
    /// The web console (`[web]`); `None` serves none.
    pub web: Option<WebSettings>,
    /// `[access_review]`: the intervals and the action grace recorded on each review.
    pub access_review: ReviewSettings,
    /// `[archive]`: where the log is copied off the machine; `None` archives nothing.
    pub archive: Option<ArchiveSettings>,
    /// The tiles endpoint (`[tiles]`); `None` serves none.
    pub tiles: Option<TilesSettings>,
    /// `[alerts]`: destinations and routes; `None` sends none.
    pub alerts: Option<crate::alerts::AlertsSettings>,
    /// `[[witness]]` and `[witnesses]`: who cosigns checkpoints; `None` publishes them unwitnessed.
    pub witnesses: Option<WitnessSettings>,
}

impl Config {
    /// The recorded settings (docs/reference/config.md#recorded-settings) as this configuration
    /// sets them, for `SettingsChanged`.
    pub fn settings(&self) -> SettingsRecord {
        SettingsRecord {
            email_aliases: self.checks.email_aliases.to_record(),
            include_shared_users: self.client.user_type == UserTypeFilter::All,
            // Validated to lie in [0, 1], so the product fits.
            max_removal_fraction_millionths: (self.sync_options.max_removal_fraction * 1_000_000.0)
                .round() as u64,
            removal_guard_hold_seconds: self.sync_options.removal_guard_hold_seconds.unwrap_or(0),
            suspended_is_removed: self.checks.suspended_is_removed,
            sync_interval_seconds: self.checks.sync_interval_seconds,
            timezone: self
                .roster
                .as_ref()
                .map_or(chrono_tz::UTC, |roster| roster.timezone)
                .name()
                .to_owned(),
        }
    }
}

/// Where Tailscale's webhook deliveries are received, and the endpoint secret that signs them
/// (docs/reference/config.md#webhook). `Debug` shows the secret as `[redacted]`.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub listen: SocketAddr,
    pub secret: Secret,
    /// The bounds on its connections.
    pub limits: HttpLimits,
}

/// Where the web console listens (docs/reference/config.md#web), the bounds on its connections,
/// how long a signed-in session lasts, and the certificate it serves TLS with.
#[derive(Clone, Debug)]
pub struct WebSettings {
    pub listen: SocketAddr,
    pub limits: HttpLimits,
    /// How long a session lasts from sign-in.
    pub session_ttl: Duration,
    /// `[web.tls]`; `None` serves plain HTTP.
    pub tls: Option<TlsIdentity>,
}

/// The default `[web] session_ttl`: a working day.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// Where the Prometheus endpoint listens, and the bounds on its connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    pub listen: SocketAddr,
    pub limits: HttpLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_data_dir")]
    data_dir: Spanned<PathBuf>,
    #[serde(default = "default_listen")]
    listen: Spanned<String>,
    #[serde(default)]
    auth: RawAuth,
    tls: Option<RawTls>,
    #[serde(default)]
    server: RawServer,
    tailscale: Spanned<RawTailscale>,
    roster: Option<Spanned<roster::RawRoster>>,
    #[serde(default)]
    identity: RawIdentity,
    checkpoint: Option<RawCheckpoint>,
    webhook: Option<RawWebhook>,
    #[serde(default)]
    store: RawStore,
    metrics: Option<RawMetrics>,
    #[serde(default)]
    access_review: RawAccessReview,
    archive: Option<Spanned<RawArchive>>,
    web: Option<RawWeb>,
    tiles: Option<tiles::RawTiles>,
    alerts: Option<alerts::RawAlerts>,
    #[serde(default)]
    witness: Vec<Spanned<witness::RawWitness>>,
    witnesses: Option<Spanned<witness::RawWitnesses>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    listen: Spanned<String>,
    max_connections: Option<Spanned<i64>>,
    header_timeout: Option<Spanned<String>>,
    body_timeout: Option<Spanned<String>>,
    session_ttl: Option<Spanned<String>>,
    tls: Option<RawTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Spanned<String>,
    max_connections: Option<Spanned<i64>>,
    header_timeout: Option<Spanned<String>>,
    body_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    listen: Spanned<String>,
    #[serde(default = "default_webhook_secret_env")]
    secret_env: Spanned<String>,
    max_connections: Option<Spanned<i64>>,
    header_timeout: Option<Spanned<String>>,
    body_timeout: Option<Spanned<String>>,
}

fn default_webhook_secret_env() -> Spanned<String> {
    Spanned::new(0..0, "TAILSCALE_WEBHOOK_SECRET".to_owned())
}

fn default_data_dir() -> Spanned<PathBuf> {
    Spanned::new(0..0, PathBuf::from("tailledger-data"))
}

fn default_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:50051".to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(default = "no")]
    disabled: Spanned<bool>,
    #[serde(default)]
    tokens: Vec<Spanned<RawToken>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    role: String,
    sha256: String,
    /// The employee the token's holder is (docs/reference/api.md#auth): needed to decide access
    /// reviews.
    employee_id: Option<String>,
}

/// `[server]`: every key optional, defaulting to [`ServerLimits::default`].
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    max_connections: Option<Spanned<i64>>,
    handshake_timeout: Option<Spanned<String>>,
    idle_timeout: Option<Spanned<String>>,
    keepalive_interval: Option<Spanned<String>>,
    keepalive_timeout: Option<Spanned<String>>,
    max_concurrent_streams: Option<Spanned<i64>>,
    max_clock_skew: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_path: Spanned<PathBuf>,
    key_path: Spanned<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTailscale {
    #[serde(default = "default_tailnet")]
    tailnet: String,
    #[serde(default = "default_api_base_url")]
    api_base_url: String,
    api_token_env: Option<Spanned<String>>,
    /// The key id of the API token, when it cannot be read from the token itself.
    api_key_id: Option<String>,
    oauth_client_id_env: Option<Spanned<String>>,
    oauth_client_secret_env: Option<Spanned<String>>,
    #[serde(default = "default_sync_interval")]
    sync_interval: Spanned<String>,
    #[serde(default = "default_request_timeout")]
    request_timeout: Spanned<String>,
    /// How long a sync keeps retrying 429, 5xx and timeouts before it records `SyncFailed`.
    #[serde(default = "default_retry_budget")]
    retry_budget: Spanned<String>,
    /// How long one sync may take in all before it records `SyncFailed` (class `timeout`).
    #[serde(default = "default_sync_budget")]
    sync_budget: Spanned<String>,
    #[serde(default = "yes")]
    include_shared_users: bool,
    /// Whether each sync lists the tailnet's devices (needs `devices:core:read`).
    #[serde(default = "yes")]
    list_devices: bool,
    /// Whether each sync lists the tailnet's keys (needs `all:read`).
    #[serde(default = "yes")]
    list_keys: bool,
    /// Whether each sync reads the configuration audit log (needs `logs:configuration:read`).
    #[serde(default = "yes")]
    read_audit_log: bool,
    #[serde(default = "yes")]
    suspended_is_removed: bool,
    #[serde(default = "default_fraction")]
    max_removal_fraction: Spanned<f64>,
    /// How long withheld removals must stay unlisted before a sync releases them; `0s` leaves
    /// it to an admin.
    #[serde(default = "default_removal_guard_hold")]
    removal_guard_hold: Spanned<String>,
    access_policy: Option<Spanned<RawPolicy>>,
}

fn default_tailnet() -> String {
    "-".to_owned()
}

fn default_api_base_url() -> String {
    DEFAULT_API_BASE_URL.to_owned()
}

fn default_sync_interval() -> Spanned<String> {
    Spanned::new(0..0, "15m".to_owned())
}

fn default_request_timeout() -> Spanned<String> {
    Spanned::new(0..0, "30s".to_owned())
}

fn default_retry_budget() -> Spanned<String> {
    Spanned::new(0..0, "2m".to_owned())
}

fn default_sync_budget() -> Spanned<String> {
    Spanned::new(0..0, "30s".to_owned())
}

fn default_removal_guard_hold() -> Spanned<String> {
    Spanned::new(0..0, "24h".to_owned())
}

fn default_fraction() -> Spanned<f64> {
    Spanned::new(0..0, 0.5)
}

fn yes() -> bool {
    true
}

fn no() -> Spanned<bool> {
    Spanned::new(0..0, false)
}

impl Default for RawAuth {
    fn default() -> Self {
        RawAuth {
            disabled: no(),
            tokens: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    allowed_org_roles: Vec<String>,
    #[serde(default)]
    privileged_org_roles: Vec<String>,
    #[serde(default = "default_grace")]
    offboarding_grace: Spanned<String>,
}

fn default_grace() -> Spanned<String> {
    Spanned::new(0..0, "24h".to_owned())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    email_aliases: Option<Spanned<BTreeMap<String, String>>>,
}

/// Turns byte offsets into refusals that name the line.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> Option<usize> {
        // Defaults carry the empty span 0..0, which is no place in the file: a value written in
        // the file always comes after its key.
        if offset == 0 {
            return None;
        }
        let before = &self.text.as_bytes()[..offset.min(self.text.len())];
        Some(before.iter().filter(|byte| **byte == b'\n').count() + 1)
    }

    fn error<T>(&self, span: &Spanned<T>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: self.line_of(span.span().start),
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }

    fn duration(&self, value: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
        let duration = self.any_duration(value, key)?;
        if duration.is_zero() {
            return Err(self.error(value, key, "must be longer than zero"));
        }
        Ok(duration)
    }

    /// A duration, zero included.
    fn any_duration(&self, value: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
        humantime::parse_duration(value.get_ref()).map_err(|error| {
            self.error(
                value,
                key,
                format!(
                    "`{}` is not a duration (for example 15m, 1h30m, 24h): {error}",
                    value.get_ref()
                ),
            )
        })
    }

    /// The value of the environment variable named at `name`.
    fn secret(
        &self,
        name: &Spanned<String>,
        key: &str,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<String, ConfigError> {
        match env(name.get_ref()) {
            Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
            Some(_) => Err(self.error(name, key, format!("the environment variable {} is empty", name.get_ref()))),
            None => Err(self.error(
                name,
                key,
                format!("the environment variable {} is not set (it must hold the secret; the file only names it)", name.get_ref()),
            )),
        }
    }

    /// The certificate chain and key named by the table `section` (`tls`, `web.tls`), read and
    /// checked.
    fn tls(&self, tls: &RawTls, section: &str, base: &Path) -> Result<TlsIdentity, ConfigError> {
        let read = |path: &Spanned<PathBuf>, key: &str| {
            let full = base.join(path.get_ref());
            match crate::bounded::read_file(&full, crate::bounded::SMALL_FILE_BYTES) {
                Ok(bytes) => Ok((full, bytes)),
                Err(error) => Err(self.error(
                    path,
                    key,
                    format!("cannot read {}: {error}", full.display()),
                )),
            }
        };
        let cert_key = format!("{section}.cert_path");
        let key_key = format!("{section}.key_path");
        let (chain_file, chain) = read(&tls.cert_path, &cert_key)?;
        let (key_file, key) = read(&tls.key_path, &key_key)?;
        TlsIdentity::from_pem(chain, key).map_err(|error| {
            let (path, key, file) = match error.file {
                TlsFile::CertificateChain => (&tls.cert_path, &cert_key, &chain_file),
                TlsFile::PrivateKey => (&tls.key_path, &key_key, &key_file),
            };
            self.error(path, key, format!("{} {}", file.display(), error.reason))
        })
    }
}

impl Source<'_> {
    /// The ledger directory: not empty, and not a file.
    fn data_dir(&self, written: &Spanned<PathBuf>, base: &Path) -> Result<PathBuf, ConfigError> {
        if written.get_ref().as_os_str().is_empty() {
            return Err(self.error(
                written,
                "data_dir",
                "must not be empty: name the directory that holds the ledger (for example /var/lib/tailledger)",
            ));
        }
        let path = base.join(written.get_ref());
        let blocking = path
            .ancestors()
            .find(|ancestor| ancestor.exists() && !ancestor.is_dir());
        if let Some(file) = blocking {
            let what = if file == path {
                format!("{} is a file, not a directory", path.display())
            } else {
                format!(
                    "{} cannot be a directory: {} is a file",
                    path.display(),
                    file.display()
                )
            };
            return Err(self.error(written, "data_dir", what));
        }
        Ok(path)
    }

    /// The domain aliases, each side a domain name.
    fn email_aliases(
        &self,
        written: &Spanned<BTreeMap<String, String>>,
    ) -> Result<EmailAliases, ConfigError> {
        for (from, to) in written.get_ref() {
            for (side, domain) in [("login domain", from), ("HR domain", to)] {
                if let Err(why) = check_domain(domain) {
                    return Err(self.error(
                        written,
                        "identity.email_aliases",
                        format!("`{from}` = `{to}`: the {side} `{domain}` is not a domain name ({why}); write domains only, like \"corp.example\" = \"example.com\""),
                    ));
                }
            }
        }
        Ok(EmailAliases::new(written.get_ref().clone()))
    }
}

impl Source<'_> {
    /// The `[server]` limits, each key checked, the rest defaulted.
    fn server(&self, raw: &RawServer) -> Result<ServerLimits, ConfigError> {
        let defaults = ServerLimits::default();
        let count = |value: &Option<Spanned<i64>>, key: &str, default: usize, most: i64| {
            self.optional_count(value, key, default, most)
        };
        let duration = |value: &Option<Spanned<String>>, key: &str, default: Duration| {
            self.optional_duration(value, key, default)
        };
        let limits = ServerLimits {
            max_connections: count(
                &raw.max_connections,
                "server.max_connections",
                defaults.max_connections,
                1_000_000,
            )?,
            handshake_timeout: duration(
                &raw.handshake_timeout,
                "server.handshake_timeout",
                defaults.handshake_timeout,
            )?,
            idle_timeout: duration(
                &raw.idle_timeout,
                "server.idle_timeout",
                defaults.idle_timeout,
            )?,
            keepalive_interval: duration(
                &raw.keepalive_interval,
                "server.keepalive_interval",
                defaults.keepalive_interval,
            )?,
            keepalive_timeout: duration(
                &raw.keepalive_timeout,
                "server.keepalive_timeout",
                defaults.keepalive_timeout,
            )?,
            max_concurrent_streams: u32::try_from(count(
                &raw.max_concurrent_streams,
                "server.max_concurrent_streams",
                defaults.max_concurrent_streams as usize,
                100_000,
            )?)
            .unwrap_or(u32::MAX),
        };
        // A live client answers the keepalive pings, so it never stays silent longer than the
        // interval plus the ping's timeout; the idle timeout must leave it that long.
        if limits.idle_timeout <= limits.keepalive_interval + limits.keepalive_timeout {
            let at = raw
                .idle_timeout
                .as_ref()
                .or(raw.keepalive_interval.as_ref())
                .or(raw.keepalive_timeout.as_ref());
            let message = format!(
                "the idle timeout ({}) must be longer than keepalive_interval + keepalive_timeout ({}), or live clients waiting on a stream would be cut off",
                humantime::format_duration(limits.idle_timeout),
                humantime::format_duration(limits.keepalive_interval + limits.keepalive_timeout)
            );
            return Err(match at {
                Some(at) => self.error(at, "server.idle_timeout", message),
                None => ConfigError {
                    file: self.file.to_path_buf(),
                    line: None,
                    key: Some("server.idle_timeout".to_owned()),
                    message,
                },
            });
        }
        Ok(limits)
    }
}

impl Source<'_> {
    /// A count between 1 and `most`, or `default` when absent.
    fn optional_count(
        &self,
        value: &Option<Spanned<i64>>,
        key: &str,
        default: usize,
        most: i64,
    ) -> Result<usize, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        match usize::try_from(*value.get_ref()) {
            Ok(count) if (1..=most).contains(value.get_ref()) => Ok(count),
            _ => Err(self.error(
                value,
                key,
                format!("{} is not between 1 and {most}", value.get_ref()),
            )),
        }
    }

    /// A duration longer than zero, or `default` when absent.
    fn optional_duration(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        value
            .as_ref()
            .map_or(Ok(default), |value| self.duration(value, key))
    }

    /// The bounds of the HTTP listener of `section` (`webhook`, `metrics`), each key checked,
    /// the rest defaulted.
    fn http_limits(
        &self,
        section: &str,
        max_connections: &Option<Spanned<i64>>,
        header_timeout: &Option<Spanned<String>>,
        body_timeout: &Option<Spanned<String>>,
    ) -> Result<HttpLimits, ConfigError> {
        let defaults = HttpLimits::default();
        Ok(HttpLimits {
            max_connections: self.optional_count(
                max_connections,
                &format!("{section}.max_connections"),
                defaults.max_connections,
                1_000_000,
            )?,
            header_timeout: self.optional_duration(
                header_timeout,
                &format!("{section}.header_timeout"),
                defaults.header_timeout,
            )?,
            body_timeout: self.optional_duration(
                body_timeout,
                &format!("{section}.body_timeout"),
                defaults.body_timeout,
            )?,
        })
    }

    /// `[metrics]`: an address of its own (not another listener's port) and its bounds.
    fn metrics(
        &self,
        raw: &RawMetrics,
        taken: &[(&str, SocketAddr)],
    ) -> Result<MetricsSettings, ConfigError> {
        Ok(MetricsSettings {
            listen: self.own_address(&raw.listen, "metrics.listen", taken)?,
            limits: self.http_limits(
                "metrics",
                &raw.max_connections,
                &raw.header_timeout,
                &raw.body_timeout,
            )?,
        })
    }

    /// `[web]`: an address of its own, its bounds and the session lifetime; the console signs
    /// people in with the API's tokens, so it needs some.
    fn web(
        &self,
        raw: &RawWeb,
        taken: &[(&str, SocketAddr)],
        auth: &Auth,
        base: &Path,
    ) -> Result<WebSettings, ConfigError> {
        if *auth == Auth::Disabled {
            return Err(self.error(
                &raw.listen,
                "web.listen",
                "the web console signs people in with the API's tokens, and `auth.disabled` leaves none: configure `[auth] tokens`",
            ));
        }
        let session_ttl =
            self.optional_duration(&raw.session_ttl, "web.session_ttl", DEFAULT_SESSION_TTL)?;
        if session_ttl < Duration::from_secs(60) || session_ttl > Duration::from_secs(30 * 86_400) {
            let span = raw.session_ttl.as_ref().unwrap_or(&raw.listen);
            return Err(self.error(
                span,
                "web.session_ttl",
                "must be between 1 minute and 30 days",
            ));
        }
        Ok(WebSettings {
            listen: self.own_address(&raw.listen, "web.listen", taken)?,
            limits: self.http_limits(
                "web",
                &raw.max_connections,
                &raw.header_timeout,
                &raw.body_timeout,
            )?,
            session_ttl,
            tls: raw
                .tls
                .as_ref()
                .map(|tls| self.tls(tls, "web.tls", base))
                .transpose()?,
        })
    }

    /// `[webhook]`: an address of its own (not the gRPC one) and the secret from the
    /// environment.
    fn webhook(
        &self,
        raw: &RawWebhook,
        grpc: SocketAddr,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<WebhookSettings, ConfigError> {
        let listen = self.own_address(&raw.listen, "webhook.listen", &[("listen", grpc)])?;
        let secret = self.secret(&raw.secret_env, "webhook.secret_env", env)?;
        let limits = self.http_limits(
            "webhook",
            &raw.max_connections,
            &raw.header_timeout,
            &raw.body_timeout,
        )?;
        Ok(WebhookSettings {
            listen,
            secret: Secret::new(secret),
            limits,
        })
    }

    /// An address an endpoint of its own listens on: refused when it is none, or when its port
    /// is that of another listener (`taken`: the key and its address).
    fn own_address(
        &self,
        written: &Spanned<String>,
        key: &str,
        taken: &[(&str, SocketAddr)],
    ) -> Result<SocketAddr, ConfigError> {
        let listen: SocketAddr = written.get_ref().parse().map_err(|_| {
            self.error(
                written,
                key,
                format!(
                    "`{}` is not an address and port (for example 127.0.0.1:8443)",
                    written.get_ref()
                ),
            )
        })?;
        for (other, address) in taken {
            if listen.port() != 0 && listen.port() == address.port() {
                return Err(self.error(
                    written,
                    key,
                    format!("{listen} uses the port of `{other}` ({address}); this endpoint needs a port of its own"),
                ));
            }
        }
        Ok(listen)
    }
}

/// Why `domain` is not a domain name: two or more dot-separated labels of letters, digits and
/// inner hyphens, 253 bytes at most.
fn check_domain(domain: &str) -> Result<(), &'static str> {
    if domain.contains('@') {
        return Err("it holds an `@`: an alias maps domains, not addresses");
    }
    if domain.len() > 253 {
        return Err("it is longer than 253 bytes");
    }
    if !domain
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.')
    {
        return Err("only letters, digits, hyphens and dots are allowed");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("it has no dot");
    }
    for label in labels {
        if label.is_empty() || label.len() > 63 {
            return Err("each part between dots must be 1 to 63 characters");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a part cannot start or end with a hyphen");
        }
    }
    Ok(())
}

impl Config {
    /// Reads and validates the configuration at `file`, taking secrets from `env`. Relative
    /// paths in the file are relative to the file's directory.
    pub fn load(file: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let refusal = |line, message| ConfigError {
            file: file.to_path_buf(),
            line,
            key: None,
            message,
        };
        let bytes = crate::bounded::read_file(file, crate::bounded::SMALL_FILE_BYTES)
            .map_err(|error| refusal(None, format!("cannot be read: {error}")))?;
        let text = String::from_utf8(bytes).map_err(|error| {
            let offset = error.utf8_error().valid_up_to();
            let before = &error.as_bytes()[..offset];
            let line = before.iter().filter(|byte| **byte == b'\n').count() + 1;
            refusal(
                Some(line),
                format!(
                    "is not UTF-8: the byte at offset {offset} (0x{:02x}) does not start a UTF-8 character; save the file as UTF-8",
                    error.as_bytes()[offset]
                ),
            )
        })?;
        let base = file.parent().unwrap_or(Path::new("."));
        Self::parse(file, &text, base, env)
    }

    /// Validates configuration text; `file` names it in errors and `base` anchors relative paths.
    pub fn parse(
        file: &Path,
        text: &str,
        base: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let source = Source { file, text };
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError {
            file: file.to_path_buf(),
            line: error
                .span()
                .and_then(|span| source.line_of(span.start.max(1))),
            key: None,
            message: error.message().trim().to_owned(),
        })?;

        let listen: SocketAddr = raw.listen.get_ref().parse().map_err(|_| {
            source.error(
                &raw.listen,
                "listen",
                format!(
                    "`{}` is not an address and port (for example 127.0.0.1:50051)",
                    raw.listen.get_ref()
                ),
            )
        })?;
        let auth = if *raw.auth.disabled.get_ref() {
            if !listen.ip().is_loopback() {
                return Err(source.error(
                    &raw.auth.disabled,
                    "auth.disabled",
                    format!("authentication may only be disabled when `listen` is a loopback address, not {listen}"),
                ));
            }
            Auth::Disabled
        } else {
            let tokens = raw
                .auth
                .tokens
                .iter()
                .map(|token| {
                    let role = match token.get_ref().role.as_str() {
                        "auditor" => Role::Auditor,
                        "admin" => Role::Admin,
                        "reviewer" => Role::Reviewer,
                        other => return Err(source.error(token, "auth.tokens.role", format!("`{other}` is not a role (auditor, admin or reviewer)"))),
                    };
                    let employee_id = token.get_ref().employee_id.as_deref().map(str::trim);
                    if employee_id == Some("") {
                        return Err(source.error(token, "auth.tokens.employee_id", "must not be empty: name the token holder's employee id, or leave the key out"));
                    }
                    if role == Role::Reviewer && employee_id.is_none() {
                        return Err(source.error(token, "auth.tokens.employee_id", "is required for role reviewer: a reviewer decides as the employee it names"));
                    }
                    let sha256 = token.get_ref().sha256.parse().map_err(|_| {
                        source.error(token, "auth.tokens.sha256", "is not 64 lowercase hex characters (make one with `tailledger hash-token`)")
                    })?;
                    let name = token.get_ref().name.trim();
                    if name.is_empty() {
                        return Err(source.error(token, "auth.tokens.name", "must not be empty"));
                    }
                    Ok(TokenEntry { name: name.to_owned(), role, sha256, employee_id: employee_id.map(str::to_owned) })
                })
                .collect::<Result<Vec<_>, _>>()?;
            // Each name is an actor in the ledger (`api:<name>`) and each hash one caller: a
            // repeat would make one caller's writes look like another's, or give one token two
            // roles of which the first would silently win.
            for (index, token) in tokens.iter().enumerate() {
                let earlier = &tokens[..index];
                if earlier.iter().any(|other| other.name == token.name) {
                    return Err(source.error(&raw.auth.tokens[index], "auth.tokens.name", format!("`{}` names two tokens; each token needs its own name, which the ledger records as the actor `api:{}`", token.name, token.name)));
                }
                if let Some(other) = earlier.iter().find(|other| other.sha256 == token.sha256) {
                    return Err(source.error(&raw.auth.tokens[index], "auth.tokens.sha256", format!("is the same as token `{}`'s: one token cannot be two callers; make a new one with `tailledger hash-token`", other.name)));
                }
            }
            if tokens.is_empty() {
                return Err(ConfigError {
                    file: file.to_path_buf(),
                    line: None,
                    key: Some("auth.tokens".to_owned()),
                    message: "no token is configured, so nobody could call the API; add one (see `tailledger hash-token`) or set `auth.disabled = true` on a loopback address".to_owned(),
                });
            }
            Auth::Tokens(tokens)
        };
        // TLS protects tokens on the wire but says nothing about who may call, so it changes
        // none of the rules above.
        let tls = raw
            .tls
            .map(|tls| source.tls(&tls, "tls", base))
            .transpose()?;

        let tailscale = raw.tailscale.get_ref();
        let credential = match (
            &tailscale.api_token_env,
            &tailscale.oauth_client_id_env,
            &tailscale.oauth_client_secret_env,
        ) {
            (Some(token), None, None) => Credential::ApiToken {
                token: Secret::new(source.secret(token, "tailscale.api_token_env", &env)?),
                key_id: tailscale.api_key_id.clone(),
            },
            (None, Some(id), Some(secret)) => Credential::OauthClient {
                client_id: source.secret(id, "tailscale.oauth_client_id_env", &env)?,
                client_secret: Secret::new(source.secret(
                    secret,
                    "tailscale.oauth_client_secret_env",
                    &env,
                )?),
            },
            _ => {
                return Err(source.error(
                    &raw.tailscale,
                    "tailscale",
                    "set either `api_token_env`, or both `oauth_client_id_env` and `oauth_client_secret_env` (an OAuth client is preferred)",
                ));
            }
        };
        let mut client = ClientConfig::new(credential);
        client.api_base_url = tailscale.api_base_url.clone();
        client.tailnet = tailscale.tailnet.clone();
        client.user_type = if tailscale.include_shared_users {
            UserTypeFilter::All
        } else {
            UserTypeFilter::Member
        };
        client.request_timeout =
            source.duration(&tailscale.request_timeout, "tailscale.request_timeout")?;
        client.retry.budget = source.duration(&tailscale.retry_budget, "tailscale.retry_budget")?;
        let sync_interval = source.duration(&tailscale.sync_interval, "tailscale.sync_interval")?;
        let sync_budget = source.duration(&tailscale.sync_budget, "tailscale.sync_budget")?;
        if sync_interval < MIN_SYNC_INTERVAL {
            return Err(source.error(
                &tailscale.sync_interval,
                "tailscale.sync_interval",
                format!(
                    "`{}` is too short: syncs list every user from Tailscale's API, so they run at most every {}",
                    tailscale.sync_interval.get_ref(),
                    humantime::format_duration(MIN_SYNC_INTERVAL)
                ),
            ));
        }
        let fraction = *tailscale.max_removal_fraction.get_ref();
        if !(0.0..=1.0).contains(&fraction) {
            return Err(source.error(
                &tailscale.max_removal_fraction,
                "tailscale.max_removal_fraction",
                format!("{fraction} is not between 0 and 1"),
            ));
        }
        let hold = &tailscale.removal_guard_hold;
        let removal_guard_hold_seconds = match humantime::parse_duration(hold.get_ref()) {
            Ok(duration) if duration.is_zero() => None,
            Ok(duration) => Some(duration.as_secs()),
            Err(error) => {
                return Err(source.error(
                    hold,
                    "tailscale.removal_guard_hold",
                    format!(
                        "`{}` is not a duration (for example 24h, or 0s to release withheld removals only by an admin): {error}",
                        hold.get_ref()
                    ),
                ));
            }
        };
        let policy = tailscale
            .access_policy
            .as_ref()
            .map(|policy| {
                let key = "tailscale.access_policy.offboarding_grace";
                let written = &policy.get_ref().offboarding_grace;
                let grace = source.any_duration(written, key)?;
                commands::check_grace(grace.as_secs()).map_err(|error| match error {
                    CommandError::InvalidArgument { reason, .. } => {
                        source.error(written, key, reason)
                    }
                    other => source.error(written, key, other.to_string()),
                })?;
                Ok(PolicySettings {
                    allowed_org_roles: policy.get_ref().allowed_org_roles.clone(),
                    privileged_org_roles: policy.get_ref().privileged_org_roles.clone(),
                    offboarding_grace_seconds: grace.as_secs(),
                })
            })
            .transpose()?;
        let roster = raw
            .roster
            .as_ref()
            .map(|roster| source.roster(roster, base, &env))
            .transpose()?;

        let data_dir = source.data_dir(&raw.data_dir, base)?;
        let email_aliases = match &raw.identity.email_aliases {
            Some(aliases) => source.email_aliases(aliases)?,
            None => EmailAliases::new([]),
        };
        let server = source.server(&raw.server)?;
        let max_clock_skew = raw
            .server
            .max_clock_skew
            .as_ref()
            .map_or(Ok(crate::skew::DEFAULT_MAX_CLOCK_SKEW), |value| {
                source.duration(value, "server.max_clock_skew")
            })?;
        let checkpoint = raw
            .checkpoint
            .as_ref()
            .map(|checkpoint| source.checkpoint(checkpoint, base))
            .transpose()?;
        let webhook = raw
            .webhook
            .as_ref()
            .map(|webhook| source.webhook(webhook, listen, &env))
            .transpose()?;
        let store = source.store(&raw.store)?;
        let archive = raw
            .archive
            .as_ref()
            .map(|archive| source.archive(archive, base, checkpoint.is_some(), &env))
            .transpose()?;
        let access_review = source.access_review(&raw.access_review)?;
        let alerts = raw
            .alerts
            .as_ref()
            .map(|alerts| source.alerts(alerts, base, &env))
            .transpose()?;
        let mut taken = vec![("listen", listen)];
        if let Some(webhook) = &webhook {
            taken.push(("webhook.listen", webhook.listen));
        }
        let metrics = raw
            .metrics
            .as_ref()
            .map(|metrics| source.metrics(metrics, &taken))
            .transpose()?;
        if let Some(metrics) = &metrics {
            taken.push(("metrics.listen", metrics.listen));
        }
        let web = raw
            .web
            .as_ref()
            .map(|web| source.web(web, &taken, &auth, base))
            .transpose()?;
        if let Some(web) = &web {
            taken.push(("web.listen", web.listen));
        }
        let tiles = raw
            .tiles
            .as_ref()
            .map(|tiles| source.tiles(tiles, &taken, checkpoint.is_some()))
            .transpose()?;
        let witnesses =
            source.witnesses(&raw.witness, raw.witnesses.as_ref(), checkpoint.is_some())?;
        Ok(Config {
            data_dir,
            listen,
            auth,
            tls,
            server,
            max_clock_skew,
            client,
            listers: Listers {
                devices: tailscale.list_devices,
                keys: tailscale.list_keys,
                audit_log: tailscale.read_audit_log,
            },
            sync_interval,
            sync_budget,
            sync_options: SyncOptions {
                max_removal_fraction: fraction,
                removal_guard_hold_seconds,
                ..SyncOptions::default()
            },
            checks: CheckSettings {
                email_aliases,
                suspended_is_removed: tailscale.suspended_is_removed,
                sync_interval_seconds: sync_interval.as_secs(),
            },
            policy,
            roster,
            checkpoint,
            webhook,
            store,
            metrics,
            access_review,
            archive,
            web,
            tiles,
            alerts,
            witnesses,
        })
    }
}
