//! Restore against replay (docs/reference/tiles.md#restore): a ledger of N entries written as
//! tiles, restored from them with every check, beside the same entries replayed from an export
//! into an in-memory ledger. N is 1,000,000 (100,000 with `TAILLEDGER_BENCH_QUICK=1`); the
//! target is a restore within twice the replay.

mod common;

use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

use criterion::Criterion;
use tailledger::ledger::Log;
use tailledger::merkle::{Checkpoint, SigningKey, sign_checkpoint};
use tailledger::replay::ledger_from_export;
use tailledger::restore::restore_from_tiles;
use tailledger::tiles::{self, DirReader, TileObject};

/// Writes the tiles of the ledger in `data_dir` and its signed checkpoint into `to`.
fn write_tiles(data_dir: &Path, key: &SigningKey, to: &Path) {
    let log = Log::open_copy(data_dir).expect("the built ledger opens");
    let (size, root) = log.tree_head().expect("a tree head");
    for object in tiles::objects_between(&log, 0, size) {
        tiles::write_dir(to, &object.expect("a tile")).expect("written");
    }
    let checkpoint = Checkpoint {
        origin: tiles::log_origin(&log.get(1).expect("read").expect("entry 1").hash),
        size,
        root,
        extensions: Vec::new(),
    };
    let note = sign_checkpoint(&checkpoint, key).expect("signed");
    let object = TileObject {
        path: tiles::CHECKPOINT_PATH.to_owned(),
        bytes: note.into_bytes(),
        full: false,
    };
    tiles::write_dir(to, &object).expect("written");
}

fn restore_and_replay(c: &mut Criterion, tiles_dir: &Path, export: &Path, key: &SigningKey) {
    let mut group = c.benchmark_group("restore");
    group.sample_size(10);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let reader = DirReader::new(tiles_dir);
    let verifier = key.verifier_key();
    group.bench_function("restore_from_tiles", |b| {
        b.iter(|| {
            let work = tempfile::tempdir().expect("a temporary directory");
            runtime
                .block_on(restore_from_tiles(
                    &reader,
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
    let (accounts, events) = if common::quick() {
        (10_000, 100_000)
    } else {
        (100_000, 1_000_000)
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = dir.path().join("ledger");
    let started = Instant::now();
    drop(common::build_ledger(&data_dir, accounts, events));
    let key = SigningKey::from_seed("bench", &[1; 32]).expect("a key");
    let tiles_dir = dir.path().join("tiles");
    write_tiles(&data_dir, &key, &tiles_dir);
    let export = dir.path().join("export.jsonl");
    Log::open_copy(&data_dir)
        .expect("the built ledger opens")
        .export_to_file(&export, &|_| {})
        .expect("exported");
    println!(
        "ledger of {events} events written as tiles and an export in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut c = common::criterion();
    restore_and_replay(&mut c, &tiles_dir, &export, &key);
    c.final_summary();
}
