//! Stored values kept small enough that sled never moves them to its unsynced blob files.
//!
//! sled 0.34.7 writes a log item larger than its blob threshold (segment size / 4 − 20 bytes,
//! 131,052 bytes with the default 512 KiB segment) to a file of its own under `blobs/`, with a
//! plain `write()` it never syncs, and puts only a pointer in the log. After a power cut the
//! pointer is durable and the blob is empty, and sled's recovery then overwrites acknowledged
//! entries with zeros (docs/reference/time-and-durability.md#power-loss). The item is not the value
//! but the tree page holding it: a leaf holds up to 17 keys (more while a split is pending), and
//! sled rewrites the whole leaf every ten updates. Measured on sled 0.34.7 with keys inserted in
//! random order, leaves of 8 KiB values already reach `blobs/`, 6 KiB ones did not; so a value is
//! never stored larger than [`MAX_VALUE`] (4 KiB), which keeps even a leaf of 30 of them under the
//! threshold.
//!
//! A longer value is stored as a **piece list**: under its own key a short header (a marker byte
//! no codec format uses, the piece count and the total length), and its bytes in pieces of at most
//! [`MAX_VALUE`] under `p` + the key + the piece index. The pieces go into the same `sled::Batch`
//! as the header, so a value is stored whole or not at all. Readers see the whole value again.

use sled::IVec;

use super::codec::CURRENT_FORMAT;

/// The largest value the store writes to sled, pieces included.
pub const MAX_VALUE: usize = 4 * 1024;

/// The first byte of a piece-list header. Every codec record starts with its format version, a
/// small number, so a header cannot be mistaken for a record nor a record for a header.
const PIECE_LIST: u8 = 0xFF;
const _: () = assert!(CURRENT_FORMAT != PIECE_LIST);

/// The key prefix of pieces, outside the prefixes of the keys whose values they hold.
const PIECE_PREFIX: u8 = b'p';

/// Why a stored value could not be put back together.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PieceError {
    #[error("its piece list header is {0} bytes long, not 9")]
    Header(usize),
    #[error("piece {index} of {count} is missing")]
    Missing { index: u32, count: u32 },
    #[error("its pieces add up to {found} bytes, but the header says {expected}")]
    Length { expected: u64, found: u64 },
    #[error("the database could not read piece {index}: {reason}")]
    Database { index: u32, reason: String },
}

/// The key of piece `index` of the value stored under `key`.
fn piece_key(key: &[u8], index: u32) -> Vec<u8> {
    let mut piece = Vec::with_capacity(1 + key.len() + 4);
    piece.push(PIECE_PREFIX);
    piece.extend_from_slice(key);
    piece.extend_from_slice(&index.to_be_bytes());
    piece
}

/// Writes a value under a key as it is produced, handing each key and value to store to a
/// sink: the value itself when it ends up at most [`MAX_VALUE`] long, else its pieces and then
/// the header that lists them. The header comes last, so that a sink applying what it gets in
/// order, over several batches, stores a header only once all its pieces are there; and a long
/// value (a checkpoint) is never in memory whole.
pub struct Writer<'k, S> {
    key: &'k [u8],
    sink: S,
    piece: Vec<u8>,
    count: u32,
    length: u64,
}

impl<'k, S: FnMut(Vec<u8>, Vec<u8>) -> std::io::Result<()>> Writer<'k, S> {
    pub fn new(key: &'k [u8], sink: S) -> Self {
        Writer {
            key,
            sink,
            piece: Vec::with_capacity(MAX_VALUE),
            count: 0,
            length: 0,
        }
    }

    /// Hands on the rest: the whole value, or the last piece and the header. A short value
    /// that starts with the header's marker byte is stored as a piece list too, so that no value
    /// stored whole is ever read as a header.
    pub fn finish(mut self) -> std::io::Result<()> {
        if self.count == 0 && self.piece.first() != Some(&PIECE_LIST) {
            return (self.sink)(self.key.to_vec(), std::mem::take(&mut self.piece));
        }
        if !self.piece.is_empty() {
            self.hand_on_piece()?;
        }
        let length = u32::try_from(self.length)
            .map_err(|_| std::io::Error::other("a stored value must be shorter than 4 GiB"))?;
        let mut header = Vec::with_capacity(9);
        header.push(PIECE_LIST);
        header.extend_from_slice(&self.count.to_be_bytes());
        header.extend_from_slice(&length.to_be_bytes());
        (self.sink)(self.key.to_vec(), header)
    }

    fn hand_on_piece(&mut self) -> std::io::Result<()> {
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(MAX_VALUE));
        (self.sink)(piece_key(self.key, self.count), piece)?;
        // A value shorter than 4 GiB has fewer than 2^20 pieces.
        self.count += 1;
        Ok(())
    }
}

impl<S: FnMut(Vec<u8>, Vec<u8>) -> std::io::Result<()>> std::io::Write for Writer<'_, S> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut rest = bytes;
        while !rest.is_empty() {
            // A full piece is handed on only once more bytes follow it, so that a value of
            // exactly MAX_VALUE bytes is stored whole.
            if self.piece.len() == MAX_VALUE {
                self.hand_on_piece()?;
            }
            let take = rest.len().min(MAX_VALUE - self.piece.len());
            self.piece.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        self.length += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The range of the piece keys of values stored under keys from `from` on that start with the
/// same byte as `from`: what to remove along with the values under those keys.
pub fn pieces_from(from: &[u8]) -> std::ops::Range<Vec<u8>> {
    let mut start = Vec::with_capacity(1 + from.len());
    start.push(PIECE_PREFIX);
    start.extend_from_slice(from);
    // Key prefixes are ASCII letters, so the next byte exists.
    let end = vec![PIECE_PREFIX, from[0] + 1];
    start..end
}

/// The whole value whose stored form under `key` in `tree` is `stored`.
pub fn resolve(tree: &sled::Tree, key: &[u8], stored: IVec) -> Result<IVec, PieceError> {
    if stored.first() != Some(&PIECE_LIST) {
        return Ok(stored);
    }
    let header: [u8; 9] = stored
        .as_ref()
        .try_into()
        .map_err(|_| PieceError::Header(stored.len()))?;
    let count = u32::from_be_bytes(header[1..5].try_into().expect("4 bytes"));
    let expected = u64::from(u32::from_be_bytes(
        header[5..9].try_into().expect("4 bytes"),
    ));
    let mut value = Vec::with_capacity(expected as usize);
    for index in 0..count {
        let piece = tree
            .get(piece_key(key, index))
            .map_err(|error| PieceError::Database {
                index,
                reason: error.to_string(),
            })?
            .ok_or(PieceError::Missing { index, count })?;
        value.extend_from_slice(&piece);
    }
    if value.len() as u64 != expected {
        return Err(PieceError::Length {
            expected,
            found: value.len() as u64,
        });
    }
    Ok(value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (sled::Db, sled::Tree) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        (db, tree)
    }

    /// Adds `value` under `key` to `batch`, as the store does.
    fn insert(batch: &mut sled::Batch, key: &[u8], value: &[u8]) {
        let mut writer = Writer::new(key, |key, value| {
            batch.insert(key, value);
            Ok(())
        });
        // In uneven parts, as an encoder writes.
        for part in value.chunks(777) {
            std::io::Write::write_all(&mut writer, part).unwrap();
        }
        writer.finish().unwrap();
    }

    fn stored_values(tree: &sled::Tree) -> Vec<usize> {
        tree.iter().map(|item| item.unwrap().1.len()).collect()
    }

    #[test]
    fn values_up_to_the_limit_are_stored_as_they_are_and_longer_ones_in_pieces() {
        let (_db, tree) = tree();
        for (key, length) in [
            (b"a", MAX_VALUE),
            (b"b", MAX_VALUE + 1),
            (b"c", 3 * MAX_VALUE),
        ] {
            let value: Vec<u8> = (0..length).map(|byte| (byte % 251) as u8 + 1).collect();
            let mut batch = sled::Batch::default();
            insert(&mut batch, key, &value);
            tree.apply_batch(batch).unwrap();
            let stored = tree.get(key).unwrap().unwrap();
            assert_eq!(resolve(&tree, key, stored).unwrap().as_ref(), &value[..]);
        }
        // a, b's header and its 2 pieces, c's header and its 3 pieces.
        let sizes = stored_values(&tree);
        assert_eq!(sizes.len(), 1 + 3 + 4);
        assert!(sizes.iter().all(|&size| size <= MAX_VALUE), "{sizes:?}");
    }

    #[test]
    fn a_short_value_that_starts_like_a_header_is_stored_as_a_piece_list() {
        let (_db, tree) = tree();
        let value = [PIECE_LIST, 0, 0, 0, 7];
        let mut batch = sled::Batch::default();
        insert(&mut batch, b"k", &value);
        tree.apply_batch(batch).unwrap();
        let stored = tree.get(b"k").unwrap().unwrap();
        assert_eq!(stored.len(), 9, "a header");
        assert_eq!(resolve(&tree, b"k", stored).unwrap().as_ref(), &value[..]);
    }

    #[test]
    fn a_missing_or_short_piece_is_an_error() {
        let (_db, tree) = tree();
        let mut batch = sled::Batch::default();
        insert(&mut batch, b"k", &[1; 2 * MAX_VALUE + 5]);
        tree.apply_batch(batch).unwrap();
        let stored = || tree.get(b"k").unwrap().unwrap();
        tree.insert(piece_key(b"k", 2), vec![1; 4]).unwrap();
        assert_eq!(
            resolve(&tree, b"k", stored()),
            Err(PieceError::Length {
                expected: 2 * MAX_VALUE as u64 + 5,
                found: 2 * MAX_VALUE as u64 + 4
            })
        );
        tree.remove(piece_key(b"k", 1)).unwrap();
        assert_eq!(
            resolve(&tree, b"k", stored()),
            Err(PieceError::Missing { index: 1, count: 3 })
        );
        assert_eq!(
            resolve(&tree, b"k", IVec::from(&[PIECE_LIST, 0][..])),
            Err(PieceError::Header(2))
        );
    }
}
