//! The durable [`Store`] on sled 0.34.7.
//!
//! Layout, in the tree `ledger`: key `e` + seq (8 bytes, big-endian) holds an encoded entry, and
//! key `h` holds the encoded head digest. A batch writes its entries and the new head with one
//! `apply_batch`, which sled applies atomically. Checkpoints live in the tree `checkpoints`,
//! keyed by seq; they are derived data and can always be rebuilt.
//!
//! Durability: sled's `flush` writes with `sync_file_range` on Linux, which survives a process
//! crash but not a power cut, so after it returns the store also `fdatasync`s sled's log file
//! (`<data_dir>/db`) before acknowledging (SPEC §3).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Scan, Store, StoreError, check_follows, codec};
use crate::entry::Entry;
use crate::hash::Digest;

const ENTRY_PREFIX: u8 = b'e';
const HEAD_KEY: &[u8] = b"h";

/// A ledger database in a directory of its own.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    ledger: sled::Tree,
    checkpoints: sled::Tree,
    /// sled's log file, kept open so every append can `fdatasync` it.
    log_file: File,
}

fn entry_key(seq: u64) -> [u8; 9] {
    let mut key = [ENTRY_PREFIX; 9];
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn seq_of_key(key: &[u8]) -> u64 {
    // Keys under the entry prefix are always 9 bytes long: `entry_key` is the only writer.
    let bytes: [u8; 8] = key[1..9].try_into().expect("entry keys are 9 bytes");
    u64::from_be_bytes(bytes)
}

impl SledStore {
    /// Opens (creating if needed) the ledger database in `dir`. Fails with
    /// [`StoreError::Locked`] if another process holds it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.to_path_buf();
        let database = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let db = open_waiting_for_lock(dir).map_err(|source| {
            if is_lock_conflict(&source) {
                StoreError::Locked { path: path.clone() }
            } else {
                database(source)
            }
        })?;
        let ledger = db.open_tree("ledger").map_err(database)?;
        let checkpoints = db.open_tree("checkpoints").map_err(database)?;
        let log_file = File::open(dir.join("db")).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(SledStore {
            path,
            db,
            ledger,
            checkpoints,
            log_file,
        })
    }

    /// Opens the ledger database in `dir` only if one is there, for commands that read a copy
    /// and must not create an empty ledger by mistake.
    pub fn open_existing(dir: &Path) -> Result<Self, StoreError> {
        if !dir.join("db").is_file() {
            return Err(StoreError::NotFound {
                path: dir.to_path_buf(),
            });
        }
        Self::open(dir)
    }

    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn database(&self, source: sled::Error) -> StoreError {
        StoreError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Waits until everything written so far is on stable storage.
    fn make_durable(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(|source| self.database(source))?;
        self.log_file.sync_data().map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// How long an open waits for a lock that is being released.
const LOCK_RELEASE_WAIT: Duration = Duration::from_secs(1);

/// Opens the sled database itself, retrying while its file lock is held for up to
/// [`LOCK_RELEASE_WAIT`]. Besides [`SledStore::open`], only tests that tamper with records behind
/// the store's back use it. A database closed a moment ago in this process can still be locked:
/// sled's background threads hold the file until their last job ends, shortly after the `Db` is
/// dropped. A lock held longer than that belongs to a live owner.
pub fn open_waiting_for_lock(dir: &Path) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_RELEASE_WAIT;
    loop {
        match sled::Config::new().path(dir).open() {
            Err(error) if is_lock_conflict(&error) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// sled 0.34.7 reports a held file lock as an I/O error with this text (`config.rs`); the
/// version is pinned, and a test opens one database twice to keep this true.
fn is_lock_conflict(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

impl Store for SledStore {
    fn head(&self) -> Result<Option<Digest>, StoreError> {
        self.ledger
            .get(HEAD_KEY)
            .map_err(|source| self.database(source))?
            .map(|bytes| codec::decode_head(&bytes).map_err(StoreError::CorruptHead))
            .transpose()
    }

    fn append(&self, entries: &[Entry]) -> Result<(), StoreError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        check_follows(self.head()?, entries)?;
        let mut batch = sled::Batch::default();
        for entry in entries {
            batch.insert(&entry_key(entry.seq), codec::encode_entry(entry));
        }
        batch.insert(HEAD_KEY, codec::encode_head(last.digest()));
        self.ledger
            .apply_batch(batch)
            .map_err(|source| self.database(source))?;
        self.make_durable()
    }

    fn scan(&self, from: u64) -> Scan<'_> {
        let records = self
            .ledger
            .range(entry_key(from)..=entry_key(u64::MAX))
            .map(move |item| {
                let (key, value) = item.map_err(|source| self.database(source))?;
                Ok((seq_of_key(&key), codec::decode_entry(&value)))
            });
        Box::new(records)
    }

    fn put_checkpoint(&self, seq: u64, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.checkpoints
            .insert(seq.to_be_bytes(), bytes)
            .map_err(|source| self.database(source))?;
        Ok(())
    }

    fn checkpoint_at_or_before(&self, seq: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let found = self
            .checkpoints
            .range(..=seq.to_be_bytes())
            .next_back()
            .transpose()
            .map_err(|source| self.database(source))?;
        Ok(found.map(|(key, value)| {
            // Checkpoint keys are always 8 bytes: `put_checkpoint` is the only writer.
            let key: [u8; 8] = key
                .as_ref()
                .try_into()
                .expect("checkpoint keys are 8 bytes");
            (u64::from_be_bytes(key), value.to_vec())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_the_same_directory_is_refused_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        let second = SledStore::open(dir.path());
        assert!(
            matches!(second, Err(StoreError::Locked { .. })),
            "{:?}",
            second.err()
        );
    }
}
