//! Commands that ask a running server: `status`, `history`, `export --server` (the last two
//! checked against the server's signed checkpoint when given the ledger's public key).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::checkpoint;
use super::dates::{Edge, Zone, tell_date};
use super::offline::print_exported;
use super::{Failure, Outcome, ServerArgs, findings_exit, runtime};
use crate::api::client::ApiClient;
use crate::api::status_json;
use crate::as_of::AsOf;
use crate::event::SystemId;
use crate::export::AtomicFile;
use crate::merkle::VerifierKey;
use crate::render::{check_table, entry_line_naming, shown_lines};
use crate::service::CheckReport;

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
        let mut client = connect(server).await?;
        let zone = Zone::of_server(&mut client, &[as_of]).await?;
        tell_date("--as-of", as_of, Edge::End, zone);
        Ok::<_, Failure>(client.status(&SystemId::tailscale(), as_of).await?)
    })?;
    print_status(&status, json);
    Ok(findings_exit(&status, fail_on_findings))
}

/// The checks as `status` prints them: a table, or `GetStatusResponse` in proto3 JSON.
pub(super) fn print_status(status: &CheckReport, json: bool) {
    if json {
        println!("{}", status_json(status));
    } else {
        let head = status.head.map_or("an empty ledger".to_owned(), |head| {
            format!("ledger {head}")
        });
        println!(
            "checks at {} ({head}):\n{}",
            status.evaluated_at,
            shown_lines(&check_table(&status.checks))
        );
        if let Some(seq) = status.settings_recorded_from_seq {
            println!(
                "settings: none were recorded by then; those recorded at seq {seq} were applied"
            );
        }
    }
}

/// The events about `subject`; with `key`, each checked for inclusion in the server's signed
/// checkpoint.
pub fn history(
    server: &ServerArgs,
    subject: &str,
    json: bool,
    key: Option<&VerifierKey>,
) -> Outcome {
    let entries = runtime()?.block_on(async {
        let mut client = connect(server).await?;
        let entries = client.history(subject).await.map_err(Failure::input)?;
        if let Some(key) = key {
            let checkpoint = checkpoint::check_entries(&mut client, &entries, key).await?;
            checkpoint::say_checked("every event", &checkpoint, key);
        }
        Ok::<_, Failure>(entries)
    })?;
    // An event that names an account by id alone (a link, a classification) is shown with the
    // login name the history's own observations of it give.
    let logins: std::collections::HashMap<(&SystemId, &str), &str> = entries
        .iter()
        .filter_map(|entry| match &entry.event {
            crate::event::Event::UserSeen { system, account } => {
                Some(((system, account.id.as_str()), account.login_name.as_str()))
            }
            _ => None,
        })
        .collect();
    let login_of =
        |system: &SystemId, id: &str| logins.get(&(system, id)).map(|login| (*login).to_owned());
    let mut stdout = std::io::stdout().lock();
    for entry in &entries {
        let line = if json {
            entry.export_line()
        } else {
            entry_line_naming(entry, login_of)
        };
        writeln!(stdout, "{line}").map_err(Failure::input)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The export of a server's ledger; with `key`, checked against its signed checkpoint, taken
/// first: the export's first entries must make the checkpoint's tree.
pub fn export(server: &ServerArgs, out: &Path, key: Option<&VerifierKey>) -> Outcome {
    let cannot_write =
        |error: std::io::Error| Failure::input(format!("cannot write {}: {error}", out.display()));
    let mut file = AtomicFile::create(out).map_err(cannot_write)?;
    let head = runtime()?.block_on(async {
        let mut client = connect(server).await?;
        let checkpoint = match key {
            Some(key) => Some(checkpoint::signed_checkpoint(&mut client, key).await?),
            None => None,
        };
        let head = client
            .export(file.writer(), checkpoint.as_ref())
            .await
            .map_err(checkpoint::failure)?;
        if let (Some(checkpoint), Some(key)) = (&checkpoint, key) {
            checkpoint::say_checked("the export", checkpoint, key);
        }
        Ok::<_, Failure>(head)
    })?;
    file.commit().map_err(cannot_write)?;
    print_exported(out, head);
    Ok(ExitCode::SUCCESS)
}
