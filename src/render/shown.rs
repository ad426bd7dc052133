//! Text from outside (Tailscale's names, HR's rows, admins' and reviewers' reasons) as a
//! terminal shows it: every character that could act on the terminal or reorder what it shows
//! is written as an escape, so a name cannot erase a row, colour the screen, break a table's
//! line or turn text around.
//!
//! Escaped: the C0 controls, DEL and the C1 controls (`\n`, `\r` and `\t` as such, the others as
//! `\u{1b}`), and the bidirectional marks, embeddings, overrides and isolates (U+061C,
//! U+200E–U+200F, U+202A–U+202E, U+2066–U+2069) as `\u{202e}`. Everything else, quotes and
//! backslashes included, is shown as it is. JSON output is not touched: its escapes are JSON's.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Whether `c` is written as an escape on a terminal.
fn acts_on_a_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every character that acts on a terminal escaped.
pub struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(acts_on_a_terminal) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().expect("found at a char boundary");
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                other => write!(f, "\\u{{{:x}}}", u32::from(other))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// Shows a text with every character that acts on a terminal escaped.
pub trait Show {
    fn shown(&self) -> Shown<'_>;
}

impl Show for str {
    fn shown(&self) -> Shown<'_> {
        Shown(self)
    }
}

/// A whole text for a terminal, its lines kept: each line shown as [`Shown`] does. What has
/// been rendered line by line stays as it was; a control character some renderer let through
/// is escaped here.
pub fn shown_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && acts_on_a_terminal(c)) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 16);
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            shown.push('\n');
        }
        // Writing to a String cannot fail.
        let _ = write!(shown, "{}", line.shown());
    }
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_and_everything_else_is_kept() {
        let hostile = "a\u{1b}[2Kb\nc\td\re\u{7f}f\u{9b}g\u{202e}h\u{2066}i\u{200f}j\u{61c}k";
        assert_eq!(
            hostile.shown().to_string(),
            "a\\u{1b}[2Kb\\nc\\td\\re\\u{7f}f\\u{9b}g\\u{202e}h\\u{2066}i\\u{200f}j\\u{61c}k"
        );
        let kept = "O'Brien \"Zoë\" C:\\ 日本";
        assert_eq!(kept.shown().to_string(), kept);
        assert_eq!(shown_lines("one\ntwo\n"), Cow::Borrowed("one\ntwo\n"));
        assert_eq!(shown_lines("o\u{1b}ne\ntwo\n"), "o\\u{1b}ne\ntwo\n");
    }
}
