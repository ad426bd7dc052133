//! The storage codec: how entries and the head digest become bytes in the database.
//!
//! Every stored value starts with one format-version byte, followed by bincode `=2.0.1` in the
//! one configuration [`config`] fixes:
//! - **format 1**: a value through bincode's serde bridge. 0.1 stored each entry so; those
//!   records are read through the frozen 0.1 event types of [`super::v1`], never written. The
//!   head digest (whose shape never changed) and checkpoints are still written in it.
//! - **format 2** (entries since 0.2): a **chunk**, one or more entries one after the other, each
//!   through bincode's own `Encode`/`Decode` derive on today's event types (hashes as 32 raw
//!   bytes in one copy, strings without serde's visitor), in the field order of 0.1. Each entry
//!   carries its own seq and hashes, so a chunk read under the wrong key or with an entry
//!   dropped shows as a misplaced seq, exactly as single records did.
//!
//! Records written in an older format are converted to the current types when read and are
//! never rewritten, so the bytes an auditor's copy holds stay the bytes that were first written.
//! The golden records under `tests/golden/` must keep decoding in every later version of this
//! module.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use bincode::de::{Decode, Decoder};
use bincode::enc::{Encode, Encoder};
use bincode::error::{DecodeError, EncodeError};
use serde::{Deserialize, Serialize};

use crate::entry::Entry;
use crate::event::{Actor, Event};
use crate::hash::{Digest, Hash256};
use crate::time::Timestamp;

use super::v1::EntryV1;

/// The format version entries are written in by this build.
pub const CURRENT_FORMAT: u8 = 2;
/// The format of single-entry records (0.1), of the head digest and of checkpoints.
const FORMAT_1: u8 = 1;

/// The largest value the decoder will allocate for; a corrupt length prefix fails instead of
/// exhausting memory.
const MAX_RECORD_BYTES: usize = 16 << 20;

/// Why stored bytes could not be decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    #[error("the record is empty")]
    Empty,
    #[error("unknown storage format version {0} (this build reads versions 1 and 2)")]
    UnknownFormat(u8),
    #[error("the record is not valid format-{format} bincode: {reason}")]
    Malformed { format: u8, reason: String },
    #[error("the record has {0} bytes after its end")]
    TrailingBytes(usize),
}

/// The one bincode configuration of the store: little-endian, variable-length integers, and a
/// bound on allocations.
fn config() -> Configuration<LittleEndian, Varint, Limit<MAX_RECORD_BYTES>> {
    bincode::config::standard().with_limit::<MAX_RECORD_BYTES>()
}

/// Format 1 of the stored head digest.
#[derive(Serialize, Deserialize)]
struct HeadV1 {
    seq: u64,
    hash: Hash256,
}

fn encode_versioned<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = vec![FORMAT_1];
    // Encoding to a Vec cannot fail: every field of the stored types is supported by bincode's
    // serde bridge and the writer is in memory.
    bincode::serde::encode_into_std_write(value, &mut bytes, config())
        .expect("stored types encode to bincode");
    bytes
}

fn decode_versioned<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&format, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if format != FORMAT_1 {
        return Err(CodecError::UnknownFormat(format));
    }
    let (value, read) = bincode::serde::decode_from_slice(body, config()).map_err(|error| {
        CodecError::Malformed {
            format,
            reason: error.to_string(),
        }
    })?;
    match body.len() - read {
        0 => Ok(value),
        extra => Err(CodecError::TrailingBytes(extra)),
    }
}

/// An entry in format 2, encoded from a borrow so that storing a batch copies no event.
struct EntryV2Ref<'a>(&'a Entry);

impl Encode for EntryV2Ref<'_> {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        let entry = self.0;
        entry.seq.encode(encoder)?;
        entry.recorded_at.as_micros().encode(encoder)?;
        entry.actor.encode(encoder)?;
        entry.prev_hash.encode(encoder)?;
        entry.hash.encode(encoder)?;
        entry.event.encode(encoder)
    }
}

/// An entry in format 2, as decoded.
struct EntryV2(Entry);

impl<Context> Decode<Context> for EntryV2 {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        let seq = u64::decode(decoder)?;
        let micros = i64::decode(decoder)?;
        let recorded_at = Timestamp::from_micros(micros).ok_or_else(|| {
            DecodeError::OtherString(format!(
                "{micros} microseconds since the epoch is outside the years 0001 to 9999"
            ))
        })?;
        Ok(EntryV2(Entry {
            seq,
            recorded_at,
            actor: Actor::decode(decoder)?,
            prev_hash: Hash256::decode(decoder)?,
            hash: Hash256::decode(decoder)?,
            event: Event::decode(decoder)?,
        }))
    }
}

/// Appends the format-2 bytes of one entry (without the format byte) to `bytes`.
fn encode_v2_into(entry: &Entry, bytes: &mut Vec<u8>) {
    // Encoding to a Vec cannot fail: every stored type has an `Encode` and the writer is in
    // memory.
    bincode::encode_into_std_write(EntryV2Ref(entry), bytes, config())
        .expect("stored types encode to bincode");
}

/// The stored bytes of `entries` as one format-2 chunk, whatever its length.
pub fn encode_chunk(entries: &[Entry]) -> Vec<u8> {
    let mut bytes = vec![CURRENT_FORMAT];
    for entry in entries {
        encode_v2_into(entry, &mut bytes);
    }
    bytes
}

/// Packs `entries` into format-2 chunks of whole entries, in order, each at most `limit` bytes
/// unless it holds a single entry longer than that; returns each chunk with its first seq.
pub fn encode_chunks(entries: &[Entry], limit: usize) -> Vec<(u64, Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut current = Vec::with_capacity(limit);
    let mut first = None;
    let mut one = Vec::with_capacity(512);
    for entry in entries {
        one.clear();
        encode_v2_into(entry, &mut one);
        if let Some(seq) = first
            && current.len() + one.len() > limit
        {
            chunks.push((
                seq,
                std::mem::replace(&mut current, Vec::with_capacity(limit)),
            ));
            first = None;
        }
        if first.is_none() {
            first = Some(entry.seq);
            current.push(CURRENT_FORMAT);
        }
        current.extend_from_slice(&one);
    }
    if let Some(seq) = first {
        chunks.push((seq, current));
    }
    chunks
}

/// Reads the entries of a stored record of any known format, in stored order. If the record
/// breaks part way, the entries before the break are returned followed by one error, so that a
/// reader can tell exactly where the readable part ends.
pub fn decode_entries(bytes: &[u8]) -> Vec<Result<Entry, CodecError>> {
    Entries::new(bytes).collect()
}

/// The entries of one stored record, decoded one at a time as they are asked for, so that a
/// walk over the ledger holds one entry of a chunk at a time, not a vector of all of them.
/// Yields what [`decode_entries`] returns, in the same order.
pub struct Entries<B> {
    bytes: B,
    /// Where the next entry starts; past the end once the record is read or broken.
    position: usize,
}

impl<B: AsRef<[u8]>> Entries<B> {
    pub fn new(bytes: B) -> Self {
        Entries { bytes, position: 0 }
    }

    fn finish(&mut self, item: Result<Entry, CodecError>) -> Option<Result<Entry, CodecError>> {
        self.position = usize::MAX;
        Some(item)
    }
}

impl<B: AsRef<[u8]>> Iterator for Entries<B> {
    type Item = Result<Entry, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.bytes.as_ref();
        if self.position == 0 {
            match bytes.first() {
                Some(&FORMAT_1) => return self.finish(decode_v1(bytes)),
                Some(&CURRENT_FORMAT) if bytes.len() == 1 => {
                    return self.finish(Err(CodecError::Empty));
                }
                Some(&CURRENT_FORMAT) => self.position = 1,
                Some(&format) => return self.finish(Err(CodecError::UnknownFormat(format))),
                None => return self.finish(Err(CodecError::Empty)),
            }
        }
        let body = bytes.get(self.position..).filter(|body| !body.is_empty())?;
        match bincode::decode_from_slice::<EntryV2, _>(body, config()) {
            Ok((EntryV2(entry), read)) => {
                self.position += read;
                Some(Ok(entry))
            }
            Err(error) => self.finish(Err(CodecError::Malformed {
                format: CURRENT_FORMAT,
                reason: error.to_string(),
            })),
        }
    }
}

/// A format-1 record, read through the frozen 0.1 types of [`super::v1`].
fn decode_v1(bytes: &[u8]) -> Result<Entry, CodecError> {
    let stored: EntryV1 = decode_versioned(bytes)?;
    Ok(stored.into())
}

/// Reads a stored record that holds exactly one entry, in any known format.
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, CodecError> {
    let mut entries = decode_entries(bytes).into_iter();
    let first = entries.next().unwrap_or(Err(CodecError::Empty))?;
    match entries.count() {
        0 => Ok(first),
        more => Err(CodecError::Malformed {
            format: CURRENT_FORMAT,
            reason: format!("the chunk holds {} entries, not one", more + 1),
        }),
    }
}

/// The stored bytes of the head digest.
pub fn encode_head(head: Digest) -> Vec<u8> {
    encode_versioned(&HeadV1 {
        seq: head.seq,
        hash: head.hash,
    })
}

/// Reads the stored head digest.
pub fn decode_head(bytes: &[u8]) -> Result<Digest, CodecError> {
    let stored: HeadV1 = decode_versioned(bytes)?;
    Ok(Digest {
        seq: stored.seq,
        hash: stored.hash,
    })
}

/// How far the stored Merkle tree reaches, as stored (format 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TreeState {
    /// Every append stores the nodes it completes: the tree covers the whole ledger.
    Kept,
    /// A ledger written before the tree was kept, whose tree is built up to this many leaves.
    Built(u64),
}

/// The stored bytes of the tree's state.
pub fn encode_tree_state(state: TreeState) -> Vec<u8> {
    encode_versioned(&state)
}

/// Reads the stored state of the tree.
pub fn decode_tree_state(bytes: &[u8]) -> Result<TreeState, CodecError> {
    decode_versioned(bytes)
}

/// Writes the stored bytes of a checkpoint, any serde value in the store's one codec, to
/// `writer` as they are produced.
pub fn encode_checkpoint_into<T: Serialize>(
    value: &T,
    writer: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut writer = writer;
    writer.write_all(&[FORMAT_1])?;
    bincode::serde::encode_into_std_write(value, &mut writer, config())
        .map(|_| ())
        .map_err(|error| match error {
            bincode::error::EncodeError::Io { inner, .. } => inner,
            other => std::io::Error::other(other),
        })
}

/// Reads a checkpoint written by [`encode_checkpoint_into`].
pub fn decode_checkpoint<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_versioned(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SystemId;

    fn entry() -> Entry {
        Entry::seal(
            None,
            Timestamp::UNIX_EPOCH,
            Actor::Api("ops".to_owned()),
            Event::AccountDeclassified {
                system: SystemId::tailscale(),
                account_id: "u1".to_owned(),
                reason: "no longer a service account".to_owned(),
            },
        )
    }

    fn chain(count: usize) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        for _ in 0..count {
            let last = entries.last().map(Entry::digest);
            entries.push(Entry::seal(
                last,
                Timestamp::UNIX_EPOCH,
                Actor::Demo,
                entry().event,
            ));
        }
        entries
    }

    /// The first golden record as 0.1 stored it (format 1).
    fn format_1_record() -> Vec<u8> {
        let line = include_str!("../../tests/golden/records-v1.hex")
            .lines()
            .next();
        hex::decode(line.expect("a golden record")).expect("golden records are hex")
    }

    #[test]
    fn entries_round_trip_and_0_1_records_decode() {
        assert_eq!(
            decode_entry(&format_1_record()).map(|entry| entry.seq),
            Ok(1)
        );
        assert_eq!(decode_entry(&encode_chunk(&[entry()])), Ok(entry()));
        let entries = chain(3);
        let decoded: Result<Vec<Entry>, _> = decode_entries(&encode_chunk(&entries))
            .into_iter()
            .collect();
        assert_eq!(decoded, Ok(entries));
    }

    #[test]
    fn unknown_format_empty_and_truncated_records_are_errors() {
        assert_eq!(decode_entry(&[]), Err(CodecError::Empty));
        assert_eq!(decode_entry(&[CURRENT_FORMAT]), Err(CodecError::Empty));
        for mut bytes in [format_1_record(), encode_chunk(&[entry()])] {
            let format = bytes[0];
            bytes[0] = 9;
            assert_eq!(decode_entry(&bytes), Err(CodecError::UnknownFormat(9)));
            bytes[0] = format;
            bytes.truncate(bytes.len() - 3);
            assert!(matches!(
                decode_entry(&bytes),
                Err(CodecError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn a_chunk_broken_part_way_yields_the_entries_before_the_break() {
        let entries = chain(3);
        let mut bytes = encode_chunk(&entries);
        bytes.truncate(bytes.len() - 3);
        let decoded = decode_entries(&bytes);
        assert_eq!(decoded.len(), 3);
        assert_eq!(
            decoded[..2],
            [Ok(entries[0].clone()), Ok(entries[1].clone())]
        );
        assert!(matches!(
            decoded[2],
            Err(CodecError::Malformed { format: 2, .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_errors() {
        let mut bytes = format_1_record();
        bytes.push(0);
        assert_eq!(decode_entry(&bytes), Err(CodecError::TrailingBytes(1)));
        let mut bytes = encode_chunk(&[entry()]);
        bytes.push(0);
        assert!(decode_entry(&bytes).is_err());
    }

    #[test]
    fn chunks_hold_whole_entries_up_to_the_limit() {
        let entries = chain(40);
        let one = encode_chunk(&entries[..1]).len() - 1;
        let limit = 1 + 5 * one + one / 2;
        let chunks = encode_chunks(&entries, limit);
        assert_eq!(chunks.len(), 8, "5 entries a chunk");
        let mut seq = 1;
        for (first, bytes) in &chunks {
            assert_eq!(*first, seq);
            assert!(bytes.len() <= limit, "{}", bytes.len());
            for entry in decode_entries(bytes) {
                assert_eq!(entry.unwrap(), entries[seq as usize - 1]);
                seq += 1;
            }
        }
        assert_eq!(seq, 41);
        let alone = encode_chunks(&entries[..2], 3);
        assert_eq!(
            alone.len(),
            2,
            "an entry over the limit is a chunk of its own"
        );
    }
}
