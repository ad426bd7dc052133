//! The `tailledger` command line: argument definitions and what each command does.
//!
//! Exit codes (SPEC §9): 0 success; 1 a verification failed; 2 bad usage, bad input, or a
//! ledger held by another process; 3 a sync failed. Errors are printed to standard error as one
//! sentence that says what, where and why.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::event::{AccountSnapshot, Actor, Event, SystemId};
use crate::export::export_to_file;
use crate::hash::{Digest, Hash256};
use crate::ledger::Ledger;
use crate::time::Timestamp;
use crate::verify::{Report, verify_export, verify_store};

/// A tamper-evident ledger of who has access to your Tailscale network, checked against your
/// HR roster, with a history any auditor can verify.
#[derive(Parser, Debug)]
#[command(name = "tailledger", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Tell the built-in story on a fresh ledger: record events, verify the chain, export it.
    Demo {
        /// Keep the demo ledger here instead of in a new temporary directory.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Exit after the story instead of serving the ledger.
        #[arg(long)]
        no_serve: bool,
        /// Where to serve gRPC after the story (a loopback address: the demo has no auth).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
        listen: std::net::SocketAddr,
    },
    /// Verify a ledger directory offline: every hash, every link, no gaps.
    ///
    /// Exits 0 when the chain is intact and 1 with the first bad seq when it is not.
    Verify {
        /// The ledger's data directory (a copy is fine; it is only read).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Write the ledger as JSON Lines, one canonical entry with its hash per line.
    Export {
        /// Where to write the export; it is replaced atomically.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The ledger's data directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
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

/// Runs a parsed command and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Demo {
            data_dir,
            no_serve,
            listen,
        } => demo(data_dir, no_serve, listen),
        Command::Verify { data_dir } => Ledger::open_existing(&data_dir)
            .map_err(|error| error.to_string())
            .and_then(|ledger| {
                let report = verify_store(ledger.store()).map_err(|error| error.to_string())?;
                Ok(print_report(
                    &format!("ledger {}", data_dir.display()),
                    &report,
                ))
            }),
        Command::Export { out, data_dir } => export(&out, &data_dir),
        Command::VerifyExport { file, digest } => File::open(&file)
            .and_then(|opened| verify_export(BufReader::new(opened), digest))
            .map_err(|error| format!("cannot read the export {}: {error}", file.display()))
            .map(|report| print_report(&format!("export {}", file.display()), &report)),
        Command::TortureWriter { data_dir, batches } => torture_writer(&data_dir, batches),
    };
    outcome.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    })
}

fn demo(
    data_dir: Option<PathBuf>,
    no_serve: bool,
    listen: std::net::SocketAddr,
) -> Result<ExitCode, String> {
    if !no_serve && !listen.ip().is_loopback() {
        return Err(format!(
            "--listen {listen} is not a loopback address; the demo serves without authentication, so it only listens on loopback (e.g. 127.0.0.1:50051)"
        ));
    }
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("could not start the async runtime: {error}"))?;
    runtime.block_on(async {
        // Bind first, so a port in use is reported before the story rather than after it.
        let listener = match no_serve {
            true => None,
            false => Some(
                tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|error| {
                        format!("cannot listen on {listen}: {error} (choose another with --listen)")
                    })?,
            ),
        };
        let mut stdout = std::io::stdout();
        let outcome = crate::demo::run(data_dir.as_deref(), &mut stdout)
            .await
            .map_err(|error| error.to_string())?;
        if let Some(listener) = listener {
            let ctrl_c = async {
                // If the signal cannot be listened for, serving until killed is still right.
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            crate::demo::serve(outcome, listener, &mut stdout, ctrl_c)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn export(out: &std::path::Path, data_dir: &std::path::Path) -> Result<ExitCode, String> {
    let ledger = Ledger::open_existing(data_dir).map_err(|error| error.to_string())?;
    let head = export_to_file(ledger.store(), out).map_err(|error| error.to_string())?;
    match head {
        Some(digest) => println!(
            "exported {} events to {}; digest {digest}",
            digest.seq,
            out.display()
        ),
        None => println!("exported an empty ledger to {}", out.display()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a verification report and returns 0 if it is good, 1 if not.
fn print_report(subject: &str, report: &Report) -> ExitCode {
    match (&report.broken, report.last_good) {
        (None, Some(digest)) => {
            println!(
                "ok: {subject} verifies: {} events, digest {digest}",
                report.events_checked
            );
            ExitCode::SUCCESS
        }
        (None, None) => {
            println!("ok: {subject} is empty");
            ExitCode::SUCCESS
        }
        (Some(broken), _) => {
            println!(
                "FAILED: {subject} breaks at {broken} ({} events before it verified)",
                report.events_checked
            );
            ExitCode::from(1)
        }
    }
}

/// Appends batches of 1 to 5 `UserSeen` events closed by a `SyncCompleted` that counts them, so a
/// reader can tell whether any batch is partly there.
fn torture_writer(data_dir: &std::path::Path, batches: Option<u64>) -> Result<ExitCode, String> {
    let ledger = Ledger::open(data_dir).map_err(|error| error.to_string())?;
    let system = SystemId::tailscale();
    let mut stdout = std::io::stdout().lock();
    for batch in 1..=batches.unwrap_or(u64::MAX) {
        let size = batch % 5 + 1;
        let mut events: Vec<Event> = (0..size)
            .map(|index| Event::UserSeen {
                system: system.clone(),
                account: AccountSnapshot {
                    id: format!("u{batch}-{index}"),
                    login_name: format!("user{index}@example.com"),
                    display_name: format!("User {index}"),
                    role: "member".to_owned(),
                    status: "active".to_owned(),
                    account_type: "member".to_owned(),
                    created: None,
                },
            })
            .collect();
        let now = Timestamp::now();
        events.push(Event::SyncCompleted {
            system: system.clone(),
            sync_id: format!("torture-{batch}"),
            started_at: now,
            finished_at: now,
            accounts_observed: size,
            listing_sha256: Hash256::of(&batch.to_be_bytes()),
            events_appended: size,
        });
        let entries = ledger
            .append(now, Actor::Sync(system.clone()), events)
            .map_err(|error| error.to_string())?;
        let last = entries.last().map_or(0, |entry| entry.seq);
        writeln!(stdout, "ack {last}")
            .and_then(|()| stdout.flush())
            .map_err(|error| error.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}
