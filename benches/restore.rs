//! Restore against replay (docs/reference/tiles.md#restore): a ledger of N events archived as
//! tiles to a directory bucket (what `[archive] dir` holds), restored from it with every check
//! (`restore_from_tiles` over the `Bucket`, as `tailledger restore --from DIR` does), beside the
//! same entries replayed from an export into an in-memory ledger. N is
//! `TAILLEDGER_BENCH_ENTRIES` (1,000,000 for the real run, the default; 100,000 with
//! `TAILLEDGER_BENCH_QUICK=1`); the target is a restore within twice the replay.

mod common;

use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

use criterion::Criterion;
use tailledger::archive::{Bucket, DirBucket};
use tailledger::ledger::Log;
use tailledger::merkle::{Checkpoint, SigningKey, sign_checkpoint};
use tailledger::replay::ledger_from_export;
use tailledger::restore::restore_from_tiles;
use tailledger::tiles;

/// Writes the tiles of the ledger in `data_dir` and its signed checkpoint into the directory
/// bucket `to`, as the archiver writes them.
fn write_tiles(
    data_dir: &Path,
    key: &SigningKey,
    to: &DirBucket,
    runtime: &tokio::runtime::Runtime,
) {
    let log = Log::open_copy(data_dir).expect("the built ledger opens");
    let (size, root) = log.tree_head().expect("a tree head");
    let checkpoint = Checkpoint {
        origin: tiles::log_origin(&log.get(1).expect("read").expect("entry 1").hash),
        size,
        root,
        extensions: Vec::new(),
    };
    let note = sign_checkpoint(&checkpoint, key).expect("signed");
    runtime.block_on(async {
        for object in tiles::objects_between(&log, 0, size) {
            let object = object.expect("a tile");
            if object.full {
                to.put_full(&object.path, &object.bytes).await
            } else {
                to.put_mutable(&object.path, &object.bytes).await
            }
            .expect("written");
        }
        to.put_mutable(tiles::CHECKPOINT_PATH, note.as_bytes())
            .await
            .expect("written");
    });
}

fn restore_and_replay(
    c: &mut Criterion,
    archive: &Bucket,
    export: &Path,
    key: &SigningKey,
    runtime: &tokio::runtime::Runtime,
) {
    let mut group = c.benchmark_group("restore");
    group.sample_size(10);
    let verifier = key.verifier_key();
    group.bench_function("restore_from_tiles", |b| {
        b.iter(|| {
            let work = tempfile::tempdir().expect("a temporary directory");
            runtime
                .block_on(restore_from_tiles(
                    archive,
                    &verifier,
                    &work.path().join("restored"),
                    &|_| {},
                ))
                .expect("restored")
        })
    });
    group.bench_function("replay_export", |b| {
        b.iter(|| {
            let file = std::fs::File::open(export).expect("the export");
            ledger_from_export(BufReader::new(file)).expect("replayed")
        })
    });
    group.finish();
}

fn main() {
    let events = std::env::var("TAILLEDGER_BENCH_ENTRIES")
        .ok()
        .map(|value| {
            value
                .parse::<usize>()
                .expect("TAILLEDGER_BENCH_ENTRIES is a number of entries")
        })
        .unwrap_or(if common::quick() { 100_000 } else { 1_000_000 });
    let accounts = (events / 10).max(1);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = dir.path().join("ledger");
    let started = Instant::now();
    drop(common::build_ledger(&data_dir, accounts, events));
    let key = SigningKey::from_seed("bench", &[1; 32]).expect("a key");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let archive = DirBucket::new(dir.path().join("archive"));
    write_tiles(&data_dir, &key, &archive, &runtime);
    let export = dir.path().join("export.jsonl");
    Log::open_copy(&data_dir)
        .expect("the built ledger opens")
        .export_to_file(&export, &|_| {})
        .expect("exported");
    println!(
        "ledger of {events} events archived as tiles and exported in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut c = common::criterion();
    restore_and_replay(&mut c, &Bucket::Dir(archive), &export, &key, &runtime);
    c.final_summary();
}
