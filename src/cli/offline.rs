//! Commands that work on files alone: verifying a ledger directory or an export, writing an
//! export from a ledger directory, hashing a token, and the crash-test writer.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;
use std::process::ExitCode;

use super::{Failure, Outcome, progress};
use crate::event::{AccountSnapshot, Actor, Event, SystemId};
use crate::hash::{Digest, Hash256};
use crate::ledger::{Ledger, Log};
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::verify::{Break, Fault, Report, verify_export as verify_export_file};

/// Verifies a ledger directory, and that it holds `digest` (one noted from an export, a
/// checkpoint or `tailledger digest`) when given. A store that is there but cannot be read is a
/// failed verification (1), naming what verified before it; no ledger, or one in use, is 2.
pub fn verify(data_dir: &Path, digest: Option<Digest>, json: bool) -> Outcome {
    let subject = format!("ledger {}", data_dir.display());
    let report = match Log::open_copy_to_verify(data_dir) {
        Ok(log) => {
            let bar = progress::bar(entries(&log), "verifying", false);
            let report = log
                .verify_telling(&|checked| bar.inc(checked))
                .map_err(Failure::input)?;
            bar.finish_and_clear();
            holding(&log, report, digest).map_err(Failure::input)?
        }
        Err(error @ (StoreError::NotFound { .. } | StoreError::Locked { .. })) => {
            return Err(Failure::input(error));
        }
        // The store is there but cannot even be opened: nothing of it verifies.
        Err(damaged) => Report {
            events_checked: 0,
            last_good: None,
            broken: Some(Break {
                seq: 1,
                fault: Fault::Unreadable {
                    detail: damaged.to_string(),
                },
            }),
        },
    };
    if json {
        println!("{}", report_json(&report));
        return Ok(exit_code(&report));
    }
    Ok(print_report(&subject, &report))
}

/// `report`, failed unless the verified ledger holds `digest` (a ledger cut short by a damaged
/// store can verify as a shorter chain; the digest is what it must still reach).
fn holding(log: &Log, report: Report, digest: Option<Digest>) -> Result<Report, StoreError> {
    let Some(digest) = digest.filter(|_| report.is_ok()) else {
        return Ok(report);
    };
    let fault = match log.get(digest.seq)? {
        None => Fault::DigestNotFound { digest },
        Some(entry) if entry.hash != digest.hash => Fault::DigestMismatch {
            digest,
            found: entry.hash,
        },
        Some(_) => return Ok(report),
    };
    Ok(Report {
        broken: Some(Break {
            seq: digest.seq,
            fault,
        }),
        ..report
    })
}

/// A verification as one JSON object, as `verify --server --json` prints it, with the last
/// entry that verified.
fn report_json(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "ok": report.is_ok(),
        "events_checked": report.events_checked,
        "last_good": report.last_good.map(|digest| digest.to_string()),
        "first_bad_seq": report.broken.as_ref().map_or(0, |broken| broken.seq),
        "detail": report.broken.as_ref().map(|broken| broken.fault.to_string()).unwrap_or_default(),
    })
}

fn exit_code(report: &Report) -> ExitCode {
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn export(out: &Path, data_dir: &Path) -> Outcome {
    let log = Log::open_copy(data_dir).map_err(Failure::input)?;
    let bar = progress::bar(entries(&log), "exporting", false);
    let head = log
        .export_to_file(out, &|written| bar.inc(written))
        .map_err(Failure::input)?;
    bar.finish_and_clear();
    print_exported(out, head);
    Ok(ExitCode::SUCCESS)
}

/// How many entries the ledger holds: its head's seq.
fn entries(log: &Log) -> u64 {
    log.head().map_or(0, |head| head.seq)
}

/// Says what an export holds.
pub fn print_exported(out: &Path, head: Option<Digest>) {
    match head {
        Some(digest) => println!(
            "exported {} events to {}; digest {digest}",
            digest.seq,
            out.display()
        ),
        None => println!("exported an empty ledger to {}", out.display()),
    }
}

pub fn verify_export(file: &Path, digest: Option<Digest>) -> Outcome {
    let report = File::open(file)
        .and_then(|opened| {
            let bar = progress::bar(opened.metadata()?.len(), "verifying", true);
            let report = verify_export_file(BufReader::new(bar.wrap_read(opened)), digest);
            bar.finish_and_clear();
            report
        })
        .map_err(|error| {
            Failure::input(format!(
                "cannot read the export {}: {error}",
                file.display()
            ))
        })?;
    Ok(print_report(&format!("export {}", file.display()), &report))
}

/// Reads a token from standard input (one line; surrounding white space is not part of it).
pub fn hash_token() -> Outcome {
    let token = crate::bounded::read_text(std::io::stdin(), 64 * 1024).map_err(|error| {
        Failure::input(format!(
            "cannot read the token from standard input: {error}"
        ))
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(Failure::input(
            "no token on standard input; pipe one in, e.g. `tailledger hash-token < token.txt`",
        ));
    }
    println!("{}", Hash256::of(token.as_bytes()));
    Ok(ExitCode::SUCCESS)
}

/// Prints a verification report and returns 0 if it is good, 1 if not.
pub fn print_report(subject: &str, report: &Report) -> ExitCode {
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
        (Some(broken), last_good) => {
            let last = last_good.map_or(String::new(), |digest| format!(", the last {digest}"));
            println!(
                "FAILED: {subject} breaks at {broken} ({} events before it verified{last})",
                report.events_checked
            );
            exit_code(report)
        }
    }
}

/// Appends batches of 1 to 5 `UserSeen` events closed by a `SyncCompleted` that counts them, so a
/// reader can tell whether any batch is partly there. It writes through the one writer, like
/// the service.
pub fn torture_writer(data_dir: &Path, batches: Option<u64>) -> Outcome {
    let ledger = Ledger::open(data_dir).map_err(Failure::input)?;
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
        let appended = ledger
            .append(now, Actor::Sync(system.clone()), events)
            .map_err(Failure::input)?;
        let last = appended.last.map_or(0, |digest| digest.seq);
        writeln!(stdout, "ack {last}")
            .and_then(|()| stdout.flush())
            .map_err(Failure::input)?;
    }
    Ok(ExitCode::SUCCESS)
}
