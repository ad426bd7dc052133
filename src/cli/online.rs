//! Commands that ask a running server: `status`, `history`, `export --server`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::offline::print_exported;
use super::{Failure, Outcome, ServerArgs, findings_exit, runtime};
use crate::api::client::ApiClient;
use crate::api::status_json;
use crate::as_of::AsOf;
use crate::event::SystemId;
use crate::export::AtomicFile;
use crate::render::{check_table, entry_line};

pub(super) async fn connect(server: &ServerArgs) -> Result<ApiClient, Failure> {
    ApiClient::connect(
        &server.server,
        server.token.as_deref(),
        server.ca_cert.as_deref(),
    )
    .await
    .map_err(Failure::input)
}

pub fn status(
    server: &ServerArgs,
    as_of: Option<AsOf>,
    json: bool,
    fail_on_findings: bool,
) -> Outcome {
    let status = runtime()?.block_on(async {
        connect(server)
            .await?
            .status(&SystemId::tailscale(), as_of)
            .await
            .map_err(Failure::input)
    })?;
    if json {
        println!("{}", status_json(&status));
    } else {
        let head = status.head.map_or("an empty ledger".to_owned(), |head| {
            format!("ledger {head}")
        });
        println!(
            "checks at {} ({head}):\n{}",
            status.evaluated_at,
            check_table(&status.checks)
        );
    }
    Ok(findings_exit(&status, fail_on_findings))
}

pub fn history(server: &ServerArgs, subject: &str, json: bool) -> Outcome {
    let entries = runtime()?.block_on(async {
        connect(server)
            .await?
            .history(subject)
            .await
            .map_err(Failure::input)
    })?;
    let mut stdout = std::io::stdout().lock();
    for entry in &entries {
        let line = if json {
            entry.export_line()
        } else {
            entry_line(entry)
        };
        writeln!(stdout, "{line}").map_err(Failure::input)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn export(server: &ServerArgs, out: &Path) -> Outcome {
    let cannot_write =
        |error: std::io::Error| Failure::input(format!("cannot write {}: {error}", out.display()));
    let mut file = AtomicFile::create(out).map_err(cannot_write)?;
    let head = runtime()?.block_on(async {
        connect(server)
            .await?
            .export(file.writer())
            .await
            .map_err(Failure::input)
    })?;
    file.commit().map_err(cannot_write)?;
    print_exported(out, head);
    Ok(ExitCode::SUCCESS)
}
