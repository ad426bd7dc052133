//! The roster from Truto's unified HRIS API (docs/reference/sync.md#truto; the API as Truto
//! documents it): the only code that talks HTTP to Truto.
//!
//! [`TrutoSource::read`] lists `GET /unified/hris/employees` and `…/employments` for the
//! configured integrated account, following `next_cursor` page by page, through the Tailscale
//! client's transport (429 and 5xx retried with backoff, honouring `Retry-After`; 401/403/404,
//! a name that does not resolve and a refused connection not retried). Every request of one read
//! shares one time budget ([`TrutoConfig::budget`]), retries included, so a failing HR system
//! holds a sync cycle for that long at most. A page that fails, is cut short, is not Truto's
//! envelope, or names a cursor the listing has already followed fails the whole read, so nothing
//! of a partial listing is ever imported. The mapping onto
//! roster rows is pure and lives in `roster`; this module only fetches. The token is a
//! [`Secret`] and is scrubbed from every error.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use crate::event::SyncErrorClass;
use crate::hash::Hash256;
use crate::roster::{OrgRoleFrom, Roster, RosterErrors, TrutoListing, roster_from_truto};
use crate::tailscale::{
    ClientConfigError, FetchError, RetryPolicy, Secret, Transport, class_of_status, parse_base_url,
    within_budget,
};

/// How long one read of the roster may take, every page and retry included.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(30);

/// Truto's API endpoint.
pub const DEFAULT_API_BASE_URL: &str = "https://api.truto.one";

/// The most pages one listing may have; a cursor that never ends is a broken answer.
pub const MAX_PAGES: u32 = 100_000;

/// What a 404 from Truto can mean.
const NOT_FOUND_HINT: &str = "a 404 means Truto knows no such integrated account, or its integration does not offer the unified HRIS employees and employments";

/// Everything a [`TrutoSource`] needs (`[roster.truto]`).
#[derive(Clone, Debug)]
pub struct TrutoConfig {
    /// Scheme, host and port of the API, without `/unified`.
    pub api_base_url: String,
    pub integrated_account_id: String,
    pub token: Secret,
    pub org_role_from: OrgRoleFrom,
    /// The longest wait for one complete page, body included.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// The time one read (both listings, every page, every retry) may take.
    pub budget: Duration,
}

impl TrutoConfig {
    /// Truto's real API with a 30 s request timeout, the default retry policy and a read budget
    /// of [`DEFAULT_BUDGET`].
    pub fn new(integrated_account_id: String, token: Secret) -> Self {
        TrutoConfig {
            api_base_url: DEFAULT_API_BASE_URL.to_owned(),
            integrated_account_id,
            token,
            org_role_from: OrgRoleFrom::default(),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            budget: DEFAULT_BUDGET,
        }
    }
}

/// One roster read from Truto: the roster it states (or every problem of it) and the SHA-256 of
/// the pages it was read from, which names this listing in `RosterRejected`.
#[derive(Debug)]
pub struct TrutoRead {
    pub roster: Result<Roster, RosterErrors>,
    pub sha256: Hash256,
}

/// The configured integrated account's HRIS, read as a roster.
#[derive(Debug)]
pub struct TrutoSource {
    transport: Transport,
    base: Url,
    integrated_account_id: String,
    token: Secret,
    org_role_from: OrgRoleFrom,
    budget: Duration,
}

/// Truto's list envelope; the other members (`prev_cursor`, `result_count`, …) are not needed.
#[derive(Deserialize)]
struct Page<T> {
    result: Vec<T>,
    #[serde(default)]
    next_cursor: Option<String>,
}

impl TrutoSource {
    /// Builds a source; no request is made until [`TrutoSource::read`].
    pub fn new(config: TrutoConfig) -> Result<Self, ClientConfigError> {
        let base = parse_base_url(&config.api_base_url)?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .user_agent(concat!("tailledger/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ClientConfigError::HttpClient(error.to_string()))?;
        Ok(TrutoSource {
            transport: Transport::for_peer("Truto", http, config.retry, config.request_timeout),
            base,
            integrated_account_id: config.integrated_account_id,
            token: config.token,
            org_role_from: config.org_role_from,
            budget: config.budget,
        })
    }

    /// Reads the `Date` of Truto's answers against `clock` (the service's) from now on.
    pub fn use_clock(&mut self, clock: std::sync::Arc<dyn crate::time::Clock>) {
        self.transport.clock.use_clock(clock);
    }

    /// The answer whose `Date` differed most from the local clock since the last call.
    pub fn take_date_reading(&self) -> Option<crate::skew::DateReading> {
        self.transport.clock.take()
    }

    /// Lists every employee and employment, then maps them onto a roster whose date-only end
    /// dates are read in `timezone`, all within the read's budget.
    pub async fn read(&self, timezone: chrono_tz::Tz) -> Result<TrutoRead, FetchError> {
        let mut digest = Sha256::new();
        let (employees, employments) = within_budget(self.budget, async {
            let employees = self.list("employees", &mut digest).await?;
            let employments = self.list("employments", &mut digest).await?;
            Ok::<_, FetchError>((employees, employments))
        })
        .await
        .map_err(|over| {
            FetchError::new(
                SyncErrorClass::Timeout,
                format!(
                    "Truto: the listing of employees and employments did not finish within the read's budget of {}",
                    humantime::format_duration(over.budget)
                ),
            )
        })??;
        let listing = TrutoListing {
            employees,
            employments,
        };
        Ok(TrutoRead {
            roster: roster_from_truto(&listing, self.org_role_from, timezone),
            sha256: Hash256(digest.finalize().into()),
        })
    }

    /// Every record of `resource`, page after page until `next_cursor` is null; the page bodies
    /// go into `digest`.
    async fn list<T: DeserializeOwned>(
        &self,
        resource: &str,
        digest: &mut Sha256,
    ) -> Result<Vec<T>, FetchError> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        let mut followed = HashSet::new();
        for page in 1..=MAX_PAGES {
            let mut url = self.base.clone();
            url.path_segments_mut()
                .expect("an http(s) URL can have path segments")
                .pop_if_empty()
                .extend(["unified", "hris", resource]);
            url.query_pairs_mut()
                .append_pair("integrated_account_id", &self.integrated_account_id);
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair("next_cursor", cursor);
            }
            let request = format!("GET {} (page {page})", url.path());
            let body = self
                .transport
                .execute(&request, || {
                    self.transport
                        .http
                        .get(url.clone())
                        .bearer_auth(self.token.expose())
                })
                .await
                .map_err(|failed| {
                    self.transport
                        .describe(&request, &failed, class_of_status, Some(NOT_FOUND_HINT))
                        .scrubbed([self.token.expose()])
                })?;
            digest.update(&body);
            let decoded: Page<T> = serde_json::from_slice(&body).map_err(|error| {
                FetchError::new(
                    SyncErrorClass::Malformed,
                    format!(
                        "{request}: the answer is not the list Truto documents (`result` and `next_cursor`; {:?} error at line {} column {}), so nothing of the listing was imported",
                        error.classify(),
                        error.line(),
                        error.column()
                    ),
                )
            })?;
            records.extend(decoded.result);
            match decoded.next_cursor.filter(|next| !next.is_empty()) {
                None => return Ok(records),
                Some(next) if !followed.insert(next.clone()) => {
                    return Err(FetchError::new(
                        SyncErrorClass::Malformed,
                        format!(
                            "{request}: Truto sent a next_cursor this listing has already followed, so the listing would never end"
                        ),
                    ));
                }
                Some(next) => cursor = Some(next),
            }
        }
        Err(FetchError::new(
            SyncErrorClass::Malformed,
            format!(
                "GET /unified/hris/{resource}: more than {MAX_PAGES} pages; the listing does not end"
            ),
        ))
    }
}
