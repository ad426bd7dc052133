//! The durable [`Store`] on sled 0.34.7.
//!
//! Layout, in the tree `ledger`: key `e` + seq (8 bytes, big-endian) holds a record whose first
//! entry has that seq, and key `h` holds the encoded head digest. A batch stages its entries
//! beyond the head, in sled batches of at most [`BATCH_VALUES`] values, and commits them by
//! writing the new head last (a small batch is one `apply_batch` with its head); each sled batch
//! is atomic and sled's log keeps them in order, so records staged by a batch that was never
//! committed lie beyond the head, unread, and are removed at the next open. Since format 2 a record is
//! a chunk of the batch's consecutive entries, as many whole ones as fit in 4 KiB (about 18
//! typical entries), so a batch of 1,000 entries is some 55 sled values rather than 1,000; the
//! format-1 records of 0.1 hold one entry each and are read as they are. Either way the record
//! holding seq N is the last key at or before `e` + N: a read by seq is one point lookup. The
//! Merkle tree's stored nodes (those of level 4 and up, [`tree`](super::tree)) are staged with
//! the entries that complete them and committed by the same head (runs completed by leaves
//! beyond the tree's size were never committed, and are removed at open like staged records), as
//! runs of at most 127 hashes under `n` + the leaf that completed the run's first node, so a
//! node is one `..=` lookup too; key `t` says whether
//! the tree is kept with every append or, in a ledger written before it was, how far it is built
//! (no `t` with a head: not at all). Checkpoints live in the tree `checkpoints.2`:
//! the projections' under key `c` + seq, the subject index's parts under `s` + seq; they are derived data and can always be rebuilt. No stored value is larger than
//! 4 KiB: a longer one is stored in pieces, its header last ([`pieces`](super::pieces)), so sled
//! never writes it to its unsynced blob files. The tree `checkpoints` of ledgers written by 0.1
//! holds checkpoints as single values, which sled put in blob files: it is read, never written,
//! since an update of one of its pages would write a new blob.
//!
//! Durability: sled's `flush` writes with `sync_file_range` on Linux, which survives a process
//! crash but not a power cut, so after it returns the store syncs what sled leaves unsynced
//! ([`disk`](super::disk)) and `fdatasync`s sled's log file (`<data_dir>/db`) before
//! acknowledging (docs/reference/time-and-durability.md#durability).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::codec::{self, TreeState};
use super::disk::{DataDir, SyncObserver};
use super::head_record::{self, HeadKeeper};
use super::pieces::{self, PieceError};
use super::tree;
use super::{Checkpointed, Encode, Loss, Scan, ScannedRecord, Store, StoreError, check_follows};
use crate::entry::Entry;
use crate::hash::{Digest, Hash256};
use crate::merkle::NodeId;

const ENTRY_PREFIX: u8 = b'e';
const HEAD_KEY: &[u8] = b"h";
const NODE_PREFIX: u8 = b'n';
const TREE_KEY: &[u8] = b"t";
const CHECKPOINT_PREFIX: u8 = b'c';
/// The key prefix of the subject index's checkpoints, in the checkpoints tree.
const SUBJECTS_PREFIX: u8 = b's';
/// The checkpoints tree of this layout, and the one 0.1 wrote (read only).
const CHECKPOINTS: &str = "checkpoints.2";
const CHECKPOINTS_V01: &str = "checkpoints";

/// The most values one sled batch holds. sled keeps every node version a batch replaces until
/// the whole batch is applied, and writes the batch to its log as one reservation, so the memory
/// a batch needs grows with it (one batch of a 500,000-row import took 4.5 KB an entry); a large
/// write goes as several batches of at most this many values of at most 4 KiB (1 MiB).
const BATCH_VALUES: usize = 256;

/// sled's page cache unless `[store] cache_capacity` says otherwise. sled's own default is 1 GiB,
/// which a reader of a large ledger fills with pages it has read once; 64 MiB holds the recent
/// pages appends and point reads touch.
pub const CACHE_CAPACITY: u64 = 64 << 20;

/// A ledger database in a directory of its own.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    ledger: sled::Tree,
    checkpoints: sled::Tree,
    /// The checkpoints a 0.1 ledger holds, if this is one.
    checkpoints_v01: Option<sled::Tree>,
    /// sled's log file, kept open so every append can `fdatasync` it.
    log_file: File,
    disk: Arc<DataDir>,
    /// What was staged beyond the head since the last commit, and the writes not yet applied.
    staged: Mutex<Staged>,
    /// The head record when the store was opened.
    acknowledged: Option<Digest>,
    /// Writes each committed head to the head record; dropped before a copy's directory.
    head_record: HeadKeeper,
    /// The private directory this store was opened in, for a copy: deleted after the database
    /// is closed (fields drop in order).
    _copy: Option<tempfile::TempDir>,
}

/// The entries staged beyond the head: the last one, and the writes still to apply.
#[derive(Default)]
struct Staged {
    last: Option<Digest>,
    writes: Batches,
}

/// Writes to one tree, applied in order as batches of at most [`BATCH_VALUES`] values. Each
/// batch is atomic and sled's log keeps them in order, so after a crash a prefix of them is
/// there: whatever must not be seen without the rest (the head, a piece list's header) is
/// written last.
#[derive(Default)]
struct Batches {
    batch: sled::Batch,
    values: usize,
}

impl Batches {
    /// Adds `value` under `key`, in pieces if it is long.
    fn insert(&mut self, tree: &sled::Tree, key: &[u8], value: &[u8]) -> sled::Result<()> {
        self.write(tree, key, &mut |writer| writer.write_all(value))
    }

    /// Adds the value `encode` writes under `key`, in pieces as it is written if it is long.
    fn write(
        &mut self,
        tree: &sled::Tree,
        key: &[u8],
        encode: &mut Encode<'_>,
    ) -> sled::Result<()> {
        let mut writer = pieces::Writer::new(key, |key, value| {
            self.batch.insert(key, value);
            self.count(tree).map_err(io::Error::other)
        });
        encode(&mut writer)
            .and_then(|()| writer.finish())
            .map_err(|error| match error.downcast::<sled::Error>() {
                Ok(sled) => sled,
                Err(other) => sled::Error::Io(other),
            })
    }

    fn remove(&mut self, tree: &sled::Tree, key: sled::IVec) -> sled::Result<()> {
        self.batch.remove(key);
        self.count(tree)
    }

    fn count(&mut self, tree: &sled::Tree) -> sled::Result<()> {
        self.values += 1;
        if self.values >= BATCH_VALUES {
            self.apply(tree)?;
        }
        Ok(())
    }

    /// Applies what is not applied yet.
    fn apply(&mut self, tree: &sled::Tree) -> sled::Result<()> {
        if self.values == 0 {
            return Ok(());
        }
        self.values = 0;
        tree.apply_batch(std::mem::take(&mut self.batch))
    }
}

fn entry_key(seq: u64) -> [u8; 9] {
    prefixed_key(ENTRY_PREFIX, seq)
}

fn node_key(leaf: u64) -> [u8; 9] {
    prefixed_key(NODE_PREFIX, leaf)
}

fn checkpoint_key(kind: Checkpointed, seq: u64) -> [u8; 9] {
    let prefix = match kind {
        Checkpointed::Projections => CHECKPOINT_PREFIX,
        Checkpointed::Subjects => SUBJECTS_PREFIX,
    };
    prefixed_key(prefix, seq)
}

fn prefixed_key(prefix: u8, seq: u64) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn seq_of_key(key: &[u8]) -> u64 {
    // Keys under the entry and checkpoint prefixes are always 9 bytes long: `prefixed_key` is
    // their only writer.
    let bytes: [u8; 8] = key[1..9].try_into().expect("prefixed keys are 9 bytes");
    u64::from_be_bytes(bytes)
}

impl SledStore {
    /// Opens (creating if needed) the ledger database in `dir`. Fails with
    /// [`StoreError::Locked`] if another process holds it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, CACHE_CAPACITY)
    }

    /// Like [`SledStore::open`], with a page cache of `cache_capacity` bytes.
    pub fn open_with_cache(dir: &Path, cache_capacity: u64) -> Result<Self, StoreError> {
        Self::open_as(dir, cache_capacity, None)?.refusing_loss()
    }

    /// Like [`SledStore::open`], telling `observer` of every sync the store makes; for the
    /// power-loss model test, which keeps what a power cut would keep.
    #[doc(hidden)]
    pub fn open_observed(dir: &Path, observer: Option<SyncObserver>) -> Result<Self, StoreError> {
        Self::open_as(dir, CACHE_CAPACITY, observer)?.refusing_loss()
    }

    fn open_as(
        dir: &Path,
        cache_capacity: u64,
        observer: Option<SyncObserver>,
    ) -> Result<Self, StoreError> {
        let path = dir.to_path_buf();
        let database = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let disk = Arc::new(DataDir::new(dir, observer));
        disk.before_open()?;
        let acknowledged = head_record::read(dir)?;
        let db = open_sled(dir, cache_capacity).map_err(|source| {
            if is_lock_conflict(&source) {
                StoreError::Locked { path: path.clone() }
            } else {
                database(source)
            }
        })?;
        disk.after_open()?;
        let ledger = db.open_tree("ledger").map_err(database)?;
        let checkpoints = db.open_tree(CHECKPOINTS).map_err(database)?;
        let has_v01_checkpoints = db
            .tree_names()
            .iter()
            .any(|name| name.as_ref() == CHECKPOINTS_V01.as_bytes());
        let checkpoints_v01 = if has_v01_checkpoints {
            Some(db.open_tree(CHECKPOINTS_V01).map_err(database)?)
        } else {
            None
        };
        let log_path = dir.join("db");
        let log_file = File::open(&log_path).map_err(|source| StoreError::Io {
            action: "open",
            path: log_path,
            source,
        })?;
        let store = SledStore {
            path,
            db,
            ledger,
            checkpoints,
            checkpoints_v01,
            log_file,
            head_record: HeadKeeper::start(Arc::clone(&disk)),
            disk,
            staged: Mutex::new(Staged::default()),
            acknowledged,
            _copy: None,
        };
        store.remove_beyond_head()?;
        Ok(store)
    }

    /// This store, unless its chain does not reach the head its head record acknowledged, or
    /// holds another hash there ([`StoreError::Lost`]): entries the database lost must not be
    /// written over. A store that never recorded its head has it recorded now.
    fn refusing_loss(self) -> Result<Self, StoreError> {
        let head = self.head()?;
        let Some(acknowledged) = self.acknowledged else {
            if let Some(head) = head {
                self.head_record.note(head);
            }
            return Ok(self);
        };
        let found = match head {
            Some(head) if head.seq >= acknowledged.seq => self.hash_at(acknowledged.seq)?,
            _ => None,
        };
        if found == Some(acknowledged.hash) {
            if head != Some(acknowledged) {
                // The record trails the head by at most one interval: bring it up to date.
                self.head_record.note(head.unwrap_or(acknowledged));
            }
            return Ok(self);
        }
        Err(StoreError::Lost(Box::new(Loss {
            path: self.path.clone(),
            head,
            acknowledged,
            found,
        })))
    }

    /// The hash of the entry at `seq`, if the store holds one there.
    fn hash_at(&self, seq: u64) -> Result<Option<Hash256>, StoreError> {
        Ok(self.get(seq)?.map(|entry| entry.hash))
    }

    /// Removes the records a batch staged but never committed (it was cut short by a crash or
    /// a failed write): they are beyond the head, where no read goes, but a later batch keyed
    /// differently must not find one of them as the record holding its seq. The same goes for
    /// the runs of tree nodes staged with them, or written by a build of the tree that did not
    /// finish: those completed by leaves beyond the size the tree covers are removed, so that a
    /// later run never has a stale one after it.
    fn remove_beyond_head(&self) -> Result<(), StoreError> {
        let next = self.head()?.map_or(1, |head| head.seq + 1);
        let tree_size = self.tree_size()?;
        let mut removals = Batches::default();
        let beyond = self
            .ledger
            .range(entry_key(next)..=entry_key(u64::MAX))
            .keys()
            .chain(
                self.ledger
                    .range(pieces::pieces_from(&entry_key(next)))
                    .keys(),
            )
            .chain(
                self.ledger
                    .range(node_key(tree_size)..=node_key(u64::MAX))
                    .keys(),
            )
            .chain(
                self.ledger
                    .range(pieces::pieces_from(&node_key(tree_size)))
                    .keys(),
            );
        for key in beyond {
            let key = key.map_err(|source| self.database(source))?;
            removals
                .remove(&self.ledger, key)
                .map_err(|source| self.database(source))?;
        }
        removals
            .apply(&self.ledger)
            .map_err(|source| self.database(source))
    }

    fn lock_staged(&self) -> MutexGuard<'_, Staged> {
        // A panic while staging leaves writes beyond the head only, which a commit never
        // follows: the next stage starts from the head again.
        self.staged.lock().unwrap_or_else(|poisoned| {
            let mut staged = poisoned.into_inner();
            *staged = Staged::default();
            staged
        })
    }

    /// Opens a private copy of the ledger in `dir` ([`private_copy`](super::private_copy)), for
    /// readers that must not write to the original; the copy is deleted when the store is dropped.
    pub fn open_copy_of(dir: &Path) -> Result<Self, StoreError> {
        Self::open_copy_to_verify(dir)?.refusing_loss()
    }

    /// Like [`SledStore::open_copy_of`], for verification, which reports lost entries as a
    /// failure rather than refusing to look.
    pub fn open_copy_to_verify(dir: &Path) -> Result<Self, StoreError> {
        let copy = super::private_copy(dir)?;
        let mut store = Self::open_as(copy.path(), CACHE_CAPACITY, None)?;
        store._copy = Some(copy);
        Ok(store)
    }

    /// Opens the ledger database in `dir` only if one is there, for commands that must not
    /// create an empty ledger by mistake.
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

    /// Refuses a write of about `bytes` when the disk holding the store lacks room for it, before
    /// sled writes anything: sled 0.34 remembers a failed write as an error that every later
    /// read returns too, so letting it meet a full disk would stop reads until a restart. The
    /// room asked for is twice the values (sled's log and its page table hold each) and 1 MiB
    /// for its segment and snapshot bookkeeping. A filesystem that cannot say is not refused.
    fn check_room(&self, bytes: u64) -> Result<(), StoreError> {
        const BOOKKEEPING: u64 = 1 << 20;
        // A filesystem that reports no blocks at all (a FUSE one without `statfs`) cannot say.
        let Some(stats) = rustix::fs::statvfs(&self.path)
            .ok()
            .filter(|stats| stats.f_blocks > 0)
        else {
            return Ok(());
        };
        let available = stats.f_bavail.saturating_mul(stats.f_frsize);
        let needed = bytes.saturating_mul(2).saturating_add(BOOKKEEPING);
        if available >= needed {
            return Ok(());
        }
        Err(StoreError::Io {
            action: "write to",
            path: self.path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!("no space left on the device ({available} bytes free, {needed} needed)"),
            ),
        })
    }

    fn database(&self, source: sled::Error) -> StoreError {
        database_error(&self.path, source)
    }

    /// Waits until everything written so far is on stable storage: sled's writes, then any blob
    /// file, then the log that points at them.
    fn make_durable(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(|source| self.database(source))?;
        self.disk.sync_new_blobs(true)?;
        self.disk.sync_log(&self.log_file)
    }

    /// The record that holds `seq` if the ledger has it: the last one keyed at or before it.
    fn record_holding(&self, seq: u64) -> Result<Option<(sled::IVec, sled::IVec)>, StoreError> {
        self.ledger
            .range(entry_key(0)..=entry_key(seq))
            .next_back()
            .transpose()
            .map_err(|source| self.database(source))
    }

    fn tree_state(&self) -> Result<Option<TreeState>, StoreError> {
        let Some(stored) = self
            .ledger
            .get(TREE_KEY)
            .map_err(|source| self.database(source))?
        else {
            return Ok(None);
        };
        codec::decode_tree_state(&stored)
            .map(Some)
            .map_err(|source| StoreError::CorruptTree {
                node: NodeId { level: 0, index: 0 },
                reason: format!("its stored state does not decode: {source}"),
            })
    }

    /// Adds the kept nodes among `nodes` to `writes`.
    fn insert_nodes(
        ledger: &sled::Tree,
        writes: &mut Batches,
        nodes: &[(NodeId, Hash256)],
    ) -> sled::Result<()> {
        for (first, hashes) in tree::runs(nodes) {
            writes.insert(ledger, &node_key(first), &tree::encode_run(&hashes))?;
        }
        Ok(())
    }

    fn latest_checkpoint_v01(&self, seq: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let Some(tree) = &self.checkpoints_v01 else {
            return Ok(None);
        };
        let found = tree
            .range(..=seq.to_be_bytes())
            .next_back()
            .transpose()
            .map_err(|source| self.database(source))?;
        Ok(found.and_then(|(key, value)| {
            // 0.1 keyed its checkpoints by the 8-byte seq alone.
            let key: [u8; 8] = key.as_ref().try_into().ok()?;
            Some((u64::from_be_bytes(key), value.to_vec()))
        }))
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
    open_sled(dir, CACHE_CAPACITY)
}

fn open_sled(dir: &Path, cache_capacity: u64) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_RELEASE_WAIT;
    loop {
        match sled::Config::new()
            .path(dir)
            .cache_capacity(cache_capacity)
            .open()
        {
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
    fn acknowledged(&self) -> Option<Digest> {
        self.acknowledged
    }

    fn head(&self) -> Result<Option<Digest>, StoreError> {
        let Some(stored) = self
            .ledger
            .get(HEAD_KEY)
            .map_err(|source| self.database(source))?
        else {
            return Ok(None);
        };
        let bytes = pieces::resolve(&self.ledger, HEAD_KEY, stored)
            .map_err(|source| StoreError::CorruptHead(source.to_string()))?;
        codec::decode_head(&bytes)
            .map(Some)
            .map_err(|source| StoreError::CorruptHead(source.to_string()))
    }

    fn stage(&self, entries: &[Entry], nodes: &[(NodeId, Hash256)]) -> Result<(), StoreError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let mut staged = self.lock_staged();
        let after = match staged.last {
            Some(staged) => Some(staged),
            None => self.head()?,
        };
        check_follows(after.map_or(1, |digest| digest.seq + 1), entries)?;
        let chunks = codec::encode_chunks(entries, pieces::MAX_VALUE);
        self.check_room(chunks.iter().map(|(_, chunk)| chunk.len() as u64).sum())?;
        for (first, chunk) in chunks {
            // A chunk is longer than the limit only when it holds a single long entry.
            if let Err(source) = staged
                .writes
                .insert(&self.ledger, &entry_key(first), &chunk)
            {
                *staged = Staged::default();
                return Err(self.database(source));
            }
        }
        if let Err(source) = Self::insert_nodes(&self.ledger, &mut staged.writes, nodes) {
            *staged = Staged::default();
            return Err(self.database(source));
        }
        staged.last = Some(last.digest());
        Ok(())
    }

    fn commit(&self, head: Digest) -> Result<(), StoreError> {
        let mut staged = std::mem::take(&mut *self.lock_staged());
        if staged.last != Some(head) {
            return Err(StoreError::NotStaged {
                head: head.seq,
                staged: staged.last.map_or(0, |digest| digest.seq),
            });
        }
        let mut writes = || -> Result<(), StoreError> {
            if self.head()?.is_none() {
                // A ledger that starts with the tree keeps it from its first batch on. Should
                // this be applied without the head, the tree still covers no more than the head.
                staged
                    .writes
                    .insert(
                        &self.ledger,
                        TREE_KEY,
                        &codec::encode_tree_state(TreeState::Kept),
                    )
                    .map_err(|source| self.database(source))?;
            }
            staged
                .writes
                .insert(&self.ledger, HEAD_KEY, &codec::encode_head(head))
                .and_then(|()| staged.writes.apply(&self.ledger))
                .map_err(|source| self.database(source))
        };
        writes()?;
        self.make_durable()?;
        self.head_record.note(head);
        Ok(())
    }

    fn tree_size(&self) -> Result<u64, StoreError> {
        Ok(match self.tree_state()? {
            Some(TreeState::Kept) => self.head()?.map_or(0, |head| head.seq),
            Some(TreeState::Built(size)) => size,
            None => 0,
        })
    }

    fn extend_tree(&self, nodes: &[(NodeId, Hash256)], size: u64) -> Result<(), StoreError> {
        let head = self.head()?.map_or(0, |head| head.seq);
        let state = if size >= head {
            TreeState::Kept
        } else {
            TreeState::Built(size)
        };
        // The nodes go first and the state last: nodes applied without it lie beyond the size
        // the tree is known to cover, where no read reaches them, and are removed at open.
        let mut writes = Batches::default();
        Self::insert_nodes(&self.ledger, &mut writes, nodes)
            .and_then(|()| writes.insert(&self.ledger, TREE_KEY, &codec::encode_tree_state(state)))
            .and_then(|()| writes.apply(&self.ledger))
            .map_err(|source| self.database(source))?;
        self.make_durable()
    }

    fn kept_node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError> {
        let Some(leaf) = tree::completing_leaf(node) else {
            return Ok(None);
        };
        let Some((key, stored)) = self
            .ledger
            .range(node_key(0)..=node_key(leaf))
            .next_back()
            .transpose()
            .map_err(|source| self.database(source))?
        else {
            return Ok(None);
        };
        let first = seq_of_key(&key);
        let corrupt = |reason: String| StoreError::CorruptTree { node, reason };
        let value = pieces::resolve(&self.ledger, &key, stored)
            .map_err(|source| corrupt(source.to_string()))?;
        tree::node_in_run(&value, first, node).map_err(corrupt)
    }

    fn scan(&self, from: u64) -> Scan<'static> {
        // Start at the record holding `from`, and skip the entries before it in that record.
        let start = match self.record_holding(from) {
            Ok(Some((key, _))) => seq_of_key(&key),
            Ok(None) => from,
            Err(error) => return Box::new(std::iter::once(Err(error))),
        };
        // The walk owns what it reads with (sled's trees are shared handles), so it outlives
        // the borrow of the store: a reader may hold it while the log's store is replaced.
        let (ledger, path) = (self.ledger.clone(), self.path.clone());
        let records = self
            .ledger
            .range(entry_key(start)..=entry_key(u64::MAX))
            .map(move |item| {
                let (key, stored) = item.map_err(|source| database_error(&path, source))?;
                let seq = seq_of_key(&key);
                let value = whole(&ledger, &key, stored, seq)?;
                Ok((seq, codec::Entries::new(value)))
            });
        // Skipping by position, not by seq, so that a record whose seqs were tampered with is
        // still walked whole by a verification from seq 1.
        let skip = usize::try_from(from.saturating_sub(start)).unwrap_or(usize::MAX);
        Box::new(Records {
            records,
            current: None,
            next_seq: start,
            skip,
        })
    }

    fn get(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        let Some((key, stored)) = self.record_holding(seq)? else {
            return Ok(None);
        };
        let first = seq_of_key(&key);
        let value = whole(&self.ledger, &key, stored, first)?;
        for entry in codec::decode_entries(&value) {
            match entry {
                Ok(entry) if entry.seq == seq => return Ok(Some(entry)),
                Ok(_) => {}
                Err(source) => return Err(StoreError::Corrupt { seq, source }),
            }
        }
        Ok(None)
    }

    fn put_checkpoint(
        &self,
        kind: Checkpointed,
        seq: u64,
        encode: &mut Encode<'_>,
    ) -> Result<(), StoreError> {
        let key = checkpoint_key(kind, seq);
        let mut writes = Batches::default();
        // One at the same seq goes first, so that a write cut short leaves no header listing
        // pieces some of which are new: only the last batch holds the new header.
        writes
            .remove(&self.checkpoints, sled::IVec::from(&key[..]))
            .and_then(|()| writes.write(&self.checkpoints, &key, encode))
            .and_then(|()| writes.apply(&self.checkpoints))
            .map_err(|source| self.database(source))
    }

    fn checkpoint_at_or_before(
        &self,
        kind: Checkpointed,
        seq: u64,
    ) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let found = self
            .checkpoints
            .range(checkpoint_key(kind, 0)..=checkpoint_key(kind, seq))
            .next_back()
            .transpose()
            .map_err(|source| self.database(source))?;
        let current = match found {
            Some((key, stored)) => {
                let found = seq_of_key(&key);
                let value = whole(&self.checkpoints, &key, stored, found)?;
                Some((found, value.to_vec()))
            }
            None => None,
        };
        // 0.1 kept the projections only, with no subject index in them.
        let older = match kind {
            Checkpointed::Projections => self.latest_checkpoint_v01(seq)?,
            Checkpointed::Subjects => None,
        };
        Ok(match (current, older) {
            (Some(current), Some(older)) if older.0 > current.0 => Some(older),
            (current, older) => current.or(older),
        })
    }
}

/// A database error of the store at `path`.
fn database_error(path: &Path, source: sled::Error) -> StoreError {
    StoreError::Database {
        path: path.to_path_buf(),
        source,
    }
}

/// The whole value stored under `key` in `tree`, put back together from its pieces if it has
/// them.
fn whole(
    tree: &sled::Tree,
    key: &[u8],
    stored: sled::IVec,
    seq: u64,
) -> Result<sled::IVec, StoreError> {
    pieces::resolve(tree, key, stored)
        .map_err(|source: PieceError| StoreError::Pieces { seq, source })
}

/// The entries of a walk over records, one record's entries at a time.
struct Records<I> {
    records: I,
    current: Option<codec::Entries<sled::IVec>>,
    /// The seq to report for an undecodable entry: the one after the last entry met.
    next_seq: u64,
    /// Entries still to skip, at the start of the first record.
    skip: usize,
}

impl<I> Iterator for Records<I>
where
    I: Iterator<Item = Result<(u64, codec::Entries<sled::IVec>), StoreError>>,
{
    type Item = Result<ScannedRecord, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.current.as_mut().and_then(Iterator::next) {
                if self.skip > 0 {
                    self.skip -= 1;
                    continue;
                }
                let seq = match &entry {
                    Ok(entry) => entry.seq,
                    Err(_) => self.next_seq,
                };
                self.next_seq = seq.saturating_add(1);
                return Some(Ok((seq, entry)));
            }
            let (first, entries) = match self.records.next()? {
                Ok(record) => record,
                Err(error) => return Some(Err(error)),
            };
            self.next_seq = first;
            self.current = Some(entries);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, Event, SystemId};
    use crate::merkle::Frontier;
    use crate::time::Timestamp;

    /// `count` entries after `last`, with the tree nodes they complete on `frontier`.
    fn sealed(
        last: &mut Option<Digest>,
        frontier: &mut Frontier,
        count: usize,
    ) -> (Vec<Entry>, Vec<(NodeId, Hash256)>) {
        let (entries, leaves): (Vec<Entry>, Vec<Hash256>) = (0..count)
            .map(|index| {
                let event = Event::AccountDeclassified {
                    system: SystemId::tailscale(),
                    account_id: format!("a{index}"),
                    reason: "test".to_owned(),
                };
                let (entry, leaf) =
                    Entry::seal_with_leaf_hash(*last, Timestamp::UNIX_EPOCH, Actor::Demo, event);
                *last = Some(entry.digest());
                (entry, leaf)
            })
            .unzip();
        let nodes = frontier.append(&leaves);
        (entries, nodes)
    }

    #[test]
    fn tree_nodes_staged_but_never_committed_are_unread_and_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut last = None;
        let mut frontier = Frontier::new();
        let first = NodeId { level: 4, index: 0 };
        let second = NodeId { level: 4, index: 1 };
        let first_hash;
        {
            let store = SledStore::open(dir.path()).unwrap();
            let (entries, nodes) = sealed(&mut last, &mut frontier, 20);
            first_hash = nodes.iter().find(|(node, _)| *node == first).unwrap().1;
            store.append(&entries, &nodes).unwrap();
            let head = last;
            // Two parts long enough that sled applies the first one's runs before any commit.
            for _ in 0..2 {
                let (entries, nodes) = sealed(&mut last, &mut frontier, 6_000);
                store.stage(&entries, &nodes).unwrap();
            }
            let applied = store
                .ledger
                .range(node_key(20)..=node_key(u64::MAX))
                .count();
            assert!(
                applied > 0,
                "some staged runs are in sled before the commit"
            );
            assert_eq!(store.head().unwrap(), head);
            assert_eq!(store.tree_size().unwrap(), 20);
            // Dropped without a commit, as a crash leaves it.
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.head().unwrap().map(|head| head.seq), Some(20));
        assert_eq!(store.tree_size().unwrap(), 20);
        assert_eq!(store.kept_node(first).unwrap(), Some(first_hash));
        assert_eq!(store.kept_node(second).unwrap(), None);
        let beyond = store
            .ledger
            .range(node_key(20)..=node_key(u64::MAX))
            .count();
        assert_eq!(beyond, 0, "the staged runs are removed at open");
    }

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
