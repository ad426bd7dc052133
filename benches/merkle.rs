//! The Merkle tree (docs/reference/ledger.md#proofs): proofs on a 1,000,000-entry ledger,
//! server-side (what `GetInclusionProof` and `GetConsistencyProof` compute), beside a point read of
//! one entry in the same run; and the durable append of 1,000-event batches with and without the
//! tree (sealing, then the store's atomic durable write; with the tree also the leaf hashes, the
//! frontier and the stored nodes), each on a fresh store in the same run.
//! `TAILLEDGER_BENCH_QUICK=1` uses 100,000 entries and shorter timings.

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use tailledger::entry::Entry;
use tailledger::event::{Actor, Event, SystemId};
use tailledger::hash::{Digest, Hash256};
use tailledger::ledger::Ledger;
use tailledger::merkle::Frontier;
use tailledger::store::{SledStore, Store};
use tailledger::time::Timestamp;

/// Positions spread over the tree, so successive proofs touch different pages.
fn spread(counter: &Cell<u64>, size: u64) -> u64 {
    counter.set(counter.get().wrapping_add(1));
    counter.get().wrapping_mul(0x9E37_79B9_7F4A_7C15) % size + 1
}

fn proofs(c: &mut Criterion, ledger: &Ledger) {
    let log = ledger.log();
    let size = log.head().expect("a built ledger").seq;
    let mut group = c.benchmark_group("proofs");
    let counter = Cell::new(0);
    group.bench_function(BenchmarkId::new("get_entry_baseline", size), |b| {
        b.iter(|| black_box(log.get(spread(&counter, size)).expect("a read")))
    });
    group.bench_function(BenchmarkId::new("inclusion", size), |b| {
        b.iter(|| {
            black_box(
                log.inclusion_proof(spread(&counter, size), size)
                    .expect("a proof"),
            )
        })
    });
    group.bench_function(BenchmarkId::new("consistency", size), |b| {
        b.iter(|| {
            black_box(
                log.consistency_proof(spread(&counter, size), size)
                    .expect("a proof"),
            )
        })
    });
    group.finish();
}

fn user_seen(index: usize) -> Event {
    Event::UserSeen {
        system: SystemId::tailscale(),
        account: common::snapshot(index),
    }
}

/// `events` sealed as the batch after `head`, moving `head` on, as `Log::append` seals them:
/// with their leaf hashes (from the same writing of the canonical form) when the tree is kept.
fn seal(head: &Cell<Option<Digest>>, events: &[Event], tree: bool) -> (Vec<Entry>, Vec<Hash256>) {
    let mut entries: Vec<Entry> = Vec::with_capacity(events.len());
    let mut leaves = Vec::with_capacity(events.len());
    for event in events {
        let prev = entries.last().map(Entry::digest).or(head.get());
        let (now, actor, event) = (Timestamp::now(), Actor::Demo, event.clone());
        if tree {
            let (entry, leaf) = Entry::seal_with_leaf_hash(prev, now, actor, event);
            entries.push(entry);
            leaves.push(leaf);
        } else {
            entries.push(Entry::seal(prev, now, actor, event));
        }
    }
    head.set(entries.last().map(Entry::digest));
    (entries, leaves)
}

/// One configuration's durable appends on a store of its own, dropped (closed and flushed)
/// before the next configuration starts.
fn bench_append(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    tree: bool,
    events: &[Event],
) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SledStore::open(dir.path()).expect("a fresh store");
    let head = Cell::new(None);
    let mut frontier = Frontier::new();
    group.bench_function(id, |b| {
        b.iter(|| {
            let (entries, leaves) = seal(&head, events, tree);
            let nodes = if tree {
                frontier.append(&leaves)
            } else {
                Vec::new()
            };
            store.append(&entries, &nodes).expect("append")
        })
    });
}

/// Both configurations twice, in the order A B B A, so that neither gains from running first
/// or last on the shared disk.
fn append_with_and_without_the_tree(c: &mut Criterion) {
    const BATCH: usize = 1_000;
    let events: Vec<Event> = (0..BATCH).map(user_seen).collect();
    let mut group = c.benchmark_group("append_1000");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (tree, round) in [(false, 1), (true, 1), (true, 2), (false, 2)] {
        let name = if tree {
            "with_tree"
        } else {
            "without_tree_baseline"
        };
        bench_append(&mut group, BenchmarkId::new(name, round), tree, &events);
    }
    group.finish();
    // Where the difference goes, in memory: sealing alone and with the leaf hashes, and the
    // frontier's nodes for 1,000 leaves.
    let mut group = c.benchmark_group("tree_parts_1000");
    group.throughput(Throughput::Elements(BATCH as u64));
    let head = Cell::new(None);
    group.bench_function("seal_baseline", |b| {
        b.iter(|| black_box(seal(&head, &events, false)))
    });
    group.bench_function("seal_with_leaf_hashes", |b| {
        b.iter(|| black_box(seal(&head, &events, true)))
    });
    let (_, leaves) = seal(&head, &events, true);
    let mut frontier = Frontier::new();
    group.bench_function("frontier_append", |b| {
        b.iter(|| black_box(frontier.append(&leaves)))
    });
    group.finish();
}

fn main() {
    let (accounts, events) = if common::quick() {
        (10_000, 100_000)
    } else {
        (10_000, 1_000_000)
    };
    let mut c = common::criterion();
    append_with_and_without_the_tree(&mut c);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let ledger = common::build_ledger(dir.path(), accounts, events);
    println!(
        "ledger: {events} events, built in {:.1} s{}",
        started.elapsed().as_secs_f64(),
        if common::quick() { " (quick mode)" } else { "" }
    );
    proofs(&mut c, &ledger);
    c.final_summary();
}
