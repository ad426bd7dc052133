//! The storage codec: how an [`Entry`] and the head digest become bytes in the database.
//!
//! Every stored value starts with one format-version byte, followed by bincode `=2.0.1` in the
//! one configuration [`config`] fixes. Records written in an older format are converted to the
//! current types when read and are never rewritten, so the bytes an auditor's copy holds stay
//! the bytes that were first written. The golden record under `tests/golden/` must keep decoding
//! in every later version of this module.
//!
//! Format 1 (0.1) entries are read through the frozen types of [`super::v1`]. Format 2 is format
//! 1 with today's `Event` (new optional fields, new variants last). The head did not change
//! shape, so a head of either format reads the same; a format-1 checkpoint is not read (it is
//! derived data, passed over and rebuilt by replay).

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use serde::{Deserialize, Serialize};

use crate::entry::Entry;
use crate::event::{Actor, Event};
use crate::hash::{Digest, Hash256};
use crate::time::Timestamp;

use super::v1::EntryV1;

/// The format version written by this build.
pub const CURRENT_FORMAT: u8 = 2;

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

/// Format 2 of a stored entry. Field order is part of the format: never reorder it.
#[derive(Serialize, Deserialize)]
struct EntryV2 {
    seq: u64,
    recorded_at: Timestamp,
    actor: Actor,
    prev_hash: Hash256,
    hash: Hash256,
    event: Event,
}

/// The stored head digest, the same in formats 1 and 2.
#[derive(Serialize, Deserialize)]
struct HeadV1 {
    seq: u64,
    hash: Hash256,
}

fn encode_versioned<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = vec![CURRENT_FORMAT];
    // Encoding to a Vec cannot fail: every field of the stored types is supported by bincode's
    // serde bridge and the writer is in memory.
    bincode::serde::encode_into_std_write(value, &mut bytes, config())
        .expect("stored types encode to bincode");
    bytes
}

/// The format version of a record, and its body.
fn split_format(bytes: &[u8]) -> Result<(u8, &[u8]), CodecError> {
    let (&format, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    Ok((format, body))
}

fn decode_versioned<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, CodecError> {
    match split_format(bytes)? {
        (CURRENT_FORMAT, body) => decode_body(CURRENT_FORMAT, body),
        (format, _) => Err(CodecError::UnknownFormat(format)),
    }
}

fn decode_body<T: for<'de> Deserialize<'de>>(format: u8, body: &[u8]) -> Result<T, CodecError> {
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

/// The stored bytes of an entry, in the current format.
pub fn encode_entry(entry: &Entry) -> Vec<u8> {
    encode_versioned(&EntryV2 {
        seq: entry.seq,
        recorded_at: entry.recorded_at,
        actor: entry.actor.clone(),
        prev_hash: entry.prev_hash,
        hash: entry.hash,
        event: entry.event.clone(),
    })
}

/// Reads a stored entry of any known format.
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, CodecError> {
    let stored: EntryV2 = match split_format(bytes)? {
        (1, body) => return Ok(decode_body::<EntryV1>(1, body)?.into()),
        _ => decode_versioned(bytes)?,
    };
    Ok(Entry {
        seq: stored.seq,
        recorded_at: stored.recorded_at,
        actor: stored.actor,
        prev_hash: stored.prev_hash,
        hash: stored.hash,
        event: stored.event,
    })
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
    let stored: HeadV1 = match split_format(bytes)? {
        (1, body) => decode_body(1, body)?,
        _ => decode_versioned(bytes)?,
    };
    Ok(Digest {
        seq: stored.seq,
        hash: stored.hash,
    })
}

/// The stored bytes of a checkpoint: any serde value, in the store's one codec.
pub fn encode_checkpoint<T: Serialize>(value: &T) -> Vec<u8> {
    encode_versioned(value)
}

/// Reads a checkpoint written by [`encode_checkpoint`].
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

    #[test]
    fn entries_round_trip() {
        assert_eq!(decode_entry(&encode_entry(&entry())), Ok(entry()));
    }

    #[test]
    fn unknown_format_empty_and_truncated_records_are_errors() {
        let mut bytes = encode_entry(&entry());
        assert_eq!(decode_entry(&[]), Err(CodecError::Empty));
        bytes[0] = 9;
        assert_eq!(decode_entry(&bytes), Err(CodecError::UnknownFormat(9)));
        bytes[0] = CURRENT_FORMAT;
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(
            decode_entry(&bytes),
            Err(CodecError::Malformed { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_errors() {
        let mut bytes = encode_entry(&entry());
        bytes.push(0);
        assert_eq!(decode_entry(&bytes), Err(CodecError::TrailingBytes(1)));
    }
}
