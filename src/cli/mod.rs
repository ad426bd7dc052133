//! The `tailledger` command line: argument definitions, logging, and what each command does.
//!
//! Exit codes (docs/reference/cli.md#exit-codes): 0 success; 1 a verification failed or
//! `--fail-on-findings` found a failing check; 2 bad usage, bad configuration, bad input (a
//! rejected roster), a ledger held by another process, or a server that cannot be reached; 3 the
//! sync itself failed. Errors are printed to standard error as one sentence that says what, where
//! and why.

mod admin;
mod alerts;
mod answer;
mod checkpoint;
mod dates;
mod evidence;
mod offline;
mod online;
mod progress;
mod replay;
mod review;
mod running;
mod simulate;
mod tiles;
mod timeline;
mod webhook;
mod witness;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::VERSION;
use crate::as_of::AsOf;
use crate::event::SystemId;
use crate::hash::Digest;

/// A tamper-evident ledger of who has access to your Tailscale network, checked against your HR
/// roster, with a history any auditor can verify.
///
/// Start with `tailledger demo`. To run it for real: write a config file (see docs/operating.md),
/// then `tailledger sync -c tailledger.toml` once, and `tailledger serve -c tailledger.toml`.
#[derive(Parser, Debug)]
#[command(name = "tailledger", version = VERSION, propagate_version = true)]
pub struct Cli {
    /// Log lines as JSON objects (for log collectors) instead of text. Logs go to standard error;
    /// RUST_LOG (e.g. `tailledger=debug`) changes the level.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where a client command finds the server, and with which token.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// The running tailledger's gRPC address.
    #[arg(
        long,
        global = true,
        env = "TAILLEDGER_SERVER",
        value_name = "URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// The API token (auditor or admin); read from the environment so it stays out of shell
    /// history and process lists.
    #[arg(
        long,
        global = true,
        env = "TAILLEDGER_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Trust only this CA (a PEM file) for an https:// server, instead of the public CAs; for
    /// a server whose certificate your own CA issued.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

/// A server to ask instead of a `--data-dir` (`export`, `verify`): given only as `--server`.
#[derive(clap::Args, Debug)]
pub struct RemoteArgs {
    /// A running server's gRPC address.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The API token for --server.
    #[arg(
        long,
        env = "TAILLEDGER_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// For an https:// --server: trust only this CA (a PEM file) instead of the public CAs.
    #[arg(long, value_name = "FILE", conflicts_with = "data_dir")]
    pub ca_cert: Option<PathBuf>,
}

impl RemoteArgs {
    /// The server to ask, when `--server` was given.
    fn server(self) -> Option<ServerArgs> {
        Some(ServerArgs {
            server: self.server?,
            token: self.token,
            ca_cert: self.ca_cert,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Tell the built-in story on a fresh ledger against a simulated tailnet, then serve it.
    Demo {
        /// Keep the demo ledger here instead of in a new temporary directory. DIR must not
        /// exist yet, be empty, or hold an earlier demo's ledger (the demo marks its
        /// directories with a `tailledger-demo` file): the demo refuses any other directory, so
        /// its simulated accounts never enter a real ledger.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Exit after the story instead of serving the ledger.
        #[arg(long)]
        no_serve: bool,
        /// Where to serve gRPC after the story (a loopback address: the demo has no auth).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
        listen: std::net::SocketAddr,
        /// Where the story's roster comes from: CSV text, or a simulated Truto HRIS API.
        #[arg(long, value_enum, default_value_t = crate::demo::HrSource::Csv)]
        hr: crate::demo::HrSource,
    },
    /// Serve a simulated Tailscale API and Truto HRIS on loopback, with a small tailnet that
    /// changes over time, and write the configuration that points `serve` at them: every admin
    /// task can be tried before a real tailnet is connected. Runs until SIGINT or SIGTERM.
    Simulate(simulate::SimulateArgs),
    /// Run the service: the gRPC API and a sync every `sync_interval`, until SIGINT or SIGTERM.
    Serve {
        /// The configuration file (TOML).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Import the roster and sync once against the data directory, then print the checks.
    ///
    /// Exits 0, 3 if the sync failed, or (with --fail-on-findings) 1 if a check is FAILING.
    /// Use it while `serve` is not running; `serve` holds the ledger.
    Sync {
        /// The configuration file (TOML).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Print one JSON object: the checks shaped like GetStatusResponse in proto3 JSON, with
        /// the sync's outcome under `sync`.
        #[arg(long)]
        json: bool,
        /// Exit 1 when any check is FAILING (for CI and cron jobs).
        #[arg(long)]
        fail_on_findings: bool,
    },
    /// Ask a running server for the checks, now or as they stood at a past instant.
    Status {
        /// An RFC 3339 instant (2026-03-31T23:59:59Z), or a date (2026-03-31): the end of that
        /// day in the server's `roster.timezone` (UTC without a roster), resolved by the server;
        /// today means now. A future instant is refused; one before the first entry says
        /// "nothing recorded yet".
        #[arg(long, value_name = "TIME|DATE")]
        as_of: Option<AsOf>,
        /// Print GetStatusResponse as proto3 JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 when any check is FAILING.
        #[arg(long)]
        fail_on_findings: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Ask a running server for every event about an account or a person.
    History {
        /// An account id, a login name, an employee id or an email.
        subject: String,
        /// Print the events' canonical JSON, one per line.
        #[arg(long)]
        json: bool,
        /// The ledger's public key (from `tailledger keygen`): check that every event is in the
        /// server's signed checkpoint, by an inclusion proof each.
        #[arg(long, env = "TAILLEDGER_PUBLIC_KEY", value_name = "KEY", value_parser = checkpoint::verifier_key)]
        public_key: Option<crate::merkle::VerifierKey>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Ask a running server for the accounts of the tailnet: access, link, classification and
    /// the checks' findings about each.
    Accounts {
        /// An RFC 3339 instant, or a date: the end of that day in the server's
        /// `roster.timezone`, as for `status`.
        #[arg(long, value_name = "TIME|DATE")]
        as_of: Option<AsOf>,
        /// Also list accounts that were removed.
        #[arg(long)]
        include_removed: bool,
        /// Only the accounts with a finding of this reason code (`unidentified`,
        /// `access-retained`, `role-not-allowed`, …; docs/reference/checks.md); repeat it or
        /// separate codes by commas for any of several.
        #[arg(long, value_name = "REASON", value_delimiter = ',', value_parser = reason_code)]
        finding: Vec<crate::checks::Reason>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Ask a running server for the employees on the roster.
    Employees {
        /// An RFC 3339 instant, or a date: the end of that day in the server's
        /// `roster.timezone`, as for `status`.
        #[arg(long, value_name = "TIME|DATE")]
        as_of: Option<AsOf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Ask a running server for the exceptions granted (findings an admin accepted), each with
    /// whether it held at the instant asked about.
    Exceptions {
        /// An RFC 3339 instant, or a date: the end of that day in the server's
        /// `roster.timezone`, as for `status`.
        #[arg(long, value_name = "TIME|DATE")]
        as_of: Option<AsOf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Ask a running server for the offboarding report: for each leaver's account, when access
    /// was last held and first gone, against the grace period.
    Report {
        /// Offboardings effective at or after this instant: RFC 3339, or a date (the start of
        /// that day in the server's `roster.timezone`).
        #[arg(long, value_name = "TIME|DATE")]
        from: Option<AsOf>,
        /// Offboardings effective at or before this instant: RFC 3339, or a date (the end of
        /// that day in the server's `roster.timezone`).
        #[arg(long, value_name = "TIME|DATE")]
        to: Option<AsOf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Ask a running server for the head digest `SEQ:HASH`, the thing to note down.
    Digest {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Change the ledger through a running server (admin token): classify and link accounts,
    /// set the policy, record employees, import a roster, sync now.
    Admin {
        /// Print the answer as one JSON object.
        #[arg(long, global = true)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// User access reviews through a running server: start one pinned to the
    /// ledger's head, show it, decide about its accounts (one, or a spreadsheet), complete it.
    Review {
        /// Print the answer as one JSON object.
        #[arg(long, global = true)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[command(subcommand)]
        command: review::ReviewCommand,
    },
    /// Manage Tailscale's webhook endpoint for this ledger.
    Webhook {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Alerts (docs/operating.md#alerts): send a test message, or list the backlog.
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// Print a shell completion script, e.g. `tailledger completions bash >
    /// /etc/bash_completion.d/tailledger`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the ledger as JSON Lines, one canonical entry with its hash per line.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["data_dir", "server"])))]
    Export {
        /// Where to write the export; it is replaced atomically.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// A ledger directory (a copy is fine; it is only read).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// A running server instead; the chain is verified as it arrives.
        #[command(flatten)]
        remote: RemoteArgs,
        /// With --server, the ledger's public key (from `tailledger keygen`): check that the
        /// export holds the tree of the server's signed checkpoint.
        #[arg(long, env = "TAILLEDGER_PUBLIC_KEY", value_name = "KEY", value_parser = checkpoint::verifier_key, conflicts_with = "data_dir")]
        public_key: Option<crate::merkle::VerifierKey>,
    },
    /// Verify a ledger: a directory offline, or a running server's (`--server`): every hash,
    /// every link, no gaps.
    ///
    /// Exits 0 when the chain is intact and 1 with the first bad seq when it is not.
    #[command(group(clap::ArgGroup::new("ledger").required(true).args(["data_dir", "server"])))]
    Verify {
        /// The ledger's data directory (a copy is fine; it is only read).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// A running server instead, which verifies its own ledger.
        #[command(flatten)]
        remote: RemoteArgs,
        /// With --data-dir: the ledger must also hold this digest `SEQ:HASH` (from an export,
        /// a checkpoint or `tailledger digest`); a store cut short by damage verifies as a
        /// shorter chain, and the digest is what it must still reach.
        #[arg(long, value_name = "SEQ:HASH", requires = "data_dir")]
        digest: Option<Digest>,
        /// Print the answer as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Ask a running server for each check over a window [from, to): its intervals of state
    /// (including the changes time alone makes, at their instant), its findings with their time
    /// to resolution, and its share of the window per state.
    Timeline {
        /// The window's start: an RFC 3339 instant, or a date (the start of that day in the
        /// server's `roster.timezone`).
        #[arg(long, value_name = "TIME|DATE")]
        from: AsOf,
        /// The window's end, excluded: an RFC 3339 instant not in the future, or a date (up to
        /// the end of that day; today means now).
        #[arg(long, value_name = "TIME|DATE")]
        to: AsOf,
        /// Print the timeline as one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Write the auditor's evidence pack of a window into a new directory: `index.html` (one
    /// self-contained page: each check's timeline, the findings, the offboarding report, how to
    /// verify), the CSV files for spreadsheets, the export up to the window's end
    /// (`ledger.jsonl`), the README's `verify_export.py`, and `MANIFEST.sha256`. Everything in
    /// it is recomputed from that export, after its chain is verified. Dates are days in UTC,
    /// and each instant is evaluated with the settings recorded for it, as with `replay`.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["data_dir", "server"])))]
    Evidence {
        /// The window's start: an RFC 3339 instant or a date (the start of that day, UTC).
        #[arg(long, value_name = "TIME|DATE")]
        from: AsOf,
        /// The window's end, excluded: an instant not in the future, or a date (up to the end
        /// of that day; today means now).
        #[arg(long, value_name = "TIME|DATE")]
        to: AsOf,
        /// The pack's directory: it must not exist yet, or be empty.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A ledger directory (a copy is fine; it is only read).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// A running server instead; its export's chain is verified as it arrives.
        #[command(flatten)]
        remote: RemoteArgs,
        /// With --data-dir, the ledger's signing key (`[checkpoint] signing_key_path`, mode
        /// 0600): the pack carries the checkpoint of its export's tree, signed with it.
        #[arg(long, value_name = "FILE", requires = "data_dir")]
        signing_key: Option<PathBuf>,
        /// With --server, the ledger's public key (from `tailledger keygen`): the pack carries
        /// the server's signed checkpoint, its signature checked, and the consistency proof that
        /// the pack's export is the start of its tree.
        #[arg(long, env = "TAILLEDGER_PUBLIC_KEY", value_name = "KEY", value_parser = checkpoint::verifier_key, conflicts_with = "data_dir")]
        public_key: Option<crate::merkle::VerifierKey>,
    },
    /// Recompute, offline and from an export alone, the checks as of an instant or the timeline
    /// of a window: the chain is verified first (a broken one is refused at its seq), then the
    /// entries are folded with the same projections and checks as the server's. Dates are days
    /// in UTC; each instant is evaluated with the settings the export recorded for it (the
    /// defaults only for an export that recorded none: no email aliases, suspended accounts
    /// removed, a 15-minute sync interval).
    ///
    /// With --pack, recompute every file of an evidence pack derived from its `ledger.jsonl`
    /// and compare it with the pack's, naming each file that differs and its first differing
    /// line; with --offboarding, the offboarding report.
    ///
    /// Exits 0, or 1 when the export's chain is broken or a pack's file differs.
    Replay {
        /// The JSON Lines export (`tailledger export`).
        #[arg(required_unless_present = "pack", conflicts_with = "pack")]
        file: Option<PathBuf>,
        /// An evidence pack's directory: its derived files are recomputed and compared.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["as_of", "from", "to", "offboarding", "json"])]
        pack: Option<PathBuf>,
        /// The offboarding report as the export told it at --as-of (absent means now), as
        /// `report` prints it.
        #[arg(long, conflicts_with_all = ["from", "to"])]
        offboarding: bool,
        /// The checks as of this instant or date (the end of that day); absent means now.
        #[arg(long, value_name = "TIME|DATE", conflicts_with_all = ["from", "to"])]
        as_of: Option<AsOf>,
        /// The timeline of the window [from, to) instead, as `timeline` prints it.
        #[arg(long, value_name = "TIME|DATE", requires = "to")]
        from: Option<AsOf>,
        #[arg(long, value_name = "TIME|DATE", requires = "from")]
        to: Option<AsOf>,
        /// Print JSON, as `status --json` or `timeline --json` does.
        #[arg(long)]
        json: bool,
    },
    /// Verify a JSON Lines export, and that it contains a digest you noted down earlier.
    ///
    /// Exits 0 when the export is intact (and holds the digest), 1 otherwise.
    VerifyExport {
        /// The export file.
        file: PathBuf,
        /// A digest `SEQ:HASH` that the export must contain.
        #[arg(long, value_name = "SEQ:HASH")]
        digest: Option<Digest>,
    },
    /// Make the ledger's checkpoint signing key: write it to FILE (mode 0600) and print its
    /// public key, which auditors pin to check checkpoints.
    Keygen {
        /// Where to write the key; an existing file is never replaced.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The key's name, which signatures carry (no spaces or `+`).
        #[arg(long, default_value = "tailledger")]
        name: String,
    },
    /// Signed checkpoints of the ledger's Merkle tree.
    Checkpoint {
        #[command(subcommand)]
        command: checkpoint::CheckpointCommand,
    },
    /// Rebuild a ledger into a new directory from its archive (`s3://bucket/prefix`, or a
    /// directory of tiles: `[archive] dir`, `tiles export`, a copy of either) or from an export
    /// with --checkpoint, checking every entry's hash, link and leaf, every tile, and the root
    /// against the signed checkpoint under the pinned key. A tampered, reordered or incomplete
    /// archive, or another log's checkpoint, is refused at the first bad entry index, and
    /// nothing is written.
    ///
    /// From S3, the credentials are read from the environment variables --access-key-env and
    /// --secret-key-env name (as `[archive] s3` does).
    ///
    /// Exits 0 when restored, 1 when the archive does not verify, 2 when it cannot be read.
    Restore {
        /// `s3://bucket/prefix`, a directory laid out as the tiles (with its `checkpoint`), or a
        /// JSON Lines export.
        #[arg(long, value_name = "s3://BUCKET/PREFIX|DIR|FILE")]
        from: PathBuf,
        /// The new ledger directory: it must not exist yet, or be empty.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// The ledger's public key (from `tailledger keygen`), which must sign the checkpoint.
        #[arg(long, env = "TAILLEDGER_PUBLIC_KEY", value_name = "KEY", value_parser = checkpoint::verifier_key)]
        public_key: crate::merkle::VerifierKey,
        /// With an export: the signed checkpoint (a file of `checkpoint_dir`) of the tree its
        /// entries are restored up to.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        #[command(flatten)]
        s3: tiles::S3Access,
    },
    /// The ledger's Merkle tree as C2SP tiles.
    Tiles {
        #[command(subcommand)]
        command: tiles::TilesCommand,
    },
    /// A witness that cosigns a ledger's checkpoints (C2SP tlog-witness), run by an auditor.
    Witness {
        #[command(subcommand)]
        command: witness::WitnessCommand,
    },
    /// Print the SHA-256 of an API token read from standard input, for `auth.tokens` in the
    /// config. Example: `head -c 32 /dev/urandom | base64 | tee token.txt | tailledger hash-token`.
    HashToken,
    /// Append batches in a loop, printing `ack SEQ` after each durable append (crash tests).
    #[command(hide = true)]
    TortureWriter {
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Stop after this many batches (default: until killed).
        #[arg(long)]
        batches: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Create the endpoint Tailscale sends signed deliveries to (needs the `webhooks` scope) and
    /// print its secret, once.
    Register {
        /// The configuration file (TOML): its [tailscale] credential and tailnet are used.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The public https:// URL that reaches `[webhook] listen`, e.g.
        /// https://ledger.example.com/webhooks/tailscale.
        #[arg(long, value_name = "URL")]
        url: String,
        /// Then ask Tailscale to send a test event to it.
        #[arg(long)]
        test: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// Send a test message through a route to its destination; nothing is recorded.
    Test {
        /// The configuration file (TOML).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The `[[alerts.route]]` name.
        #[arg(long, value_name = "NAME")]
        route: String,
    },
    /// List the notifications each destination has yet to acknowledge: from the configured
    /// ledger directory while `serve` is stopped, or through the running server (`--server`).
    Pending {
        /// The configuration file (TOML): its routes, destinations and lookback.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// This ledger directory instead of the configuration's `data_dir` (opened in place:
        /// only while no server holds it).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// A running server instead: its ledger is exported (the chain verified as it arrives)
        /// and derived from here.
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// Why a command stopped, and the exit code that says so.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Bad usage, configuration or input, or something unavailable: exit 2.
    pub fn input(message: impl std::fmt::Display) -> Self {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::api::client::ClientError> for Failure {
    fn from(error: crate::api::client::ClientError) -> Self {
        Failure::input(error)
    }
}

/// The outcome of a command: an exit code, or a failure to report.
pub type Outcome = Result<ExitCode, Failure>;

/// Runs a parsed command and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let default_level = match cli.command {
        Command::Serve { .. } | Command::Simulate(_) => "info",
        _ => "warn",
    };
    init_logging(cli.log_format, default_level);
    let outcome = match cli.command {
        Command::Demo {
            data_dir,
            no_serve,
            listen,
            hr,
        } => running::demo(data_dir, no_serve, listen, hr),
        Command::Simulate(args) => simulate::simulate(args),
        Command::Serve { config } => running::serve(&config),
        Command::Sync {
            config,
            json,
            fail_on_findings,
        } => running::sync(&config, json, fail_on_findings),
        Command::Status {
            as_of,
            json,
            fail_on_findings,
            server,
        } => online::status(&server, as_of, json, fail_on_findings),
        Command::History {
            subject,
            json,
            public_key,
            server,
        } => online::history(&server, &subject, json, public_key.as_ref()),
        Command::Export {
            out,
            data_dir,
            remote,
            public_key,
        } => match (data_dir, remote.server()) {
            (Some(data_dir), _) => offline::export(&out, &data_dir),
            (None, Some(server)) => online::export(&server, &out, public_key.as_ref()),
            // clap's argument group requires one of the two.
            (None, None) => Err(Failure::input(
                "export needs --data-dir DIR or --server URL",
            )),
        },
        Command::Verify {
            data_dir,
            remote,
            digest,
            json,
        } => match (data_dir, remote.server()) {
            (Some(data_dir), _) => offline::verify(&data_dir, digest, json),
            (None, Some(server)) => {
                answer::ask(&server, json, async |client| client.verify().await)
            }
            // clap's argument group requires one of the two.
            (None, None) => Err(Failure::input(
                "verify needs --data-dir DIR or --server URL",
            )),
        },
        Command::Accounts {
            as_of,
            include_removed,
            finding,
            json,
            server,
        } => answer::ask(&server, json, async |client| {
            tell_as_of(client, as_of).await?;
            let mut accounts = client
                .accounts(&SystemId::tailscale(), as_of, include_removed)
                .await?;
            if !finding.is_empty() {
                accounts.retain(|account| {
                    account
                        .findings
                        .iter()
                        .any(|reason| finding.contains(reason))
                });
            }
            Ok::<_, Failure>(accounts)
        }),
        Command::Employees {
            as_of,
            json,
            server,
        } => answer::ask(&server, json, async |client| {
            tell_as_of(client, as_of).await?;
            Ok::<_, Failure>(client.employees(as_of).await?)
        }),
        Command::Exceptions {
            as_of,
            json,
            server,
        } => answer::ask(&server, json, async |client| {
            tell_as_of(client, as_of).await?;
            Ok::<_, Failure>(client.exceptions(&SystemId::tailscale(), as_of).await?)
        }),
        Command::Report {
            from,
            to,
            json,
            server,
        } => answer::ask(&server, json, async |client| {
            let zone = dates::Zone::of_server(client, &[from, to]).await?;
            let from = dates::maybe_instant("--from", from, dates::Edge::Start, zone)?;
            let to = dates::maybe_instant("--to", to, dates::Edge::End, zone)?;
            Ok::<_, Failure>(
                client
                    .offboarding_report(&SystemId::tailscale(), from, to)
                    .await?,
            )
        }),
        Command::Digest { json, server } => {
            answer::ask(&server, json, async |client| client.digest().await)
        }
        Command::Admin {
            json,
            server,
            command,
        } => admin::run(&server, json, command),
        Command::Review {
            json,
            server,
            command,
        } => review::run(&server, json, command),
        Command::Webhook {
            command: WebhookCommand::Register { config, url, test },
        } => webhook::register(&config, &url, test),
        Command::Restore {
            from,
            data_dir,
            public_key,
            checkpoint,
            s3,
        } => tiles::restore(&from, &data_dir, &public_key, checkpoint.as_deref(), &s3),
        Command::Tiles { command } => tiles::run(command),
        Command::Witness { command } => witness::run(command),
        Command::Alerts {
            command: AlertsCommand::Test { config, route },
        } => alerts::test(&config, &route),
        Command::Alerts {
            command:
                AlertsCommand::Pending {
                    config,
                    data_dir,
                    remote,
                },
        } => alerts::pending(&config, data_dir, remote.server()),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "tailledger",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Timeline {
            from,
            to,
            json,
            server,
        } => timeline::timeline(&server, from, to, json),
        Command::Evidence {
            from,
            to,
            out,
            data_dir,
            remote,
            signing_key,
            public_key,
        } => match (data_dir, remote.server()) {
            (Some(dir), _) => evidence::evidence(
                evidence::Source::DataDir {
                    dir: &dir,
                    signing_key: signing_key.as_deref(),
                },
                from,
                to,
                &out,
            ),
            (None, Some(server)) => evidence::evidence(
                evidence::Source::Server {
                    server: &server,
                    public_key: public_key.as_ref(),
                },
                from,
                to,
                &out,
            ),
            // clap's argument group requires one of the two.
            (None, None) => Err(Failure::input(
                "evidence needs --data-dir DIR or --server URL",
            )),
        },
        Command::Replay {
            file,
            pack,
            offboarding,
            as_of,
            from,
            to,
            json,
        } => match (pack, file) {
            (Some(pack), _) => replay::replay_pack(&pack),
            (None, Some(file)) => {
                let question = match (offboarding, from.zip(to)) {
                    (true, _) => replay::Question::Offboarding(as_of),
                    (false, Some(window)) => replay::Question::Timeline(window),
                    (false, None) => replay::Question::Status(as_of),
                };
                replay::replay(&file, question, json)
            }
            // clap requires one of the two.
            (None, None) => Err(Failure::input("replay needs an export FILE or --pack DIR")),
        },
        Command::VerifyExport { file, digest } => offline::verify_export(&file, digest),
        Command::HashToken => offline::hash_token(),
        Command::Keygen { out, name } => checkpoint::keygen(&out, &name),
        Command::Checkpoint { command } => checkpoint::run(command),
        Command::TortureWriter { data_dir, batches } => offline::torture_writer(&data_dir, batches),
    };
    outcome.unwrap_or_else(|failure| {
        eprintln!("error: {}", failure.message);
        ExitCode::from(failure.code)
    })
}

/// Tells on standard error how the server reads an `--as-of` date, asking it for its timezone.
async fn tell_as_of(
    client: &mut crate::api::client::ApiClient,
    as_of: Option<AsOf>,
) -> Result<(), Failure> {
    let zone = dates::Zone::of_server(client, &[as_of]).await?;
    dates::tell_date("--as-of", as_of, dates::Edge::End, zone);
    Ok(())
}

/// A reason code of the checks' findings, as `--finding` takes it.
fn reason_code(text: &str) -> Result<crate::checks::Reason, String> {
    let codes = crate::checks::Reason::ALL;
    codes
        .into_iter()
        .find(|reason| reason.as_str() == text.trim())
        .ok_or_else(|| {
            let known: Vec<&str> = codes.iter().map(|reason| reason.as_str()).collect();
            format!(
                "`{text}` is not a reason code; the codes are {}",
                known.join(", ")
            )
        })
}

fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A subscriber set twice (only possible if `run` is called twice in one process) is not
    // worth failing over: the first one keeps logging.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Exit 1 when `fail_on_findings` is set and a check is FAILING; else success.
fn findings_exit(status: &crate::service::CheckReport, fail_on_findings: bool) -> ExitCode {
    let failing = status
        .checks
        .iter()
        .any(|check| check.state == crate::checks::CheckState::Failing);
    if fail_on_findings && failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A runtime for the async commands.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new()
        .map_err(|error| Failure::input(format!("could not start the async runtime: {error}")))
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what systemd and `kill` send). The handlers are
/// installed when this is called, inside the runtime and before the server says it serves, so a
/// signal that arrives as soon as it does still stops it gracefully (and writes the last
/// checkpoint) instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        // Without a handler for one of them, the other still works; waiting forever is right.
        let wait = |handler: std::io::Result<tokio::signal::unix::Signal>| async move {
            match handler {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {}
            () = wait(terminate) => {}
        }
    }
}

/// Reloads the tokens from the configuration file at `path` on every SIGHUP, for gRPC and the
/// web console alike (a revoked token's calls and sessions are refused from then on); the other
/// settings take effect at the next restart. A file that no longer loads is logged, and the
/// tokens in force stay. The handler is installed when this is called, so a SIGHUP never kills
/// the server once it says it serves.
fn reload_on_hangup(
    path: std::path::PathBuf,
    tokens: std::sync::Arc<crate::api::Tokens>,
) -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let hangups = signal(SignalKind::hangup());
    async move {
        let Ok(mut hangups) = hangups else {
            return std::future::pending().await;
        };
        while hangups.recv().await.is_some() {
            match crate::config::Config::load(&path, |name| std::env::var(name).ok()) {
                Ok(config) => {
                    let count = match &config.auth {
                        crate::api::Auth::Disabled => 0,
                        crate::api::Auth::Tokens(tokens) => tokens.len(),
                    };
                    tokens.replace(config.auth);
                    tracing::info!(
                        tokens = count,
                        "reloaded the tokens from the configuration (other settings take effect at a restart)"
                    );
                }
                Err(error) => tracing::error!(
                    "SIGHUP: the configuration cannot be reloaded, so the tokens in force stay: {error}"
                ),
            }
        }
        std::future::pending().await
    }
}
