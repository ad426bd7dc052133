//! An export read back into a ledger of its own, for `tailledger replay`
//! (docs/reference/cli.md#replay): an auditor recomputes the status and the timelines from the
//! export alone, with the same projections, checks and service the server answers with.
//!
//! Every line is verified before it is used (its hash recomputed from its canonical form, its
//! link to the one before checked), so nothing is ever answered from a broken chain; the entries
//! are then appended to an in-memory ledger in batches of the same instant and actor, which
//! seals them again: the head it ends with must be the export's last digest, or the replay is
//! refused.

use std::io::BufRead;

use crate::entry::{Entry, EntryParseError};
use crate::event::{Actor, Event};
use crate::hash::Digest;
use crate::ledger::Ledger;
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::verify::{Break, ChainWalker, read_export_line};

/// Why an export cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read the export: {0}")]
    Read(#[from] std::io::Error),
    #[error("the export's chain breaks at {0}; nothing of it is replayed")]
    Broken(Break),
    #[error("line {line} is not a tailledger entry: {source}")]
    NotAnEntry {
        line: usize,
        #[source]
        source: EntryParseError,
    },
    #[error("the export is empty: there is nothing to replay")]
    Empty,
    #[error(
        "the replayed ledger ends at {replayed:?}, not at the export's last entry {exported}; the export is not a tailledger ledger as it was written"
    )]
    NotReproduced {
        exported: Digest,
        replayed: Option<Digest>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ledger an export describes, in memory, after its chain verified.
pub fn ledger_from_export(reader: impl BufRead) -> Result<Ledger, ReplayError> {
    let ledger = Ledger::in_memory();
    let mut walker = ChainWalker::default();
    let mut batch: Option<(Timestamp, Actor, Vec<Event>)> = None;
    let mut last = None;
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        let read =
            read_export_line(&line).map_err(|detail| format!("line {}: {detail}", index + 1));
        let (link, entry) = match read {
            Ok((link, Some(entry))) => (Ok(link), Some(Ok(entry))),
            // A line not written as the ledger writes it (say, its members in another order)
            // is an entry if its canonical form is one.
            Ok((link, None)) => {
                let canonical = String::from_utf8_lossy(&link.canonical_form);
                let entry = Entry::from_canonical_json(&canonical, link.hash).map_err(|source| {
                    ReplayError::NotAnEntry {
                        line: index + 1,
                        source,
                    }
                });
                (Ok(link), Some(entry))
            }
            Err(detail) => (Err(detail), None),
        };
        walker.step(link).map_err(ReplayError::Broken)?;
        let entry = entry.expect("the walker accepts only lines that were read as links")?;
        last = Some(entry.digest());
        match &mut batch {
            Some((recorded_at, actor, events))
                if *recorded_at == entry.recorded_at && *actor == entry.actor =>
            {
                events.push(entry.event);
            }
            _ => {
                if let Some((recorded_at, actor, events)) = batch.take() {
                    ledger.append(recorded_at, actor, events)?;
                }
                batch = Some((entry.recorded_at, entry.actor, vec![entry.event]));
            }
        }
    }
    if let Some((recorded_at, actor, events)) = batch {
        ledger.append(recorded_at, actor, events)?;
    }
    let exported = last.ok_or(ReplayError::Empty)?;
    let replayed = ledger.log().head();
    if replayed != Some(exported) {
        return Err(ReplayError::NotReproduced { exported, replayed });
    }
    Ok(ledger)
}

/// The timezone the replayed ledger reads dates in: the `roster.timezone` its last
/// `SettingsChanged` of `system` recorded, UTC when it recorded none (or a name this build does
/// not know). A server reads dates in the same one, so online and offline commands agree.
pub fn recorded_timezone(ledger: &Ledger, system: &crate::event::SystemId) -> chrono_tz::Tz {
    ledger.read(|projections| {
        projections
            .settings(system)
            .and_then(|history| history.last())
            .and_then(|settings| settings.timezone.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    })
}
