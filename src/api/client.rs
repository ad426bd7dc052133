//! A gRPC client of a running tailledger, for the CLI's online commands: the readers (`status`,
//! `history`, `accounts`, `employees`, `report`, `digest`, `verify --server`, `export
//! --server`) and `admin`. It hands back domain values: a `CheckReport`, verified `Entry`s, a
//! `SyncReport`, listed accounts and employees (every page of them), report rows.
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

use super::convert::{duration, timestamp, timestamp_arg};
use super::pb;
use super::pb::admin_service_client::AdminServiceClient;
use super::pb::ledger_service_client::LedgerServiceClient;
use super::tls::pem_certificates;
use crate::as_of::AsOf;
use crate::checks::{CHECKS, CheckResult, CheckState, Finding, Reason, Subject};
use crate::commands::ExceptionRequest;
use crate::entry::Entry;
use crate::event::{
    AccountSnapshot, ChangeActor, Classification, Coverage, EmployeeRecord, SyncErrorClass,
    SystemId,
};
use crate::hash::{Digest, Hash256};
use crate::identity::LinkKind;
use crate::ledger::Appended;
use crate::projection::{EmployeeStatus, ExceptionState, Mark};
use crate::report::{OffboardingRow, Removal};
use crate::roster::ImportSummary;
use crate::service::{CheckReport, ListedException};
use crate::sync::{SyncOutcome, SyncReport};
use crate::time::Timestamp;
use crate::verify::{ChainWalker, Link};

mod proofs;
mod reviews;
mod timeline;

pub use proofs::open_checkpoint;
pub use reviews::{ListedReview, StartedReview};

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
    #[error("the server's answer is not proven by the signed checkpoint: {0}")]
    NotProven(String),
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
    let pem = crate::bounded::read_file(path, crate::bounded::SMALL_FILE_BYTES)
        .map_err(|error| refused(format!("cannot be read: {error}")))?;
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

/// The largest answer the client accepts: the server's own limit. Lists come in pages of at
/// most 3 MiB; a sync or an import may carry more.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

type Authorised = InterceptedService<Channel, Bearer>;

/// A connection to a running tailledger.
pub struct ApiClient {
    ledger: LedgerServiceClient<Authorised>,
    admin: AdminServiceClient<Authorised>,
}

/// An account as `ListAccounts` tells it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ListedAccount {
    #[serde(flatten)]
    pub account: AccountSnapshot,
    pub holds_access: bool,
    /// The employee it belongs to, and how the link was made.
    pub link: Option<AccountLink>,
    pub classification: Option<AccountClassification>,
    pub first_seen: Timestamp,
    pub removed_at: Option<Timestamp>,
    /// The reasons of the checks' findings about it; empty when its access is valid.
    pub findings: Vec<Reason>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AccountLink {
    pub employee_id: String,
    pub kind: LinkKind,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AccountClassification {
    pub classification: Classification,
    pub owner_employee_id: Option<String>,
    pub reason: String,
}

/// An employee as `ListEmployees` tells it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ListedEmployee {
    #[serde(flatten)]
    pub record: EmployeeRecord,
    pub status: EmployeeStatus,
    pub offboarding_effective_at: Option<Timestamp>,
}

/// What a roster import appended: its counts, and the first entries of its batch (as many as
/// one answer carries) with the seqs of the whole batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterImported {
    pub summary: ImportSummary,
    pub entries: Vec<Entry>,
    pub seqs: Option<(u64, u64)>,
}

/// The server's verification of its ledger.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ServerVerification {
    pub events_checked: u64,
    /// The first seq that breaks the chain, and what is wrong there.
    pub broken: Option<(u64, String)>,
}

/// An access policy to set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRequest {
    pub allowed_org_roles: Vec<String>,
    pub privileged_org_roles: Vec<String>,
    /// `None` means the default grace period.
    pub offboarding_grace_seconds: Option<u64>,
    pub reason: String,
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
        let bearer = Bearer(bearer);
        Ok(ApiClient {
            ledger: LedgerServiceClient::with_interceptor(channel.clone(), bearer.clone())
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            admin: AdminServiceClient::with_interceptor(channel, bearer)
                .max_decoding_message_size(MAX_RESPONSE_BYTES)
                .max_encoding_message_size(MAX_RESPONSE_BYTES),
        })
    }

    /// The checks of `system`, now or as of an instant.
    pub async fn status(
        &mut self,
        system: &SystemId,
        as_of: Option<AsOf>,
    ) -> Result<CheckReport, ClientError> {
        let (as_of, as_of_date) = as_of_fields(as_of);
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
        let response = self
            .ledger
            .get_history(pb::GetHistoryRequest {
                subject: subject.to_owned(),
                from: None,
                to: None,
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Every account of `system`, now or as of an instant, read page by page.
    pub async fn accounts(
        &mut self,
        system: &SystemId,
        as_of: Option<AsOf>,
        include_removed: bool,
    ) -> Result<Vec<ListedAccount>, ClientError> {
        let (as_of, as_of_date) = as_of_fields(as_of);
        every_page(async |page_token| {
            let page = self
                .ledger
                .list_accounts(pb::ListAccountsRequest {
                    system: system.to_string(),
                    as_of,
                    include_removed,
                    page_size: 0,
                    page_token,
                    as_of_date: as_of_date.clone(),
                })
                .await?
                .into_inner();
            let accounts = page.accounts.into_iter().map(listed_account);
            Ok((accounts.collect::<Result<_, _>>()?, page.next_page_token))
        })
        .await
    }

    /// Every employee, now or as of an instant, read page by page.
    pub async fn employees(
        &mut self,
        as_of: Option<AsOf>,
    ) -> Result<Vec<ListedEmployee>, ClientError> {
        let (as_of, as_of_date) = as_of_fields(as_of);
        every_page(async |page_token| {
            let page = self
                .ledger
                .list_employees(pb::ListEmployeesRequest {
                    as_of,
                    page_size: 0,
                    page_token,
                    as_of_date: as_of_date.clone(),
                })
                .await?
                .into_inner();
            let employees = page.employees.into_iter().map(listed_employee);
            Ok((employees.collect::<Result<_, _>>()?, page.next_page_token))
        })
        .await
    }

    /// The exceptions of `system` granted by now or by `as_of`, each with whether it held then.
    pub async fn exceptions(
        &mut self,
        system: &SystemId,
        as_of: Option<AsOf>,
    ) -> Result<Vec<ListedException>, ClientError> {
        let (as_of, as_of_date) = as_of_fields(as_of);
        let exceptions = self
            .ledger
            .list_exceptions(pb::ListExceptionsRequest {
                system: system.to_string(),
                as_of,
                as_of_date,
            })
            .await?
            .into_inner()
            .exceptions;
        exceptions.into_iter().map(listed_exception).collect()
    }

    /// Grants an exception; answers its id and the batch.
    pub async fn grant_exception(
        &mut self,
        request: ExceptionRequest,
    ) -> Result<GrantedException, ClientError> {
        let response = self
            .admin
            .grant_exception(pb::GrantExceptionRequest {
                system: request.system.to_string(),
                check_id: request.check_id,
                account_id: request.account_id,
                employee_id: request.employee_id,
                reason: request.reason,
                evidence_ref: request.evidence_ref,
                expires_at: request.expires_at.map(timestamp),
            })
            .await?
            .into_inner();
        Ok(GrantedException {
            entries: verified(&response.events)?,
            exception_id: response.exception_id,
        })
    }

    /// Revokes an exception that still holds.
    pub async fn revoke_exception(
        &mut self,
        exception_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .revoke_exception(pb::RevokeExceptionRequest {
                exception_id,
                reason,
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// The offboarding report of `system` for offboardings effective within `[from, to]`.
    pub async fn offboarding_report(
        &mut self,
        system: &SystemId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<OffboardingRow>, ClientError> {
        let rows = self
            .ledger
            .get_offboarding_report(pb::GetOffboardingReportRequest {
                system: system.to_string(),
                from: from.map(timestamp),
                to: to.map(timestamp),
            })
            .await?
            .into_inner()
            .rows;
        rows.into_iter().map(offboarding_row).collect()
    }

    /// The head digest and when it was recorded; `None` for an empty ledger.
    pub async fn digest(&mut self) -> Result<Option<(Digest, Timestamp)>, ClientError> {
        let response = self
            .ledger
            .get_digest(pb::GetDigestRequest {})
            .await?
            .into_inner();
        if response.seq == 0 {
            return Ok(None);
        }
        let digest = Digest {
            seq: response.seq,
            hash: response.hash.parse().map_err(unusable)?,
        };
        let recorded_at = instant("recorded_at", response.recorded_at)?.unwrap_or(Timestamp::MIN);
        Ok(Some((digest, recorded_at)))
    }

    /// The timezone the server reads dates in (its `roster.timezone`).
    pub async fn timezone(&mut self) -> Result<chrono_tz::Tz, ClientError> {
        let response = self
            .ledger
            .get_digest(pb::GetDigestRequest {})
            .await?
            .into_inner();
        match response.timezone.as_str() {
            // A server from before the field was added reads dates in UTC without a roster.
            "" => Ok(chrono_tz::UTC),
            name => name
                .parse()
                .map_err(|_| unusable(format!("`timezone` {name:?} is not an IANA timezone name"))),
        }
    }

    /// Has the server verify its whole ledger.
    pub async fn verify(&mut self) -> Result<ServerVerification, ClientError> {
        let response = self
            .ledger
            .verify_ledger(pb::VerifyLedgerRequest {})
            .await?
            .into_inner();
        Ok(ServerVerification {
            events_checked: response.events_checked,
            broken: (!response.ok).then_some((response.first_bad_seq, response.detail)),
        })
    }

    /// Runs a sync cycle of `system` now: what the roster's import appended, and the sync.
    pub async fn sync_now(
        &mut self,
        system: &SystemId,
    ) -> Result<(Appended, SyncReport), ClientError> {
        let response = self
            .admin
            .sync_now(pb::SyncNowRequest {
                system: system.to_string(),
            })
            .await?
            .into_inner();
        let outcome = match response.outcome.as_str() {
            "completed" => SyncOutcome::Completed {
                accounts_observed: response.accounts_observed,
                events_appended: response.events_appended,
                anomaly: response.anomaly,
                not_listed: response
                    .not_listed
                    .iter()
                    .map(|part| {
                        Coverage::ALL
                            .into_iter()
                            .find(|coverage| coverage.as_str() == part)
                            .ok_or_else(|| unusable(format!("`{part}` is not a part of a sync")))
                    })
                    .collect::<Result<_, _>>()?,
            },
            "failed" => SyncOutcome::Failed {
                error_class: serde_json::from_value::<SyncErrorClass>(serde_json::Value::String(
                    response.error_class.clone(),
                ))
                .map_err(|_| {
                    unusable(format!(
                        "`{}` is not a sync error class",
                        response.error_class
                    ))
                })?,
                message: response.message,
            },
            other => return Err(unusable(format!("`{other}` is not a sync outcome"))),
        };
        Ok((
            Appended::whole(verified(&response.roster_events)?),
            SyncReport {
                sync_id: response.sync_id,
                outcome,
                appended: Appended::whole(verified(&response.events)?),
            },
        ))
    }

    /// Sets the access policy of `system`.
    pub async fn set_access_policy(
        &mut self,
        system: &SystemId,
        policy: PolicyRequest,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .set_access_policy(pb::SetAccessPolicyRequest {
                system: system.to_string(),
                allowed_org_roles: policy.allowed_org_roles,
                privileged_org_roles: policy.privileged_org_roles,
                offboarding_grace: policy.offboarding_grace_seconds.map(duration),
                reason: policy.reason,
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Links an account to an employee by hand.
    pub async fn link_account(
        &mut self,
        system: &SystemId,
        account_id: String,
        employee_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .link_account(pb::LinkAccountRequest {
                system: system.to_string(),
                account_id,
                employee_id,
                reason,
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Removes an account's manual link; `employee_id`, if given, must be the linked one.
    pub async fn unlink_account(
        &mut self,
        system: &SystemId,
        account_id: String,
        employee_id: Option<String>,
        reason: String,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .unlink_account(pb::UnlinkAccountRequest {
                system: system.to_string(),
                account_id,
                employee_id: employee_id.unwrap_or_default(),
                reason,
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Classifies an account, or with `None` removes its classification.
    pub async fn classify_account(
        &mut self,
        system: &SystemId,
        account_id: String,
        classification: Option<Classification>,
        owner_employee_id: Option<String>,
        reason: String,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .classify_account(pb::ClassifyAccountRequest {
                system: system.to_string(),
                account_id,
                classification: classification
                    .map(super::convert::classification)
                    .unwrap_or_default(),
                owner_employee_id: owner_employee_id.unwrap_or_default(),
                reason,
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Creates or updates an employee.
    pub async fn upsert_employee(
        &mut self,
        employee: &EmployeeRecord,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .upsert_employee(pb::UpsertEmployeeRequest {
                employee: Some(super::convert::employee(employee)),
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Records that an employee left or will leave (`None`: now).
    pub async fn offboard_employee(
        &mut self,
        employee_id: String,
        effective_at: Option<Timestamp>,
        reason: String,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .offboard_employee(pb::OffboardEmployeeRequest {
                employee_id,
                effective_at: effective_at.map(timestamp),
                reason,
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Releases the removals the removal guard withheld in the sync `sync_id`.
    pub async fn confirm_removals(
        &mut self,
        system: &SystemId,
        sync_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ClientError> {
        let response = self
            .admin
            .confirm_removals(pb::ConfirmRemovalsRequest {
                system: system.to_string(),
                sync_id,
                reason,
            })
            .await?;
        verified(&response.into_inner().events)
    }

    /// Imports a roster CSV file's bytes.
    pub async fn import_roster(&mut self, csv: Vec<u8>) -> Result<RosterImported, ClientError> {
        let response = self
            .admin
            .import_roster(pb::ImportRosterRequest { csv })
            .await?
            .into_inner();
        Ok(RosterImported {
            summary: ImportSummary {
                onboarded: response.onboarded,
                updated: response.updated,
                offboarded: response.offboarded,
                reinstated: response.reinstated,
                unchanged: response.unchanged,
            },
            entries: verified(&response.events)?,
            seqs: (response.first_seq != 0).then_some((response.first_seq, response.last_seq)),
        })
    }

    /// Streams the whole ledger into `out` as a JSON Lines export, verifying the chain as it
    /// goes, and, given a checkpoint taken before, that the export's first `checkpoint.size`
    /// entries are that checkpoint's tree (their root is its root); returns the digest of the
    /// last entry.
    pub async fn export(
        &mut self,
        out: &mut impl Write,
        checkpoint: Option<&crate::merkle::Checkpoint>,
    ) -> Result<Option<Digest>, ClientError> {
        let mut tree = crate::merkle::Frontier::new();
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
            if checkpoint.is_some_and(|checkpoint| entry.seq <= checkpoint.size) {
                tree.append(&[entry.leaf_hash()]);
            }
            writeln!(out, "{}", entry.export_line())?;
            last = Some(entry.digest());
        }
        out.flush()?;
        if let Some(checkpoint) = checkpoint
            && (tree.size(), tree.root()) != (checkpoint.size, checkpoint.root)
        {
            return Err(ClientError::NotProven(format!(
                "the export's first {} entries have the root {}, the checkpoint's tree of size {} has {}",
                tree.size(),
                tree.root(),
                checkpoint.size,
                checkpoint.root
            )));
        }
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

/// Every item of a paged list: `page` is asked for each page by its token (empty for the first)
/// and answers its items and the next token (empty after the last page).
async fn every_page<T>(
    mut page: impl AsyncFnMut(String) -> Result<(Vec<T>, String), ClientError>,
) -> Result<Vec<T>, ClientError> {
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (page_items, next) = page(token).await?;
        items.extend(page_items);
        if next.is_empty() {
            return Ok(items);
        }
        token = next;
    }
}

/// The entries of an answer, each checked against its hash.
/// A read's `as_of` as the request's two fields. The server knows its roster's timezone, so it
/// resolves a date.
fn as_of_fields(as_of: Option<AsOf>) -> (Option<prost_types::Timestamp>, String) {
    match as_of {
        None => (None, String::new()),
        Some(AsOf::Instant(instant)) => (Some(timestamp(instant)), String::new()),
        Some(date @ AsOf::Date(_)) => (None, date.to_string()),
    }
}

fn verified(events: &[pb::Event]) -> Result<Vec<Entry>, ClientError> {
    events
        .iter()
        .map(|event| {
            let entry = entry(event)?;
            if entry.computed_hash() != entry.hash {
                return Err(unusable(format!(
                    "seq {} does not match its hash",
                    entry.seq
                )));
            }
            Ok(entry)
        })
        .collect()
}

fn link_kind(kind: &str) -> Result<LinkKind, ClientError> {
    match kind {
        "auto" => Ok(LinkKind::Auto),
        "manual" => Ok(LinkKind::Manual),
        other => Err(unusable(format!("`{other}` is not a kind of link"))),
    }
}

fn listed_account(account: pb::Account) -> Result<ListedAccount, ClientError> {
    let findings = account
        .access_reason
        .split(',')
        .filter(|code| !code.is_empty())
        .map(|code| {
            Reason::parse(code).ok_or_else(|| unusable(format!("`{code}` is not a reason code")))
        })
        .collect::<Result<_, _>>()?;
    let classification = match account.classification {
        None => None,
        Some(state) => Some(AccountClassification {
            classification: serde_json::from_value(serde_json::Value::String(
                state.classification.clone(),
            ))
            .map_err(|_| {
                unusable(format!(
                    "`{}` is not a classification",
                    state.classification
                ))
            })?,
            owner_employee_id: non_empty(state.owner_employee_id),
            reason: state.reason,
        }),
    };
    Ok(ListedAccount {
        account: AccountSnapshot {
            id: account.account_id,
            login_name: account.login_name,
            display_name: account.display_name,
            role: account.role,
            status: account.status,
            account_type: account.r#type,
            created: instant("created", account.created)?,
        },
        holds_access: account.holds_access,
        link: account
            .link
            .map(|link| {
                Ok::<_, ClientError>(AccountLink {
                    kind: link_kind(&link.kind)?,
                    employee_id: link.employee_id,
                })
            })
            .transpose()?,
        classification,
        first_seen: instant("first_seen", account.first_seen)?.unwrap_or(Timestamp::MIN),
        removed_at: instant("removed_at", account.removed_at)?,
        findings,
    })
}

fn listed_employee(employee: pb::Employee) -> Result<ListedEmployee, ClientError> {
    let status = match employee.status.as_str() {
        "active" => EmployeeStatus::Active,
        "leaving" => EmployeeStatus::Leaving,
        "offboarded" => EmployeeStatus::Offboarded,
        other => return Err(unusable(format!("`{other}` is not an employee status"))),
    };
    let start_date = match employee.start_date.as_str() {
        "" => None,
        text => Some(
            text.parse()
                .map_err(|_| unusable(format!("`{text}` is not a date")))?,
        ),
    };
    Ok(ListedEmployee {
        record: EmployeeRecord {
            employee_id: employee.employee_id,
            email: employee.email,
            name: non_empty(employee.name),
            org_role: employee.org_role,
            start_date,
        },
        status,
        offboarding_effective_at: instant(
            "offboarding_effective_at",
            employee.offboarding_effective_at,
        )?,
    })
}

fn mark(
    field: &'static str,
    at: Option<prost_types::Timestamp>,
    seq: u64,
) -> Result<Option<Mark>, ClientError> {
    Ok(instant(field, at)?.map(|at| Mark { at, seq }))
}

/// What `GrantException` answered: the new exception's id and the batch.
#[derive(Clone, Debug)]
pub struct GrantedException {
    pub exception_id: String,
    pub entries: Vec<Entry>,
}

fn listed_exception(exception: pb::Exception) -> Result<ListedException, ClientError> {
    let revoked = mark("revoked_at", exception.revoked_at, exception.revoked_seq)?
        .map(|mark| (mark, exception.revoke_reason));
    Ok(ListedException {
        exception: ExceptionState {
            granted: mark("granted_at", exception.granted_at, exception.granted_seq)?
                .ok_or_else(|| unusable("an exception has no `granted_at`"))?,
            expires_at: instant("expires_at", exception.expires_at)?,
            system: SystemId(exception.system),
            account_id: non_empty(exception.account_id),
            employee_id: non_empty(exception.employee_id),
            evidence_ref: non_empty(exception.evidence_ref),
            exception_id: exception.exception_id,
            check_id: exception.check_id,
            reason: exception.reason,
            revoked,
        },
        in_force: exception.in_force,
    })
}

fn offboarding_row(row: pb::OffboardingRow) -> Result<OffboardingRow, ClientError> {
    let removed_by = instant("removed_at", row.removed_at)?.map(|at| Removal {
        actor: row.removed_by.map(|actor| ChangeActor {
            id: actor.id,
            actor_type: actor.actor_type,
            login_name: actor.login_name,
        }),
        action: row.removal_action,
        at,
        seq: row.removal_seq,
    });
    Ok(OffboardingRow {
        removed_by,
        effective_at: instant("effective_at", row.effective_at)?.unwrap_or(Timestamp::MIN),
        hr_recorded: mark("hr_recorded_at", row.hr_recorded_at, row.hr_recorded_seq)?
            .ok_or_else(|| unusable("a report row has no `hr_recorded_at`"))?,
        system: SystemId(row.system),
        link: link_kind(&row.link)?.as_str(),
        link_since: mark("link_since_at", row.link_since_at, row.link_since_seq)?
            .ok_or_else(|| unusable("a report row has no `link_since_at`"))?,
        last_with_access: mark(
            "last_with_access_at",
            row.last_with_access_at,
            row.last_with_access_seq,
        )?,
        first_without_access: mark(
            "first_without_access_at",
            row.first_without_access_at,
            row.first_without_access_seq,
        )?,
        employee_id: row.employee_id,
        email: row.email,
        account_id: row.account_id,
        login_name: row.login_name,
        elapsed_seconds: row.elapsed_seconds,
        grace_seconds: row.grace_seconds,
        within_grace: row.within_grace,
    })
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
        Ok(pb::CheckState::Excepted) => Ok(CheckState::Excepted),
        _ => Err(unusable(format!("{value} is not a check state"))),
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// The check of this id, with its title.
fn known_check(id: &str) -> Result<(&'static str, &'static str), ClientError> {
    CHECKS
        .into_iter()
        .find(|(known, _)| *known == id)
        .ok_or_else(|| unusable(format!("`{id}` is not a check this client knows")))
}

fn reason(code: &str) -> Result<Reason, ClientError> {
    Reason::parse(code).ok_or_else(|| unusable(format!("`{code}` is not a reason code")))
}

fn subject(subject: pb::Subject) -> Subject {
    Subject {
        system: SystemId(subject.system),
        account_id: non_empty(subject.account_id),
        login_name: non_empty(subject.login_name),
        employee_id: non_empty(subject.employee_id),
        device_id: non_empty(subject.device_id),
        key_id: non_empty(subject.key_id),
    }
}

/// The last entry an answer is based on: none for seq 0.
fn head(seq: u64, hash: &str) -> Result<Option<Digest>, ClientError> {
    match seq {
        0 => Ok(None),
        seq => Ok(Some(Digest {
            seq,
            hash: hash.parse().map_err(unusable)?,
        })),
    }
}

/// A `GetStatusResponse` as the domain's `CheckReport`.
fn status(response: pb::GetStatusResponse) -> Result<CheckReport, ClientError> {
    let checks = response
        .checks
        .into_iter()
        .map(|check| {
            let (check_id, title) = known_check(&check.check_id)?;
            let findings = check
                .findings
                .into_iter()
                .map(|finding| {
                    Ok(Finding {
                        state: check_state(finding.state)?,
                        reason: reason(&finding.reason)?,
                        message: finding.message,
                        subject: subject(finding.subject.unwrap_or_default()),
                        since: instant("since", finding.since)?.unwrap_or(Timestamp::MIN),
                        deadline: instant("deadline", finding.deadline)?,
                        evidence: finding.evidence_seqs,
                        exception_id: non_empty(finding.exception_id),
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
    let head = head(response.ledger_seq, &response.head_hash)?;
    Ok(CheckReport {
        evaluated_at: instant("evaluated_at", response.evaluated_at)?.unwrap_or(Timestamp::MIN),
        head,
        checks,
        settings_recorded_from_seq: (response.settings_recorded_from_seq != 0)
            .then_some(response.settings_recorded_from_seq),
    })
}
