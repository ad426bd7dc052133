//! `MANIFEST.note`, the pack's statement (docs/auditing.md#the-evidence-pack): what the pack
//! covers, a C2SP signed note by the ledger's key when the pack is written with it.
//!
//! Its text names the window, when and by which version the pack was written, the number of
//! entries of `ledger.jsonl` with the RFC 9162 root of their tree, and the SHA-256 of
//! `MANIFEST.sha256`, which names every other file's SHA-256. So the signature covers the
//! conclusions (the page, the CSV files, the proofs), not only the export: an edited file with a
//! regenerated manifest no longer matches the note, and a regenerated note no longer verifies.
//! A pack written without the key holds the text alone, unsigned, for `replay --pack` and
//! `check_offboarding.py` to read the window from.
//!
//! ```text
//! tailledger evidence pack v1
//! window 2026-01-01T00:00:00.000000Z 2026-07-01T00:00:00.000000Z
//! written 2026-07-02T08:00:00.000000Z tailledger 0.3.0 (commit 1a2b3c4)
//! entries 1042 Jx3mB0k9bB0mS8vZt1hJb3wYH0QWc5yq9I0d6XGJw6E=
//! manifest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::Hash256;
use crate::merkle::{SigningKey, sign_note};
use crate::time::Timestamp;

/// The file the statement is written to.
pub const FILE: &str = "MANIFEST.note";

/// The statement's first line: what kind of text this is, and its version.
const HEADER: &str = "tailledger evidence pack v1";

/// What a pack's `MANIFEST.note` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The window `[from, to)` the pack covers.
    pub window: (Timestamp, Timestamp),
    pub written_at: Timestamp,
    pub version: String,
    /// The number of entries in `ledger.jsonl`, and the root of their tree.
    pub entries: u64,
    pub root: Hash256,
    /// The SHA-256 of `MANIFEST.sha256`.
    pub manifest: Hash256,
}

/// Why a `MANIFEST.note` cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("MANIFEST.note line {line}: {reason}")]
pub struct StatementError {
    line: usize,
    reason: String,
}

impl Statement {
    /// The note's text.
    pub fn text(&self) -> String {
        let (from, to) = self.window;
        format!(
            "{HEADER}\nwindow {from} {to}\nwritten {} tailledger {}\nentries {} {}\nmanifest {}\n",
            self.written_at,
            self.version,
            self.entries,
            BASE64.encode(self.root.0),
            self.manifest
        )
    }

    /// The file's contents: the text signed by `key` as a signed note, or the text alone.
    pub fn file(&self, key: Option<&SigningKey>) -> String {
        let text = self.text();
        match key {
            // The text is ours: one line each, no control characters, a final newline.
            Some(key) => sign_note(&text, key).expect("the statement is a valid note text"),
            None => text,
        }
    }

    /// Reads a `MANIFEST.note` (signed or not; its signature is the Python scripts' to check),
    /// refusing anything but the exact text [`Statement::text`] writes.
    pub fn parse(file: &str) -> Result<Statement, StatementError> {
        let text = match file.split_once("\n\n") {
            Some((text, _signatures)) => text,
            None => file.strip_suffix('\n').unwrap_or(file),
        };
        let lines: Vec<&str> = text.lines().collect();
        if lines.first() != Some(&HEADER) {
            return Err(bad(1, format!("expected `{HEADER}`")));
        }
        let field = |number: usize, key: &str| {
            let line = lines.get(number - 1).copied().unwrap_or_default();
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|rest| rest.split_once(' '))
                .ok_or_else(|| bad(number, format!("expected `{key} …`, found `{line}`")))
        };
        let instant = |number: usize, value: &str| {
            value
                .parse::<Timestamp>()
                .map_err(|error| bad(number, format!("`{value}` is not an instant: {error}")))
        };
        let (from, to) = field(2, "window")?;
        let window = (instant(2, from)?, instant(2, to)?);
        let (at, version) = field(3, "written")?;
        let written_at = instant(3, at)?;
        let version = version
            .strip_prefix("tailledger ")
            .ok_or_else(|| bad(3, "expected `written AT tailledger VERSION`".to_owned()))?;
        let (size, root) = field(4, "entries")?;
        let entries = size
            .parse()
            .map_err(|_| bad(4, format!("`{size}` is not a number of entries")))?;
        let root = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(Hash256)
            .ok_or_else(|| bad(4, format!("`{root}` is not a base64 SHA-256")))?;
        let manifest = lines.get(4).and_then(|line| line.strip_prefix("manifest "));
        let manifest = manifest
            .and_then(|hex| hex.parse().ok())
            .ok_or_else(|| bad(5, "expected `manifest SHA256` in hex".to_owned()))?;
        let statement = Statement {
            window,
            written_at,
            version: version.to_owned(),
            entries,
            root,
            manifest,
        };
        if statement.text() != format!("{text}\n") {
            return Err(bad(
                lines.len().min(6),
                "the text is not exactly the five lines of a statement".to_owned(),
            ));
        }
        Ok(statement)
    }
}

fn bad(line: usize, reason: String) -> StatementError {
    StatementError { line, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_reads_back_signed_or_not_and_nothing_else_reads() {
        let statement = Statement {
            window: (
                "2026-01-01T00:00:00Z".parse().unwrap(),
                "2026-07-01T00:00:00Z".parse().unwrap(),
            ),
            written_at: "2026-07-02T08:00:00Z".parse().unwrap(),
            version: "0.3.0 (commit abc)".to_owned(),
            entries: 1042,
            root: Hash256::of(b"root"),
            manifest: Hash256::of(b"manifest"),
        };
        let key = SigningKey::from_seed("tailledger", &[7; 32]).unwrap();
        assert_eq!(
            Statement::parse(&statement.file(Some(&key))).unwrap(),
            statement
        );
        assert_eq!(Statement::parse(&statement.file(None)).unwrap(), statement);
        let extra = statement.text() + "extra line\n";
        assert!(Statement::parse(&extra).is_err());
        let edited = statement.text().replace("entries 1042", "entries 1041");
        assert_eq!(Statement::parse(&edited).unwrap().entries, 1041);
        let bad = statement.text().replace("window ", "windows ");
        let error = Statement::parse(&bad).unwrap_err().to_string();
        assert!(error.starts_with("MANIFEST.note line 2:"), "{error}");
    }
}
