//! SHA-256 values and ledger digests.
//!
//! A [`Hash256`] is written as 64 lowercase hex characters wherever people or JSON see it and as
//! 32 raw bytes in the storage codec: through serde in format 1, and through bincode's own
//! `Encode`/`Decode` in format 2, which reads them in one copy rather than byte by byte. A
//! [`Digest`] is the `(seq, hash)` of a ledger head, written `SEQ:HASH`, which is what auditors
//! note down and later look for in an export.

use std::fmt;
use std::str::FromStr;

use bincode::de::{Decode, Decoder};
use bincode::enc::{Encode, Encoder};
use bincode::error::{DecodeError, EncodeError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// A SHA-256 output.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash256(pub [u8; 32]);

/// Why a text is not a hash or a digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashParseError {
    #[error("`{0}` is not a SHA-256 hash: expected 64 lowercase hex characters")]
    NotAHash(String),
    #[error("`{0}` is not a digest: expected SEQ:HASH, for example 42:{zeros}", zeros = Hash256::ZERO)]
    NotADigest(String),
}

impl Hash256 {
    /// The `prev_hash` of the first entry: 64 zeros.
    pub const ZERO: Hash256 = Hash256([0; 32]);

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Hash256(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Hash256 {
    type Err = HashParseError;

    /// Accepts only the canonical spelling (lowercase), because the hash chain compares text.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let not_a_hash = || HashParseError::NotAHash(text.to_owned());
        if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(not_a_hash());
        }
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| not_a_hash())?;
        Ok(Hash256(bytes))
    }
}

impl Serialize for Hash256 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Hash256 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(serde::de::Error::custom)
        } else {
            <[u8; 32]>::deserialize(deserializer).map(Hash256)
        }
    }
}

impl Encode for Hash256 {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.encode(encoder)
    }
}

impl<Context> Decode<Context> for Hash256 {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        <[u8; 32]>::decode(decoder).map(Hash256)
    }
}

bincode::impl_borrow_decode!(Hash256);

/// The head of a ledger: its last seq and that entry's hash. An empty ledger has no digest.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Digest {
    pub seq: u64,
    pub hash: Hash256,
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl FromStr for Digest {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let not_a_digest = || HashParseError::NotADigest(text.to_owned());
        let (seq, hash) = text.split_once(':').ok_or_else(not_a_digest)?;
        Ok(Digest {
            seq: seq.parse().map_err(|_| not_a_digest())?,
            hash: hash.parse().map_err(|_| not_a_digest())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_of_empty_input_is_the_known_sha256() {
        assert_eq!(
            Hash256::of(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn digest_round_trips_through_text() {
        let digest = Digest {
            seq: 42,
            hash: Hash256::of(b"x"),
        };
        assert_eq!(digest.to_string().parse::<Digest>(), Ok(digest));
    }

    #[test]
    fn malformed_digests_and_hashes_are_refused() {
        for text in ["42", "x:00", "42:abc", &format!("-1:{}", Hash256::ZERO)] {
            assert!(text.parse::<Digest>().is_err(), "{text}");
        }
        let upper = Hash256::of(b"x").to_string().to_uppercase();
        assert!(upper.parse::<Hash256>().is_err());
    }
}
