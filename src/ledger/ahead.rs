//! Reading the log ahead of a long fold, on the other core.
//!
//! Reading and decoding an entry costs about what folding it into the projections does, so a
//! replay or a timeline has a second thread read and decode a few batches ahead while it folds.
//! The fold only borrows each entry ([`Read`]); when it lets go of one, the entry goes back to
//! the reading thread and is freed there: the system allocator frees fastest in the thread that
//! allocated (a pipeline that freed its entries in the folding thread was slower than none), and
//! the batches' buffers are used again rather than allocated for every batch.
//!
//! Nothing here decides what is read: the records are the log's [`Scan`], in order, errors
//! included; the reading thread ends when the walk does or when the fold drops it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::entry::Entry;
use crate::store::{CodecError, Scan, ScannedRecord, StoreError, scanned_entry};

/// Records sent to the fold at a time.
const BATCH: usize = 256;
/// Batches read ahead of the fold, and batches of spent entries on their way back.
const BATCHES_AHEAD: usize = 4;

/// A record as it travels between the threads: boxed, so that the fold's handling moves a
/// pointer, not a whole entry (a few hundred bytes, moved several times on its way).
type Record = Result<(u64, Result<Box<Entry>, CodecError>), StoreError>;
type Batch = VecDeque<Record>;

/// A walk over the log: the records of a [`Scan`], each entry lent to the fold as a [`Read`].
pub struct ReadAhead {
    source: Source,
    /// The entries the fold let go of since the last batch, in the buffer they go back in.
    spent: Rc<RefCell<Batch>>,
}

enum Source {
    Thread {
        batches: Receiver<Batch>,
        current: Batch,
        back: SyncSender<Batch>,
    },
    /// No thread could be started: the fold reads for itself.
    Here(Scan<'static>),
}

/// An entry of a [`ReadAhead`] walk, lent to the fold; dropping it hands it back to be freed.
pub struct Read {
    /// Always `Some` until dropped.
    entry: Option<Box<Entry>>,
    spent: Rc<RefCell<Batch>>,
}

impl Deref for Read {
    type Target = Entry;

    fn deref(&self) -> &Entry {
        self.entry
            .as_ref()
            .expect("a read entry is held until it is dropped")
    }
}

impl Drop for Read {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.spent
                .borrow_mut()
                .push_back(Ok((entry.seq, Ok(entry))));
        }
    }
}

impl ReadAhead {
    /// Reads the walk `scan` opens on a new thread, or `None` if no thread could be started.
    pub(super) fn start(scan: impl FnOnce() -> Scan<'static> + Send + 'static) -> Option<Self> {
        let (batches, received) = sync_channel(BATCHES_AHEAD);
        let (back, returned) = sync_channel(BATCHES_AHEAD);
        std::thread::Builder::new()
            .name("tailledger-read-ahead".to_owned())
            .spawn(move || read(scan(), batches, &returned))
            .ok()?;
        Some(Self::from(Source::Thread {
            batches: received,
            current: Batch::new(),
            back,
        }))
    }

    /// The walk `scan`, read in the caller's thread.
    pub(super) fn here(scan: Scan<'static>) -> Self {
        Self::from(Source::Here(scan))
    }

    fn from(source: Source) -> Self {
        ReadAhead {
            source,
            spent: Rc::new(RefCell::new(Batch::new())),
        }
    }

    /// The entries of the walk; an undecodable record is an error.
    pub fn entries(self) -> impl Iterator<Item = Result<Read, StoreError>> {
        self.map(scanned_entry)
    }

    fn next_record(&mut self) -> Option<Record> {
        match &mut self.source {
            Source::Thread {
                batches,
                current,
                back,
            } => loop {
                if let Some(record) = current.pop_front() {
                    return Some(record);
                }
                // The batch is used up: what the fold let go of meanwhile goes back to be
                // freed, and this batch's buffer collects the next ones.
                let spent =
                    std::mem::replace(&mut *self.spent.borrow_mut(), std::mem::take(current));
                if !spent.is_empty() {
                    // With the way back full, the entries are freed here instead.
                    let _ = back.try_send(spent);
                }
                *current = batches.recv().ok()?;
            },
            Source::Here(scan) => {
                let mut spent = self.spent.borrow_mut();
                if spent.len() >= BATCH {
                    spent.clear();
                }
                scan.next().map(boxed)
            }
        }
    }
}

impl Iterator for ReadAhead {
    type Item = Result<(u64, Result<Read, CodecError>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = self.next_record()?;
        Some(record.map(|(seq, entry)| {
            let lent = entry.map(|entry| Read {
                entry: Some(entry),
                spent: Rc::clone(&self.spent),
            });
            (seq, lent)
        }))
    }
}

fn boxed(record: Result<ScannedRecord, StoreError>) -> Record {
    record.map(|(seq, entry)| (seq, entry.map(Box::new)))
}

/// The reading thread: sends `scan` in batches until it ends, breaks or is no longer wanted,
/// freeing the entries that come back and keeping their buffers for the next batches.
fn read(mut scan: Scan<'static>, batches: SyncSender<Batch>, returned: &Receiver<Batch>) {
    let mut spare = Vec::new();
    loop {
        spare.extend(returned.try_iter().map(|mut batch| {
            batch.clear();
            batch
        }));
        let mut batch = spare.pop().unwrap_or_else(|| Batch::with_capacity(BATCH));
        batch.extend(scan.by_ref().take(BATCH).map(boxed));
        let ended = batch.len() < BATCH || matches!(batch.back(), Some(Err(_)));
        // A send fails once the fold has dropped the walk.
        if batch.is_empty() || batches.send(batch).is_err() || ended {
            break;
        }
    }
    // The fold learns the walk has ended; what it still hands back is freed here too, until it
    // drops the walk.
    drop(batches);
    drop(spare);
    returned.iter().for_each(drop);
}

#[cfg(test)]
mod tests {
    use super::super::Log;
    use crate::entry::Entry;
    use crate::event::{Actor, Event, SystemId};
    use crate::time::Timestamp;

    /// `log` with `count` entries appended, in batches of 100.
    fn filled(log: Log, count: usize) -> Log {
        let events: Vec<_> = (0..count)
            .map(|index| Event::AccountDeclassified {
                system: SystemId::tailscale(),
                account_id: format!("a{index}"),
                reason: "test".to_owned(),
            })
            .collect();
        for batch in events.chunks(100) {
            log.append(Timestamp::UNIX_EPOCH, Actor::Demo, batch.to_vec())
                .unwrap();
        }
        log
    }

    /// From any start, inside a batch, on a batch's edge or past the head, the walk read ahead
    /// yields exactly the entries the plain scan does, in order.
    #[test]
    fn a_walk_read_ahead_yields_what_the_scan_does() {
        let dir = tempfile::tempdir().unwrap();
        let count = 3 * super::BATCH * super::BATCHES_AHEAD + 7;
        for log in [Log::in_memory(), Log::open(dir.path()).unwrap()] {
            same_as_scan(&filled(log, count));
        }
    }

    fn same_as_scan(log: &Log) {
        let head = log.head().unwrap().seq;
        for from in [1, 2, 256, 257, 1024, 1025, head, head + 1] {
            let ahead: Vec<Entry> = log
                .read_ahead(from)
                .entries()
                .map(|read| Entry::clone(&read.unwrap()))
                .collect();
            let scanned: Vec<Entry> = log.entries_from(from).map(Result::unwrap).collect();
            assert_eq!(ahead, scanned, "from seq {from}");
            assert_eq!(ahead.len() as u64, (head + 1).saturating_sub(from));
        }
    }

    /// A fold may hold entries while it reads more, and stop part way: what it holds stays
    /// intact, and dropping the walk early ends it (the reading thread stops on its own).
    #[test]
    fn entries_held_stay_intact_and_a_walk_may_stop_part_way() {
        let log = filled(Log::in_memory(), 2_000);
        let mut walk = log.read_ahead(1).entries();
        let held: Vec<_> = walk.by_ref().take(1_500).map(Result::unwrap).collect();
        drop(walk);
        let seqs: Vec<u64> = held.iter().map(|read| read.seq).collect();
        assert_eq!(seqs, (1..=1_500).collect::<Vec<_>>());
        assert!(held.iter().all(|read| read.computed_hash() == read.hash));
    }
}
