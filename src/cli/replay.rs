//! `tailledger replay`: the status, a timeline or the offboarding report recomputed offline from
//! an export alone, by the same service the server answers with, over an in-memory ledger the
//! verified export fills; or an evidence pack's derived files recomputed from its export and
//! compared with the pack's (`--pack`).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::answer::print_answer;
use super::dates::{Edge, Zone, tell_date};
use super::online::print_status;
use super::timeline::print_timeline;
use super::{Failure, Outcome, runtime};
use crate::as_of::AsOf;
use crate::checks::CheckSettings;
use crate::event::SystemId;
use crate::evidence::replay_pack as recompute_pack;
use crate::replay::{ReplayError, ledger_from_export, recorded_timezone};
use crate::service::Service;
use crate::time::SystemClock;

/// What `replay` is asked of an export.
pub enum Question {
    /// The checks as of an instant (now when absent).
    Status(Option<AsOf>),
    /// The timeline of the window `[from, to)`.
    Timeline((AsOf, AsOf)),
    /// The offboarding report as the export told it at an instant (now when absent).
    Offboarding(Option<AsOf>),
}

pub fn replay(file: &Path, question: Question, json: bool) -> Outcome {
    let opened = File::open(file).map_err(|error| {
        Failure::input(format!(
            "cannot read the export {}: {error}",
            file.display()
        ))
    })?;
    let ledger = match ledger_from_export(BufReader::new(opened)) {
        Ok(ledger) => ledger,
        Err(broken @ ReplayError::Broken(_)) => {
            return Err(Failure {
                code: 1,
                message: format!("{}: {broken}", file.display()),
            });
        }
        Err(error) => return Err(Failure::input(format!("{}: {error}", file.display()))),
    };
    let system = SystemId::tailscale();
    let zone = Zone {
        timezone: recorded_timezone(&ledger, &system),
        whose: "the roster.timezone the export recorded",
    };
    match question {
        Question::Status(as_of) | Question::Offboarding(as_of) => {
            tell_date("--as-of", as_of, Edge::End, zone)
        }
        Question::Timeline((from, to)) => {
            tell_date("--from", Some(from), Edge::Start, zone);
            tell_date("--to", Some(to), Edge::End, zone);
        }
    }
    let service = Service::new(
        Arc::new(ledger),
        Arc::new(SystemClock),
        CheckSettings::default(),
        zone.timezone,
    );
    runtime()?.block_on(async {
        match question {
            Question::Timeline((from, to)) => {
                let timeline = service
                    .timeline(system, from, to)
                    .await
                    .map_err(Failure::input)?;
                print_timeline(&timeline, json)
            }
            Question::Status(as_of) => {
                let status = service
                    .status(system, as_of)
                    .await
                    .map_err(Failure::input)?;
                print_status(&status, json);
                Ok(())
            }
            Question::Offboarding(as_of) => {
                let now = service
                    .past_instant(as_of)
                    .map_err(Failure::input)?
                    .unwrap_or_else(|| service.now());
                let report = service
                    .offboarding_report_as_of(system, (None, None), now)
                    .await
                    .map_err(Failure::input)?;
                print_answer(&report, json);
                Ok(())
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `replay --pack DIR`: exits 0 when every derived file of the pack is what its `ledger.jsonl`
/// gives, 1 naming each that is not, 2 when the pack cannot be read.
pub fn replay_pack(dir: &Path) -> Outcome {
    let differences = runtime()?
        .block_on(recompute_pack(dir, Arc::new(SystemClock)))
        .map_err(|error| Failure::input(format!("{}: {error}", dir.display())))?;
    if differences.is_empty() {
        println!(
            "ok: every derived file of {} is what its ledger.jsonl gives",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut message = format!(
        "{}: {} file(s) differ from what its ledger.jsonl gives",
        dir.display(),
        differences.len()
    );
    for difference in &differences {
        message.push_str(&format!("\n{difference}"));
    }
    Err(Failure { code: 1, message })
}
