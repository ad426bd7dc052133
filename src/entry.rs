//! Ledger entries and their hash chain (docs/reference/ledger.md#hash-chain).
//!
//! An [`Entry`] is an event in its envelope. Its **canonical form** is the RFC 8785 (JCS)
//! serialisation of
//! `{"v":1,"seq":N,"recorded_at":"…","actor":"…","prev_hash":"…","event":{"type":"…",…}}`
//! with `null` values omitted, and its hash is the SHA-256 of that form. The chain is independent
//! of how entries are stored: anyone with the canonical forms can recompute it. The form is
//! written directly by [`canonical`](crate::canonical), straight into the SHA-256 state when
//! only the hash is wanted.

use serde_json::{Map, Value};

use crate::canonical::{self, ChainAndLeafSink, EntryFields, HashSink, Sink};
use crate::event::{Actor, Event};
use crate::hash::{Digest, Hash256};
use crate::time::Timestamp;

/// The version of the entry object, the `"v"` key of the canonical form.
pub const ENTRY_VERSION: u64 = 1;

/// An event in its envelope, as appended to the ledger.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    /// Gap-free position in the ledger, from 1.
    pub seq: u64,
    /// When the ledger recorded the event (the ledger's clock).
    pub recorded_at: Timestamp,
    pub actor: Actor,
    /// The hash of the entry before this one; [`Hash256::ZERO`] for the first.
    pub prev_hash: Hash256,
    /// The SHA-256 of this entry's canonical form.
    pub hash: Hash256,
    pub event: Event,
}

/// Room for the canonical form of a typical entry (about 300 bytes), so it is written without
/// growing its buffer.
const TYPICAL_CANONICAL_BYTES: usize = 512;

impl Entry {
    /// Builds the entry that follows `prev` (or starts the chain when `prev` is `None`), with its
    /// hash computed.
    pub fn seal(prev: Option<Digest>, recorded_at: Timestamp, actor: Actor, event: Event) -> Self {
        let mut entry = Self::unsealed(prev, recorded_at, actor, event);
        entry.hash = entry.computed_hash();
        entry
    }

    /// Like [`Entry::seal`], also returning the entry's [`Entry::leaf_hash`], both from one
    /// writing of the canonical form (the ledger's append needs both).
    pub fn seal_with_leaf_hash(
        prev: Option<Digest>,
        recorded_at: Timestamp,
        actor: Actor,
        event: Event,
    ) -> (Self, Hash256) {
        let mut entry = Self::unsealed(prev, recorded_at, actor, event);
        let mut sink = ChainAndLeafSink::new();
        entry.write_canonical(&mut sink);
        let (hash, leaf) = sink.finish();
        entry.hash = hash;
        (entry, leaf)
    }

    /// The entry after `prev`, its own hash not yet computed (the canonical form omits it).
    fn unsealed(prev: Option<Digest>, recorded_at: Timestamp, actor: Actor, event: Event) -> Self {
        let (seq, prev_hash) = match prev {
            Some(digest) => (digest.seq + 1, digest.hash),
            None => (1, Hash256::ZERO),
        };
        Entry {
            seq,
            recorded_at,
            actor,
            prev_hash,
            hash: Hash256::ZERO,
            event,
        }
    }

    /// The head digest if this entry is the last one.
    pub fn digest(&self) -> Digest {
        Digest {
            seq: self.seq,
            hash: self.hash,
        }
    }

    /// Writes the exact bytes that are hashed into `sink`.
    pub fn write_canonical(&self, sink: &mut impl Sink) {
        canonical::entry(sink, &self.fields(None), ENTRY_VERSION);
    }

    /// The exact bytes that are hashed.
    pub fn canonical_form(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(TYPICAL_CANONICAL_BYTES);
        self.write_canonical(&mut bytes);
        bytes
    }

    /// The SHA-256 of the canonical form, as it should be; compare with [`Entry::hash`] to verify.
    /// The form is written straight into the hash state, never held whole.
    pub fn computed_hash(&self) -> Hash256 {
        let mut sink = HashSink::new();
        self.write_canonical(&mut sink);
        sink.finish()
    }

    /// The entry's leaf hash in the ledger's Merkle tree (docs/reference/ledger.md#merkle-tree):
    /// the SHA-256 of a zero byte and the canonical form, which is written straight into the hash
    /// state.
    pub fn leaf_hash(&self) -> Hash256 {
        let mut sink = HashSink::new();
        sink.put(&[0x00]);
        self.write_canonical(&mut sink);
        sink.finish()
    }

    /// One line of the JSON Lines export: the canonical entry object with `"hash"` added,
    /// itself in canonical form, without the trailing newline.
    pub fn export_line(&self) -> String {
        let mut bytes = Vec::with_capacity(TYPICAL_CANONICAL_BYTES + 80);
        canonical::entry(&mut bytes, &self.fields(Some(&self.hash)), ENTRY_VERSION);
        // The writer emits only ASCII punctuation and the UTF-8 of the entry's strings.
        String::from_utf8(bytes).expect("canonical JSON is UTF-8")
    }

    fn fields<'a>(&'a self, hash: Option<&'a Hash256>) -> EntryFields<'a> {
        EntryFields {
            seq: self.seq,
            recorded_at: self.recorded_at,
            actor: &self.actor,
            prev_hash: &self.prev_hash,
            event: &self.event,
            hash,
        }
    }
}

/// Why a canonical JSON text is not an entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a tailledger entry: {0}")]
pub struct EntryParseError(String);

impl Entry {
    /// Reads an entry from its canonical JSON (as `canonical_json` carries it) and its hash.
    /// The text must be exactly the canonical form of what it describes, so that what a client
    /// reads is what was hashed; the hash itself is checked by verification, not here.
    pub fn from_canonical_json(text: &str, hash: Hash256) -> Result<Entry, EntryParseError> {
        let Value::Object(object) = serde_json::from_str(text)
            .map_err(|error| EntryParseError(format!("invalid JSON: {error}")))?
        else {
            return Err(EntryParseError("not a JSON object".to_owned()));
        };
        let entry = Entry::from_json_object(object, hash)?;
        if entry.canonical_form() != text.as_bytes() {
            return Err(EntryParseError(
                "the text is not the canonical form of the entry it describes".to_owned(),
            ));
        }
        Ok(entry)
    }

    /// Reads an entry from the members of its JSON object (every member but `hash`) and its
    /// hash, whatever order or spacing they were written in.
    pub fn from_json_object(
        mut object: Map<String, Value>,
        hash: Hash256,
    ) -> Result<Entry, EntryParseError> {
        let fail = |reason: String| EntryParseError(reason);
        let mut take = |key: &str| {
            object
                .remove(key)
                .ok_or_else(|| fail(format!("`{key}` is missing")))
        };
        let version = take("v")?;
        if version != ENTRY_VERSION {
            return Err(fail(format!(
                "entry version {version} is not {ENTRY_VERSION}"
            )));
        }
        let seq = take("seq")?
            .as_u64()
            .ok_or_else(|| fail("`seq` is not a number".to_owned()))?;
        fn member<T: serde::de::DeserializeOwned>(
            value: Value,
            key: &str,
        ) -> Result<T, EntryParseError> {
            serde_json::from_value(value)
                .map_err(|error| EntryParseError(format!("`{key}`: {error}")))
        }
        let recorded_at = member(take("recorded_at")?, "recorded_at")?;
        let actor = member(take("actor")?, "actor")?;
        let prev_hash = member(take("prev_hash")?, "prev_hash")?;
        let Value::Object(mut event) = take("event")? else {
            return Err(fail("`event` is not an object".to_owned()));
        };
        let Some(Value::String(type_name)) = event.remove("type") else {
            return Err(fail("`event.type` is missing".to_owned()));
        };
        let tagged = Value::Object(Map::from_iter([(type_name, Value::Object(event))]));
        let event = member(tagged, "event")?;
        if !object.is_empty() {
            return Err(fail(format!(
                "unexpected members: {:?}",
                object.keys().collect::<Vec<_>>()
            )));
        }
        Ok(Entry {
            seq,
            recorded_at,
            actor,
            prev_hash,
            hash,
            event,
        })
    }
}

/// The `"event"` member as a JSON value: `{"type":"<EventName>", …fields}` with `null` values
/// removed, for readers that want to inspect events as JSON. Hashing never goes through it: it is
/// the serde path the direct writer is checked against.
pub fn event_object(event: &Event) -> Value {
    // Events have string keys and no floats, so conversion to a JSON value cannot fail.
    let externally_tagged = serde_json::to_value(event).expect("an event serialises to JSON");
    let Value::Object(tagged) = externally_tagged else {
        unreachable!("every event variant has fields, so serde tags it as an object")
    };
    let (type_name, fields) = tagged
        .into_iter()
        .next()
        .expect("an externally tagged enum value has exactly one key");
    let Value::Object(fields) = without_nulls(fields) else {
        unreachable!("every event variant is a struct variant")
    };
    let mut object = Map::with_capacity(fields.len() + 1);
    object.insert("type".to_owned(), Value::String(type_name));
    object.extend(fields);
    Value::Object(object)
}

/// Removes `null` members from objects at every depth, so that an absent optional value and a
/// field that did not exist yet when an event was recorded have the same canonical form.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, member)| !member.is_null())
                .map(|(key, member)| (key, without_nulls(member)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SystemId;

    fn removal() -> Event {
        Event::UserRemoved {
            system: SystemId::tailscale(),
            account_id: "u1".to_owned(),
            login_name: "a@example.com".to_owned(),
            observed_at: None,
        }
    }

    #[test]
    fn first_entry_starts_at_one_with_zero_prev_hash() {
        let entry = Entry::seal(None, Timestamp::UNIX_EPOCH, Actor::Demo, removal());
        assert_eq!((entry.seq, entry.prev_hash), (1, Hash256::ZERO));
        let next = Entry::seal(
            Some(entry.digest()),
            Timestamp::UNIX_EPOCH,
            Actor::Demo,
            removal(),
        );
        assert_eq!((next.seq, next.prev_hash), (2, entry.hash));
        assert_ne!(next.hash, entry.hash, "the seq and prev_hash are hashed");
    }

    #[test]
    fn the_leaf_hash_is_the_merkle_leaf_of_the_canonical_form_and_sealing_gives_both() {
        let entry = Entry::seal(None, Timestamp::UNIX_EPOCH, Actor::Demo, removal());
        let leaf = crate::merkle::leaf_hash(&entry.canonical_form());
        assert_eq!(entry.leaf_hash(), leaf);
        assert_ne!(leaf, entry.hash);
        let sealed =
            Entry::seal_with_leaf_hash(None, Timestamp::UNIX_EPOCH, Actor::Demo, removal());
        assert_eq!(sealed, (entry, leaf));
    }

    #[test]
    fn canonical_form_sorts_keys_and_names_the_event_type() {
        let entry = Entry::seal(None, Timestamp::UNIX_EPOCH, Actor::Demo, removal());
        let text = String::from_utf8(entry.canonical_form()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"actor":"demo","event":{{"account_id":"u1","login_name":"a@example.com","system":"tailscale","type":"UserRemoved"}},"prev_hash":"{}","recorded_at":"1970-01-01T00:00:00.000000Z","seq":1,"v":1}}"#,
                Hash256::ZERO
            )
        );
    }

    #[test]
    fn type_name_matches_the_serialised_tag() {
        let event = removal();
        assert_eq!(event_object(&event)["type"], event.type_name());
    }

    #[test]
    fn entries_read_back_from_their_canonical_json() {
        let entry = Entry::seal(None, Timestamp::UNIX_EPOCH, Actor::Demo, removal());
        let text = String::from_utf8(entry.canonical_form()).unwrap();
        assert_eq!(Entry::from_canonical_json(&text, entry.hash), Ok(entry));
        let spaced = text.replacen(':', ": ", 1);
        assert!(Entry::from_canonical_json(&spaced, Hash256::ZERO).is_err());
    }

    #[test]
    fn absent_optional_fields_are_omitted() {
        let event = Event::EmployeeReinstated {
            employee_id: "e1".to_owned(),
            reason: None,
        };
        let object = event_object(&event);
        assert!(object.get("reason").is_none(), "{object}");
    }
}
