//! Sync, each figure beside a baseline in the same run: planning (`plan_sync`) for 10,000 and
//! 100,000 accounts when nothing changed, all are new, or 1 % changed, beside a bare hash-map diff
//! of the same listings; and the full round trip against the simulated API on loopback (HTTP
//! fetch, JSON decode, plan, durable append) beside the HTTP fetch and JSON decode alone; and the
//! same for a tailnet of 100,000 users, 200,000 devices and 50,000 keys
//! (docs/reference/sync.md#devices-keys) beside the fetch and decode of its three listings.
//! `TAILLEDGER_BENCH_QUICK=1` keeps the sizes and shortens the timings.

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use tailledger::entry::Entry;
use tailledger::event::{AccountSnapshot, Actor, Event, SystemId};
use tailledger::ledger::Ledger;
use tailledger::projection::{Projections, SystemState};
use tailledger::sync::{
    Listers, Listing, Observation, SyncContext, SyncOptions, Syncer, TailscaleSource, plan_sync,
};
use tailledger::time::{SystemClock, Timestamp};

/// The state after a sync that saw `accounts`.
fn state_of(accounts: &[AccountSnapshot]) -> SystemState {
    let mut projections = Projections::default();
    let mut prev = None;
    for account in accounts {
        let entry = Entry::seal(
            prev,
            Timestamp::UNIX_EPOCH,
            Actor::Sync(SystemId::tailscale()),
            Event::UserSeen {
                system: SystemId::tailscale(),
                account: account.clone(),
            },
        );
        prev = Some(entry.digest());
        projections.apply(&entry);
    }
    projections
        .system(&SystemId::tailscale())
        .cloned()
        .unwrap_or_default()
}

/// The accounts with every hundredth one made an admin.
fn one_percent_changed(accounts: &[AccountSnapshot]) -> Vec<AccountSnapshot> {
    let mut changed = accounts.to_vec();
    for account in changed.iter_mut().step_by(100) {
        account.role = "admin".to_owned();
    }
    changed
}

/// The baseline: which ids are new, changed or gone, by hash-map lookups between two listings.
fn hash_map_diff(before: &HashMap<String, AccountSnapshot>, after: &[AccountSnapshot]) -> usize {
    let after_ids: HashMap<&str, &AccountSnapshot> = after
        .iter()
        .map(|account| (account.id.as_str(), account))
        .collect();
    let changed = after
        .iter()
        .filter(|account| before.get(&account.id) != Some(account))
        .count();
    let removed = before
        .keys()
        .filter(|id| !after_ids.contains_key(id.as_str()))
        .count();
    changed + removed
}

fn planning(c: &mut Criterion) {
    let context = SyncContext {
        system: SystemId::tailscale(),
        sync_id: "tailscale-000002".to_owned(),
        started_at: Timestamp::UNIX_EPOCH,
    };
    let options = SyncOptions::default();
    let mut group = c.benchmark_group("sync_plan");
    for size in [10_000, 100_000] {
        group.throughput(Throughput::Elements(size as u64));
        let accounts: Vec<AccountSnapshot> = (0..size).map(common::snapshot).collect();
        let known = state_of(&accounts);
        let cases = [
            ("unchanged", known.clone(), accounts.clone()),
            ("all_new", SystemState::default(), accounts.clone()),
            ("1pct_changed", known, one_percent_changed(&accounts)),
        ];
        for (case, state, listed) in cases {
            let before: HashMap<String, AccountSnapshot> = state
                .accounts
                .values()
                .map(|account| (account.snapshot.id.clone(), account.snapshot.clone()))
                .collect();
            let observation =
                Observation::of_users(Listing::new(listed.clone()).expect("a listing"), None);
            group.bench_with_input(
                BenchmarkId::new(format!("plan_sync/{case}"), size),
                &observation,
                |b, observation| {
                    b.iter(|| {
                        plan_sync(
                            &state,
                            observation,
                            &context,
                            Timestamp::UNIX_EPOCH,
                            &options,
                        )
                    })
                },
            );
            group.bench_with_input(
                BenchmarkId::new(format!("hash_map_diff_baseline/{case}"), size),
                &listed,
                |b, listed| b.iter(|| black_box(hash_map_diff(&before, listed))),
            );
        }
    }
    group.finish();
}

fn round_trip(c: &mut Criterion) {
    const ACCOUNTS: usize = 100_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (tailnet, server) = common::simulated_tailnet(&runtime, ACCOUNTS);
    let client = || common::client(&server);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ledger = Arc::new(Ledger::open(dir.path()).expect("a ledger"));
    let syncer = Syncer::new(
        SystemId::tailscale(),
        Box::new(TailscaleSource::new(client(), Listers::USERS_ONLY)),
        ledger,
        Arc::new(SystemClock),
        SyncOptions::default(),
    );
    // The first sync records every account; the measured ones find what changed since.
    runtime.block_on(syncer.sync_now()).expect("the first sync");

    let mut group = c.benchmark_group("sync_round_trip");
    group.throughput(Throughput::Elements(ACCOUNTS as u64));
    let baseline_client = client();
    group.bench_function("fetch_decode_baseline", |b| {
        b.iter(|| {
            runtime
                .block_on(baseline_client.list_users())
                .expect("users")
        })
    });
    group.bench_function("sync_now/unchanged", |b| {
        b.iter(|| runtime.block_on(syncer.sync_now()).expect("a sync"))
    });
    let mut admins = false;
    group.bench_function("sync_now/1pct_changed", |b| {
        b.iter_custom(|iters| {
            let mut measured = Duration::ZERO;
            for _ in 0..iters {
                admins = !admins;
                let role = if admins { "admin" } else { "member" };
                for index in (0..ACCOUNTS).step_by(100) {
                    tailnet
                        .set_role(&common::account_id(index), role)
                        .expect("a known user");
                }
                let started = Instant::now();
                let report = runtime.block_on(syncer.sync_now()).expect("a sync");
                measured += started.elapsed();
                assert_eq!(report.appended.entries.len(), ACCOUNTS / 100 + 1);
            }
            measured
        })
    });
    group.finish();
    drop(server);
}

/// A sync of 100,000 users, 200,000 devices and 50,000 keys that finds nothing changed (the
/// audit log read too, empty), beside the fetch and decode of the three listings at once.
fn leftovers_round_trip(c: &mut Criterion) {
    const ACCOUNTS: usize = 100_000;
    const DEVICES: usize = 200_000;
    const KEYS: usize = 50_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (tailnet, server) = common::simulated_tailnet(&runtime, ACCOUNTS);
    common::add_leftovers(&tailnet, ACCOUNTS, DEVICES, KEYS);
    let client = || common::client(&server);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ledger = Arc::new(Ledger::open(dir.path()).expect("a ledger"));
    let syncer = Syncer::new(
        SystemId::tailscale(),
        Box::new(TailscaleSource::new(client(), Listers::default())),
        ledger,
        Arc::new(SystemClock),
        SyncOptions::default(),
    );
    runtime.block_on(syncer.sync_now()).expect("the first sync");

    let mut group = c.benchmark_group("sync_leftovers_round_trip");
    group.throughput(Throughput::Elements((ACCOUNTS + DEVICES + KEYS) as u64));
    let baseline_client = client();
    group.bench_function("fetch_decode_three_listings_baseline", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let (users, devices, keys) = tokio::join!(
                    baseline_client.list_users(),
                    baseline_client.list_devices(),
                    baseline_client.list_keys()
                );
                (
                    users.expect("users"),
                    devices.expect("devices"),
                    keys.expect("keys"),
                )
            })
        })
    });
    group.bench_function("sync_now/unchanged", |b| {
        b.iter(|| {
            let report = runtime.block_on(syncer.sync_now()).expect("a sync");
            assert_eq!(report.appended.entries.len(), 1, "nothing changed");
            report
        })
    });
    group.finish();
    drop(server);
}

fn main() {
    let mut c = common::criterion();
    planning(&mut c);
    round_trip(&mut c);
    leftovers_round_trip(&mut c);
    c.final_summary();
    println!(
        "peak RSS of this bench process: {:.0} MiB",
        common::peak_rss_mib()
    );
}
