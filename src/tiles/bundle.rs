//! Entry bundles (C2SP `tlog-tiles`): up to 256 entries, each its bytes prefixed by their length
//! as a big-endian uint16. For the ledger an entry's bytes are its canonical form, the bytes whose
//! [`leaf_hash`](crate::merkle::leaf_hash) is the tree's leaf, so a bundle checks against its
//! level-0 tile entry by entry.
//!
//! The length prefix caps an entry at 65,535 bytes. The ledger does not cap its entries that
//! low, so an entry over it cannot be put in a bundle: [`encode`] refuses, naming its seq, and the
//! bundle that would hold it is not written or served (its hash tiles are; such a ledger is
//! restored from an export).

use super::TileError;

/// The longest entry a bundle can hold.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// The bundle of `entries`, the first of them at leaf index `first` (seq `first + 1`).
pub fn encode<B: AsRef<[u8]>>(first: u64, entries: &[B]) -> Result<Vec<u8>, TileError> {
    let total: usize = entries.iter().map(|entry| 2 + entry.as_ref().len()).sum();
    let mut bundle = Vec::with_capacity(total);
    for (offset, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let length = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge {
            index: first + offset as u64,
            bytes: entry.len(),
        })?;
        bundle.extend_from_slice(&length.to_be_bytes());
        bundle.extend_from_slice(entry);
    }
    Ok(bundle)
}

/// The entries of a bundle, which must hold exactly `width` of them and nothing after; `first`
/// (the leaf index of its first entry) only names the entry an error is about.
pub fn decode(first: u64, width: usize, bundle: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut entries = Vec::with_capacity(width);
    let mut rest = bundle;
    while !rest.is_empty() {
        let index = first + entries.len() as u64;
        if entries.len() == width {
            return Err(TileError::Bundle {
                index,
                reason: format!(
                    "{} bytes follow its {width} entries: a bundle holds no more",
                    rest.len()
                ),
            });
        }
        let Some((length, after)) = rest.split_first_chunk::<2>() else {
            return Err(TileError::Bundle {
                index,
                reason: "the bundle ends inside the entry's 2-byte length".to_owned(),
            });
        };
        let length = usize::from(u16::from_be_bytes(*length));
        if after.len() < length {
            return Err(TileError::Bundle {
                index,
                reason: format!(
                    "the entry's length says {length} bytes but {} remain",
                    after.len()
                ),
            });
        }
        let (entry, after) = after.split_at(length);
        entries.push(entry);
        rest = after;
    }
    if entries.len() != width {
        return Err(TileError::Bundle {
            index: first + entries.len() as u64,
            reason: format!(
                "the bundle ends after {} entries, not the {width} it should hold",
                entries.len()
            ),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_big_endian_lengths() {
        let entries: Vec<Vec<u8>> = vec![b"a".to_vec(), vec![7; 300], Vec::new()];
        let bundle = encode(512, &entries).unwrap();
        assert_eq!(&bundle[..3], &[0, 1, b'a']);
        assert_eq!(&bundle[3..5], &[0x01, 0x2c]);
        assert_eq!(decode(512, 3, &bundle).unwrap(), entries);
    }

    #[test]
    fn a_bundle_of_the_wrong_shape_names_the_entry() {
        let bundle = encode(0, &[b"abc", b"def"]).unwrap();
        let short = decode(256, 3, &bundle).unwrap_err();
        assert!(
            matches!(short, TileError::Bundle { index: 258, .. }),
            "{short}"
        );
        let long = decode(256, 1, &bundle).unwrap_err();
        assert!(
            matches!(long, TileError::Bundle { index: 257, .. }),
            "{long}"
        );
        let cut = decode(256, 2, &bundle[..7]).unwrap_err();
        assert!(matches!(cut, TileError::Bundle { index: 257, .. }), "{cut}");
    }

    #[test]
    fn an_entry_over_the_uint16_length_is_refused_by_seq() {
        let big = vec![0u8; MAX_ENTRY_BYTES + 1];
        let error = encode(256, &[vec![1u8], big]).unwrap_err();
        assert!(
            matches!(
                error,
                TileError::EntryTooLarge {
                    index: 257,
                    bytes: 65_536
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("seq 258"), "{error}");
        assert!(encode(0, &[vec![0u8; MAX_ENTRY_BYTES]]).is_ok());
    }
}
