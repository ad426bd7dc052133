//! Durable append throughput, beside its baseline in the same run: a raw `O_APPEND` write plus
//! `fdatasync` of the same stored bytes. Ratios between the two are what count on a shared machine.
//! A second baseline is the least any store on sled 0.34.7 does for the same values: one
//! `apply_batch` of the batch's chunks, sled's `flush`, and the `fdatasync` of its log that makes
//! them durable (sled's own flush only `sync_file_range`s them). `archived_append` is the same
//! durable append of 1,000 events with and without an [`Archiver`] running beside it (to a
//! directory bucket, as `[archive] dir`), each on a fresh ledger, in the order without, with,
//! with, without: archiving runs off the append path, and the target is ≤ 10 % added.
//! `TAILLEDGER_BENCH_QUICK=1` shortens the timings.

mod common;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tailledger::archive::{ArchiveStatus, Archiver, Bucket, DirBucket};
use tailledger::checks::CheckSettings;
use tailledger::entry::Entry;
use tailledger::event::{Actor, Event, SystemId};
use tailledger::ledger::Ledger;
use tailledger::merkle::SigningKey;
use tailledger::service::Service;
use tailledger::store::{MAX_VALUE, encode_chunks, open_waiting_for_lock};
use tailledger::time::{SystemClock, Timestamp};

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

/// Durable appends of 1,000 events on a fresh ledger, with an archiver copying it to a directory
/// bucket beside them when `archiving`.
fn append_beside_archiver(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    archiving: bool,
    run: usize,
) {
    let events: Vec<Event> = (0..1_000).map(user_seen).collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = dir.path().join("ledger");
    let ledger = Arc::new(Ledger::open(&data_dir).expect("a fresh ledger"));
    let mut service = Service::new(
        ledger.clone(),
        Arc::new(SystemClock),
        CheckSettings::default(),
        chrono_tz::UTC,
    );
    service.set_signing_key(Arc::new(
        SigningKey::from_seed("bench", &[3; 32]).expect("a key"),
    ));
    let service = Arc::new(service);
    let status = Arc::new(ArchiveStatus::new("dir", Duration::from_secs(3600), 0));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let archiver = archiving.then(|| {
        let archiver = Archiver {
            service: service.clone(),
            bucket: Bucket::Dir(DirBucket::new(dir.path().join("archive"))),
            data_dir: data_dir.clone(),
            status: status.clone(),
            retry_max: Duration::from_secs(1),
            published: None,
        };
        runtime.spawn(async move { archiver.run(stopping).await })
    });
    let name = if archiving {
        "with_archiver"
    } else {
        "without_archiver"
    };
    let mut group = c.benchmark_group("archived_append");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function(BenchmarkId::new(name, run), |b| {
        b.iter_batched(
            || events.clone(),
            |events| {
                ledger
                    .append(Timestamp::now(), Actor::Demo, events)
                    .expect("append")
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    stop.send_replace(true);
    if let Some(archiver) = archiver {
        runtime.block_on(archiver).expect("the archiver stops");
        let head = ledger.log().head().map_or(0, |head| head.seq);
        println!(
            "archived_append/{name}/{run}: the archiver had copied {} of {head} entries when the appends ended",
            status.archived()
        );
    }
}

fn archived_append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    for (run, archiving) in [false, true, true, false].into_iter().enumerate() {
        append_beside_archiver(c, &runtime, archiving, run);
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = durable_append, archived_append
}
criterion_main!(benches);
