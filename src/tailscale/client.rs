//! [`TailscaleClient`]: the calls the ledger makes to Tailscale's API.

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::auth::Authenticator;
use super::config::{ClientConfig, ClientConfigError, UserTypeFilter};
use super::error::{FetchError, class_of_status};
use super::secret::Secret;
use super::transport::{Transport, decode};
use super::types::{CredentialInfo, KeyBody, User, UserList};

/// What a 404 on the users list can mean besides a wrong tailnet (as Tailscale's API documentation
/// of the users list says; docs/reference/sync.md#faults).
const USERS_NOT_FOUND_HINT: &str = "on the users list a 404 can also mean the credential may not read users (it needs the users:read scope)";

/// A client of Tailscale's API for one tailnet and one credential.
#[derive(Debug)]
pub struct TailscaleClient {
    transport: Transport,
    auth: Authenticator,
    base: Url,
    tailnet: String,
    user_type: UserTypeFilter,
}

impl TailscaleClient {
    /// Builds a client; no request is made until a method is called.
    pub fn new(config: ClientConfig) -> Result<Self, ClientConfigError> {
        let base = parse_base_url(&config.api_base_url)?;
        if config.tailnet.is_empty() {
            return Err(ClientConfigError::EmptyTailnet);
        }
        let auth = Authenticator::new(config.credential).ok_or(ClientConfigError::UnknownKeyId)?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .user_agent(concat!("tailledger/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ClientConfigError::HttpClient(error.to_string()))?;
        Ok(TailscaleClient {
            transport: Transport::new(http, config.retry, config.request_timeout),
            auth,
            base,
            tailnet: config.tailnet,
            user_type: config.user_type,
        })
    }

    /// Reads the `Date` of Tailscale's answers against `clock` (the service's) from now on.
    pub fn use_clock(&mut self, clock: std::sync::Arc<dyn crate::time::Clock>) {
        self.transport.clock.use_clock(clock);
    }

    /// The answer whose `Date` differed most from the local clock since the last call.
    pub fn take_date_reading(&self) -> Option<crate::skew::DateReading> {
        self.transport.clock.take()
    }

    /// The id of the credential's key (for an OAuth client, the client id); not a secret.
    pub fn credential_id(&self) -> &str {
        self.auth.key_id()
    }

    /// Every user of the tailnet that the configured type filter selects.
    pub async fn list_users(&self) -> Result<Vec<User>, FetchError> {
        let mut url = self.url(&["tailnet", &self.tailnet, "users"]);
        url.query_pairs_mut()
            .append_pair("type", self.user_type.as_query());
        let list: UserList = self.get(url, Some(USERS_NOT_FOUND_HINT)).await?;
        Ok(list.users)
    }

    /// The id, kind and expiry of the credential in use, as Tailscale reports its key.
    pub async fn credential_info(&self) -> Result<CredentialInfo, FetchError> {
        let url = self.url(&["tailnet", &self.tailnet, "keys", self.auth.key_id()]);
        let key: KeyBody = self.get(url, None).await?;
        Ok(CredentialInfo {
            id: key.id,
            kind: self.auth.kind(),
            expires_at: key.expires,
            invalid: key.invalid,
        })
    }

    /// The tailnet this client reads.
    pub(super) fn tailnet(&self) -> &str {
        &self.tailnet
    }

    /// `{base}/api/v2/` followed by the given path segments, each percent-encoded.
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // `parse_base_url` accepted only http(s) URLs, which always have a path to extend.
        url.path_segments_mut()
            .expect("an http(s) URL can have path segments")
            .pop_if_empty()
            .extend(["api", "v2"])
            .extend(segments);
        url
    }

    /// GETs `url` with the credential and decodes the JSON answer; every error is scrubbed of
    /// the configured secret before it leaves the client.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        not_found_hint: Option<&str>,
    ) -> Result<T, FetchError> {
        let (request, body, bearer) = self.call(Method::GET, url, None, not_found_hint).await?;
        decode(&request, &body).map_err(|error| self.scrub(error, &bearer))
    }

    /// Sends `method` to `url` with the credential (and `json` as the body), retried as the
    /// transport retries; returns the request's name, the answer's body and the bearer used.
    pub(super) async fn call(
        &self,
        method: Method,
        url: Url,
        json: Option<&serde_json::Value>,
        not_found_hint: Option<&str>,
    ) -> Result<(String, Vec<u8>, Secret), FetchError> {
        let bearer = self.bearer().await?;
        let request = match url.query() {
            Some(query) => format!("{method} {}?{query}", url.path()),
            None => format!("{method} {}", url.path()),
        };
        let outcome = self
            .transport
            .execute(&request, || {
                let builder = self
                    .transport
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(bearer.expose());
                match json {
                    Some(json) => builder.json(json),
                    None => builder,
                }
            })
            .await;
        match outcome {
            Ok(body) => Ok((request, body, bearer)),
            Err(failed) => {
                if failed.status() == Some(StatusCode::UNAUTHORIZED) {
                    self.auth.forget_access_token().await;
                }
                let error =
                    self.transport
                        .describe(&request, &failed, class_of_status, not_found_hint);
                Err(self.scrub(error, &bearer))
            }
        }
    }

    async fn bearer(&self) -> Result<Secret, FetchError> {
        let token_url = self.url(&["oauth", "token"]);
        self.auth
            .bearer(&self.transport, token_url)
            .await
            .map_err(|error| error.scrubbed([self.auth.configured_secret()]))
    }

    pub(super) fn scrub(&self, error: FetchError, bearer: &Secret) -> FetchError {
        error.scrubbed([self.auth.configured_secret(), bearer.expose()])
    }
}

/// An http(s) URL, or why `text` is not one.
pub(crate) fn parse_base_url(text: &str) -> Result<Url, ClientConfigError> {
    let invalid = |reason: String| ClientConfigError::InvalidBaseUrl {
        url: text.to_owned(),
        reason,
    };
    let url = Url::parse(text).map_err(|error| invalid(error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("the scheme is `{}`", url.scheme())));
    }
    Ok(url)
}
