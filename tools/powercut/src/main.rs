//! `powercut`: the power-loss test of tailledger (docs/reference/time-and-durability.md#power-loss,
//! RELIABILITY.md "Power loss").
//!
//! The binary under test writes its ledger through a FUSE pass-through filesystem served by this
//! process ([`overlay`]), which keeps every write in a volatile overlay until that file is
//! fsynced. A power cut SIGKILLs the writers, throws every overlay away and unmounts; the backing
//! directory is then read without FUSE. First the harness checks its own model ([`probe`]), then
//! it cuts the power under `tailledger sync` ([`sync_cuts`]) and `tailledger serve`
//! ([`serve_cuts`]) on ledgers large enough to hold projection checkpoints.
//!
//! Needs root and `/dev/fuse` (it mounts with mount(2) itself; no libfuse). Exit codes: 0 every
//! check passed; 1 something was lost, a ledger did not reopen, or the model misbehaved; 2 the
//! harness could not run (no FUSE, no binary).
#![deny(unsafe_code)]

mod mount;
mod overlay;
mod probe;
mod process;
mod scenario;
mod serve_cuts;
mod sync_cuts;
mod tailnet;
mod tally;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::scenario::Settings;
use crate::tally::Tally;

/// Power cuts under the real tailledger binary, on a FUSE overlay that loses unsynced writes.
#[derive(Parser)]
#[command(name = "powercut")]
struct Cli {
    /// The tailledger binary under test.
    #[arg(long, global = true, default_value = "target/debug/tailledger")]
    binary: PathBuf,
    /// Work here (created if missing, kept afterwards) instead of in a temporary directory that
    /// is removed when every check passed.
    #[arg(long, global = true)]
    work: Option<PathBuf>,
    /// The random seed (printed, so that a run can be repeated).
    #[arg(long, global = true)]
    seed: Option<u64>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check the model only: which kinds of write survive a cut.
    SelfTest,
    /// Power cuts during and between runs of `tailledger sync`.
    Sync {
        #[arg(long, default_value_t = 40)]
        rounds: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Power cuts under `tailledger serve` with an admin writer and a streaming follower.
    Serve {
        #[arg(long, default_value_t = 30)]
        rounds: u64,
        #[command(flatten)]
        common: Common,
    },
    /// The self-test, then both scenarios (what CI runs).
    All {
        #[arg(long, default_value_t = 40)]
        sync_rounds: u64,
        #[arg(long, default_value_t = 30)]
        serve_rounds: u64,
        #[command(flatten)]
        common: Common,
    },
    /// One probe writer of the self-test (run by the self-test itself).
    #[command(hide = true)]
    Probe { mode: String, file: PathBuf },
    /// List the projection checkpoints of a ledger directory (a copy: it is opened in place).
    Checkpoints { data_dir: PathBuf },
}

#[derive(clap::Args, Clone, Copy)]
struct Common {
    /// Users in the simulated tailnet.
    #[arg(long, default_value_t = 500)]
    users: usize,
    /// Keep unsynced writes at each cut, as a process crash with a surviving kernel would: the
    /// control run, which must lose nothing even on a store that is not power-safe.
    #[arg(long)]
    crash_only: bool,
    /// Start a fresh ledger after this many cuts (0: one ledger throughout). Each cut's check
    /// verifies the whole chain with the debug binary, which grows slow past ~10,000 entries.
    #[arg(long, default_value_t = 10)]
    fresh_every: u64,
}

/// A reason the harness itself could not run.
struct CannotRun(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Probe { mode, file } = &cli.command {
        return match probe::write_probe(mode, file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("probe {mode}: {error}");
                ExitCode::from(1)
            }
        };
    }
    if let Cmd::Checkpoints { data_dir } = &cli.command {
        for (seq, bytes) in tally::checkpoints(data_dir) {
            println!("checkpoint at seq {seq}: {bytes} bytes");
        }
        return ExitCode::SUCCESS;
    }
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(CannotRun(why)) => {
            eprintln!("powercut: cannot run: {why}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<bool, CannotRun> {
    let binary = std::path::absolute(&cli.binary)
        .map_err(|error| CannotRun(format!("{}: {error}", cli.binary.display())))?;
    if !binary.is_file() {
        return Err(CannotRun(format!(
            "the binary under test {} is missing; build it first (`cargo build`)",
            binary.display()
        )));
    }
    preflight()?;
    let temporary;
    let work = match &cli.work {
        Some(work) => {
            std::fs::create_dir_all(work)
                .map_err(|error| CannotRun(format!("{}: {error}", work.display())))?;
            std::path::absolute(work).map_err(|error| CannotRun(error.to_string()))?
        }
        None => {
            temporary = tempfile::Builder::new()
                .prefix("powercut-")
                .tempdir()
                .map_err(|error| CannotRun(format!("cannot make a work directory: {error}")))?;
            temporary.path().to_path_buf()
        }
    };
    let seed = cli.seed.unwrap_or_else(|| fastrand::u64(..));
    println!(
        "powercut: binary {}, work directory {}, seed {seed}",
        binary.display(),
        work.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| CannotRun(format!("no async runtime: {error}")))?;

    let all_started = Instant::now();
    let mut passed = 0;
    let mut failed = 0;
    let mut table = Vec::new();
    let mut count = |ok: bool| {
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    };
    let settings = |name: &str, rounds: u64, common: Common, offset: u64| Settings {
        binary: binary.clone(),
        dir: work.join(name),
        rounds,
        users: common.users,
        write_back: common.crash_only,
        seed: seed.wrapping_add(offset),
        fresh_every: common.fresh_every,
    };
    let (self_test, sync, serve) = match &cli.command {
        Cmd::SelfTest => (true, None, None),
        Cmd::Sync { rounds, common } => (false, Some(settings("sync", *rounds, *common, 1)), None),
        Cmd::Serve { rounds, common } => {
            (false, None, Some(settings("serve", *rounds, *common, 2)))
        }
        Cmd::All {
            sync_rounds,
            serve_rounds,
            common,
        } => (
            true,
            Some(settings("sync", *sync_rounds, *common, 1)),
            Some(settings("serve", *serve_rounds, *common, 2)),
        ),
        Cmd::Probe { .. } | Cmd::Checkpoints { .. } => unreachable!("handled in main"),
    };

    if self_test {
        let started = Instant::now();
        println!(
            "powercut: self-test of the model (each probe writes, is killed, the power is cut)"
        );
        let results = probe::self_test(&work).map_err(CannotRun)?;
        let ok = results.iter().all(probe::ProbeResult::passed);
        for result in &results {
            println!("  {}", probe::describe(result));
        }
        println!(
            "powercut: self-test {} in {:.1} s",
            if ok { "passed" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
        count(ok);
    }
    let mode = |settings: &Settings| {
        if settings.write_back {
            "process crash only (nothing thrown away)"
        } else {
            "power cut"
        }
    };
    if let Some(settings) = sync {
        let started = Instant::now();
        println!(
            "powercut: `tailledger sync`, {} rounds, {} users, {}",
            settings.rounds,
            settings.users,
            mode(&settings)
        );
        let mut tally = sync_cuts::run(&settings, &runtime)
            .map_err(|error| CannotRun(format!("the sync scenario: {error}")))?;
        note_checkpoints(&mut tally, &settings);
        report(&tally, "sync", "heads", started);
        count(tally.passed());
        table.push(tally.summary(&format!("sync, {}", mode(&settings)), "heads"));
    }
    if let Some(settings) = serve {
        let started = Instant::now();
        println!(
            "powercut: `tailledger serve` with a follower and admin writes, {} rounds, {} users, {}",
            settings.rounds,
            settings.users,
            mode(&settings)
        );
        let mut tally = serve_cuts::run(&settings, &runtime)
            .map_err(|error| CannotRun(format!("the serve scenario: {error}")))?;
        note_checkpoints(&mut tally, &settings);
        report(&tally, "serve", "events", started);
        count(tally.passed());
        table.push(tally.summary(&format!("serve, {}", mode(&settings)), "events"));
    }
    if !table.is_empty() {
        println!("powercut: figures (seed {seed})");
        for line in &table {
            println!("{line}");
        }
    }
    let ok = failed == 0;
    if !ok || cli.work.is_some() {
        keep(&work, cli.work.is_none());
    }
    println!(
        "powercut: finished in {:.0} s",
        all_started.elapsed().as_secs_f64()
    );
    // The closing line CI reads.
    println!("{passed} passed, {failed} failed");
    Ok(ok)
}

/// Reads the checkpoints of the last inspected copy, to show the runs reached them.
fn note_checkpoints(tally: &mut Tally, settings: &Settings) {
    let found = tally::checkpoints(&settings.dir.join("inspect").join("copy"));
    tally.checkpoints = found.len();
    tally.largest_checkpoint = found.iter().map(|(_, bytes)| *bytes).max().unwrap_or(0);
}

fn report(tally: &Tally, name: &str, what: &str, started: Instant) {
    for problem in &tally.problems {
        println!("  PROBLEM {problem}");
    }
    println!(
        "powercut: {name}: {} cuts, {} acknowledged {what}, {} lost, {} failed reopens, {} failed writes: {} in {:.0} s",
        tally.rounds,
        tally.acknowledged,
        tally.lost,
        tally.failed_reopens,
        tally.failed_writes,
        if tally.passed() { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
}

/// Keeps a temporary work directory (the evidence of a failure) instead of removing it.
fn keep(work: &Path, temporary: bool) {
    if temporary {
        // Leaking the `TempDir` guard is not possible from here; renaming keeps the files.
        let kept = work.with_file_name(format!(
            "{}-kept",
            work.file_name()
                .map_or("powercut".into(), |name| name.to_string_lossy())
        ));
        if std::fs::rename(work, &kept).is_ok() {
            println!(
                "powercut: the backing directories are kept in {}",
                kept.display()
            );
        }
    } else {
        println!(
            "powercut: the backing directories are in {}",
            work.display()
        );
    }
}

/// FUSE needs the device and the right to mount; say which is missing rather than fail later.
fn preflight() -> Result<(), CannotRun> {
    if !Path::new("/dev/fuse").exists() {
        return Err(CannotRun(
            "/dev/fuse does not exist: FUSE cannot be mounted here (load the fuse module, or give the container the device)".to_owned(),
        ));
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(CannotRun(
            "not root: this harness mounts FUSE with mount(2) itself and needs root".to_owned(),
        ));
    }
    Ok(())
}
