//! Witness cosignatures: C2SP `tlog-cosignature` `cosignature/v1` with Ed25519.
//!
//! A witness that has checked a checkpoint is consistent with every one it cosigned before adds
//! a note signature line `— <witness name> base64(key id || timestamp || signature)`: the key id
//! is the first four bytes of `SHA-256(name || 0x0A || 0x04 || public key)`, the timestamp eight
//! bytes big-endian (POSIX seconds), and the Ed25519 signature is over
//! `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's note text. Its verifier key
//! is written `<name>+<hex key id>+base64(0x04 || public key)`. A witness's key file holds the
//! same seed format as the ledger's signing key ([`SigningKey`]); only the key id's type byte
//! and the signed message differ, so the two never verify each other's signatures.
//!
//! Pure: the time is an argument.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer as _;

use super::Error;
use super::note::{
    SigningKey, check_note_characters, key_id_of, parse_signature_line, parse_vkey, split_key_id,
    split_note,
};

/// The signature type byte of an Ed25519 `cosignature/v1` key.
const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Key id, timestamp and Ed25519 signature.
const PAYLOAD_LEN: usize = 4 + 8 + 64;

/// A witness's public key: what a ledger configures to trust its cosignatures. Its `Display` is
/// the verifier key text `<name>+<hex key id>+base64(0x04 || public key)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    key_id: u32,
    key: ed25519_dalek::VerifyingKey,
}

/// A verified cosignature: its signature line (with the final newline) and its timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    pub line: String,
    /// When the witness cosigned, in POSIX seconds.
    pub time: u64,
}

impl CosignerKey {
    /// The cosigner key of a witness whose key file holds `key`.
    pub fn of(key: &SigningKey) -> CosignerKey {
        let public = key.ed25519().verifying_key();
        CosignerKey {
            name: key.name().to_owned(),
            key_id: key_id_of(ALG_COSIGNATURE_V1, key.name(), public.as_bytes()),
            key: public,
        }
    }

    /// Reads `<name>+<hex key id>+base64(0x04 || public key)`, checking the key id.
    pub fn parse(text: &str) -> Result<CosignerKey, Error> {
        let (name, key_id, key) = parse_vkey(
            text,
            ALG_COSIGNATURE_V1,
            "the key type is not an Ed25519 cosignature/v1 key (0x04)",
        )?;
        Ok(CosignerKey { name, key_id, key })
    }

    /// The witness's name, which its cosignature lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_COSIGNATURE_V1);
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(raw)
        )
    }
}

/// The signed message: the header line, the time line, then the note text.
fn message(text: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

/// The cosignature line by the witness key `key` at `time` over a checkpoint's note text
/// (`text`: the body, ending in a newline, without signatures).
pub fn cosign(text: &str, key: &SigningKey, time: u64) -> Result<String, Error> {
    if !text.ends_with('\n') {
        return Err(super::note::malformed_note(
            "the text does not end with a newline",
        ));
    }
    check_note_characters(text)?;
    if time > i64::MAX as u64 {
        return Err(super::note::malformed_note(
            "a cosignature's time must not exceed 2^63 - 1",
        ));
    }
    let cosigner = CosignerKey::of(key);
    let signature = key.ed25519().sign(message(text, time).as_bytes());
    let mut raw = Vec::with_capacity(PAYLOAD_LEN);
    raw.extend_from_slice(&cosigner.key_id.to_be_bytes());
    raw.extend_from_slice(&time.to_be_bytes());
    raw.extend_from_slice(&signature.to_bytes());
    Ok(format!(
        "\u{2014} {} {}\n",
        cosigner.name,
        BASE64.encode(raw)
    ))
}

/// The cosignature by `key` among `lines` (signature lines, each ending in a newline: a
/// witness's answer, or a note's signatures) over the note text `text`. Lines by other keys are
/// ignored, and so are lines that are no signature line; a line by `key` that does not verify
/// is an error, as the signed-note rules say.
pub fn find_cosignature(
    text: &str,
    lines: &str,
    key: &CosignerKey,
) -> Result<Option<Cosignature>, Error> {
    let mut found = None;
    for line in lines.lines() {
        let Some((name, payload)) = parse_signature_line(line) else {
            continue;
        };
        let (id, rest) = split_key_id(&payload);
        if name != key.name || id != key.key_id {
            continue;
        }
        let invalid = || Error::InvalidSignature {
            name: key.name.clone(),
            key_id: key.key_id,
        };
        if payload.len() != PAYLOAD_LEN {
            return Err(invalid());
        }
        let (time, signature) = rest.split_at(8);
        let time = u64::from_be_bytes(time.try_into().expect("eight bytes"));
        let valid = time <= i64::MAX as u64
            && ed25519_dalek::Signature::from_slice(signature).is_ok_and(|signature| {
                key.key
                    .verify_strict(message(text, time).as_bytes(), &signature)
                    .is_ok()
            });
        if !valid {
            return Err(invalid());
        }
        found = Some(Cosignature {
            line: format!("{line}\n"),
            time,
        });
    }
    Ok(found)
}

/// The cosignature by `key` on a signed note (the ledger's signature and any others beside it).
pub fn note_cosignature(note: &str, key: &CosignerKey) -> Result<Option<Cosignature>, Error> {
    let (text, signatures) = split_note(note).ok_or_else(|| {
        super::note::malformed_note("no blank line separates the text from the signatures")
    })?;
    find_cosignature(text, signatures, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::VerifierKey;

    const TEXT: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    fn witness() -> SigningKey {
        SigningKey::from_seed("witness.example/w1", &[9; 32]).unwrap()
    }

    #[test]
    fn a_cosignature_verifies_with_its_key_and_time() {
        let key = witness();
        let cosigner = CosignerKey::of(&key);
        assert_eq!(CosignerKey::parse(&cosigner.to_string()).unwrap(), cosigner);
        let line = cosign(TEXT, &key, 1_679_315_147).unwrap();
        assert!(line.starts_with("\u{2014} witness.example/w1 "));
        let found = find_cosignature(TEXT, &line, &cosigner).unwrap().unwrap();
        assert_eq!(found.time, 1_679_315_147);
        assert_eq!(found.line, line);
        // Inside a note, after the log's own signature.
        let note = format!("{TEXT}\n\u{2014} example.com/behind-the-sofa AAAAAAAA\n{line}");
        assert_eq!(note_cosignature(&note, &cosigner).unwrap(), Some(found));
    }

    #[test]
    fn a_changed_checkpoint_or_time_does_not_verify() {
        let key = witness();
        let cosigner = CosignerKey::of(&key);
        let line = cosign(TEXT, &key, 100).unwrap();
        let changed = TEXT.replacen("20852163", "20852164", 1);
        assert!(matches!(
            find_cosignature(&changed, &line, &cosigner),
            Err(Error::InvalidSignature { .. })
        ));
        // The time is inside the payload: change it and the signature no longer matches.
        let (name, payload) = parse_signature_line(line.trim_end()).unwrap();
        let mut payload = payload.clone();
        payload[11] ^= 1;
        let forged = format!("\u{2014} {name} {}\n", BASE64.encode(payload));
        assert!(find_cosignature(TEXT, &forged, &cosigner).is_err());
    }

    #[test]
    fn other_keys_are_ignored_and_the_ledger_key_type_is_not_a_cosigner() {
        let key = witness();
        let other =
            CosignerKey::of(&SigningKey::from_seed("witness.example/w2", &[3; 32]).unwrap());
        let line = cosign(TEXT, &key, 100).unwrap();
        assert_eq!(find_cosignature(TEXT, &line, &other).unwrap(), None);
        // The same seed as a note signer has another key id and type byte.
        let signer = key.verifier_key().to_string();
        assert!(CosignerKey::parse(&signer).is_err());
        assert!(VerifierKey::parse(&CosignerKey::of(&key).to_string()).is_err());
    }
}
