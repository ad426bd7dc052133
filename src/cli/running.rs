//! Commands that run the service: `demo`, `serve` and `sync`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use super::{Failure, Outcome, findings_exit, progress, runtime, shutdown_signal};
use std::sync::Arc;

use crate::api::{Tokens, status_json, sync_json, sync_now_response};
use crate::app::{self, RunError};
use crate::config::Config;
use crate::event::SystemId;
use crate::ledger::Appended;
use crate::render::{check_table, entry_line, shown_lines, sync_summary};
use crate::sync::SyncOutcome;

fn load(config: &Path) -> Result<Config, Failure> {
    Config::load(config, |name| std::env::var(name).ok()).map_err(Failure::input)
}

pub fn demo(
    data_dir: Option<PathBuf>,
    no_serve: bool,
    listen: std::net::SocketAddr,
    hr: crate::demo::HrSource,
) -> Outcome {
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
        let outcome = crate::demo::run(data_dir.as_deref(), hr, &mut stdout)
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

/// Replaces the scheduler's interval (not the checks' idea of it) for the crash tests, which
/// need syncs landing while the server is killed; the configuration refuses anything under
/// [`MIN_SYNC_INTERVAL`](crate::config::MIN_SYNC_INTERVAL).
const TEST_SYNC_INTERVAL: &str = "TAILLEDGER_TEST_SYNC_INTERVAL";

pub fn serve(config_path: &Path) -> Outcome {
    let mut config = load(config_path)?;
    if let Ok(interval) = std::env::var(TEST_SYNC_INTERVAL) {
        config.sync_interval = humantime::parse_duration(&interval)
            .map_err(|error| Failure::input(format!("{TEST_SYNC_INTERVAL}: {error}")))?;
    }
    let tokens = Arc::new(Tokens::new(config.auth.clone()));
    let path = config_path.to_path_buf();
    runtime()?
        .block_on(async {
            let reloading = super::reload_on_hangup(path, tokens.clone());
            tokio::select! {
                served = app::run(config, tokens, shutdown_signal()) => served,
                () = reloading => unreachable!("reloading waits for signals until the server ends"),
            }
        })
        .map_err(Failure::input)?;
    Ok(ExitCode::SUCCESS)
}

pub fn sync(config: &Path, json: bool, fail_on_findings: bool) -> Outcome {
    let config = load(config)?;
    let (configured, cycle, status) = runtime()?
        .block_on(async {
            let (service, configured) = app::open(&config)?;
            let spinner = progress::spinner(format!(
                "syncing with Tailscale (at most {}, `[tailscale] sync_budget`)",
                humantime::format_duration(config.sync_budget)
            ));
            let cycle = service.sync_now(&SystemId::tailscale()).await;
            spinner.finish_and_clear();
            let cycle = cycle?;
            let status = service.status(SystemId::tailscale(), None).await?;
            Ok::<_, RunError>((configured, cycle, status))
        })
        .map_err(Failure::input)?;
    let report = &cycle.sync;
    // A roster the cycle could not import is bad input, reported after what was recorded.
    let (summary, refused) = match cycle.roster {
        Some(Ok(summary)) => (Some(summary), None),
        Some(Err(error)) => (None, Some(error)),
        None => (None, None),
    };

    let mut stdout = std::io::stdout().lock();
    let written = if json {
        let mut object = status_json(&status);
        object["sync"] = sync_json(&sync_now_response(report));
        if let Some(summary) = summary {
            object["roster"] = json!(summary);
        }
        writeln!(stdout, "{object}")
    } else {
        let lines = |entries: &[crate::entry::Entry]| -> String {
            entries
                .iter()
                .map(|entry| format!("  {}\n", entry_line(entry)))
                .collect()
        };
        let batch = |appended: &Appended| -> String {
            let mut text = lines(&appended.entries);
            if let (omitted @ 1.., Some((_, last))) = (appended.omitted(), appended.seqs()) {
                text += &format!(
                    "  … and {omitted} more, up to seq {last} (`tailledger history` shows them)\n"
                );
            }
            text
        };
        let mut text = String::new();
        if !configured.is_empty() {
            text += &format!("config: recorded\n{}", lines(&configured));
        }
        match (summary, &refused) {
            (Some(summary), _) => text += &format!("roster: {summary}\n"),
            (None, Some(_)) => text += "roster: refused, nothing of it imported\n",
            (None, None) => {}
        }
        text += &batch(&cycle.roster_appended);
        text += &format!("{}\n{}", sync_summary(report), batch(&report.appended));
        text += &format!(
            "\nchecks at {}:\n{}",
            status.evaluated_at,
            check_table(&status.checks)
        );
        writeln!(stdout, "{}", shown_lines(&text))
    };
    written.map_err(Failure::input)?;
    if let Some(error) = refused {
        return Err(Failure::input(error));
    }
    if matches!(report.outcome, SyncOutcome::Failed { .. }) {
        return Ok(ExitCode::from(3));
    }
    Ok(findings_exit(&status, fail_on_findings))
}
