//! `tailledger evidence`: the auditor's evidence pack of a window
//! (docs/reference/ledger.md#evidence-pack), from a ledger directory or a running server.
//!
//! The ledger is exported first (from a server, its chain verified as it arrives), the export is
//! verified and replayed into a ledger of its own, and the pack is computed from that ledger:
//! what the pack says is what its own `ledger.jsonl` says. Given the ledger's signing key (from
//! a directory) or its public key (from a server), the pack also carries a signed checkpoint of
//! a tree its export is the start of, checked before the pack is written.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::checkpoint::{failure, say_checked};
use super::dates::{Edge, Zone, tell_date};
use super::online::connect;
use super::{Failure, Outcome, ServerArgs, progress, runtime};
use crate::as_of::AsOf;
use crate::config::read_signing_key;
use crate::event::SystemId;
use crate::evidence;
use crate::ledger::Log;
use crate::merkle::VerifierKey;
use crate::time::SystemClock;

/// Where the pack's ledger comes from, and how its checkpoint is had.
pub enum Source<'a> {
    /// A ledger directory; with the ledger's signing key, the pack's checkpoint is signed with it.
    DataDir {
        dir: &'a Path,
        signing_key: Option<&'a Path>,
    },
    /// A server; with the ledger's public key, the pack carries the server's signed checkpoint,
    /// its signature checked.
    Server {
        server: &'a ServerArgs,
        public_key: Option<&'a VerifierKey>,
    },
}

pub fn evidence(source: Source<'_>, from: AsOf, to: AsOf, out: &Path) -> Outcome {
    let cannot = |action: &str, error: &dyn std::fmt::Display| {
        Failure::input(format!("cannot {action}: {error}"))
    };
    // The whole export, in a file of its own that goes with this command.
    let mut export =
        tempfile::tempfile().map_err(|error| cannot("create a temporary file", &error))?;
    let runtime = runtime()?;
    let window = (from, to);
    let system = SystemId::tailscale();
    let signed = matches!(
        source,
        Source::DataDir {
            signing_key: Some(_),
            ..
        }
    );
    let (pack, head) = match source {
        Source::DataDir { dir, signing_key } => {
            // The key first: a refused key costs no export.
            let key = signing_key
                .map(|path| {
                    read_signing_key(path).map(Arc::new).map_err(|reason| {
                        Failure::input(format!("--signing-key {} {reason}", path.display()))
                    })
                })
                .transpose()?;
            let log = Log::open_copy(dir).map_err(Failure::input)?;
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
            runtime
                .block_on(evidence::write_from_export(
                    &mut export,
                    Arc::new(SystemClock),
                    system,
                    window,
                    out,
                    key,
                ))
                .map_err(Failure::input)?
        }
        Source::Server { server, public_key } => runtime.block_on(async {
            let mut client = connect(server).await?;
            let mut writer = std::io::BufWriter::new(&mut export);
            client
                .export(&mut writer, None)
                .await
                .map_err(Failure::input)?;
            writer
                .flush()
                .map_err(|error| cannot("write the export", &error))?;
            drop(writer);
            let replayed = evidence::Replayed::from_export(&mut export, Arc::new(SystemClock), out)
                .map_err(Failure::input)?;
            let mut pack = replayed
                .gather(system, window)
                .await
                .map_err(Failure::input)?;
            if let Some(key) = public_key
                && pack.export_size() > 0
            {
                // Taken after the export, so its tree holds every exported entry.
                let (note, checkpoint) = client.checkpoint(key).await.map_err(failure)?;
                let proof = client
                    .consistency_proof(pack.export_size(), checkpoint.size)
                    .await
                    .map_err(failure)?;
                let checked = replayed
                    .extending_checkpoint(&pack, note, checkpoint, proof)
                    .await
                    .map_err(|error| match error {
                        // The server's answer does not prove the export: as a proof that does
                        // not verify anywhere else, exit 1.
                        evidence::EvidenceError::Checkpoint { .. } => Failure {
                            code: 1,
                            message: error.to_string(),
                        },
                        other => Failure::input(other),
                    })?;
                say_checked("the pack's export", &checked.checkpoint, key);
                pack.checkpoint = Some(checked);
            }
            let head = replayed
                .write(out, &pack, &mut export)
                .await
                .map_err(Failure::input)?;
            Ok::<_, Failure>((pack, head))
        })?,
    };
    let zone = Zone {
        timezone: pack.timezone,
        whose: "the roster.timezone the export recorded",
    };
    tell_date("--from", Some(from), Edge::Start, zone);
    tell_date("--to", Some(to), Edge::End, zone);
    let files = evidence::FILES.len()
        + pack
            .checkpoint
            .as_ref()
            .map_or(0, |_| evidence::CHECKPOINT_FILES.len())
        + 2;
    match head {
        Some(head) => println!(
            "wrote the evidence pack of {} to {} to {}: {files} files, ledger digest {head}",
            pack.timeline.window.from,
            pack.timeline.window.to,
            out.display(),
        ),
        None => println!("wrote the evidence pack to {}", out.display()),
    }
    println!(
        "statement: MANIFEST.note names the SHA-256 of MANIFEST.sha256{}",
        if signed {
            ", signed with the ledger's key (python3 verify_checkpoint.py checkpoint.txt KEY MANIFEST.note)"
        } else {
            ", unsigned: only the ledger's key signs it"
        }
    );
    if let Some(checkpoint) = &pack.checkpoint {
        println!(
            "signed checkpoint: tree size {}, root {} (checkpoint.txt; the pack's {} entries are its start)",
            checkpoint.checkpoint.size, checkpoint.checkpoint.root, checkpoint.export_size
        );
    }
    Ok(ExitCode::SUCCESS)
}
