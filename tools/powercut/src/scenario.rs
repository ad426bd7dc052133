//! What both scenarios share: where their files are, and the step after every cut (inspect the
//! backing directory, count, start a fresh ledger if this one is lost).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mount::Mounted;
use crate::overlay::Discarded;
use crate::tally::{Tally, inspect};

/// The settings of one scenario run.
pub struct Settings {
    /// The `tailledger` binary under test.
    pub binary: PathBuf,
    /// A directory of its own for this scenario.
    pub dir: PathBuf,
    pub rounds: u64,
    pub users: usize,
    /// Keep unsynced writes at the cut (a process crash only): the control run.
    pub write_back: bool,
    pub seed: u64,
    /// Start a fresh ledger after this many cuts (0: never), so that the time a round takes
    /// (the binary's `verify` of the whole chain, in a debug build) stays bounded.
    pub fresh_every: u64,
}

impl Settings {
    /// Whether the ledger is replaced after `cuts` cuts.
    pub fn fresh_due(&self, cuts: u64) -> bool {
        self.fresh_every > 0 && cuts > 0 && cuts.is_multiple_of(self.fresh_every)
    }
}

/// The directories of a scenario.
pub struct Layout {
    pub backing: PathBuf,
    pub mountpoint: PathBuf,
    pub scratch: PathBuf,
    pub config: PathBuf,
}

/// The ledger's directory name, under the mount point (for the binary) and the backing directory
/// (for the inspection).
const LEDGER: &str = "ledger";

impl Layout {
    pub fn create(dir: &Path) -> io::Result<Self> {
        let layout = Layout {
            backing: dir.join("backing"),
            mountpoint: dir.join("mnt"),
            scratch: dir.join("inspect"),
            config: dir.join("tailledger.toml"),
        };
        for made in [&layout.backing, &layout.mountpoint, &layout.scratch] {
            fs::create_dir_all(made)?;
        }
        Ok(layout)
    }

    /// The data directory as the binary sees it, through the mount.
    pub fn mounted_ledger(&self) -> PathBuf {
        self.mountpoint.join(LEDGER)
    }

    pub fn backing_ledger(&self) -> PathBuf {
        self.backing.join(LEDGER)
    }

    pub fn mount(&self) -> io::Result<Mounted> {
        Mounted::mount(&self.backing, &self.mountpoint)
    }
}

/// Cuts the power of `mounted` (its writers are dead), inspects the backing directory and counts.
/// Returns whether the ledger must now pass the reopen check (an append after the cut); a ledger
/// that failed is replaced by a fresh one.
pub fn cut_and_inspect(
    settings: &Settings,
    layout: &Layout,
    tally: &mut Tally,
    mounted: Mounted,
    round: u64,
    during: bool,
) -> io::Result<(bool, Vec<Discarded>)> {
    let stats = mounted.stats();
    tally.fsyncs += stats.fsyncs;
    tally.bytes_synced += stats.bytes_synced;
    let discarded = mounted.cut(settings.write_back)?;
    tally.rounds += 1;
    tally.record_cut(during, &discarded, settings.write_back);
    let inspection = inspect(
        &settings.binary,
        &layout.backing_ledger(),
        &layout.scratch,
        tally.acked(),
    );
    let opened = tally.record_inspection(round, inspection);
    if !opened {
        tally.restart(&layout.backing_ledger())?;
    }
    Ok((opened, discarded))
}

/// A few words on what a cut threw away (or, in a crash-only run, kept).
pub fn describe_discarded(discarded: &[Discarded], write_back: bool) -> String {
    if discarded.is_empty() {
        return "nothing unsynced".to_owned();
    }
    let bytes: u64 = discarded.iter().map(|file| file.bytes).sum();
    let names: Vec<String> = discarded
        .iter()
        .take(4)
        .map(|file| {
            let path = file.path.strip_prefix(LEDGER).unwrap_or(&file.path);
            format!("{} {} KiB", path.display(), file.bytes.div_ceil(1024))
        })
        .collect();
    let more = discarded.len().saturating_sub(names.len());
    format!(
        "{} KiB unsynced {} in {} file(s): {}{}",
        bytes.div_ceil(1024),
        if write_back {
            "kept (crash only)"
        } else {
            "thrown away"
        },
        discarded.len(),
        names.join(", "),
        if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        }
    )
}

/// A random moment up to `limit`, for a cut.
pub fn random_delay(rng: &mut fastrand::Rng, limit: Duration) -> Duration {
    limit.mul_f64(rng.f64())
}
