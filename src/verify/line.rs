//! One export line read as a chain link, refused unless it is exactly the canonical form it is
//! hashed in.
//!
//! A line's hash covers the canonical form of its members, not the line's own bytes, so any
//! other spelling of the same members (a duplicate key, spaces, members in another order, a
//! `\u` escape the canonical form would not write) would verify while a reader that resolves
//! it differently (a duplicate key read first-wins) sees other values. An exported line is
//! always canonical, so a verifier takes nothing else.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::entry::Entry;
use crate::hash::Hash256;
use crate::verify::Link;

/// Reads one export line as a chain link: the `"hash"` member is taken out and the rest is
/// canonicalised, exactly as an independent verifier would.
pub fn parse_export_line(line: &str) -> Result<Link, String> {
    read_export_line(line).map(|(link, _)| link)
}

/// [`parse_export_line`], with the entry the line describes when it is one, written exactly
/// as the ledger writes it. For such a line (every line of a real export) the canonical form is
/// the entry's, written directly: the line is the canonical JSON of the entry with its hash, and
/// taking a member out of a canonical object leaves the canonical object of the rest. Any other
/// line must be the canonical JSON of what it holds, by the general implementation.
pub fn read_export_line(line: &str) -> Result<(Link, Option<Entry>), String> {
    let value: Value = serde_json::from_str(line).map_err(|error| format!("not JSON: {error}"))?;
    let Value::Object(mut object) = value else {
        return Err("not a JSON object".to_owned());
    };
    let hash = hash_member(object.remove("hash").as_ref(), "hash")?;
    let prev_hash = hash_member(object.get("prev_hash"), "prev_hash")?;
    let seq = object
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("`seq` is missing or not a positive integer")?;
    let link = |canonical_form| Link {
        seq,
        prev_hash,
        hash,
        canonical_form,
    };
    match Entry::from_json_object(object, hash) {
        Ok(entry) if entry.export_line() == line => Ok((link(entry.canonical_form()), Some(entry))),
        // Not an entry as the ledger writes it: the members are read again, duplicates refused,
        // for the general canonicaliser (the line parsed a moment ago, so it parses again).
        _ => {
            serde_json::from_str::<Unique>(line).map_err(|error| format!("{error}"))?;
            let mut members: serde_json::Map<String, Value> =
                serde_json::from_str(line).map_err(|error| format!("not JSON: {error}"))?;
            let written = canonicalize(&Value::Object(members.clone()));
            if written != line.as_bytes() {
                return Err(not_canonical(line.as_bytes(), &written));
            }
            members.remove("hash");
            Ok((link(canonicalize(&Value::Object(members))), None))
        }
    }
}

/// Says where a line first differs from the canonical form of what it holds.
fn not_canonical(line: &[u8], canonical: &[u8]) -> String {
    let at = line
        .iter()
        .zip(canonical)
        .position(|(line, canonical)| line != canonical)
        .unwrap_or(line.len().min(canonical.len()));
    let around = |bytes: &[u8]| {
        let end = bytes.len().min(at + 24);
        String::from_utf8_lossy(&bytes[at..end]).into_owned()
    };
    format!(
        "not in canonical form (the form its hash covers): at column {}, the line has {:?} where the canonical form has {:?} (spacing, member order, escapes and numbers are written one way only)",
        at + 1,
        around(line),
        around(canonical)
    )
}

/// RFC 8785 canonical JSON of any JSON value, by a general implementation: an export line may
/// hold anything, so it is not read back through the entry's fixed shape.
fn canonicalize(value: &Value) -> Vec<u8> {
    // Serialising a JSON value cannot fail: its keys are strings and its numbers are finite.
    serde_json_canonicalizer::to_vec(value).expect("a JSON value canonicalises")
}

fn hash_member(member: Option<&Value>, key: &str) -> Result<Hash256, String> {
    match member {
        Some(Value::String(text)) => text.parse().map_err(|error| format!("`{key}`: {error}")),
        _ => Err(format!("`{key}` is missing or not a string")),
    }
}

/// A JSON value read only to refuse an object that names a key twice, which a map keeps once.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Unique, A::Error> {
        while items.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Unique, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = members.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "the key `{key}` appears twice in one object (a reader may take either value)"
                )));
            }
            members.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"a":"x","hash":"0000000000000000000000000000000000000000000000000000000000000000","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","seq":1}"#;

    #[test]
    fn a_canonical_line_reads_and_every_other_spelling_of_it_is_refused() {
        assert!(parse_export_line(LINE).is_ok());
        let duplicate = LINE.replacen('{', r#"{"a":"forged","#, 1);
        let error = parse_export_line(&duplicate).unwrap_err();
        assert!(error.contains("the key `a` appears twice"), "{error}");
        for (respelt, column) in [
            (LINE.replacen(':', ": ", 1), 6),
            (LINE.replacen(r#""x""#, r#""\u0078""#, 1), 7),
            (
                LINE.replacen(r#""a":"x","#, "", 1)
                    .replacen('}', r#","a":"x"}"#, 1),
                3,
            ),
            (format!(" {LINE}"), 1),
        ] {
            let error = parse_export_line(&respelt).unwrap_err();
            assert!(
                error.starts_with(&format!(
                    "not in canonical form (the form its hash covers): at column {column},"
                )),
                "{respelt}: {error}"
            );
        }
        // The error quotes up to 24 bytes of each from the first difference.
        let error = parse_export_line(&LINE.replacen(':', ": ", 1)).unwrap_err();
        assert!(
            error.contains(r#"the line has " \"x\",\"hash\":\"00000000000" where the canonical form has "\"x\",\"hash\":\"000000000000""#),
            "{error}"
        );
    }

    /// A line of a real export: an entry with a list in its event.
    fn entry() -> Entry {
        use crate::event::{Actor, Event, SystemId};
        use crate::time::Timestamp;
        Entry::seal(
            None,
            Timestamp::UNIX_EPOCH,
            Actor::Demo,
            Event::RemovalsConfirmed {
                system: SystemId::tailscale(),
                sync_id: "s-1".to_owned(),
                account_ids: vec!["u1".to_owned(), "u2".to_owned()],
                reason: "confirmed".to_owned(),
            },
        )
    }

    #[test]
    fn an_entry_as_the_ledger_writes_it_reads_as_that_entry_and_no_other_spelling_of_it_does() {
        let entry = entry();
        let line = entry.export_line();
        let (link, read) = read_export_line(&line).unwrap();
        assert_eq!(read.as_ref(), Some(&entry));
        assert_eq!(
            (link.seq, link.hash, link.canonical_form),
            (1, entry.hash, entry.canonical_form())
        );
        let forged = line.replacen('{', r#"{"actor":"api:forged","#, 1);
        let error = parse_export_line(&forged).unwrap_err();
        assert!(error.contains("the key `actor` appears twice"), "{error}");
        let respelt = line.replacen(':', ": ", 1);
        assert!(parse_export_line(&respelt).is_err(), "{respelt}");
    }

    #[test]
    fn a_key_twice_inside_a_list_is_refused_and_a_list_reads() {
        let listed = LINE.replacen(r#""a":"x""#, r#""a":[{"b":1},true,null,-1,0.5,"c"]"#, 1);
        assert!(parse_export_line(&listed).is_ok(), "{listed}");
        let twice = listed.replacen(r#"{"b":1}"#, r#"{"b":1,"b":2}"#, 1);
        let error = parse_export_line(&twice).unwrap_err();
        assert!(error.contains("the key `b` appears twice"), "{error}");
    }

    #[test]
    fn a_hash_member_is_read_as_given_and_refused_unless_a_hash() {
        let hash = "ab".repeat(32);
        let line = LINE.replacen(&"0".repeat(64), &hash, 1);
        assert_eq!(
            parse_export_line(&line).unwrap().hash,
            hash.parse::<Hash256>().unwrap()
        );
        let error = parse_export_line(&LINE.replacen(&"0".repeat(64), "zz", 1)).unwrap_err();
        assert!(error.starts_with("`hash`: "), "{error}");
        let error =
            parse_export_line(&LINE.replacen(r#""hash":"#, r#""hash":1,"h":"#, 1)).unwrap_err();
        assert!(
            error.contains("`hash` is missing or not a string"),
            "{error}"
        );
    }
}
