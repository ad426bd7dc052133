//! Reads of what comes from outside — files an operator names (configuration, roster, keys,
//! certificates, checkpoints), standard input — each bounded as it is read, not by the size a
//! file claims: `/dev/zero`, a FIFO or a file still growing are refused at the limit instead of
//! filling memory.
//!
//! A read past the limit fails with an [`std::io::Error`] of kind `FileTooLarge` whose text
//! names the limit, so every caller's existing "cannot read …" message says why.

use std::io::{self, Read};
use std::path::Path;

/// A configuration file, a key, a certificate chain, a checkpoint: 1 MiB is far above any.
pub const SMALL_FILE_BYTES: usize = 1024 * 1024;

/// Every byte of `reader`, if there are at most `limit`; it reads one byte past the limit at
/// most.
pub fn read_at_most(reader: impl Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// The file at `path`, if it holds at most `limit` bytes.
pub fn read_file(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    read_at_most(std::fs::File::open(path)?, limit)
}

/// [`read_at_most`] as UTF-8 text.
pub fn read_text(reader: impl Read, limit: usize) -> io::Result<String> {
    String::from_utf8(read_at_most(reader, limit)?)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

/// [`read_file`] as UTF-8 text.
pub fn read_text_file(path: &Path, limit: usize) -> io::Result<String> {
    read_text(std::fs::File::open(path)?, limit)
}

/// The error of a read that went past `limit`.
pub fn too_large(limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "it is larger than the limit of {limit} bytes ({}); reading stopped there",
            in_words(limit)
        ),
    )
}

/// A byte count as people say it: `50 MiB`, `64 KiB`, `100 bytes`.
fn in_words(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_stops_one_byte_past_the_limit() {
        assert_eq!(read_at_most(&b"abc"[..], 3).unwrap(), b"abc");
        let endless = io::repeat(0);
        let error = read_at_most(endless, 1024).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(
            error.to_string(),
            "it is larger than the limit of 1024 bytes (1 KiB); reading stopped there"
        );
        assert!(read_at_most(&b"abcd"[..], 3).is_err());
        assert_eq!(in_words(50 << 20), "50 MiB");
        assert_eq!(in_words(100), "100 bytes");
    }
}
