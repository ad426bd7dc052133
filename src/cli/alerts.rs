//! `tailledger alerts` (docs/reference/cli.md#alerts): `test --route NAME` sends a test message
//! to the route's destination and records nothing (a test is no notification: the ledger keeps
//! only deliveries of real changes); `pending` lists the notifications each destination has yet
//! to acknowledge, derived from the ledger as `serve` derives them: a stopped server's directory,
//! or a running server's ledger exported through its API.

use std::io::{BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::online::connect;
use super::{Failure, Outcome, ServerArgs, runtime};
use crate::alerts::route::{self, Outgoing};
use crate::alerts::send::Sender;
use crate::config::Config;
use crate::event::SystemId;
use crate::ledger::Ledger;
use crate::render::Show;
use crate::replay;
use crate::service::Service;
use crate::time::{Clock, SystemClock};

fn load(config: &Path) -> Result<(Config, crate::alerts::AlertsSettings), Failure> {
    let config = Config::load(config, |name| std::env::var(name).ok()).map_err(Failure::input)?;
    let alerts = config
        .alerts
        .clone()
        .ok_or_else(|| Failure::input("the configuration has no [alerts] table"))?;
    Ok((config, alerts))
}

/// Sends a test message through route `name`.
pub fn test(config: &Path, name: &str) -> Outcome {
    let (_, alerts) = load(config)?;
    let route = alerts
        .routes
        .iter()
        .find(|route| route.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = alerts
                .routes
                .iter()
                .map(|route| route.name.as_str())
                .collect();
            Failure::input(format!(
                "no [[alerts.route]] is named {}; the routes are: {}",
                name.shown(),
                names.join(", ")
            ))
        })?;
    let destination = alerts
        .destinations
        .iter()
        .find(|destination| destination.name == route.destination)
        .expect("the configuration checks that a route's destination exists");
    let now = SystemClock.now();
    let message = Outgoing {
        route: route.name.clone(),
        destination: destination.name.clone(),
        id: format!("test-{}", now.as_micros()),
        digest_at: None,
        notifications: Vec::new(),
    };
    let sender = Sender::new(alerts.console_url.clone());
    runtime()?
        .block_on(sender.send(destination, &message, now, true))
        .map_err(|error| Failure::input(format!("the test message was not delivered: {error}")))?;
    println!(
        "{} acknowledged test message {} (route {}); nothing is recorded in the ledger: a test is not a notification",
        destination.name, message.id, route.name
    );
    Ok(ExitCode::SUCCESS)
}

/// Lists the backlog: every notification a route sends that its destination has not
/// acknowledged. From the ledger directory (`data_dir`, else the configuration's), which only
/// works while `serve` is stopped (sled allows one process), or through a running `server`: its
/// whole ledger exported, each entry checked against its hash and the chain, and replayed here.
/// Alarms the server computes live are not in an export: `tailledger status` shows them.
pub fn pending(config: &Path, data_dir: Option<PathBuf>, server: Option<ServerArgs>) -> Outcome {
    let (config, alerts) = load(config)?;
    let runtime = runtime()?;
    let ledger = match server {
        Some(server) => runtime.block_on(async {
            let mut export = tempfile::tempfile().map_err(|error| {
                Failure::input(format!("cannot create a temporary file: {error}"))
            })?;
            let mut client = connect(&server).await?;
            let mut writer = std::io::BufWriter::new(&mut export);
            client
                .export(&mut writer, None)
                .await
                .map_err(Failure::input)?;
            let cannot_read =
                |error: std::io::Error| Failure::input(format!("cannot read the export: {error}"));
            writer.flush().map_err(cannot_read)?;
            drop(writer);
            export.rewind().map_err(cannot_read)?;
            replay::ledger_from_export(BufReader::new(export)).map_err(Failure::input)
        })?,
        None => {
            let dir = data_dir.unwrap_or_else(|| config.data_dir.clone());
            Ledger::open(&dir).map_err(|error| {
                Failure::input(format!(
                    "{error} (while serve runs, ask it: tailledger alerts pending --server URL)"
                ))
            })?
        }
    };
    let timezone = config
        .roster
        .as_ref()
        .map_or(chrono_tz::UTC, |roster| roster.timezone);
    let service = Service::new(
        Arc::new(ledger),
        Arc::new(SystemClock),
        config.checks.clone(),
        timezone,
    );
    let window = runtime
        .block_on(service.alert_window(SystemId::tailscale(), alerts.lookback))
        .map_err(Failure::input)?;
    let pending = route::pending(&alerts.routes, window.derived());
    for (route, notification) in &pending {
        println!(
            "{} {} {} {} {} [{}] {}",
            route.destination,
            route.name,
            notification.at,
            notification.change.as_str(),
            notification.check_id,
            notification.subject_text().shown(),
            notification.id
        );
    }
    println!("{} pending", pending.len());
    Ok(ExitCode::SUCCESS)
}
