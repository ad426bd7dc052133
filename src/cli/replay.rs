//! `tailledger replay`: the status or a timeline recomputed offline from an export alone, by the
//! same service the server answers with, over an in-memory ledger the verified export fills.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::dates::{Edge, Zone, tell_date};
use super::online::print_status;
use super::timeline::print_timeline;
use super::{Failure, Outcome, runtime};
use crate::as_of::AsOf;
use crate::checks::CheckSettings;
use crate::event::SystemId;
use crate::replay::{ReplayError, ledger_from_export, recorded_timezone};
use crate::service::Service;
use crate::time::SystemClock;

pub fn replay(
    file: &Path,
    as_of: Option<AsOf>,
    window: Option<(AsOf, AsOf)>,
    json: bool,
) -> Outcome {
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
    tell_date("--as-of", as_of, Edge::End, zone);
    if let Some((from, to)) = window {
        tell_date("--from", Some(from), Edge::Start, zone);
        tell_date("--to", Some(to), Edge::End, zone);
    }
    let service = Service::new(
        Arc::new(ledger),
        Arc::new(SystemClock),
        CheckSettings::default(),
        zone.timezone,
    );
    runtime()?.block_on(async {
        match window {
            Some((from, to)) => {
                let timeline = service
                    .timeline(system, from, to)
                    .await
                    .map_err(Failure::input)?;
                print_timeline(&timeline, json)
            }
            None => {
                let status = service
                    .status(system, as_of)
                    .await
                    .map_err(Failure::input)?;
                print_status(&status, json);
                Ok(())
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
