//! What sled 0.34.7 leaves unsynced in its directory, and how the store makes up for it before
//! anything is acknowledged (docs/reference/time-and-durability.md#power-loss).
//!
//! sled syncs its snapshots itself (before renaming `snap.<lsn>.generating` to `snap.<lsn>`), and
//! its log `db` only becomes durable through the store's `fdatasync`. It never syncs its blob
//! files, the directories, or `conf`. So, on every open, before sled reads anything:
//! - a leftover `snap.*.generating` is removed: sled renames a snapshot only once it is complete
//!   and synced, so such a file is what a crash or power cut during a snapshot leaves, and sled
//!   would read it (it counts every `snap.*` file) and report corruption;
//! - every file under `blobs/` and the `blobs/` directory are synced (a ledger written by 0.1 has
//!   checkpoints there, written with plain `write()`);
//!
//! and once sled has opened (creating its files the first time), `conf`, `db`, the data directory
//! and its parent are synced, so a new ledger's files exist after a power cut before its first
//! acknowledgement. Before each acknowledgement, blob files are synced first (the store keeps
//! values under the blob threshold, so there should be none: one is a warning) and then the log.
//!
//! Every sync is reported to an optional [`SyncObserver`]: the power-loss model test uses it to
//! know which bytes a power cut would keep.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::StoreError;

/// Told of every file or directory the store has just made durable, with its path.
pub type SyncObserver = Arc<dyn Fn(&Path) + Send + Sync>;

/// The data directory of one sled database and the syncs sled leaves to the store.
pub struct DataDir {
    path: PathBuf,
    observer: Option<SyncObserver>,
    /// Blob files already synced, so each is synced once.
    synced_blobs: Mutex<HashSet<OsString>>,
}

impl DataDir {
    pub fn new(path: &Path, observer: Option<SyncObserver>) -> Self {
        DataDir {
            path: path.to_path_buf(),
            observer,
            synced_blobs: Mutex::new(HashSet::new()),
        }
    }

    fn io(&self, action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }

    fn synced(&self, path: &Path) {
        if let Some(observer) = &self.observer {
            observer(path);
        }
    }

    fn sync_file(&self, path: &Path) -> Result<(), StoreError> {
        File::open(path)
            .and_then(|file| file.sync_all())
            .map_err(self.io("sync", path))?;
        self.synced(path);
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> Result<(), StoreError> {
        // A directory is synced through a read-only handle on it, which Linux allows.
        self.sync_file(path)
    }

    /// Readies an existing directory for sled: removes unfinished snapshots and makes the blob
    /// files durable. Does nothing where there is no directory yet.
    pub fn before_open(&self) -> Result<(), StoreError> {
        let Ok(listing) = std::fs::read_dir(&self.path) else {
            return Ok(());
        };
        let mut removed = false;
        for item in listing {
            let item = item.map_err(self.io("list", &self.path))?;
            let name = item.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("snap.") && name.ends_with(".generating") {
                tracing::warn!(
                    file = %item.path().display(),
                    "removing an unfinished sled snapshot left by a crash or power cut"
                );
                std::fs::remove_file(item.path()).map_err(self.io("remove", &item.path()))?;
                removed = true;
            }
        }
        if removed {
            self.sync_dir(&self.path)?;
        }
        self.sync_new_blobs(false)
    }

    /// Makes what the first open created durable: sled's files, the directory, and the entry of
    /// the directory in its parent.
    pub fn after_open(&self) -> Result<(), StoreError> {
        for name in ["conf", "db"] {
            self.sync_file(&self.path.join(name))?;
        }
        self.sync_dir(&self.path)?;
        // A relative path such as `ledger` has the parent `""`: the current directory.
        let parent = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        self.sync_dir(parent)
    }

    /// Syncs every blob file not synced yet, then the `blobs/` directory; `warn` says whether a
    /// new blob file is unexpected (during appends, when every stored value is kept small).
    pub fn sync_new_blobs(&self, warn: bool) -> Result<(), StoreError> {
        let blobs = self.path.join("blobs");
        let Ok(listing) = std::fs::read_dir(&blobs) else {
            return Ok(());
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut any = false;
        for item in listing {
            let item = item.map_err(self.io("list", &blobs))?;
            if synced.contains(&item.file_name()) {
                continue;
            }
            if warn {
                tracing::warn!(
                    file = %item.path().display(),
                    "sled wrote a blob file although every stored value is small; syncing it"
                );
            }
            self.sync_file(&item.path())?;
            synced.insert(item.file_name());
            any = true;
        }
        if any || !warn {
            self.sync_dir(&blobs)?;
        }
        Ok(())
    }

    /// Replaces the file `name` in the directory with `bytes`, whole or not at all: a temporary
    /// file beside it, synced, renamed into place, and the directory synced.
    pub fn replace_file(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path.join(name);
        let temporary = self.path.join(format!("{name}.tmp"));
        // Owner-only, like every file of the ledger (docs/reference/time-and-durability.md#file-modes).
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .and_then(|mut file| file.write_all(bytes))
            .map_err(self.io("write", &temporary))?;
        self.sync_file(&temporary)?;
        std::fs::rename(&temporary, &path).map_err(self.io("rename", &temporary))?;
        // The file renamed into place holds the bytes just synced: durable under either name.
        self.synced(&path);
        self.sync_dir(&self.path)
    }

    /// `fdatasync` of sled's log, the last step before an acknowledgement.
    pub fn sync_log(&self, log: &File) -> Result<(), StoreError> {
        let path = self.path.join("db");
        log.sync_data().map_err(self.io("sync", &path))?;
        self.synced(&path);
        Ok(())
    }
}
