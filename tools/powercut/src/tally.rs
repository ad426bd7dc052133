//! After each cut: the backing directory is read without FUSE, on a private copy (so that sled's
//! recovery never rewrites the evidence between rounds): the real binary's `verify` must pass,
//! then every acknowledged (seq, hash) is looked up in the copy, and the figures are counted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;
use std::process::Command;

use crate::overlay::Discarded;
use tailledger::store::Store as _;

/// What the backing directory held after a cut.
pub enum Inspection {
    /// `verify` passed: these acknowledged entries are missing or changed.
    Opened {
        head: u64,
        missing: Vec<(u64, String)>,
    },
    /// The ledger does not open or does not verify: every acknowledged entry is unreadable.
    Failed(String),
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// One line about a finished command, for a message.
fn said(output: &std::process::Output) -> String {
    let text = format!(
        "{} {}",
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let text = text.trim().replace('\n', " | ");
    format!(
        "exit {:?}: {}",
        output.status.code(),
        text.chars().take(400).collect::<String>()
    )
}

/// Checks the ledger in `ledger_dir` (on the backing directory, unmounted) against `acked`.
pub fn inspect(
    binary: &Path,
    ledger_dir: &Path,
    scratch: &Path,
    acked: &BTreeMap<u64, String>,
) -> Inspection {
    if !ledger_dir.join("db").exists() && acked.is_empty() {
        // Cut before the first sync created the ledger: nothing was promised.
        return Inspection::Opened {
            head: 0,
            missing: Vec::new(),
        };
    }
    let copy = scratch.join("copy");
    let _ = fs::remove_dir_all(&copy);
    if let Err(error) = copy_tree(ledger_dir, &copy) {
        return Inspection::Failed(format!("cannot copy {}: {error}", ledger_dir.display()));
    }
    let run = |args: &[&str]| {
        Command::new(binary)
            .args(args)
            .current_dir(scratch)
            .output()
    };
    let copy_arg = copy.to_string_lossy().into_owned();
    match run(&["verify", "--data-dir", &copy_arg]) {
        Ok(output) if output.status.success() => {}
        Ok(output) => return Inspection::Failed(format!("verify {}", said(&output))),
        Err(error) => return Inspection::Failed(format!("cannot run verify: {error}")),
    }
    // The chain verified; now each acknowledged entry is looked up in the same copy. (Through
    // the library rather than `export`: canonical JSON for tens of thousands of entries takes
    // seconds in a debug build, and only the acknowledged ones matter here.)
    let ledger = match tailledger::ledger::Log::open_existing(&copy) {
        Ok(ledger) => ledger,
        Err(error) => {
            return Inspection::Failed(format!("the verified copy does not open: {error}"));
        }
    };
    let mut missing = Vec::new();
    for (seq, hash) in acked {
        match ledger.get(*seq) {
            Ok(Some(entry)) if entry.hash.to_string() == *hash => {}
            Ok(_) => missing.push((*seq, hash.clone())),
            Err(error) => return Inspection::Failed(format!("cannot read seq {seq}: {error}")),
        }
    }
    Inspection::Opened {
        head: ledger.head().map_or(0, |head| head.seq),
        missing,
    }
}

/// The figures of one scenario.
#[derive(Default)]
pub struct Tally {
    /// Acknowledged entries of the current ledger not yet found lost, by seq.
    acked: BTreeMap<u64, String>,
    pub rounds: u64,
    pub cuts_during: u64,
    pub cuts_between: u64,
    /// Distinct acknowledged (seq, hash) pairs over the whole run.
    pub acknowledged: u64,
    /// Acknowledged pairs missing after a cut, or unreadable because the ledger failed.
    pub lost: u64,
    pub failed_reopens: u64,
    /// Writes that failed with no cut before them (on a ledger that had reopened fine).
    pub failed_writes: u64,
    /// Fresh ledgers started because the previous one failed to reopen.
    pub restarts: u64,
    /// Fresh ledgers started by plan, every `fresh_every` cuts.
    pub fresh_ledgers: u64,
    /// The head the last inspection found.
    pub verified_head: u64,
    pub max_head: u64,
    /// Cuts at which unsynced writes to `blobs/` (sled's files for large values) were lost.
    pub cuts_losing_blobs: u64,
    pub discarded_bytes: u64,
    /// FSYNC requests the filesystem served, and the bytes they made durable.
    pub fsyncs: u64,
    pub bytes_synced: u64,
    /// Projection checkpoints in the last ledger inspected, and the largest one's size.
    pub checkpoints: usize,
    pub largest_checkpoint: usize,
    /// One line per problem, for the report.
    pub problems: Vec<String>,
}

impl Tally {
    pub fn ack(&mut self, seq: u64, hash: &str) {
        if self.acked.get(&seq).map(String::as_str) != Some(hash) {
            self.acked.insert(seq, hash.to_owned());
            self.acknowledged += 1;
        }
        self.max_head = self.max_head.max(seq);
    }

    pub fn acked(&self) -> &BTreeMap<u64, String> {
        &self.acked
    }

    pub fn record_cut(&mut self, during: bool, discarded: &[Discarded], write_back: bool) {
        if during {
            self.cuts_during += 1;
        } else {
            self.cuts_between += 1;
        }
        if write_back {
            // A crash only: nothing was thrown away.
            return;
        }
        self.discarded_bytes += discarded.iter().map(|file| file.bytes).sum::<u64>();
        if discarded.iter().any(|file| {
            file.path
                .components()
                .any(|part| part.as_os_str() == "blobs")
        }) {
            self.cuts_losing_blobs += 1;
        }
    }

    /// Counts an inspection; true if the ledger opened (the next step is the reopen append).
    pub fn record_inspection(&mut self, round: u64, inspection: Inspection) -> bool {
        match inspection {
            Inspection::Opened { head, missing } => {
                if !missing.is_empty() {
                    let seqs: Vec<String> =
                        missing.iter().map(|(seq, _)| seq.to_string()).collect();
                    self.problems.push(format!(
                        "round {round}: {} acknowledged entries missing after the cut (seq {}); the ledger's head is {head}",
                        missing.len(),
                        abbreviate(&seqs)
                    ));
                    self.lost += missing.len() as u64;
                    for (seq, _) in &missing {
                        self.acked.remove(seq);
                    }
                }
                self.verified_head = head;
                true
            }
            Inspection::Failed(why) => {
                let unreadable = self.acked.len() as u64;
                self.problems.push(format!(
                    "round {round}: the ledger does not reopen after the cut ({unreadable} acknowledged entries unreadable): {why}"
                ));
                self.lost += unreadable;
                self.failed_reopens += 1;
                false
            }
        }
    }

    /// Counts a ledger that verified offline but refused the append after the cut.
    pub fn record_failed_append(&mut self, round: u64, why: String) {
        self.problems.push(format!(
            "round {round}: the ledger verified but did not accept an append after the cut: {why}"
        ));
        self.failed_reopens += 1;
    }

    /// Counts a write that failed although no cut came before it.
    pub fn record_failed_write(&mut self, round: u64, why: String) {
        self.problems.push(format!(
            "round {round}: a write failed with no cut before it: {why}"
        ));
        self.failed_writes += 1;
    }

    /// Starts over on an empty ledger after a failed reopen; what it held was counted already.
    pub fn restart(&mut self, ledger_dir: &Path) -> io::Result<()> {
        self.restarts += 1;
        Self::empty(ledger_dir)?;
        self.acked.clear();
        self.verified_head = 0;
        Ok(())
    }

    /// Starts over on an empty ledger by plan (every `fresh_every` cuts, to bound the run's time),
    /// after the last cut's ledger passed its reopen check.
    pub fn start_fresh(&mut self, ledger_dir: &Path) -> io::Result<()> {
        self.fresh_ledgers += 1;
        Self::empty(ledger_dir)?;
        self.acked.clear();
        self.verified_head = 0;
        Ok(())
    }

    fn empty(ledger_dir: &Path) -> io::Result<()> {
        match fs::remove_dir_all(ledger_dir) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.failed_reopens == 0
            && self.failed_writes == 0
            && self.acknowledged > 0
    }

    /// A summary in a few lines.
    pub fn summary(&self, name: &str, what: &str) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "| {name} | {} cuts ({} during a write, {} between) | {} acknowledged {what} | {} lost | {} failed reopens |",
            self.rounds,
            self.cuts_during,
            self.cuts_between,
            self.acknowledged,
            self.lost,
            self.failed_reopens
        );
        let _ = write!(
            text,
            "  highest head {}; last ledger inspected held {} checkpoints (largest {} bytes); {} planned fresh ledgers, {} more after failed reopens; {} fsyncs made {} KiB durable; {} cuts threw away unsynced blobs/ writes; {} KiB of unsynced writes thrown away in all",
            self.max_head,
            self.checkpoints,
            self.largest_checkpoint,
            self.fresh_ledgers,
            self.restarts,
            self.fsyncs,
            self.bytes_synced / 1024,
            self.cuts_losing_blobs,
            self.discarded_bytes / 1024
        );
        text
    }
}

fn abbreviate(items: &[String]) -> String {
    if items.len() <= 6 {
        items.join(", ")
    } else {
        format!(
            "{}, … {}",
            items[..3].join(", "),
            items[items.len() - 2..].join(", ")
        )
    }
}

/// The projection checkpoints a ledger holds, newest first: (seq, bytes). Read through the
/// library from the inspection's private copy, only to show that the runs reached them.
pub fn checkpoints(copy: &Path) -> Vec<(u64, usize)> {
    let Ok(store) = tailledger::store::SledStore::open_existing(copy) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut before = u64::MAX;
    // Bounded: each step goes to an older checkpoint.
    for _ in 0..100_000 {
        match store.checkpoint_at_or_before(tailledger::store::Checkpointed::Projections, before) {
            Ok(Some((seq, bytes))) => {
                found.push((seq, bytes.len()));
                if seq == 0 {
                    break;
                }
                before = seq - 1;
            }
            _ => break,
        }
    }
    found
}
