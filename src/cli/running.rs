//! Commands that run the service: `demo`, `serve` and `sync`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use super::{Failure, Outcome, findings_exit, runtime, shutdown_signal};
use crate::api::status_json;
use crate::config::Config;
use crate::event::SystemId;
use crate::render::{check_table, entry_line, sync_summary};
use crate::serve::{self, RunError};
use crate::sync::SyncOutcome;

fn load(config: &Path) -> Result<Config, Failure> {
    Config::load(config, |name| std::env::var(name).ok()).map_err(Failure::input)
}

pub fn demo(data_dir: Option<PathBuf>, no_serve: bool, listen: std::net::SocketAddr) -> Outcome {
    if !no_serve && !listen.ip().is_loopback() {
        return Err(Failure::input(format!(
            "--listen {listen} is not a loopback address; the demo serves without authentication, so it only listens on loopback (e.g. 127.0.0.1:50051)"
        )));
    }
    runtime()?.block_on(async {
        // Bind first, so a port in use is reported before the story rather than after it.
        let listener = match no_serve {
            true => None,
            false => Some(tokio::net::TcpListener::bind(listen).await.map_err(|error| {
                Failure::input(format!(
                    "cannot listen on {listen}: {error} (choose another address with --listen)"
                ))
            })?),
        };
        let mut stdout = std::io::stdout();
        let outcome = crate::demo::run(data_dir.as_deref(), &mut stdout)
            .await
            .map_err(Failure::input)?;
        if let Some(listener) = listener {
            crate::demo::serve(outcome, listener, &mut stdout, shutdown_signal())
                .await
                .map_err(Failure::input)?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn serve(config: &Path) -> Outcome {
    let config = load(config)?;
    runtime()?
        .block_on(serve::serve(config, shutdown_signal()))
        .map_err(Failure::input)?;
    Ok(ExitCode::SUCCESS)
}

pub fn sync(config: &Path, json: bool, fail_on_findings: bool) -> Outcome {
    let config = load(config)?;
    let (summary, report, status) = runtime()?
        .block_on(async {
            let service = serve::open(&config)?;
            let summary = serve::import_roster(&service, config.roster.as_ref())?;
            let report = service.sync_now(&SystemId::tailscale()).await?;
            let status = service.status(&SystemId::tailscale(), None)?;
            Ok::<_, RunError>((summary, report, status))
        })
        .map_err(Failure::input)?;

    if json {
        let mut object = status_json(&status);
        let (outcome, error_class, message, accounts, appended, anomaly) = match &report.outcome {
            SyncOutcome::Completed {
                accounts_observed,
                events_appended,
                anomaly,
            } => (
                "completed",
                String::new(),
                String::new(),
                *accounts_observed,
                *events_appended,
                *anomaly,
            ),
            SyncOutcome::Failed {
                error_class,
                message,
            } => (
                "failed",
                error_class.to_string(),
                message.clone(),
                0,
                0,
                false,
            ),
        };
        object["sync"] = json!({
            "syncId": report.sync_id,
            "outcome": outcome,
            "errorClass": error_class,
            "message": message,
            "accountsObserved": accounts.to_string(),
            "eventsAppended": appended.to_string(),
            "anomaly": anomaly,
        });
        if let Some(summary) = summary {
            object["roster"] = json!(summary);
        }
        println!("{object}");
    } else {
        if let Some(summary) = summary {
            println!(
                "roster: {} onboarded, {} updated, {} offboarded, {} reinstated, {} unchanged",
                summary.onboarded,
                summary.updated,
                summary.offboarded,
                summary.reinstated,
                summary.unchanged
            );
        }
        println!("{}", sync_summary(&report));
        for entry in &report.entries {
            println!("  {}", entry_line(entry));
        }
        println!(
            "\nchecks at {}:\n{}",
            status.evaluated_at,
            check_table(&status.checks)
        );
    }
    if matches!(report.outcome, SyncOutcome::Failed { .. }) {
        return Ok(ExitCode::from(3));
    }
    Ok(findings_exit(&status, fail_on_findings))
}
