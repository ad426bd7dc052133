//! `tailledger admin …`: one subcommand per `AdminService` rpc, each parsed into one client
//! call and answered through [`super::answer::ask`].

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};

use super::answer::{Answer, ask};
use super::dates::{Edge, Zone, maybe_instant};
use super::{Failure, Outcome, ServerArgs};
use crate::api::client::PolicyRequest;
use crate::as_of::AsOf;
use crate::bounded;
use crate::commands::ExceptionRequest;
use crate::event::{Classification, EmployeeRecord, SystemId};
use crate::roster::MAX_FILE_BYTES;

/// What `admin classify` says an account is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A machine or integration, owned by someone on the roster.
    Service,
    /// A person who is not an employee: a contractor, a partner.
    External,
    /// An account for testing.
    Test,
    /// Remove the account's classification.
    None,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Say that an account is not a person on the roster (service, external, test), or with
    /// `none` take that back.
    Classify {
        /// The account id (`tailledger accounts` lists them).
        account_id: String,
        #[arg(value_enum)]
        kind: Kind,
        /// Why; recorded in the ledger.
        #[arg(long)]
        reason: String,
        /// The employee responsible for the account.
        #[arg(long, value_name = "EMPLOYEE_ID")]
        owner: Option<String>,
    },
    /// Link an account to an employee by hand (wins over an email match).
    Link {
        /// The account: its id, or its login name (refused if several accounts hold it).
        account_id: String,
        employee_id: String,
        /// Why; recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// Remove an account's manual link.
    Unlink {
        account_id: String,
        /// Refuse unless the account is linked to this employee.
        #[arg(long, value_name = "EMPLOYEE_ID")]
        employee: Option<String>,
        /// Why; recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// Set which org roles may hold access and privileged roles, and the offboarding grace.
    SetPolicy {
        /// An org role whose people may hold access (repeat it, or separate roles by commas);
        /// `*` allows every active employee.
        #[arg(
            long = "allow",
            value_name = "ORG_ROLE",
            value_delimiter = ',',
            required = true
        )]
        allowed: Vec<String>,
        /// An org role that may hold owner/admin roles (repeatable); none means no restriction.
        #[arg(long = "privileged", value_name = "ORG_ROLE", value_delimiter = ',')]
        privileged: Vec<String>,
        /// How long a leaver's access may outlive their departure, e.g. `24h` (default 24h).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        grace: Option<std::time::Duration>,
        /// Why the policy changes; recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// Create or update an employee (for people HR's roster does not have yet).
    UpsertEmployee {
        employee_id: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_name = "ORG_ROLE")]
        org_role: String,
        #[arg(long)]
        name: Option<String>,
        /// `YYYY-MM-DD`.
        #[arg(long, value_name = "DATE")]
        start_date: Option<chrono::NaiveDate>,
    },
    /// Record that an employee left, or will leave.
    Offboard {
        employee_id: String,
        /// When the person left or leaves: RFC 3339, or a date (the start of that day in the
        /// server's `roster.timezone`). Default: now.
        #[arg(long, value_name = "TIME|DATE")]
        effective_at: Option<AsOf>,
        /// Why; recorded in the ledger.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Import a roster CSV file (`-` reads standard input): all of it, or nothing.
    ImportRoster {
        /// The CSV file.
        file: PathBuf,
    },
    /// Run a sync now (the roster file is re-read first) and wait for it; exits 3 if it failed.
    SyncNow,
    /// Confirm that the removals a sync's removal guard withheld are real: they are recorded,
    /// dated when the account was first missed.
    ConfirmRemovals {
        /// The sync whose `SyncAnomaly` withheld them (the integration check names it).
        sync_id: String,
        /// Why; recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// Accept one finding — a check and its subject account or employee — until an expiry or
    /// for ever: it is then reported EXCEPTED and fails its check no more.
    GrantException {
        /// The check id, e.g. `user-identified`.
        check_id: String,
        /// The finding's account (give this or `--employee`).
        #[arg(long, value_name = "ACCOUNT_ID")]
        account: Option<String>,
        /// The finding's employee (give this or `--account`).
        #[arg(long, value_name = "EMPLOYEE_ID")]
        employee: Option<String>,
        /// Why; recorded in the ledger.
        #[arg(long)]
        reason: String,
        /// Where the justification is kept, e.g. a ticket.
        #[arg(long, value_name = "REF")]
        evidence: Option<String>,
        /// When the exception lapses: RFC 3339, or a date (the end of that day in the
        /// server's `roster.timezone`). Default: never.
        #[arg(long, value_name = "TIME|DATE")]
        expires_at: Option<AsOf>,
    },
    /// Withdraw an exception that still holds; its finding returns at once.
    RevokeException {
        /// The exception's id, `EX-<n>` (`tailledger exceptions` lists them).
        exception_id: String,
        /// Why; recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
}

/// A file's bytes, or standard input's for `-`.
pub(super) fn read_input(file: &Path) -> Result<Vec<u8>, Failure> {
    let read = if file.as_os_str() == "-" {
        bounded::read_at_most(std::io::stdin(), MAX_FILE_BYTES)
    } else {
        bounded::read_file(file, MAX_FILE_BYTES)
    };
    read.map_err(|error| Failure::input(format!("cannot read {}: {error}", file.display())))
}

/// Runs one admin subcommand against the server.
pub fn run(server: &ServerArgs, json: bool, command: AdminCommand) -> Outcome {
    let system = SystemId::tailscale();
    // Read before connecting, so a missing file is reported without a server.
    let csv = match &command {
        AdminCommand::ImportRoster { file } => read_input(file)?,
        _ => Vec::new(),
    };
    ask(server, json, async move |client| {
        let date = match &command {
            AdminCommand::Offboard { effective_at, .. } => *effective_at,
            AdminCommand::GrantException { expires_at, .. } => *expires_at,
            _ => None,
        };
        let zone = Zone::of_server(client, &[date]).await?;
        Ok::<Box<dyn Answer>, Failure>(match command {
            AdminCommand::Classify {
                account_id,
                kind,
                reason,
                owner,
            } => {
                let classification = match kind {
                    Kind::Service => Some(Classification::Service),
                    Kind::External => Some(Classification::External),
                    Kind::Test => Some(Classification::Test),
                    Kind::None => None,
                };
                Box::new(
                    client
                        .classify_account(&system, account_id, classification, owner, reason)
                        .await?,
                )
            }
            AdminCommand::Link {
                account_id,
                employee_id,
                reason,
            } => Box::new(
                client
                    .link_account(&system, account_id, employee_id, reason)
                    .await?,
            ),
            AdminCommand::Unlink {
                account_id,
                employee,
                reason,
            } => Box::new(
                client
                    .unlink_account(&system, account_id, employee, reason)
                    .await?,
            ),
            AdminCommand::SetPolicy {
                allowed,
                privileged,
                grace,
                reason,
            } => Box::new(
                client
                    .set_access_policy(
                        &system,
                        PolicyRequest {
                            allowed_org_roles: allowed,
                            privileged_org_roles: privileged,
                            offboarding_grace_seconds: grace.map(|grace| grace.as_secs()),
                            reason,
                        },
                    )
                    .await?,
            ),
            AdminCommand::UpsertEmployee {
                employee_id,
                email,
                org_role,
                name,
                start_date,
            } => Box::new(
                client
                    .upsert_employee(&EmployeeRecord {
                        employee_id,
                        email,
                        name,
                        org_role,
                        start_date,
                    })
                    .await?,
            ),
            AdminCommand::Offboard {
                employee_id,
                effective_at,
                reason,
            } => {
                let effective_at =
                    maybe_instant("--effective-at", effective_at, Edge::Start, zone)?;
                Box::new(
                    client
                        .offboard_employee(employee_id, effective_at, reason.unwrap_or_default())
                        .await?,
                )
            }
            AdminCommand::ImportRoster { .. } => Box::new(client.import_roster(csv).await?),
            AdminCommand::SyncNow => Box::new(client.sync_now(&system).await?),
            AdminCommand::ConfirmRemovals { sync_id, reason } => {
                Box::new(client.confirm_removals(&system, sync_id, reason).await?)
            }
            AdminCommand::GrantException {
                check_id,
                account,
                employee,
                reason,
                evidence,
                expires_at,
            } => {
                let expires_at = maybe_instant("--expires-at", expires_at, Edge::End, zone)?;
                Box::new(
                    client
                        .grant_exception(ExceptionRequest {
                            system,
                            check_id,
                            account_id: account.unwrap_or_default(),
                            employee_id: employee.unwrap_or_default(),
                            reason,
                            evidence_ref: evidence.unwrap_or_default(),
                            expires_at,
                        })
                        .await?,
                )
            }
            AdminCommand::RevokeException {
                exception_id,
                reason,
            } => Box::new(client.revoke_exception(exception_id, reason).await?),
        })
    })
}
