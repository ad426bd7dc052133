//! Power cuts under the real `tailledger sync`: each round runs zero to two syncs to completion
//! against the simulated tailnet (roles changed before each run), then either starts one more
//! and cuts the power at a random moment during it, or cuts the power between runs. What a sync
//! prints (its `--json` status: `ledgerSeq` and `headHash`) is what it acknowledged.
//!
//! After each cut the backing directory is inspected; the next round starts with the reopen
//! check: a sync that must succeed and append after the head found on disk.

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{Finished, Running};
use crate::scenario::{Layout, Settings, cut_and_inspect, describe_discarded, random_delay};
use crate::tailnet::{API_TOKEN, API_TOKEN_ENV, Tailnet, free_port, write_config};
use crate::tally::Tally;

/// A sync of 500 users takes well under a second; this only bounds a hung one.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);

/// The (seq, hash) a finished `sync --json` printed, if it got that far.
fn acknowledged(finished: &Finished) -> Option<(u64, String)> {
    finished.stdout.lines().rev().find_map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let seq = value["ledgerSeq"].as_str()?.parse().ok()?;
        let hash = value["headHash"].as_str()?;
        (!hash.is_empty()).then(|| (seq, hash.to_owned()))
    })
}

struct Syncs<'a> {
    settings: &'a Settings,
    layout: &'a Layout,
    tailnet: &'a Tailnet,
    rng: fastrand::Rng,
    /// How long a whole sync took lately, and how many writes it made, to place cuts over all
    /// of one.
    typical: Duration,
    typical_writes: u64,
}

impl Syncs<'_> {
    fn start(&mut self) -> io::Result<Running> {
        // Roles change before every run, so that every sync appends a few hundred events.
        let changes = self.rng.usize(100..=300);
        self.tailnet.change_roles(&mut self.rng, changes);
        let mut command = Command::new(&self.settings.binary);
        command
            .args(["sync", "--json", "-c"])
            .arg(&self.layout.config)
            .env(API_TOKEN_ENV, API_TOKEN)
            .current_dir(&self.settings.dir);
        Running::spawn(command, None)
    }

    /// Runs one sync to the end; its acknowledgement, or why there is none.
    fn run(&mut self, tally: &mut Tally) -> io::Result<Result<u64, String>> {
        let started = Instant::now();
        let finished = self.start()?.wait(SYNC_TIMEOUT);
        self.typical = (self.typical * 3 + started.elapsed()) / 4;
        Ok(self.count(tally, &finished))
    }

    fn count(&self, tally: &mut Tally, finished: &Finished) -> Result<u64, String> {
        let ack = acknowledged(finished);
        if let Some((seq, hash)) = &ack {
            tally.ack(*seq, hash);
        }
        match ack {
            Some((seq, _)) if finished.success() => Ok(seq),
            _ => Err(format!(
                "sync exited with {:?}{}: {}",
                finished.status.code(),
                if finished.killed { " (killed)" } else { "" },
                finished.stderr_tail()
            )),
        }
    }
}

pub fn run(settings: &Settings, runtime: &tokio::runtime::Runtime) -> io::Result<Tally> {
    let layout = Layout::create(&settings.dir)?;
    let tailnet = Tailnet::start(runtime, settings.users)?;
    // `sync` serves nothing; the port is only there because the config names one.
    write_config(
        &layout.config,
        &layout.mounted_ledger(),
        tailnet.base_url(),
        free_port()?,
        "1h",
    )?;
    let mut syncs = Syncs {
        settings,
        layout: &layout,
        tailnet: &tailnet,
        rng: fastrand::Rng::with_seed(settings.seed),
        typical: Duration::from_millis(400),
        typical_writes: 100,
    };
    let mut tally = Tally::default();
    let mut reopen = false;
    for round in 1..=settings.rounds + 1 {
        let mut mounted = layout.mount()?;
        let mut note = String::new();
        // After the last cut, and before a planned fresh ledger, the reopen check is all.
        let check_only = round > settings.rounds || settings.fresh_due(round - 1);
        let mut restarted = false;
        if reopen {
            // A sync whose ledger is never inspected again acknowledges into a scratch tally.
            let mut scratch = Tally::default();
            let counted = if check_only { &mut scratch } else { &mut tally };
            match syncs.run(counted)? {
                Ok(seq) if seq > tally.verified_head => {
                    note.push_str(&format!("reopened and appended up to {seq}; "));
                }
                Ok(seq) => tally.record_failed_append(
                    round - 1,
                    format!(
                        "the sync printed head {seq}, not past {}",
                        tally.verified_head
                    ),
                ),
                Err(why) => {
                    note.push_str("REOPEN FAILED; fresh ledger; ");
                    tally.record_failed_append(round - 1, why);
                    drop(mounted);
                    tally.restart(&layout.backing_ledger())?;
                    restarted = true;
                    mounted = layout.mount()?;
                }
            }
        }
        if round > settings.rounds {
            drop(mounted);
            break;
        }
        if check_only && reopen && !restarted {
            drop(mounted);
            tally.start_fresh(&layout.backing_ledger())?;
            note.push_str("a fresh ledger (planned); ");
            mounted = layout.mount()?;
        }
        let complete = syncs.rng.usize(0..=2);
        for _ in 0..complete {
            let before = mounted.stats().writes;
            if let Err(why) = syncs.run(&mut tally)? {
                tally.record_failed_write(round, why);
            }
            let writes = mounted.stats().writes - before;
            syncs.typical_writes = (syncs.typical_writes * 3 + writes) / 4;
        }
        let mut during = false;
        let kind = syncs.rng.f64();
        if kind < 0.35 {
            // The power fails at a random write of the sync: often between a write and its fsync.
            let writes = syncs.rng.u64(0..syncs.typical_writes.max(1));
            let child = syncs.start()?;
            mounted.fail_after_writes(writes, child.pid());
            let finished = child.wait(SYNC_TIMEOUT);
            during = mounted.tripped();
            let _ = syncs.count(&mut tally, &finished);
            note.push_str(&format!(
                "{complete} sync(s), then a power failure at write {writes} of one{}; ",
                if during { "" } else { " (it had finished)" }
            ));
        } else if kind < 0.7 {
            let limit = syncs.typical.mul_f64(1.1);
            let delay = random_delay(&mut syncs.rng, limit);
            let mut child = syncs.start()?;
            let finished = if child.wait_exit(delay) {
                child.wait(SYNC_TIMEOUT)
            } else {
                during = true;
                child.kill()
            };
            // A sync killed after printing had acknowledged; one that finished counts as usual.
            let _ = syncs.count(&mut tally, &finished);
            note.push_str(&format!(
                "{complete} sync(s), then a cut {} ms into one{}; ",
                delay.as_millis(),
                if during { "" } else { " (it had finished)" }
            ));
        } else {
            let delay = random_delay(&mut syncs.rng, Duration::from_millis(50));
            std::thread::sleep(delay);
            note.push_str(&format!("{complete} sync(s), then a cut between runs; "));
        }
        let (opened, discarded) =
            cut_and_inspect(settings, &layout, &mut tally, mounted, round, during)?;
        reopen = opened;
        println!(
            "  sync round {round:>2}: {note}{}; {}",
            describe_discarded(&discarded, settings.write_back),
            if opened {
                format!("ledger verifies, head {}", tally.verified_head)
            } else {
                "LEDGER DOES NOT REOPEN".to_owned()
            }
        );
    }
    Ok(tally)
}
