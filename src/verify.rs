//! Verification of the hash chain, over a store or over an export.
//!
//! Both walk the chain from seq 1 with the same [`ChainWalker`] and stop at the first seq that
//! breaks: a hash that does not match the canonical form, a `prev_hash` that does not match the
//! previous hash, a seq that is missing or out of place, or a record that cannot be decoded.
//!
//! A store's Merkle tree (docs/reference/ledger.md#verification) is rebuilt from the same canonical
//! forms as the chain is checked, and every node the store keeps must equal the rebuilt one; the
//! first that differs is reported at the seq whose entry completed it.
//!
//! A store is verified on two cores: one thread walks and decodes the records and writes each
//! entry's canonical form, the other hashes each form twice (the chain's hash and the Merkle
//! leaf) and checks the link and the tree, in seq order, so the report is the one a single pass
//! would give. An export is verified as an independent verifier would: each
//! line parsed as JSON and canonicalised by a general RFC 8785 implementation, and refused unless
//! it is that canonical form byte for byte (`line.rs`).

use std::fmt;
use std::io::BufRead;
use std::sync::mpsc;

use crate::entry::Entry;
use crate::hash::{Digest, Hash256};
use crate::merkle::{Frontier, NodeId, leaf_hash};
use crate::store::{CodecError, HEAD_RECORD_FILE, KEPT_LEVEL, Store, StoreError, tree_node_within};

mod line;

pub use line::{parse_export_line, read_export_line};

/// What the walker needs of one entry: its claimed position and hashes, and the bytes to hash.
#[derive(Debug)]
pub struct Link {
    pub seq: u64,
    pub prev_hash: Hash256,
    pub hash: Hash256,
    pub canonical_form: Vec<u8>,
}

/// What is wrong at the seq where the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The stored hash is not the SHA-256 of the entry's canonical form.
    HashMismatch { stored: Hash256, computed: Hash256 },
    /// The entry does not point at the previous entry's hash.
    PrevHashMismatch { expected: Hash256, found: Hash256 },
    /// Another seq stands where this one should: it is missing, or entries are out of order.
    OutOfPlace { found: u64 },
    /// The record or line cannot be read as an entry.
    Undecodable { detail: String },
    /// The store cannot be read from here on (a damaged database): nothing after this seq can
    /// be checked.
    Unreadable { detail: String },
    /// The chain ends before the head the store recorded.
    Truncated { head: Digest },
    /// The last entry is not the head the store recorded.
    HeadMismatch { head: Digest },
    /// The store's chain ends before the head its head record says it acknowledged: the
    /// database lost entries (a damaged log that sled read only up to the damage).
    Lost { acknowledged: Digest },
    /// The store holds another hash at the seq of the head it acknowledged.
    Rewritten {
        acknowledged: Digest,
        found: Hash256,
    },
    /// The export or ledger ends before the digest that was asked for.
    DigestNotFound { digest: Digest },
    /// The export or ledger holds the digest's seq with another hash.
    DigestMismatch { digest: Digest, found: Hash256 },
    /// A stored node of the Merkle tree differs from the one rebuilt from the entries, or is
    /// missing (`stored` is `None`), or cannot be read (`detail`).
    TreeNode {
        node: NodeId,
        stored: Option<Hash256>,
        rebuilt: Hash256,
        detail: Option<String>,
    },
    /// The stored Merkle tree covers fewer entries than the chain has.
    TreeIncomplete { tree_size: u64 },
}

/// The first place the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    pub seq: u64,
    pub fault: Fault,
}

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Entries whose hash and link were checked and found good.
    pub events_checked: u64,
    /// The last good entry's digest.
    pub last_good: Option<Digest>,
    /// The first break, if any.
    pub broken: Option<Break>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.broken.is_none()
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::HashMismatch { stored, computed } => write!(
                f,
                "hash mismatch: the entry says {stored}, its canonical form hashes to {computed}"
            ),
            Fault::PrevHashMismatch { expected, found } => write!(
                f,
                "prev_hash mismatch: the entry points at {found}, the previous entry's hash is {expected}"
            ),
            Fault::OutOfPlace { found } => write!(
                f,
                "found seq {found} here: an entry is missing or entries are out of order"
            ),
            Fault::Undecodable { detail } => write!(f, "undecodable: {detail}"),
            Fault::Unreadable { detail } => write!(
                f,
                "the store cannot be read from here on: {detail}; the entries before it verified, none after it could be checked"
            ),
            Fault::Truncated { head } => write!(
                f,
                "missing: the ledger's head is {head}, but the entries end before it"
            ),
            Fault::HeadMismatch { head } => write!(
                f,
                "head mismatch: the ledger's head is {head}, but its last entry differs"
            ),
            Fault::Lost { acknowledged } => write!(
                f,
                "entries were lost: the store acknowledged {acknowledged} (its head record, {HEAD_RECORD_FILE}), but its chain ends before seq {}",
                acknowledged.seq
            ),
            Fault::Rewritten {
                acknowledged,
                found,
            } => write!(
                f,
                "the store acknowledged {acknowledged} (its head record, {HEAD_RECORD_FILE}), but holds hash {found} at seq {}",
                acknowledged.seq
            ),
            Fault::DigestNotFound { digest } => write!(
                f,
                "the digest {digest} is not in it: it ends before seq {}",
                digest.seq
            ),
            Fault::DigestMismatch { digest, found } => write!(
                f,
                "the digest {digest} is not in it: its seq {} has hash {found}",
                digest.seq
            ),
            Fault::TreeNode {
                node,
                stored,
                rebuilt,
                detail,
            } => {
                write!(
                    f,
                    "Merkle tree node at level {}, index {}: rebuilt from the entries it is {rebuilt}, ",
                    node.level, node.index
                )?;
                match (stored, detail) {
                    (_, Some(detail)) => write!(f, "the stored one cannot be read: {detail}"),
                    (Some(stored), None) => write!(f, "the stored one is {stored}"),
                    (None, None) => write!(f, "the store has none"),
                }
            }
            Fault::TreeIncomplete { tree_size } => write!(
                f,
                "the stored Merkle tree covers only the first {tree_size} entries"
            ),
        }
    }
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {}: {}", self.seq, self.fault)
    }
}

/// Follows a chain one link at a time from seq 1.
#[derive(Default)]
pub struct ChainWalker {
    last_good: Option<Digest>,
    /// The hash seen at the seq of a digest the caller wants to find, once passed.
    watched: Option<(Digest, Option<Hash256>)>,
}

impl ChainWalker {
    /// A walker that also records what stands at `digest.seq`.
    fn watching(digest: Option<Digest>) -> Self {
        ChainWalker {
            last_good: None,
            watched: digest.map(|digest| (digest, None)),
        }
    }

    fn expected_seq(&self) -> u64 {
        self.last_good.map_or(1, |digest| digest.seq + 1)
    }

    /// Checks the next link, or reports why it cannot be read.
    pub fn step(&mut self, link: Result<Link, String>) -> Result<(), Break> {
        let link = link.map_err(|detail| self.undecodable(detail))?;
        self.check(link.seq, link.prev_hash, link.hash, || {
            Hash256::of(&link.canonical_form)
        })
    }

    /// Checks the next entry of a store from its canonical form, written by the decoding thread,
    /// and returns its seq and Merkle leaf hash.
    fn step_written(
        &mut self,
        claimed: Result<Claimed, CodecError>,
        canonical_form: &[u8],
    ) -> Result<(u64, Hash256), Break> {
        let claimed = claimed.map_err(|error| self.undecodable(error.to_string()))?;
        self.check(claimed.seq, claimed.prev_hash, claimed.hash, || {
            Hash256::of(canonical_form)
        })?;
        Ok((claimed.seq, leaf_hash(canonical_form)))
    }

    fn undecodable(&self, detail: String) -> Break {
        Break {
            seq: self.expected_seq(),
            fault: Fault::Undecodable { detail },
        }
    }

    /// Checks a link whose hash `computed` gives: its place first, so a misplaced entry is not
    /// even hashed.
    fn check(
        &mut self,
        found: u64,
        prev_hash: Hash256,
        hash: Hash256,
        computed: impl FnOnce() -> Hash256,
    ) -> Result<(), Break> {
        let seq = self.expected_seq();
        let broken = |fault| Break { seq, fault };
        if found != seq {
            return Err(broken(Fault::OutOfPlace { found }));
        }
        let computed = computed();
        if computed != hash {
            return Err(broken(Fault::HashMismatch {
                stored: hash,
                computed,
            }));
        }
        let expected = self.last_good.map_or(Hash256::ZERO, |digest| digest.hash);
        if prev_hash != expected {
            return Err(broken(Fault::PrevHashMismatch {
                expected,
                found: prev_hash,
            }));
        }
        if let Some((digest, seen)) = &mut self.watched
            && digest.seq == seq
        {
            *seen = Some(hash);
        }
        self.last_good = Some(Digest { seq, hash });
        Ok(())
    }

    fn report(&self, broken: Option<Break>) -> Report {
        Report {
            events_checked: self.last_good.map_or(0, |digest| digest.seq),
            last_good: self.last_good,
            broken,
        }
    }
}

/// Records handed from the decoding thread to the hashing one at a time: enough to make the
/// hand-over cheap, few enough that the two threads stay busy together.
const BATCH: usize = 256;
/// Batches decoded ahead of the hashing thread, bounding the memory held.
const BATCHES_AHEAD: usize = 4;

/// One record of a batch, with `T` saying where its canonical form is.
type Scanned<T> = Result<(Result<Claimed, CodecError>, T), StoreError>;

/// What an entry claims of its place in the chain; its canonical form travels beside it.
struct Claimed {
    seq: u64,
    prev_hash: Hash256,
    hash: Hash256,
}

/// A batch as the decoding thread passes it on: the records in seq order, each an entry's claim
/// with the end of its canonical form in `bytes` (the forms one after another), a record that
/// does not decode, or a failure of the store itself, which ends the walk. The hashing thread
/// hands each batch back to be filled again, so the walk allocates a few buffers, not one per
/// entry.
#[derive(Default)]
struct Written {
    records: Vec<Scanned<usize>>,
    bytes: Vec<u8>,
}

impl Written {
    /// Adds one scanned record, writing its canonical form when it is an entry. Returns whether
    /// the walk must stop here (the store failed).
    fn push(&mut self, record: Result<(u64, Result<Entry, CodecError>), StoreError>) -> bool {
        let record = record.map(|(_, entry)| {
            let claimed = entry.map(|entry| {
                entry.write_canonical(&mut self.bytes);
                Claimed {
                    seq: entry.seq,
                    prev_hash: entry.prev_hash,
                    hash: entry.hash,
                }
            });
            (claimed, self.bytes.len())
        });
        let stop = record.is_err();
        self.records.push(record);
        stop
    }

    /// Each record with its canonical form (empty for one that did not decode).
    fn drain(&mut self) -> impl Iterator<Item = Scanned<&[u8]>> {
        let bytes = &self.bytes;
        let mut start = 0;
        self.records.drain(..).map(move |record| {
            record.map(|(claimed, end)| {
                let form = &bytes[start..end];
                start = end;
                (claimed, form)
            })
        })
    }
}

/// Rebuilds a store's Merkle tree leaf by leaf and compares the nodes the store keeps.
struct TreeCheck<'a> {
    store: &'a dyn Store,
    /// How many leaves the stored tree claims to cover; nodes beyond are not looked for.
    stored_size: u64,
    frontier: Frontier,
}

impl TreeCheck<'_> {
    /// Adds the leaf of the entry at `seq` and checks each kept node it completes.
    fn step(&mut self, seq: u64, leaf: Hash256) -> Result<Result<(), Break>, StoreError> {
        for (node, rebuilt) in self.frontier.append(&[leaf]) {
            if node.level < KEPT_LEVEL || !tree_node_within(node, self.stored_size) {
                continue;
            }
            let (stored, detail) = match self.store.kept_node(node) {
                Ok(stored) => (stored, None),
                Err(StoreError::CorruptTree { reason, .. }) => (None, Some(reason)),
                Err(error) => return Err(error),
            };
            if stored != Some(rebuilt) {
                let fault = Fault::TreeNode {
                    node,
                    stored,
                    rebuilt,
                    detail,
                };
                return Ok(Err(Break { seq, fault }));
            }
        }
        Ok(Ok(()))
    }
}

/// Walks every record of a store and checks the chain, the stored head and the Merkle tree,
/// telling `done` how many more entries were checked after each batch of them.
pub fn verify_store(store: &dyn Store, done: &dyn Fn(u64)) -> Result<Report, StoreError> {
    let mut walker = ChainWalker::watching(store.acknowledged());
    let mut tree = TreeCheck {
        store,
        stored_size: store.tree_size()?,
        frontier: Frontier::new(),
    };
    // One thread reads, decodes and writes each entry's canonical form; this one hashes it
    // twice (the chain's hash and the Merkle leaf) and checks the link and the tree. Hashing is
    // the larger half, so the canonical form is written on the other side.
    let broken = std::thread::scope(|scope| -> Result<Option<Break>, StoreError> {
        let (batches, written) = mpsc::sync_channel::<Written>(BATCHES_AHEAD);
        let (emptied, refill) = mpsc::channel::<Written>();
        scope.spawn(move || {
            let mut batch = Written::default();
            for record in store.scan(1) {
                let stop = batch.push(record);
                if batch.records.len() == BATCH || stop {
                    let next = refill.try_recv().unwrap_or_default();
                    if batches.send(std::mem::replace(&mut batch, next)).is_err() {
                        // The hashing thread found a break and stopped listening.
                        return;
                    }
                }
                if stop {
                    return;
                }
            }
            // A send fails only once the other side has stopped, which then needs nothing more.
            let _ = batches.send(batch);
        });
        // Dropping `written` on return, at a break, stops the decoding thread at its next send.
        for mut batch in written {
            let checked = batch.records.len() as u64;
            for record in batch.drain() {
                // A record the store cannot read ends the walk: everything before it verified.
                let (claimed, form) = match record {
                    Ok(record) => record,
                    Err(error) => {
                        return Ok(Some(Break {
                            seq: walker.expected_seq(),
                            fault: Fault::Unreadable {
                                detail: error.to_string(),
                            },
                        }));
                    }
                };
                let (seq, leaf) = match walker.step_written(claimed, form) {
                    Ok(stepped) => stepped,
                    Err(broken) => return Ok(Some(broken)),
                };
                if let Err(broken) = tree.step(seq, leaf)? {
                    return Ok(Some(broken));
                }
            }
            batch.bytes.clear();
            // The decoding thread may have finished; the buffer is then simply freed.
            let _ = emptied.send(batch);
            done(checked);
        }
        Ok(None)
    })?;
    if let Some(broken) = broken {
        return Ok(walker.report(Some(broken)));
    }
    let head = store.head()?;
    let broken = match (head, walker.last_good) {
        (Some(head), last) if last.is_none_or(|last| last.seq < head.seq) => Some(Break {
            seq: walker.expected_seq(),
            fault: Fault::Truncated { head },
        }),
        (Some(head), Some(last)) if last != head => Some(Break {
            seq: last.seq,
            fault: Fault::HeadMismatch { head },
        }),
        (None, Some(last)) => Some(Break {
            seq: last.seq,
            fault: Fault::Undecodable {
                detail: "the ledger has entries but no stored head".to_owned(),
            },
        }),
        (_, Some(last)) if tree.stored_size < last.seq => Some(Break {
            seq: tree.stored_size + 1,
            fault: Fault::TreeIncomplete {
                tree_size: tree.stored_size,
            },
        }),
        _ => match walker.watched {
            Some((acknowledged, None)) => Some(Break {
                seq: walker.expected_seq(),
                fault: Fault::Lost { acknowledged },
            }),
            Some((acknowledged, Some(found))) if found != acknowledged.hash => Some(Break {
                seq: acknowledged.seq,
                fault: Fault::Rewritten {
                    acknowledged,
                    found,
                },
            }),
            _ => None,
        },
    };
    Ok(walker.report(broken))
}

/// Verifies a JSON Lines export from its first line, and that it contains `digest` if given.
pub fn verify_export(reader: impl BufRead, digest: Option<Digest>) -> std::io::Result<Report> {
    let mut walker = ChainWalker::watching(digest);
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        let link =
            parse_export_line(&line).map_err(|detail| format!("line {}: {detail}", index + 1));
        if let Err(broken) = walker.step(link) {
            return Ok(walker.report(Some(broken)));
        }
    }
    let broken = match walker.watched {
        Some((digest, None)) => Some(Break {
            seq: digest.seq,
            fault: Fault::DigestNotFound { digest },
        }),
        Some((digest, Some(found))) if found != digest.hash => Some(Break {
            seq: digest.seq,
            fault: Fault::DigestMismatch { digest, found },
        }),
        _ => None,
    };
    Ok(walker.report(broken))
}
