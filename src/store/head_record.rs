//! The head record: the last head the store acknowledged, kept in a file of its own beside
//! sled's (docs/reference/time-and-durability.md#the-head-record).
//!
//! sled recovers a damaged log by reading it up to the damage and no further, so one flipped byte
//! in `db` can leave a database that opens cleanly, holds a shorter chain, and verifies. Nothing
//! inside the database can tell: whatever recorded the later entries was cut off with them. The
//! head record lives outside it, in `tailledger-head`, so opening a store can compare the two: a
//! store whose chain ends before the recorded head, or holds another hash at its seq, has lost
//! acknowledged entries, and is refused for writing and fails verification.
//!
//! The record is written after the store's own `fdatasync`, never before, so it never runs
//! ahead of what the database made durable. It is written off the append path, by a thread of
//! its own, at most once every [`MIN_INTERVAL`] while appends go on, and once more when the
//! store is closed: a record trails the acknowledged head by at most that interval, and equals it
//! after a clean close. Each write is whole or absent (a synced temporary file renamed into
//! place), and a failed write is logged, never stops an append: the record is evidence of loss,
//! not part of what recovery needs.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::StoreError;
use super::disk::DataDir;
use crate::hash::Digest;

/// The file the record is kept in, in the data directory.
pub const FILE: &str = "tailledger-head";

/// The first line of the record: what it is, and its format's version.
const MAGIC: &str = "tailledger head record v1";

/// The least time between two writes of the record while appends go on.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The record's text for `head`.
fn encode(head: Digest) -> String {
    format!("{MAGIC}\n{head}\n")
}

/// Reads the head record in `dir`, if there is one. A record that is there but is not exactly
/// one this module writes is an error naming the file: it cannot vouch for anything.
pub fn read(dir: &Path) -> Result<Option<Digest>, StoreError> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    let unreadable = |detail: &str| StoreError::HeadRecord {
        path: path.clone(),
        detail: detail.to_owned(),
    };
    let digest = text
        .strip_prefix(MAGIC)
        .and_then(|rest| rest.strip_prefix('\n'))
        .and_then(|rest| rest.strip_suffix('\n'))
        .ok_or_else(|| unreadable("it is not a head record of this version"))?;
    let head: Digest = digest
        .parse()
        .map_err(|_| unreadable("its head is not a digest SEQ:HASH"))?;
    if encode(head) != text {
        return Err(unreadable("it is not in the form this version writes"));
    }
    Ok(Some(head))
}

/// What the writing thread and the store share.
#[derive(Default)]
struct Shared {
    /// The newest head not written yet.
    pending: Option<Digest>,
    /// The store is closing: write what is pending and stop.
    closing: bool,
}

/// Keeps the head record of one store, on a thread of its own; dropping it writes the last head
/// noted and waits for the write.
pub struct HeadKeeper {
    shared: Arc<(Mutex<Shared>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl HeadKeeper {
    /// Starts keeping the record in `disk`'s directory.
    pub fn start(disk: Arc<DataDir>) -> Self {
        let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("head-record".to_owned())
                .spawn(move || keep(&disk, &shared))
                .ok()
        };
        if thread.is_none() {
            tracing::warn!("could not start the thread that keeps the head record");
        }
        HeadKeeper { shared, thread }
    }

    /// Notes `head`, which the store has just made durable, for the next write of the record.
    pub fn note(&self, head: Digest) {
        let (state, wake) = &*self.shared;
        state.lock().unwrap_or_else(PoisonError::into_inner).pending = Some(head);
        wake.notify_one();
    }
}

impl Drop for HeadKeeper {
    fn drop(&mut self) {
        let (state, wake) = &*self.shared;
        state.lock().unwrap_or_else(PoisonError::into_inner).closing = true;
        wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // A panic on that thread has been reported by the panic hook; closing goes on.
            let _ = thread.join();
        }
    }
}

/// The writing thread: waits for a head, writes it, then lets [`MIN_INTERVAL`] pass (or the
/// store close) before the next write.
fn keep(disk: &DataDir, shared: &(Mutex<Shared>, Condvar)) {
    let (state, wake) = shared;
    let mut failing = false;
    loop {
        let (head, closing) = {
            let guard = state.lock().unwrap_or_else(PoisonError::into_inner);
            let mut guard = wake
                .wait_while(guard, |shared| shared.pending.is_none() && !shared.closing)
                .unwrap_or_else(PoisonError::into_inner);
            (guard.pending.take(), guard.closing)
        };
        if let Some(head) = head {
            match disk.replace_file(FILE, encode(head).as_bytes()) {
                Ok(()) => failing = false,
                Err(error) if !failing => {
                    // Logged once until a write succeeds again: a full disk would repeat it.
                    tracing::warn!("could not write the head record: {error}");
                    failing = true;
                }
                Err(_) => {}
            }
        }
        if closing {
            return;
        }
        let guard = state.lock().unwrap_or_else(PoisonError::into_inner);
        // Only closing ends the pause early; heads noted meanwhile wait for the next write.
        let _ = wake
            .wait_timeout_while(guard, MIN_INTERVAL, |shared| !shared.closing)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash256;

    fn digest(seq: u64) -> Digest {
        Digest {
            seq,
            hash: Hash256::of(&seq.to_be_bytes()),
        }
    }

    #[test]
    fn the_last_head_noted_is_written_when_the_keeper_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let keeper = HeadKeeper::start(Arc::new(DataDir::new(dir.path(), None)));
        for seq in 1..=50 {
            keeper.note(digest(seq));
        }
        drop(keeper);
        assert_eq!(read(dir.path()).unwrap(), Some(digest(50)));
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text, format!("{MAGIC}\n{}\n", digest(50)));
    }

    #[test]
    fn a_record_not_exactly_in_its_form_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = encode(digest(7));
        for bad in [
            String::new(),
            good.replace("v1", "v2"),
            good.trim_end().to_owned(),
            format!("{good}\n"),
            good.replace('\n', "\r\n"),
            format!("{MAGIC}\n7:nothex\n"),
            good.replacen(":", " :", 1),
            good.replace(MAGIC, &format!(" {MAGIC}")),
        ] {
            std::fs::write(dir.path().join(FILE), &bad).unwrap();
            let error = read(dir.path()).unwrap_err().to_string();
            assert!(
                error.contains(&dir.path().join(FILE).display().to_string()),
                "{bad:?}: {error}"
            );
        }
        std::fs::write(dir.path().join(FILE), good).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(digest(7)));
    }
}
