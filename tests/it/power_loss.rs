//! Power cuts, modelled at the store: every file keeps, after a cut, only the bytes it had when
//! the store last synced it. The store reports each sync to an observer, which keeps a copy of the
//! file as it was then; a cut writes out the directory as a power loss at that moment would leave
//! it: every file that exists (metadata is applied at once, a lenient model), with its bytes as of
//! its last sync, or empty if it was never synced. sled syncs finished snapshots itself before
//! renaming them, unseen by the observer, so those keep their bytes.
//!
//! A durable state only changes at a sync, so cutting right after randomly chosen syncs (during an
//! append: between the blob syncs and the log sync; between appends; around checkpoints) covers
//! every state a cut at a random moment could leave. After each cut the copy must reopen, verify,
//! hold every acknowledged batch and accept an append. The FUSE stage of `.ci/run` checks the
//! same against the real binary and a real overlay filesystem.
//!
//! `ledger_v01` checks the rest of docs/reference/time-and-durability.md#power-loss: a ledger that
//! 0.1 wrote with blob files reopens safely.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tailledger::event::{AccountSnapshot, Actor, EmployeeRecord, Event, SystemId};
use tailledger::hash::Digest;
use tailledger::ledger::{Ledger, Log};
use tailledger::store::{SledStore, SyncObserver};
use tailledger::time::Timestamp;

use crate::helpers::at;

/// What a power cut would keep of each file under `root`, by relative path.
#[derive(Default)]
struct PageCache {
    durable: Mutex<HashMap<PathBuf, Vec<u8>>>,
}

/// sled's own snapshot files (`snap.<lsn>`), finished ones only.
fn sled_snapshots(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map(|listing| {
            listing
                .filter_map(|item| item.ok())
                .map(|item| item.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("snap.") && !name.ends_with(".generating"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

impl PageCache {
    fn observer(self: &Arc<Self>, root: &Path) -> SyncObserver {
        let (cache, root) = (Arc::clone(self), root.to_path_buf());
        let snapshots = Mutex::new(Vec::new());
        Arc::new(move |path: &Path| {
            // sled syncs its log itself, unseen, before it writes a snapshot (it does so when it
            // opens a database): a snapshot not seen before means `db` was synced up to it. Read
            // now, `db` holds nothing later, since nothing is appended while a store opens.
            let now = sled_snapshots(&root);
            let mut seen = snapshots.lock().unwrap();
            if *seen != now {
                if let Ok(bytes) = std::fs::read(root.join("db")) {
                    cache.lock().insert(PathBuf::from("db"), bytes);
                }
                *seen = now;
            }
            if path.is_file() {
                let relative = path.strip_prefix(&root).expect("syncs stay in the ledger");
                let bytes = std::fs::read(path).expect("a synced file is readable");
                cache.lock().insert(relative.to_path_buf(), bytes);
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Vec<u8>>> {
        self.durable
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes into `into` what a power cut now would leave of `root`.
    fn cut(&self, root: &Path, into: &Path) {
        let durable = self.lock();
        let mut pending = vec![PathBuf::new()];
        while let Some(relative) = pending.pop() {
            std::fs::create_dir_all(into.join(&relative)).unwrap();
            for item in std::fs::read_dir(root.join(&relative)).unwrap() {
                let item = item.unwrap();
                let path = relative.join(item.file_name());
                if item.file_type().unwrap().is_dir() {
                    pending.push(path);
                    continue;
                }
                let name = item.file_name().to_string_lossy().into_owned();
                let synced_by_sled = name.starts_with("snap.") && !name.ends_with(".generating");
                let bytes = if synced_by_sled {
                    // Renamed only after sled's own sync; it may vanish while being read.
                    std::fs::read(item.path()).unwrap_or_default()
                } else {
                    durable.get(&path).cloned().unwrap_or_default()
                };
                std::fs::write(into.join(&path), bytes).unwrap();
            }
        }
    }
}

pub fn instant(minute: i64) -> Timestamp {
    at("2026-03-01T00:00:00Z").saturating_add_micros(minute * 60_000_000)
}

fn account(index: usize) -> AccountSnapshot {
    AccountSnapshot {
        id: format!("uPowerCut{index:06}"),
        login_name: format!("person.{index}@acme.example"),
        display_name: format!("Person {index}"),
        role: "member".to_owned(),
        status: "active".to_owned(),
        account_type: "member".to_owned(),
        created: None,
    }
}

/// The batches of the workload: a policy, a roster and a first sync of `people` each, then syncs
/// of role changes of random sizes. With 600 people the projection state is 1,200 entries, so a
/// checkpoint (about 200 KB, over sled's blob threshold as one value) is taken every 1,200
/// entries.
fn workload(rng: &mut fastrand::Rng, people: usize, batches: usize) -> Vec<(Actor, Vec<Event>)> {
    let system = SystemId::tailscale;
    let mut all = vec![
        (
            Actor::Config,
            vec![Event::AccessPolicySet {
                system: system(),
                allowed_org_roles: vec!["*".to_owned()],
                privileged_org_roles: vec![],
                offboarding_grace_seconds: 86_400,
                reason: None,
            }],
        ),
        (
            Actor::Roster,
            (0..people)
                .map(|index| Event::EmployeeOnboarded {
                    employee: EmployeeRecord {
                        employee_id: format!("e{index:06}"),
                        email: format!("person.{index}@acme.example"),
                        name: Some(format!("Person {index}")),
                        org_role: "engineer".to_owned(),
                        start_date: None,
                    },
                })
                .collect(),
        ),
        (
            Actor::Sync(system()),
            (0..people)
                .map(|index| Event::UserSeen {
                    system: system(),
                    account: account(index),
                })
                .collect(),
        ),
    ];
    let mut admin = vec![false; people];
    for _ in 0..batches {
        let size = if rng.bool() {
            rng.usize(1..5)
        } else {
            rng.usize(30..150)
        };
        let changes = (0..size)
            .map(|_| {
                let index = rng.usize(..people);
                let from = if admin[index] { "admin" } else { "member" };
                admin[index] = !admin[index];
                let to = if admin[index] { "admin" } else { "member" };
                Event::RoleChanged {
                    system: system(),
                    account_id: account(index).id,
                    login_name: account(index).login_name,
                    from: from.to_owned(),
                    to: to.to_owned(),
                }
            })
            .collect();
        all.push((Actor::Sync(system()), changes));
    }
    all
}

/// A batch of one admin decision: what a reopened ledger is asked to append.
pub fn a_policy() -> Vec<Event> {
    vec![Event::AccessPolicySet {
        system: SystemId::tailscale(),
        allowed_org_roles: vec!["member".to_owned()],
        privileged_org_roles: vec![],
        offboarding_grace_seconds: 3_600,
        reason: None,
    }]
}

/// A cut taken during the run: where its copy is, and the last batch acknowledged before it.
struct Cut {
    copy: tempfile::TempDir,
    acknowledged: Option<Digest>,
}

/// Checks what a cut left: it reopens, verifies, holds the last acknowledged batch (and, by the
/// chain, every one before it) and takes a further append.
fn assert_cut_survived(cut: &Cut, index: usize, seed: u64) {
    let context = format!("seed {seed}, cut {index}");
    let ledger = Log::open_existing(cut.copy.path())
        .unwrap_or_else(|error| panic!("{context}: the ledger does not reopen: {error}"));
    let report = ledger
        .verify()
        .unwrap_or_else(|error| panic!("{context}: the ledger cannot be read: {error}"));
    assert!(report.is_ok(), "{context}: {report:?}");
    if let Some(acknowledged) = cut.acknowledged {
        let kept = ledger.get(acknowledged.seq).unwrap();
        assert_eq!(
            kept.map(|entry| entry.hash),
            Some(acknowledged.hash),
            "{context}: acknowledged seq {} is lost (head {:?})",
            acknowledged.seq,
            ledger.head()
        );
    }
    let books = Ledger::new(ledger)
        .unwrap_or_else(|error| panic!("{context}: the projections do not rebuild: {error}"));
    books
        .append(instant(100_000), Actor::Config, a_policy())
        .unwrap_or_else(|error| panic!("{context}: the reopened ledger refuses appends: {error}"));
}

#[test]
fn power_cuts_at_random_syncs_keep_every_acknowledged_batch_and_the_ledger_reopens() {
    // A failure names its seed; `TAILLEDGER_POWER_SEED` runs that seed again.
    let seed = std::env::var("TAILLEDGER_POWER_SEED")
        .map(|seed| seed.parse().expect("TAILLEDGER_POWER_SEED is a u64"))
        .unwrap_or_else(|_| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(PageCache::default());
    let acknowledged: Arc<Mutex<Option<Digest>>> = Arc::default();
    let cuts: Arc<Mutex<Vec<Cut>>> = Arc::default();
    // Cut after every first or second sync, chosen at random: the 60-odd syncs of the run give
    // over 30 cuts.
    let cutter = {
        let (cache, acknowledged, cuts) = (cache.clone(), acknowledged.clone(), cuts.clone());
        let (root, record) = (dir.path().to_path_buf(), cache.observer(dir.path()));
        let chooser = Mutex::new((fastrand::Rng::with_seed(seed ^ 0x5eed), 0));
        Arc::new(move |path: &Path| {
            record(path);
            let mut chooser = chooser.lock().unwrap();
            let (rng, since_cut) = &mut *chooser;
            *since_cut += 1;
            if *since_cut == 2 || rng.bool() {
                *since_cut = 0;
                let copy = tempfile::tempdir().unwrap();
                cache.cut(&root, copy.path());
                let acknowledged = *acknowledged.lock().unwrap();
                cuts.lock().unwrap().push(Cut { copy, acknowledged });
            }
        }) as SyncObserver
    };
    let batches = workload(&mut rng, 600, 60);
    let mut minute = 0;
    // The ledger is closed and reopened twice on the way, as a restarted server would.
    for part in batches.chunks(batches.len().div_ceil(3)) {
        let store = SledStore::open_observed(dir.path(), Some(cutter.clone())).unwrap();
        let books = Ledger::new(Log::with_store(Box::new(store)).unwrap()).unwrap();
        for (actor, events) in part {
            minute += 1;
            let entries = books
                .append(instant(minute), actor.clone(), events.clone())
                .expect("the append is acknowledged");
            *acknowledged.lock().unwrap() = entries.last;
        }
    }
    let cuts = std::mem::take(&mut *cuts.lock().unwrap());
    assert!(cuts.len() >= 30, "seed {seed}: only {} cuts", cuts.len());
    for (index, cut) in cuts.iter().enumerate() {
        assert_cut_survived(cut, index, seed);
    }
    let blobs = std::fs::read_dir(dir.path().join("blobs")).map_or(0, |listing| listing.count());
    assert_eq!(
        blobs, 0,
        "sled wrote blob files: a stored value is too large"
    );
}

/// The first cut the model takes keeps nothing of a file never synced: a writer that does not
/// sync loses its data, one that syncs keeps it.
#[test]
fn the_model_loses_what_was_never_synced_and_keeps_what_was() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(PageCache::default());
    let observer = cache.observer(dir.path());
    std::fs::write(dir.path().join("unsynced"), b"written, never synced").unwrap();
    std::fs::write(dir.path().join("synced"), b"written and synced").unwrap();
    observer(&dir.path().join("synced"));
    std::fs::write(dir.path().join("synced"), b"written and synced, then more").unwrap();
    let copy = tempfile::tempdir().unwrap();
    cache.cut(dir.path(), copy.path());
    assert_eq!(std::fs::read(copy.path().join("unsynced")).unwrap(), b"");
    assert_eq!(
        std::fs::read(copy.path().join("synced")).unwrap(),
        b"written and synced"
    );
}
