//! Durable append throughput, beside its baseline in the same run: a raw `O_APPEND` write plus
//! `fdatasync` of the same stored bytes. Ratios between the two are what count on a shared machine.
//! A second baseline is the least any store on sled 0.34.7 does for the same values: one
//! `apply_batch` of the batch's chunks, sled's `flush`, and the `fdatasync` of its log that makes
//! them durable (sled's own flush only `sync_file_range`s them). `TAILLEDGER_BENCH_QUICK=1`
//! shortens the timings.

mod common;

use std::fs::{File, OpenOptions};
use std::io::Write;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tailledger::entry::Entry;
use tailledger::event::{Actor, Event, SystemId};
use tailledger::ledger::Ledger;
use tailledger::store::{MAX_VALUE, encode_chunks, open_waiting_for_lock};
use tailledger::time::Timestamp;

fn user_seen(index: usize) -> Event {
    Event::UserSeen {
        system: SystemId::tailscale(),
        account: common::snapshot(index),
    }
}

fn durable_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_append");
    for batch_size in [1usize, 1000] {
        let events: Vec<Event> = (0..batch_size).map(user_seen).collect();
        group.throughput(Throughput::Elements(batch_size as u64));

        let dir = tempfile::tempdir().expect("a temporary directory");
        let ledger = Ledger::open(dir.path()).expect("a fresh ledger");
        group.bench_with_input(
            BenchmarkId::new("ledger", batch_size),
            &events,
            |b, events| {
                // The batch is copied outside the timing: the baseline's bytes are ready too.
                b.iter_batched(
                    || events.clone(),
                    |events| {
                        ledger
                            .append(Timestamp::now(), Actor::Demo, events)
                            .expect("append")
                    },
                    BatchSize::SmallInput,
                )
            },
        );

        let mut prev = None;
        let entries: Vec<Entry> = events
            .iter()
            .map(|event| {
                let entry = Entry::seal(prev, Timestamp::now(), Actor::Demo, event.clone());
                prev = Some(entry.digest());
                entry
            })
            .collect();
        // The values the store writes for this batch: its format-2 chunks.
        let chunks = encode_chunks(&entries, MAX_VALUE);
        let bytes: Vec<u8> = chunks.iter().flat_map(|(_, chunk)| chunk.clone()).collect();
        let sled_dir = tempfile::tempdir().expect("a temporary directory");
        let db = open_waiting_for_lock(sled_dir.path()).expect("a fresh sled database");
        let log = File::open(sled_dir.path().join("db")).expect("sled's log");
        let mut batches = 0u64;
        group.bench_with_input(
            BenchmarkId::new("sled_flush_baseline", batch_size),
            &chunks,
            |b, chunks| {
                b.iter(|| {
                    // Each batch under keys of its own, as appends never overwrite.
                    batches += 1;
                    let mut batch = sled::Batch::default();
                    for (first, chunk) in chunks {
                        let key = [batches.to_be_bytes(), first.to_be_bytes()].concat();
                        batch.insert(key, chunk.as_slice());
                    }
                    db.apply_batch(batch).expect("apply_batch");
                    db.flush().expect("flush");
                    log.sync_data().expect("fdatasync");
                })
            },
        );

        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("raw.log"))
            .expect("a raw file");
        group.bench_with_input(
            BenchmarkId::new("raw_file_baseline", batch_size),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    file.write_all(bytes).expect("write");
                    file.sync_data().expect("fdatasync");
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = durable_append
}
criterion_main!(benches);
