//! A gRPC client of a running tailledger, for the CLI's `status`, `history` and
//! `export --server`. It hands back domain values: a `CheckReport`, verified `Entry`s.
//!
//! An `https://` server is reached over TLS, trusting the public web's roots (webpki) or, when
//! given one, only a private CA; an `http://` server in plaintext.

use std::error::Error as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Request, Status};

use super::convert::{timestamp, timestamp_arg};
use super::pb;
use super::pb::ledger_service_client::LedgerServiceClient;
use super::tls::pem_certificates;
use crate::as_of::AsOf;
use crate::checks::{CHECKS, CheckResult, CheckState, Finding, Reason, Subject};
use crate::entry::Entry;
use crate::event::SystemId;
use crate::hash::{Digest, Hash256};
use crate::service::CheckReport;
use crate::time::Timestamp;
use crate::verify::{ChainWalker, Link};

/// Why a call to the server did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{0}` is not a server URL (for example http://127.0.0.1:50051)")]
    BadUrl(String),
    #[error("a CA certificate is only used with an https:// server, not {0}")]
    CaWithoutTls(String),
    #[error("the CA certificate {} {reason}", path.display())]
    CaCertificate { path: PathBuf, reason: String },
    #[error("cannot connect to {server}: {}", causes(source))]
    Connect {
        server: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("the server refused the call ({}): {message}", code_name(*code))]
    Refused { code: tonic::Code, message: String },
    #[error("the server needs an API token: set TAILLEDGER_TOKEN or pass --token")]
    NoToken,
    #[error("the server's answer is not usable: {0}")]
    Unusable(String),
    #[error("cannot write: {0}")]
    Write(#[from] std::io::Error),
}

/// An error and its causes in one line: tonic's transport error says only "transport error",
/// and why (a refused connection, a certificate not trusted) is in its sources.
fn causes(error: &tonic::transport::Error) -> String {
    let mut said = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        // Some errors repeat their source's message as their own (`io::Error` does): say it once.
        if !said.last().is_some_and(|last| last.contains(&message)) {
            said.push(message);
        }
        source = cause.source();
    }
    said.join(": ")
}

/// The TLS settings for an `https://` server: only the CA in `ca_file` if there is one, else
/// the public web's roots.
fn tls_config(ca_file: Option<&Path>) -> Result<ClientTlsConfig, ClientError> {
    let Some(path) = ca_file else {
        return Ok(ClientTlsConfig::new().with_webpki_roots());
    };
    let refused = |reason: String| ClientError::CaCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|error| refused(format!("cannot be read: {error}")))?;
    // tonic would skip what it cannot parse and fail every handshake later with "unknown
    // issuer"; checking here says what is wrong with the file instead.
    pem_certificates(&pem).map_err(refused)?;
    Ok(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
}

/// A status code as gRPC names it (`UNAUTHENTICATED`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        // Sent without a token to a server that wants one: say how to give it.
        if status.code() == tonic::Code::Unauthenticated
            && status.message() == super::auth::AuthError::MissingHeader.to_string()
        {
            return ClientError::NoToken;
        }
        ClientError::Refused {
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

/// Adds the bearer token to every call.
#[derive(Clone)]
struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A connection to a running tailledger.
pub struct ApiClient {
    ledger: LedgerServiceClient<InterceptedService<Channel, Bearer>>,
}

impl ApiClient {
    /// Connects to `server`, sending `token` (if any) as a bearer token. An `https://` server
    /// must present a certificate issued by the CA in `ca_file` or, without one, by a public CA.
    pub async fn connect(
        server: &str,
        token: Option<&str>,
        ca_file: Option<&Path>,
    ) -> Result<Self, ClientError> {
        let connect_error = |source| ClientError::Connect {
            server: server.to_owned(),
            source,
        };
        let mut endpoint = Channel::from_shared(server.to_owned())
            .map_err(|_| ClientError::BadUrl(server.to_owned()))?;
        match endpoint.uri().scheme_str() {
            Some("https") => {
                endpoint = endpoint
                    .tls_config(tls_config(ca_file)?)
                    .map_err(connect_error)?;
            }
            _ if ca_file.is_some() => return Err(ClientError::CaWithoutTls(server.to_owned())),
            _ => {}
        }
        let channel = endpoint.connect().await.map_err(connect_error)?;
        let bearer = token
            .map(|token| {
                format!("Bearer {}", token.trim()).parse().map_err(|_| {
                    ClientError::Unusable("the token holds characters a header cannot".to_owned())
                })
            })
            .transpose()?;
        Ok(ApiClient {
            ledger: LedgerServiceClient::with_interceptor(channel, Bearer(bearer)),
        })
    }

    /// The checks of `system`, now or as of an instant.
    pub async fn status(
        &mut self,
        system: &SystemId,
        as_of: Option<AsOf>,
    ) -> Result<CheckReport, ClientError> {
        let (as_of, as_of_date) = match as_of {
            None => (None, String::new()),
            Some(AsOf::Instant(instant)) => (Some(timestamp(instant)), String::new()),
            // The server knows its roster's timezone, so it resolves the date.
            Some(date @ AsOf::Date(_)) => (None, date.to_string()),
        };
        let response = self
            .ledger
            .get_status(pb::GetStatusRequest {
                system: system.to_string(),
                as_of,
                as_of_date,
            })
            .await?
            .into_inner();
        status(response)
    }

    /// Every entry about a subject, each checked against its hash.
    pub async fn history(&mut self, subject: &str) -> Result<Vec<Entry>, ClientError> {
        let events = self
            .ledger
            .get_history(pb::GetHistoryRequest {
                subject: subject.to_owned(),
                from: None,
                to: None,
            })
            .await?
            .into_inner()
            .events;
        events
            .iter()
            .map(|event| {
                let entry = entry(event)?;
                if entry.computed_hash() != entry.hash {
                    return Err(ClientError::Unusable(format!(
                        "seq {} does not match its hash",
                        entry.seq
                    )));
                }
                Ok(entry)
            })
            .collect()
    }

    /// Streams the whole ledger into `out` as a JSON Lines export, verifying the chain as it
    /// goes; returns the digest of the last entry.
    pub async fn export(&mut self, out: &mut impl Write) -> Result<Option<Digest>, ClientError> {
        let mut stream = self
            .ledger
            .stream_events(pb::StreamEventsRequest {
                after_seq: 0,
                follow: false,
            })
            .await?
            .into_inner();
        let mut walker = ChainWalker::default();
        let mut last = None;
        while let Some(response) = stream.message().await? {
            let event = response.event.ok_or_else(|| {
                ClientError::Unusable("a stream message holds no event".to_owned())
            })?;
            let entry = entry(&event)?;
            walker
                .step(Ok(Link {
                    seq: entry.seq,
                    prev_hash: entry.prev_hash,
                    hash: entry.hash,
                    canonical_form: event.canonical_json.into_bytes(),
                }))
                .map_err(|broken| {
                    ClientError::Unusable(format!("the server sent a broken chain: {broken}"))
                })?;
            writeln!(out, "{}", entry.export_line())?;
            last = Some(entry.digest());
        }
        out.flush()?;
        Ok(last)
    }
}

fn unusable(what: impl std::fmt::Display) -> ClientError {
    ClientError::Unusable(what.to_string())
}

fn entry(event: &pb::Event) -> Result<Entry, ClientError> {
    let hash: Hash256 = event.hash.parse().map_err(unusable)?;
    Entry::from_canonical_json(&event.canonical_json, hash).map_err(unusable)
}

fn instant(
    field: &'static str,
    value: Option<prost_types::Timestamp>,
) -> Result<Option<Timestamp>, ClientError> {
    timestamp_arg(field, value).map_err(|status| unusable(status.message()))
}

fn check_state(value: i32) -> Result<CheckState, ClientError> {
    match pb::CheckState::try_from(value) {
        Ok(pb::CheckState::Passing) => Ok(CheckState::Passing),
        Ok(pb::CheckState::Failing) => Ok(CheckState::Failing),
        Ok(pb::CheckState::Due) => Ok(CheckState::Due),
        _ => Err(unusable(format!("{value} is not a check state"))),
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// A `GetStatusResponse` as the domain's `CheckReport`.
fn status(response: pb::GetStatusResponse) -> Result<CheckReport, ClientError> {
    let checks = response
        .checks
        .into_iter()
        .map(|check| {
            let (check_id, title) = CHECKS
                .into_iter()
                .find(|(id, _)| *id == check.check_id)
                .ok_or_else(|| {
                    unusable(format!(
                        "`{}` is not a check this client knows",
                        check.check_id
                    ))
                })?;
            let findings = check
                .findings
                .into_iter()
                .map(|finding| {
                    let subject = finding.subject.unwrap_or_default();
                    Ok(Finding {
                        state: check_state(finding.state)?,
                        reason: Reason::parse(&finding.reason).ok_or_else(|| {
                            unusable(format!("`{}` is not a reason code", finding.reason))
                        })?,
                        message: finding.message,
                        subject: Subject {
                            system: SystemId(subject.system),
                            account_id: non_empty(subject.account_id),
                            login_name: non_empty(subject.login_name),
                            employee_id: non_empty(subject.employee_id),
                        },
                        since: instant("since", finding.since)?.unwrap_or(Timestamp::MIN),
                        deadline: instant("deadline", finding.deadline)?,
                        evidence: finding.evidence_seqs,
                    })
                })
                .collect::<Result<Vec<_>, ClientError>>()?;
            Ok(CheckResult {
                check_id,
                title,
                state: check_state(check.state)?,
                findings,
            })
        })
        .collect::<Result<Vec<_>, ClientError>>()?;
    let head = match (response.ledger_seq, response.head_hash.as_str()) {
        (0, _) => None,
        (seq, hash) => Some(Digest {
            seq,
            hash: hash.parse().map_err(unusable)?,
        }),
    };
    Ok(CheckReport {
        evaluated_at: instant("evaluated_at", response.evaluated_at)?.unwrap_or(Timestamp::MIN),
        head,
        checks,
    })
}
