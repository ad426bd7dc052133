//! Signed checkpoints: C2SP `tlog-checkpoint` bodies in C2SP `signed-note`s, signed with
//! Ed25519, byte-for-byte as Go's `golang.org/x/mod/sumdb/note` writes and reads them.
//!
//! A note is a text ending in a newline, a blank line, and signature lines
//! `— <key name> base64(key id || signature)`; the key id is the first four bytes of
//! `SHA-256(name || 0x0A || 0x01 || public key)`, big-endian. An auditor pins the verifier key
//! `<name>+<hex key id>+base64(0x01 || public key)`. The checkpoint body is the origin, the tree
//! size in decimal and the base64 root hash, one a line, then optional extension lines.
//!
//! Verification follows the signed-note rules: signatures by other keys are ignored (so a
//! checkpoint can carry witnesses' cosignatures), a signature by the trusted key that does not
//! verify rejects the whole note, and a note with no signature by the trusted key is rejected.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::Error;
use crate::hash::Hash256;

/// The signed-note signature type byte of Ed25519.
const ALG_ED25519: u8 = 0x01;
/// Go's limit; the signed-note spec asks verifiers to accept at least 16.
const MAX_SIGNATURES: usize = 100;
/// How a signature line starts: an em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Go's prefix of a signer key string.
const SIGNING_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// A tree head as C2SP `tlog-checkpoint` writes it: the log's origin, the tree size and the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Which log this is; for tailledger `tailledger/<ledger id>`.
    pub origin: String,
    /// How many leaves the tree has.
    pub size: u64,
    /// The Merkle Tree Hash of those leaves.
    pub root: Hash256,
    /// Optional opaque lines after the root; each non-empty.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n` and one line per extension.
    pub fn body(&self) -> Result<String, Error> {
        check_line(1, &self.origin, "the origin is empty")?;
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root.0)
        );
        for (i, extension) in self.extensions.iter().enumerate() {
            check_line(4 + i, extension, "an extension line is empty")?;
            body.push_str(extension);
            body.push('\n');
        }
        Ok(body)
    }

    /// Reads a note text as a checkpoint body, refusing anything the format does not allow:
    /// fewer than three lines, an empty line, a size with a sign or leading zeros, a root that is
    /// not the canonical base64 of 32 bytes.
    pub fn parse(body: &str) -> Result<Checkpoint, Error> {
        let Some(body) = body.strip_suffix('\n') else {
            let line = body.split('\n').count();
            return Err(malformed(line, "the text does not end with a newline"));
        };
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(malformed(
                lines.len() + 1,
                "missing: a checkpoint has an origin, a tree size and a root hash line",
            ));
        }
        check_line(1, lines[0], "the origin is empty")?;
        check_line(2, lines[1], "the tree size is empty")?;
        let size_text = lines[1];
        if !size_text.bytes().all(|b| b.is_ascii_digit())
            || (size_text.len() > 1 && size_text.starts_with('0'))
        {
            return Err(malformed(
                2,
                "the tree size must be decimal digits without leading zeros",
            ));
        }
        let size = size_text
            .parse()
            .map_err(|_| malformed(2, "the tree size does not fit in 64 bits"))?;
        check_line(3, lines[2], "the root hash is empty")?;
        // The base64 engine refuses non-canonical padding and trailing bits, so a root has exactly
        // one spelling and a changed character is never silently accepted.
        let root = BASE64
            .decode(lines[2])
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| malformed(3, "the root hash is not the base64 of 32 bytes"))?;
        let mut extensions = Vec::new();
        for (i, line) in lines[3..].iter().enumerate() {
            check_line(4 + i, line, "an extension line is empty")?;
            extensions.push((*line).to_owned());
        }
        Ok(Checkpoint {
            origin: lines[0].to_owned(),
            size,
            root: Hash256(root),
            extensions,
        })
    }
}

/// An Ed25519 signing key with its note key name. Its `Debug` shows the name and key id, never
/// the key.
pub struct SigningKey {
    name: String,
    key_id: u32,
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// The key whose Ed25519 seed (RFC 8032 private key) is `seed`, signing as `name`. The caller
    /// draws the seed from the operating system's random source.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<SigningKey, Error> {
        check_key_name(name)?;
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let key_id = key_id(name, key.verifying_key().as_bytes());
        Ok(SigningKey {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Reads Go's signer key string, `PRIVATE+KEY+<name>+<hex key id>+base64(0x01 || seed)`
    /// (surrounding whitespace, such as a file's last newline, is ignored). Errors never quote
    /// the text.
    pub fn parse(text: &str) -> Result<SigningKey, Error> {
        let bad = |reason| Error::MalformedSigningKey { reason };
        let rest = text
            .trim()
            .strip_prefix(SIGNING_KEY_PREFIX)
            .ok_or(bad("it does not start with PRIVATE+KEY+"))?;
        let (name, id, key) =
            split_key(rest).ok_or(bad("expected PRIVATE+KEY+<name>+<hex key id>+<base64 key>"))?;
        let id = parse_key_id(id).ok_or(bad("the key id is not 8 lowercase hex digits"))?;
        let raw = Zeroizing::new(
            BASE64
                .decode(key)
                .map_err(|_| bad("the key is not base64"))?,
        );
        let seed: Zeroizing<[u8; 32]> = match raw.split_first() {
            Some((&ALG_ED25519, seed)) => Zeroizing::new(
                seed.try_into()
                    .map_err(|_| bad("an Ed25519 seed is 32 bytes"))?,
            ),
            Some(_) => return Err(bad("the key type is not Ed25519 (0x01)")),
            None => return Err(bad("the key is empty")),
        };
        let key = SigningKey::from_seed(name, &seed)?;
        if key.key_id != id {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(key)
    }

    /// Go's signer key string (see [`SigningKey::parse`]), wiped from memory when dropped. This
    /// is the secret: write it only to a file that only the service can read.
    pub fn encode(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(Vec::with_capacity(33));
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        let key = Zeroizing::new(BASE64.encode(&*raw));
        Zeroizing::new(format!(
            "{SIGNING_KEY_PREFIX}{}+{:08x}+{}",
            self.name, self.key_id, *key
        ))
    }

    /// The key name signatures carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 key itself, for cosignatures made with the same seed.
    pub(super) fn ed25519(&self) -> &ed25519_dalek::SigningKey {
        &self.key
    }

    /// The public half, for auditors to pin.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A trusted Ed25519 note verifier key; its `Display` is the text form
/// `<name>+<hex key id>+base64(0x01 || public key)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// Reads `<name>+<hex key id>+base64(0x01 || public key)`, checking that the key id is the
    /// one the name and key give (so a mistyped key is caught here, not at the first checkpoint).
    pub fn parse(text: &str) -> Result<VerifierKey, Error> {
        let (name, key_id, key) =
            parse_vkey(text, ALG_ED25519, "the key type is not Ed25519 (0x01)")?;
        Ok(VerifierKey { name, key_id, key })
    }

    /// The key name its signatures carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id its signatures carry.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
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

/// The checkpoint as a signed note: its body, a blank line and one signature line by `key`.
pub fn sign_checkpoint(checkpoint: &Checkpoint, key: &SigningKey) -> Result<String, Error> {
    sign_note(&checkpoint.body()?, key)
}

/// The checkpoint in a signed note, if the note carries a valid signature by `key` and no
/// invalid one; signatures by other keys are ignored.
pub fn verify_checkpoint(note: &str, key: &VerifierKey) -> Result<Checkpoint, Error> {
    Checkpoint::parse(open_note(note, key)?)
}

/// Who signed a note, by the well-formed signature lines it carries (`<name>+<key id>` each),
/// whether their signatures verify or not: what a reader is told to compare with the key they
/// pinned.
pub fn note_signers(note: &str) -> Vec<String> {
    let signatures = split_note(note).map_or("", |(_, signatures)| signatures);
    signatures
        .lines()
        .filter_map(parse_signature_line)
        .map(|(name, signature)| format!("{name}+{:08x}", split_key_id(&signature).0))
        .collect()
}

/// A note's text (ending at the last blank line, its final newline kept) and its signatures.
pub(super) fn split_note(note: &str) -> Option<(&str, &str)> {
    let split = note.rfind("\n\n")?;
    Some((&note[..=split], &note[split + 2..]))
}

/// A decoded signature's key id (its first four bytes, big-endian) and the signature proper;
/// [`parse_signature_line`] makes sure there are more than four bytes.
pub(super) fn split_key_id(signature: &[u8]) -> (u32, &[u8]) {
    let (id, signature) = signature.split_at(4);
    (
        u32::from_be_bytes(id.try_into().expect("four bytes")),
        signature,
    )
}

/// Signs a note text (ending in a newline, no control characters but newlines) with `key`.
pub fn sign_note(text: &str, key: &SigningKey) -> Result<String, Error> {
    if !text.ends_with('\n') {
        return Err(malformed_note("the text does not end with a newline"));
    }
    check_note_characters(text)?;
    let signature = key.key.sign(text.as_bytes());
    let mut raw = Vec::with_capacity(68);
    raw.extend_from_slice(&key.key_id.to_be_bytes());
    raw.extend_from_slice(&signature.to_bytes());
    Ok(format!(
        "{text}\n{SIGNATURE_PREFIX}{} {}\n",
        key.name,
        BASE64.encode(raw)
    ))
}

/// The text of a signed note that `key` signed, after the checks of Go's `note.Open`.
fn open_note<'a>(note: &'a str, key: &VerifierKey) -> Result<&'a str, Error> {
    check_note_characters(note)?;
    let (text, signatures) = split_note(note)
        .ok_or_else(|| malformed_note("no blank line separates the text from the signatures"))?;
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(malformed_note(
            "the signatures are missing or do not end with a newline",
        ));
    }
    let mut verified = false;
    for (number, line) in signatures[..signatures.len() - 1].split('\n').enumerate() {
        if number == MAX_SIGNATURES {
            return Err(malformed_note(format!(
                "more than {MAX_SIGNATURES} signatures"
            )));
        }
        let (name, signature) = parse_signature_line(line).ok_or_else(|| {
            malformed_note(format!(
                "signature line {} is not `— <name> <base64>`",
                number + 1
            ))
        })?;
        let (id, signature) = split_key_id(&signature);
        // Signatures by other keys (witnesses, a rotated key) are not ours to judge.
        if name != key.name || id != key.key_id {
            continue;
        }
        let valid = ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|signature| key.key.verify_strict(text.as_bytes(), &signature).is_ok());
        if !valid {
            return Err(Error::InvalidSignature {
                name: key.name.clone(),
                key_id: key.key_id,
            });
        }
        verified = true;
    }
    if !verified {
        return Err(Error::NoTrustedSignature {
            name: key.name.clone(),
            key_id: key.key_id,
        });
    }
    Ok(text)
}

/// `— <name> <base64>` → the name and the decoded bytes (at least a key id and one byte).
pub(super) fn parse_signature_line(line: &str) -> Option<(&str, Vec<u8>)> {
    let (name, signature) = line.strip_prefix(SIGNATURE_PREFIX)?.split_once(' ')?;
    let signature = BASE64.decode(signature).ok()?;
    (is_valid_key_name(name) && signature.len() >= 5).then_some((name, signature))
}

/// The key id of an Ed25519 key: `SHA-256(name || 0x0A || 0x01 || public key)[..4]`, big-endian.
fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    key_id_of(ALG_ED25519, name, public)
}

/// The key id of a key of signature type `alg`: `SHA-256(name || 0x0A || alg || public key)[..4]`.
pub(super) fn key_id_of(alg: u8, name: &str, public: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', alg]);
    hasher.update(public);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Reads a verifier key `<name>+<hex key id>+base64(alg || Ed25519 public key)` of signature
/// type `alg`, checking the name, the type (`wrong_type` says what was expected) and that the
/// key id is the one the name and key give: the name, the key id and the key.
pub(super) fn parse_vkey(
    text: &str,
    alg: u8,
    wrong_type: &'static str,
) -> Result<(String, u32, ed25519_dalek::VerifyingKey), Error> {
    let bad = |reason| Error::MalformedVerifierKey { reason };
    let (name, id, key) =
        split_key(text.trim()).ok_or(bad("expected <name>+<hex key id>+<base64 key>"))?;
    check_key_name(name)?;
    let id = parse_key_id(id).ok_or(bad("the key id is not 8 lowercase hex digits"))?;
    let raw = BASE64
        .decode(key)
        .map_err(|_| bad("the key is not base64"))?;
    let public: [u8; 32] = match raw.split_first() {
        Some((&found, public)) if found == alg => public
            .try_into()
            .map_err(|_| bad("an Ed25519 public key is 32 bytes"))?,
        Some(_) => return Err(bad(wrong_type)),
        None => return Err(bad("the key is empty")),
    };
    if key_id_of(alg, name, &public) != id {
        return Err(bad("the key id does not match the name and key"));
    }
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
        .map_err(|_| bad("the key is not an Ed25519 public key"))?;
    Ok((name.to_owned(), id, key))
}

/// `<name>+<id>+<key>`: the name and id cannot hold a `+`, the base64 key can.
fn split_key(text: &str) -> Option<(&str, &str, &str)> {
    let (name, rest) = text.split_once('+')?;
    let (id, key) = rest.split_once('+')?;
    Some((name, id, key))
}

fn parse_key_id(text: &str) -> Option<u32> {
    let lower_hex = text.len() == 8
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    lower_hex.then(|| u32::from_str_radix(text, 16).ok())?
}

/// Key names are non-empty, with no Unicode space and no `+` (signed-note §Format).
fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_key_name(name: &str) -> Result<(), Error> {
    if is_valid_key_name(name) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Error::InvalidKeyName {
            name: name.escape_debug().to_string(),
        })
    }
}

/// Signed notes are UTF-8 (a `str` is) with no ASCII control character but the newline.
pub(super) fn check_note_characters(text: &str) -> Result<(), Error> {
    match text.chars().position(|c| c < ' ' && c != '\n') {
        Some(at) => Err(malformed_note(format!(
            "character {} is an ASCII control character",
            at + 1
        ))),
        None => Ok(()),
    }
}

/// A checkpoint line must be non-empty and free of control characters (the newlines between
/// lines are the format's own).
fn check_line(line: usize, text: &str, empty: &'static str) -> Result<(), Error> {
    if text.is_empty() {
        return Err(malformed(line, empty));
    }
    if text.chars().any(|c| c < ' ') {
        return Err(malformed(
            line,
            "the line has a control character or newline",
        ));
    }
    Ok(())
}

fn malformed(line: usize, reason: &'static str) -> Error {
    Error::MalformedCheckpoint { line, reason }
}

pub(super) fn malformed_note(reason: impl Into<String>) -> Error {
    Error::MalformedNote {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's `golang.org/x/mod/sumdb/note` test key (note_test.go, TestSign and TestOpen).
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

    #[test]
    fn signing_key_text_round_trips_and_debug_hides_the_key() {
        let key = SigningKey::parse(PETER_SKEY).unwrap();
        assert_eq!(&*key.encode(), PETER_SKEY);
        assert_eq!(key.verifier_key().to_string(), PETER_VKEY);
        let debug = format!("{key:?}");
        assert_eq!(
            debug,
            "SigningKey { name: \"PeterNeumann\", key_id: c74f20a3, .. }"
        );
        let secret = PETER_SKEY.rsplit('+').next().unwrap();
        assert!(!debug.contains(secret));
    }

    #[test]
    fn signing_key_errors_never_quote_the_key() {
        let tampered = PETER_SKEY.replace("c74f20a3", "c74f20a4");
        let err = SigningKey::parse(&tampered).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed signing key: the key id does not match the name and key"
        );
        let secret = PETER_SKEY.rsplit('+').next().unwrap();
        for text in [
            &PETER_SKEY[1..],
            &PETER_SKEY[..PETER_SKEY.len() - 2],
            PETER_VKEY,
        ] {
            let err = SigningKey::parse(text).unwrap_err().to_string();
            assert!(!err.contains(&secret[..8]), "{err}");
        }
    }

    /// Go's TestSign: the exact note `note.Sign` writes for this key and text.
    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                              then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    /// Go's TestOpen: a second signature, by a key the verifier does not trust.
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    #[test]
    fn signing_matches_go_note_sign_byte_for_byte() {
        let key = SigningKey::parse(PETER_SKEY).unwrap();
        let note = sign_note(PETER_TEXT, &key).unwrap();
        assert_eq!(note, format!("{PETER_TEXT}\n{PETER_SIG}"));
    }

    #[test]
    fn opening_follows_go_note_open() {
        let peter = VerifierKey::parse(PETER_VKEY).unwrap();
        // Unknown signatures are ignored, before or after the trusted one.
        for note in [
            format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}"),
            format!("{PETER_TEXT}\n{ENOCH_SIG}{PETER_SIG}"),
        ] {
            assert_eq!(open_note(&note, &peter).unwrap(), PETER_TEXT);
        }
        // Only an untrusted signature: rejected.
        let err = open_note(&format!("{PETER_TEXT}\n{ENOCH_SIG}"), &peter).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the note has no signature by PeterNeumann+c74f20a3"
        );
        // A changed text, or a trusted signature that does not verify: rejected.
        let changed = format!("{PETER_TEXT}\n{PETER_SIG}").replacen("think", "thing", 1);
        assert!(matches!(
            open_note(&changed, &peter),
            Err(Error::InvalidSignature { .. })
        ));
        let bad_second = format!(
            "{PETER_TEXT}\n{PETER_SIG}{}",
            PETER_SIG.replacen("yBwJnAM=", "yBwJnAA=", 1)
        );
        assert!(matches!(
            open_note(&bad_second, &peter),
            Err(Error::InvalidSignature { .. })
        ));
        // A changed key id makes it another key's signature, which is ignored.
        let other_id = format!(
            "{PETER_TEXT}\n{PETER_SIG}{}",
            PETER_SIG.replacen("x08go", "x08gp", 1)
        );
        assert_eq!(open_note(&other_id, &peter).unwrap(), PETER_TEXT);
        // Malformed: no blank line, no final newline, a control character, a bad signature line.
        for note in [
            format!("{PETER_TEXT}{PETER_SIG}"),
            format!("{PETER_TEXT}\n{}", PETER_SIG.trim_end()),
            format!("{PETER_TEXT}\n{PETER_SIG}").replacen(' ', "\t", 1),
            format!("{PETER_TEXT}\n- PeterNeumann x08go\n"),
            format!("{PETER_TEXT}\n\u{2014} PeterNeumann AAAA\n"),
        ] {
            assert!(
                matches!(open_note(&note, &peter), Err(Error::MalformedNote { .. })),
                "{note:?}"
            );
        }
    }

    #[test]
    fn the_c2sp_signed_note_example_verifies() {
        // c2sp.org/signed-note, section Verifier keys, Example.
        let key = VerifierKey::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .unwrap();
        let note = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        assert_eq!(
            open_note(note, &key).unwrap(),
            "This is an example message.\n"
        );
        assert_eq!(key.name(), "example.com/foo");
        assert_eq!(key.key_id(), 0x530d903a);
    }

    #[test]
    fn verifier_keys_are_checked_like_go_note_new_verifier() {
        assert_eq!(
            VerifierKey::parse(PETER_VKEY).unwrap().to_string(),
            PETER_VKEY
        );
        // Go's TestNewVerifier: every strict substring and every one-byte change is refused
        // (the hex digits' upper case too, which the signed-note spec does not allow).
        let bytes = PETER_VKEY.as_bytes();
        for i in 0..bytes.len() {
            for j in i + 1..=bytes.len() {
                if (i, j) != (0, bytes.len()) {
                    assert!(
                        VerifierKey::parse(&PETER_VKEY[i..j]).is_err(),
                        "{}",
                        &PETER_VKEY[i..j]
                    );
                }
            }
            let mut changed = bytes.to_vec();
            changed[i] += 1;
            let changed = String::from_utf8(changed).unwrap();
            assert!(VerifierKey::parse(&changed).is_err(), "{changed}");
        }
        // Go's: a wrong-length key and an unknown algorithm, each with a matching key id.
        assert!(
            VerifierKey::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            )
            .is_err()
        );
        let err = VerifierKey::parse(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed verifier key: the key type is not Ed25519 (0x01)"
        );
    }

    #[test]
    fn key_names_with_spaces_or_plus_are_refused() {
        for name in ["", "a b", "a+b", "a\u{a0}b", "a\tb"] {
            assert!(
                matches!(
                    SigningKey::from_seed(name, &[7; 32]),
                    Err(Error::InvalidKeyName { .. })
                ),
                "{name:?}"
            );
        }
    }
}
