//! `tailledger evidence`: the auditor's evidence pack of a window (SPEC §16), from a ledger
//! directory or a running server.
//!
//! The ledger is exported first (from a server, its chain verified as it arrives), the export is
//! verified and replayed into a ledger of its own, and the pack is computed from that ledger:
//! what the pack says is what its own `ledger.jsonl` says.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::online::connect;
use super::{Failure, Outcome, ServerArgs, progress, runtime};
use crate::as_of::AsOf;
use crate::event::SystemId;
use crate::evidence;
use crate::ledger::Log;
use crate::time::SystemClock;

/// Where the pack's ledger comes from.
pub enum Source<'a> {
    DataDir(&'a Path),
    Server(&'a ServerArgs),
}

pub fn evidence(source: Source<'_>, from: AsOf, to: AsOf, out: &Path) -> Outcome {
    let cannot = |action: &str, error: &dyn std::fmt::Display| {
        Failure::input(format!("cannot {action}: {error}"))
    };
    // The whole export, in a file of its own that goes with this command.
    let mut export =
        tempfile::tempfile().map_err(|error| cannot("create a temporary file", &error))?;
    let runtime = runtime()?;
    match source {
        Source::DataDir(data_dir) => {
            let log = Log::open_copy(data_dir).map_err(Failure::input)?;
            let total = log.head().map_or(0, |head| head.seq);
            let bar = progress::bar(total, "exporting", false);
            let mut writer = std::io::BufWriter::new(&mut export);
            log.export_to(
                &mut writer,
                Path::new("the evidence's export"),
                &|written| bar.inc(written),
            )
            .map_err(Failure::input)?;
            drop(writer);
            bar.finish_and_clear();
        }
        Source::Server(server) => runtime.block_on(async {
            let mut client = connect(server).await?;
            let mut writer = std::io::BufWriter::new(&mut export);
            client
                .export(&mut writer, None)
                .await
                .map_err(Failure::input)?;
            writer
                .flush()
                .map_err(|error| cannot("write the export", &error))
        })?,
    }
    let (pack, head) = runtime
        .block_on(evidence::write_from_export(
            &mut export,
            Arc::new(SystemClock),
            SystemId::tailscale(),
            (from, to),
            out,
        ))
        .map_err(Failure::input)?;
    match head {
        Some(head) => println!(
            "wrote the evidence pack of {} to {} to {}: {} files, ledger digest {head}",
            pack.timeline.window.from,
            pack.timeline.window.to,
            out.display(),
            evidence::FILES.len() + 1,
        ),
        None => println!("wrote the evidence pack to {}", out.display()),
    }
    Ok(ExitCode::SUCCESS)
}
