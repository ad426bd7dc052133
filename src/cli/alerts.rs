//! `tailledger alerts` (docs/reference/cli.md#alerts): `test --route NAME` sends a test message
//! to the route's destination and records nothing (a test is no notification: the ledger keeps
//! only deliveries of real changes); `pending` lists the notifications each destination has yet
//! to acknowledge, derived from the ledger as `serve` derives them.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::{Failure, Outcome, runtime};
use crate::alerts::route::{self, Outgoing};
use crate::alerts::send::Sender;
use crate::config::Config;
use crate::event::SystemId;
use crate::ledger::Ledger;
use crate::render::Show;
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
/// acknowledged. Reads the ledger directory, so `serve` must be stopped (while it runs,
/// `tailledger_alerts_pending` on the metrics endpoint counts the same).
pub fn pending(config: &Path) -> Outcome {
    let (config, alerts) = load(config)?;
    let ledger = Arc::new(Ledger::open(&config.data_dir).map_err(|error| {
        Failure::input(format!(
            "{error} (while serve runs, read tailledger_alerts_pending from its metrics endpoint)"
        ))
    })?);
    let timezone = config
        .roster
        .as_ref()
        .map_or(chrono_tz::UTC, |roster| roster.timezone);
    let service = Service::new(
        ledger,
        Arc::new(SystemClock),
        config.checks.clone(),
        timezone,
    );
    let window = runtime()?
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
