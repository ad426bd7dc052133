//! The C2SP `tlog-witness` `add-checkpoint` request body, written and read: `old <size>`, up to
//! 63 base64 consistency proof lines, a blank line, then the signed checkpoint. Pure.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::Hash256;

/// The path a witness answers `add-checkpoint` at.
pub const ADD_CHECKPOINT: &str = "/add-checkpoint";

/// The most consistency proof lines a request may carry (63 cover any tree of 2^63 leaves).
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a `409` answer: the witness's latest size, in decimal, and a newline.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// One `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the witness last cosigned for this log (0 for none).
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash256>,
    /// The signed checkpoint (a signed note).
    pub note: String,
}

impl AddCheckpoint {
    /// The request body.
    pub fn body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&BASE64.encode(hash.0));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }

    /// Reads a request body, refusing anything but the exact format (the reason says which
    /// line and why).
    pub fn parse(body: &str) -> Result<AddCheckpoint, String> {
        let (head, note) = body
            .split_once("\n\n")
            .ok_or("no blank line separates the old size and proof from the checkpoint")?;
        let mut lines = head.split('\n');
        let old = lines.next().unwrap_or_default();
        let old_size = old
            .strip_prefix("old ")
            .filter(|size| {
                !size.is_empty()
                    && size.bytes().all(|b| b.is_ascii_digit())
                    && (size.len() == 1 || !size.starts_with('0'))
            })
            .and_then(|size| size.parse::<u64>().ok())
            .ok_or("line 1 must be `old <size>`, the size in decimal without leading zeros")?;
        let mut proof = Vec::new();
        for (i, line) in lines.enumerate() {
            if proof.len() == MAX_PROOF_LINES {
                return Err(format!(
                    "more than {MAX_PROOF_LINES} consistency proof lines"
                ));
            }
            let hash = BASE64
                .decode(line)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| format!("line {} is not the base64 of a 32-byte hash", i + 2))?;
            proof.push(Hash256(hash));
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            note: note.to_owned(),
        })
    }
}

/// Reads a `409` answer's body: the witness's latest size.
pub fn parse_size(body: &str) -> Option<u64> {
    let size = body.strip_suffix('\n')?;
    let digits = !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit())
        && (size.len() == 1 || !size.starts_with('0'));
    digits.then(|| size.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example request of c2sp.org/tlog-witness, section add-checkpoint.
    const EXAMPLE: &str = "old 20852014\n\
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
\n\
example.com/behind-the-sofa\n\
20852163\n\
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
\n\
\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    #[test]
    fn the_c2sp_example_round_trips() {
        let request = AddCheckpoint::parse(EXAMPLE).unwrap();
        assert_eq!(request.old_size, 20_852_014);
        assert_eq!(request.proof.len(), 4);
        assert!(
            request
                .note
                .starts_with("example.com/behind-the-sofa\n20852163\n")
        );
        assert_eq!(request.body(), EXAMPLE);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            "old 01\n\nx\n",
            "old -1\n\nx\n",
            "old 5\nnot-base64\n\nx\n",
            "old 5\nAAAA\n\nx\n",
            "new 5\n\nx\n",
            "old 5\n",
        ] {
            assert!(AddCheckpoint::parse(body).is_err(), "{body:?}");
        }
        let mut long = "old 1\n".to_owned();
        for _ in 0..64 {
            long.push_str("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n");
        }
        long.push_str("\nx\n");
        assert!(AddCheckpoint::parse(&long).unwrap_err().contains("63"));
        assert_eq!(parse_size("12\n"), Some(12));
        assert_eq!(parse_size("012\n"), None);
        assert_eq!(parse_size("12"), None);
    }
}
