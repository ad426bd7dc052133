//! RFC 8785 (JCS) bytes of the fixed-shape objects the ledger hashes, written directly.
//!
//! Every object hashed by the ledger has a shape known at compile time: an entry
//! (docs/reference/ledger.md#canonical-form), its event (one shape per [`Event`] variant), an
//! export line (the entry with `"hash"`), and a listing of account snapshots. So the canonical form
//! is written straight into a [`Sink`] — a buffer or a SHA-256 state — member by member, with every
//! object's keys in JCS order spelled out in the code: no `serde_json::Value`, no allocation per
//! member, no sort at run time. All keys are ASCII, so JCS order (UTF-16 code units) is byte order;
//! [`Object`] checks in debug builds that each key sorts after the one before it.
//!
//! What JCS says about the values these objects hold:
//! - strings: `"` and `\` are escaped as `\"` and `\\`; U+0008, U+0009, U+000A, U+000C, U+000D
//!   as `\b`, `\t`, `\n`, `\f`, `\r`; the other controls below U+0020 as `\u00xx` (lowercase
//!   hex); everything else, U+007F, U+2028/2029 and astral-plane characters included, is written
//!   as its UTF-8 bytes;
//! - numbers are IEEE doubles written as ECMAScript does: a `u64` up to 2^53 is its decimal
//!   digits, a larger one the shortest digits of the nearest double, padded with zeros;
//! - `null` members are omitted from entries (see `entry`), but kept in listings, whose hash has
//!   always included them.
//!
//! The proptest `tests/it/canonical.rs` proves these bytes identical to `serde_json_canonicalizer`
//! applied to the `serde_json::Value` the code built before (the oracle), for every event type.

use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

use crate::event::{
    AccountSnapshot, Actor, ChangeActor, ChangeTarget, Classification, DeviceSnapshot,
    EmployeeRecord, Event, FieldChange, KeySnapshot, ReviewedAccount, SettingsRecord,
};
use crate::hash::Hash256;
use crate::time::Timestamp;

/// Where canonical bytes go.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    // Inlined so that the many writes of a length known at compile time (punctuation, keys)
    // become a few moves instead of a call to `memcpy` each.
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A SHA-256 state fed through a small buffer, so that the many short writes of a canonical form
/// cost a copy each rather than a call into the hash per token.
pub struct HashSink {
    state: Sha256,
    buffer: [u8; HashSink::BUFFER],
    filled: usize,
}

impl HashSink {
    /// A few SHA-256 blocks: most entries fit whole, so the hash is fed in one call.
    const BUFFER: usize = 512;

    pub fn new() -> Self {
        HashSink {
            state: Sha256::new(),
            buffer: [0; Self::BUFFER],
            filled: 0,
        }
    }

    /// The SHA-256 of everything put so far.
    pub fn finish(mut self) -> Hash256 {
        self.state.update(&self.buffer[..self.filled]);
        Hash256(self.state.finalize().into())
    }
}

impl Default for HashSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for HashSink {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        if self.filled + bytes.len() > Self::BUFFER {
            self.state.update(&self.buffer[..self.filled]);
            self.filled = 0;
            if bytes.len() > Self::BUFFER {
                self.state.update(bytes);
                return;
            }
        }
        self.buffer[self.filled..self.filled + bytes.len()].copy_from_slice(bytes);
        self.filled += bytes.len();
    }
}

/// An entry's chain hash and its Merkle leaf hash (docs/reference/ledger.md#merkle-tree) from one
/// writing of its canonical form: the bytes are kept in a buffer (a copy per token, as [`HashSink`]
/// does) and hashed twice at the end, the second time after a zero byte. Feeding two hash states
/// token by token would double the per-token work the writer is bound by; hashing the whole form
/// twice costs only the second SHA-256.
pub struct ChainAndLeafSink {
    bytes: Vec<u8>,
}

impl ChainAndLeafSink {
    pub fn new() -> Self {
        ChainAndLeafSink {
            bytes: Vec::with_capacity(HashSink::BUFFER),
        }
    }

    /// The chain hash and the leaf hash of everything put so far.
    pub fn finish(self) -> (Hash256, Hash256) {
        let chain = Sha256::digest(&self.bytes);
        let mut leaf = Sha256::new();
        leaf.update([0x00]);
        leaf.update(&self.bytes);
        (Hash256(chain.into()), Hash256(leaf.finalize().into()))
    }
}

impl Default for ChainAndLeafSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for ChainAndLeafSink {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }
}

/// Writes a JSON string in JCS form: quoted, with only the escapes RFC 8785 requires.
pub fn string(sink: &mut impl Sink, text: &str) {
    sink.put(b"\"");
    escaped(sink, text.as_bytes());
    sink.put(b"\"");
}

/// The inside of a JSON string: runs that need no escape are copied whole. Bytes of multi-byte
/// UTF-8 sequences are all 0x80 or above, so they are never split or escaped.
fn escaped(sink: &mut impl Sink, bytes: &[u8]) {
    let mut rest = bytes;
    while let Some(at) = first_to_escape(rest) {
        sink.put(&rest[..at]);
        let byte = rest[at];
        match byte {
            b'"' => sink.put(b"\\\""),
            b'\\' => sink.put(b"\\\\"),
            0x08 => sink.put(b"\\b"),
            b'\t' => sink.put(b"\\t"),
            b'\n' => sink.put(b"\\n"),
            0x0C => sink.put(b"\\f"),
            b'\r' => sink.put(b"\\r"),
            _ => sink.put(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xF)],
            ]),
        }
        rest = &rest[at + 1..];
    }
    sink.put(rest);
}

/// Where the first byte JSON escapes is, if any. Eight bytes are tested at a time (almost all
/// text has nothing to escape); a word that may hold one is then looked at byte by byte.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `word` is below `limit` (at most 0x80): exact for the word as a whole.
    let any_below = |word: u64, limit: u64| word.wrapping_sub(ONES * limit) & !word & HIGHS != 0;
    let any_equal = |word: u64, byte: u8| any_below(word ^ (ONES * u64::from(byte)), 1);
    let mut checked = 0;
    for word in bytes.chunks_exact(8) {
        let word = u64::from_ne_bytes(word.try_into().expect("chunks of 8 bytes"));
        if any_below(word, 0x20) || any_equal(word, b'"') || any_equal(word, b'\\') {
            break;
        }
        checked += 8;
    }
    bytes[checked..]
        .iter()
        .position(|&byte| NEEDS_ESCAPE[usize::from(byte)])
        .map(|at| checked + at)
}

const HEX: [u8; 16] = *b"0123456789abcdef";

/// The bytes JSON strings escape: the controls below U+0020, `"` and `\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Writes an unsigned integer as a JCS number (an ECMAScript double).
pub fn number(sink: &mut impl Sink, value: u64) {
    /// Every integer up to 2^53 is a double exactly, written as its digits.
    const EXACT: u64 = 1 << 53;
    if value <= EXACT {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        sink.put(&digits[at..]);
    } else {
        // Rust writes a double with the shortest digits that round-trip and never with an
        // exponent; below 10^21 (and u64::MAX is below it) that is exactly ECMAScript's
        // Number::toString.
        let mut text = String::with_capacity(24);
        write!(text, "{}", value as f64).expect("writing to a String cannot fail");
        sink.put(text.as_bytes());
    }
}

/// Writes a timestamp as the JSON string `"YYYY-MM-DDTHH:MM:SS.ffffffZ"`, the text
/// [`Timestamp`]'s `Display` gives, without going through chrono's formatter.
pub fn timestamp(sink: &mut impl Sink, instant: Timestamp) {
    const MICROS_PER_DAY: i64 = 86_400_000_000;
    let micros = instant.as_micros();
    let (days, in_day) = (
        micros.div_euclid(MICROS_PER_DAY),
        micros.rem_euclid(MICROS_PER_DAY),
    );
    let (year, month, day) = civil_from_days(days);
    let seconds = in_day / 1_000_000;
    let fraction = in_day % 1_000_000;
    let mut text = *b"\"0000-00-00T00:00:00.000000Z\"";
    put_digits(&mut text[1..5], year);
    put_digits(&mut text[6..8], month);
    put_digits(&mut text[9..11], day);
    put_digits(&mut text[12..14], seconds / 3600);
    put_digits(&mut text[15..17], seconds / 60 % 60);
    put_digits(&mut text[18..20], seconds % 60);
    put_digits(&mut text[21..27], fraction);
    sink.put(&text);
}

/// Writes `value` as decimal digits filling `into`, with leading zeros. Timestamps are confined
/// to the years 0001 to 9999, so every field fits its width.
fn put_digits(into: &mut [u8], mut value: i64) {
    for slot in into.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, exact for every day of every year).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Writes a hash as the JSON string of its 64 lowercase hex characters.
pub fn hash(sink: &mut impl Sink, value: &Hash256) {
    let mut text = [b'"'; 66];
    for (index, byte) in value.0.iter().enumerate() {
        text[1 + 2 * index] = HEX[usize::from(byte >> 4)];
        text[2 + 2 * index] = HEX[usize::from(byte & 0xF)];
    }
    sink.put(&text);
}

/// Writes an actor as the JSON string of its text form (`sync:tailscale`, `api:<token name>`…).
fn actor(sink: &mut impl Sink, actor: &Actor) {
    let (prefix, name): (&[u8], &str) = match actor {
        Actor::Sync(system) => (b"sync:", &system.0),
        Actor::Roster => (b"roster", ""),
        Actor::Config => (b"config", ""),
        Actor::Api(token_name) => (b"api:", token_name),
        Actor::Webhook(system) => (b"webhook:", &system.0),
        Actor::Demo => (b"demo", ""),
        Actor::RosterSource(source) => (b"roster:", source),
        Actor::Web(token_name) => (b"web:", token_name),
        Actor::Alerts => (b"alerts", ""),
        Actor::Witnesses => (b"witnesses", ""),
    };
    sink.put(b"\"");
    sink.put(prefix);
    escaped(sink, name.as_bytes());
    sink.put(b"\"");
}

/// A JSON object being written: members must come in JCS key order.
pub struct Object<'a, S: Sink> {
    sink: &'a mut S,
    /// The last key written, to check the order in debug builds; `None` before the first.
    last: Option<&'static str>,
}

impl<'a, S: Sink> Object<'a, S> {
    pub fn open(sink: &'a mut S) -> Self {
        sink.put(b"{");
        Object { sink, last: None }
    }

    /// Starts the member `key` and returns the sink for its value. Keys are ASCII without
    /// characters JSON escapes, written as they are.
    pub fn key(&mut self, key: &'static str) -> &mut S {
        debug_assert!(
            self.last.is_none_or(|last| last < key),
            "`{key}` written after `{:?}`: keys must be in JCS order",
            self.last
        );
        if self.last.is_some() {
            self.sink.put(b",");
        }
        self.last = Some(key);
        self.sink.put(b"\"");
        self.sink.put(key.as_bytes());
        self.sink.put(b"\":");
        self.sink
    }

    pub fn string(&mut self, key: &'static str, value: &str) {
        string(self.key(key), value);
    }

    /// A string member that is omitted when absent.
    fn optional_string(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.string(key, value);
        }
    }

    pub fn number(&mut self, key: &'static str, value: u64) {
        number(self.key(key), value);
    }

    pub fn boolean(&mut self, key: &'static str, value: bool) {
        self.key(key).put(if value {
            b"true".as_slice()
        } else {
            b"false".as_slice()
        });
    }

    pub fn timestamp(&mut self, key: &'static str, value: Timestamp) {
        timestamp(self.key(key), value);
    }

    pub fn hash(&mut self, key: &'static str, value: &Hash256) {
        hash(self.key(key), value);
    }

    fn strings(&mut self, key: &'static str, values: &[String]) {
        let sink = self.key(key);
        sink.put(b"[");
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                sink.put(b",");
            }
            string(sink, value);
        }
        sink.put(b"]");
    }

    pub fn close(self) {
        self.sink.put(b"}");
    }
}

/// The envelope (docs/reference/events.md#envelope) around an event, with the `"hash"` member of an
/// export line if given.
pub struct EntryFields<'a> {
    pub seq: u64,
    pub recorded_at: Timestamp,
    pub actor: &'a Actor,
    pub prev_hash: &'a Hash256,
    pub event: &'a Event,
    pub hash: Option<&'a Hash256>,
}

/// Writes the canonical entry object
/// `{"actor":…,"event":{…},["hash":…,]"prev_hash":…,"recorded_at":…,"seq":N,"v":1}`.
pub fn entry(sink: &mut impl Sink, fields: &EntryFields<'_>, version: u64) {
    let mut object = Object::open(sink);
    actor(object.key("actor"), fields.actor);
    event(object.key("event"), fields.event);
    if let Some(hash) = fields.hash {
        object.hash("hash", hash);
    }
    object.hash("prev_hash", fields.prev_hash);
    object.timestamp("recorded_at", fields.recorded_at);
    object.number("seq", fields.seq);
    object.number("v", version);
    object.close();
}

/// Writes the `"event"` member: `{"type":"<EventName>", …fields}` with absent fields omitted.
/// The match has no wildcard, so a new event type does not compile until it is written here.
pub fn event(sink: &mut impl Sink, event: &Event) {
    let mut object = Object::open(sink);
    let type_name = event.type_name();
    match event {
        Event::UserSeen { system, account } => {
            snapshot(object.key("account"), account, Nulls::Omit);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::UserRemoved {
            system,
            account_id,
            login_name,
            observed_at,
        } => {
            object.string("account_id", account_id);
            object.string("login_name", login_name);
            if let Some(observed_at) = observed_at {
                object.timestamp("observed_at", *observed_at);
            }
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::RoleChanged {
            system,
            account_id,
            login_name,
            from,
            to,
        }
        | Event::StatusChanged {
            system,
            account_id,
            login_name,
            from,
            to,
        } => {
            object.string("account_id", account_id);
            object.string("from", from);
            object.string("login_name", login_name);
            object.string("system", &system.0);
            object.string("to", to);
            object.string("type", type_name);
        }
        Event::EmployeeOnboarded { employee } => {
            employee_record(object.key("employee"), employee);
            object.string("type", type_name);
        }
        Event::EmployeeUpdated {
            employee_id,
            name,
            email,
            org_role,
        } => {
            if let Some(change) = email {
                string_change(object.key("email"), change);
            }
            object.string("employee_id", employee_id);
            if let Some(FieldChange { from, to }) = name {
                // An absent old or new name is a `null`, omitted like every other.
                let mut change = Object::open(object.key("name"));
                change.optional_string("from", from.as_deref());
                change.optional_string("to", to.as_deref());
                change.close();
            }
            if let Some(change) = org_role {
                string_change(object.key("org_role"), change);
            }
            object.string("type", type_name);
        }
        Event::EmployeeOffboarded {
            employee_id,
            effective_at,
            reason,
        } => {
            object.timestamp("effective_at", *effective_at);
            object.string("employee_id", employee_id);
            object.optional_string("reason", reason.as_deref());
            object.string("type", type_name);
        }
        Event::EmployeeReinstated {
            employee_id,
            reason,
        } => {
            object.string("employee_id", employee_id);
            object.optional_string("reason", reason.as_deref());
            object.string("type", type_name);
        }
        Event::AccountLinked {
            system,
            account_id,
            employee_id,
            reason,
        }
        | Event::AccountUnlinked {
            system,
            account_id,
            employee_id,
            reason,
        } => {
            object.string("account_id", account_id);
            object.string("employee_id", employee_id);
            object.string("reason", reason);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::AccountClassified {
            system,
            account_id,
            classification,
            owner_employee_id,
            reason,
        } => {
            object.string("account_id", account_id);
            object.string("classification", classification_name(*classification));
            object.optional_string("owner_employee_id", owner_employee_id.as_deref());
            object.string("reason", reason);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::AccountDeclassified {
            system,
            account_id,
            reason,
        } => {
            object.string("account_id", account_id);
            object.string("reason", reason);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::AccessPolicySet {
            system,
            allowed_org_roles,
            privileged_org_roles,
            offboarding_grace_seconds,
            reason,
        } => {
            object.strings("allowed_org_roles", allowed_org_roles);
            object.number("offboarding_grace_seconds", *offboarding_grace_seconds);
            object.strings("privileged_org_roles", privileged_org_roles);
            object.optional_string("reason", reason.as_deref());
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::SyncCompleted {
            system,
            sync_id,
            started_at,
            finished_at,
            accounts_observed,
            listing_sha256,
            events_appended,
        } => {
            object.number("accounts_observed", *accounts_observed);
            object.number("events_appended", *events_appended);
            object.timestamp("finished_at", *finished_at);
            object.hash("listing_sha256", listing_sha256);
            object.timestamp("started_at", *started_at);
            object.string("sync_id", sync_id);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::SyncFailed {
            system,
            sync_id,
            started_at,
            finished_at,
            error_class,
            message,
        } => {
            object.string("error_class", error_class.as_str());
            object.timestamp("finished_at", *finished_at);
            object.string("message", message);
            object.timestamp("started_at", *started_at);
            object.string("sync_id", sync_id);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::SyncAnomaly {
            system,
            sync_id,
            accounts_before,
            removals_withheld,
            withheld_account_ids,
        } => {
            object.number("accounts_before", *accounts_before);
            object.number("removals_withheld", *removals_withheld);
            object.string("sync_id", sync_id);
            object.string("system", &system.0);
            object.string("type", type_name);
            object.strings("withheld_account_ids", withheld_account_ids);
        }
        Event::CredentialObserved {
            system,
            credential_id,
            credential_kind,
            expires_at,
            invalid,
        } => {
            object.string("credential_id", credential_id);
            object.string("credential_kind", credential_kind.as_str());
            if let Some(expires_at) = expires_at {
                object.timestamp("expires_at", *expires_at);
            }
            if let Some(invalid) = invalid {
                object.boolean("invalid", *invalid);
            }
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::RemovalsConfirmed {
            system,
            sync_id,
            account_ids,
            reason,
        } => {
            object.strings("account_ids", account_ids);
            object.string("reason", reason);
            object.string("sync_id", sync_id);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::RosterRejected {
            sha256,
            problem_count,
            problems,
        } => {
            object.number("problem_count", *problem_count);
            let sink = object.key("problems");
            sink.put(b"[");
            for (index, problem) in problems.iter().enumerate() {
                if index > 0 {
                    sink.put(b",");
                }
                let mut member = Object::open(sink);
                member.optional_string("column", problem.column.as_deref());
                member.number("line", problem.line);
                member.string("reason", &problem.reason);
                member.close();
            }
            sink.put(b"]");
            object.hash("sha256", sha256);
            object.string("type", type_name);
        }
        Event::RosterAccepted { sha256 } => {
            object.hash("sha256", sha256);
            object.string("type", type_name);
        }
        Event::WebhookReceived {
            system,
            body_sha256,
            body_bytes,
            signed_at,
            event_count,
            events,
            body,
            starts_sync,
        } => {
            object.optional_string("body", body.as_deref());
            object.number("body_bytes", *body_bytes);
            object.hash("body_sha256", body_sha256);
            object.number("event_count", *event_count);
            let sink = object.key("events");
            sink.put(b"[");
            for (index, event) in events.iter().enumerate() {
                if index > 0 {
                    sink.put(b",");
                }
                let mut member = Object::open(sink);
                member.string("event_type", &event.event_type);
                if let Some(timestamp) = event.timestamp {
                    member.timestamp("timestamp", timestamp);
                }
                member.close();
            }
            sink.put(b"]");
            object.timestamp("signed_at", *signed_at);
            object.boolean("starts_sync", *starts_sync);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::SettingsChanged {
            system,
            settings,
            changed,
        } => {
            object.strings("changed", changed);
            settings_record(object.key("settings"), settings);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::ExceptionGranted {
            exception_id,
            system,
            check_id,
            account_id,
            employee_id,
            reason,
            evidence_ref,
            expires_at,
        } => {
            object.optional_string("account_id", account_id.as_deref());
            object.string("check_id", check_id);
            object.optional_string("employee_id", employee_id.as_deref());
            object.optional_string("evidence_ref", evidence_ref.as_deref());
            object.string("exception_id", exception_id);
            if let Some(expires_at) = expires_at {
                object.timestamp("expires_at", *expires_at);
            }
            object.string("reason", reason);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::ExceptionRevoked {
            exception_id,
            system,
            reason,
        } => {
            object.string("exception_id", exception_id);
            object.string("reason", reason);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::DeviceSeen { system, device } | Event::DeviceChanged { system, device } => {
            device_snapshot(object.key("device"), device);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::DeviceRemoved {
            system,
            device_id,
            name,
        } => {
            object.string("device_id", device_id);
            object.string("name", name);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::KeySeen { system, key } | Event::KeyChanged { system, key } => {
            key_snapshot(object.key("key"), key);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::KeyRemoved {
            system,
            key_id,
            description,
        } => {
            object.string("description", description);
            object.string("key_id", key_id);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::ChangeAttributed {
            system,
            event_time,
            event_group_id,
            origin,
            actor,
            action,
            target,
            old,
            new,
            error,
        } => {
            object.string("action", action);
            if let Some(actor) = actor {
                change_actor(object.key("actor"), actor);
            }
            object.optional_string("error", error.as_deref());
            object.string("event_group_id", event_group_id);
            object.timestamp("event_time", *event_time);
            object.optional_string("new", new.as_deref());
            object.optional_string("old", old.as_deref());
            object.string("origin", origin);
            object.string("system", &system.0);
            change_target(object.key("target"), target);
            object.string("type", type_name);
        }
        Event::AccessReviewStarted {
            review_id,
            system,
            pinned_seq,
            scope,
            population_sha256,
            population_count,
            part,
            parts,
            population,
            due_at,
            reviewers,
            action_grace_seconds,
            interval_seconds,
        } => {
            object.number("action_grace_seconds", *action_grace_seconds);
            object.timestamp("due_at", *due_at);
            object.number("interval_seconds", *interval_seconds);
            object.number("part", *part);
            object.number("parts", *parts);
            object.number("pinned_seq", *pinned_seq);
            reviewed_accounts(object.key("population"), population.iter());
            object.number("population_count", *population_count);
            object.hash("population_sha256", population_sha256);
            object.string("review_id", review_id);
            object.strings("reviewers", reviewers);
            object.string("scope", scope.as_str());
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::AccessReviewDecided {
            review_id,
            system,
            account_id,
            decision,
            reason,
            new_role,
            reviewer_employee_id,
        } => {
            object.string("account_id", account_id);
            object.string("decision", decision.as_str());
            object.optional_string("new_role", new_role.as_deref());
            object.string("reason", reason);
            object.string("review_id", review_id);
            object.string("reviewer_employee_id", reviewer_employee_id);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::AccessReviewCompleted {
            review_id,
            system,
            decided,
        } => {
            object.number("decided", *decided);
            object.string("review_id", review_id);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::AccessReviewReviewerReassigned {
            review_id,
            system,
            from_employee_id,
            to_employee_id,
            reason,
        } => {
            object.string("from_employee_id", from_employee_id);
            object.string("reason", reason);
            object.string("review_id", review_id);
            object.string("system", &system.0);
            object.string("to_employee_id", to_employee_id);
            object.string("type", type_name);
        }
        Event::AccessReviewCancelled {
            review_id,
            system,
            reason,
        } => {
            object.string("reason", reason);
            object.string("review_id", review_id);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::AlertDelivered {
            system,
            route,
            destination,
            notification_id,
            check_id,
            reason,
            subject,
            state,
            changed_at,
            delivered_at,
            digest_id,
        } => {
            object.timestamp("changed_at", *changed_at);
            object.string("check_id", check_id);
            object.timestamp("delivered_at", *delivered_at);
            object.string("destination", destination);
            object.optional_string("digest_id", digest_id.as_deref());
            object.string("notification_id", notification_id);
            object.string("reason", reason);
            object.string("route", route);
            object.string("state", state);
            object.string("subject", subject);
            object.string("system", &system.0);
            object.string("type", type_name);
        }
        Event::WitnessRefused {
            witness,
            old_size,
            size,
            root,
            answer,
        } => {
            object.string("answer", answer);
            object.number("old_size", *old_size);
            object.hash("root", root);
            object.number("size", *size);
            object.string("type", type_name);
            object.string("witness", witness);
        }
    }
    object.close();
}

/// Writes a JSON array of a review's accounts in the order given: the list an
/// `AccessReviewStarted` holds, and whose SHA-256 is its population digest.
pub fn reviewed_accounts<'a>(
    sink: &mut impl Sink,
    accounts: impl Iterator<Item = &'a ReviewedAccount>,
) {
    sink.put(b"[");
    for (index, account) in accounts.enumerate() {
        if index > 0 {
            sink.put(b",");
        }
        let mut object = Object::open(sink);
        object.string("account_id", &account.account_id);
        object.optional_string("employee_id", account.employee_id.as_deref());
        object.strings("findings", &account.findings);
        object.optional_string("link", account.link.as_deref());
        object.string("login_name", &account.login_name);
        object.optional_string("org_role", account.org_role.as_deref());
        object.string("role", &account.role);
        object.close();
    }
    sink.put(b"]");
}

/// The SHA-256 of the RFC 8785 form of a review's whole population list
/// (docs/reference/events.md#review-events): what anyone can recompute from the `population` arrays
/// of its `AccessReviewStarted` parts, concatenated in part order.
pub fn population_sha256<'a>(accounts: impl Iterator<Item = &'a ReviewedAccount>) -> Hash256 {
    let mut sink = HashSink::new();
    reviewed_accounts(&mut sink, accounts);
    sink.finish()
}

fn change_actor(sink: &mut impl Sink, actor: &ChangeActor) {
    let mut object = Object::open(sink);
    object.string("actor_type", &actor.actor_type);
    object.string("id", &actor.id);
    object.string("login_name", &actor.login_name);
    object.close();
}

fn change_target(sink: &mut impl Sink, target: &ChangeTarget) {
    let mut object = Object::open(sink);
    object.string("id", &target.id);
    object.string("name", &target.name);
    object.optional_string("property", target.property.as_deref());
    object.string("target_type", &target.target_type);
    object.close();
}

fn optional_timestamp(
    object: &mut Object<'_, impl Sink>,
    key: &'static str,
    value: Option<Timestamp>,
) {
    if let Some(value) = value {
        object.timestamp(key, value);
    }
}

fn device_snapshot(sink: &mut impl Sink, device: &DeviceSnapshot) {
    let mut object = Object::open(sink);
    object.boolean("authorized", device.authorized);
    optional_timestamp(&mut object, "created", device.created);
    optional_timestamp(&mut object, "expires", device.expires);
    object.string("id", &device.id);
    object.boolean("key_expiry_disabled", device.key_expiry_disabled);
    object.string("name", &device.name);
    object.string("os", &device.os);
    object.strings("tags", &device.tags);
    object.string("user", &device.user);
    object.close();
}

fn key_snapshot(sink: &mut impl Sink, key: &KeySnapshot) {
    let mut object = Object::open(sink);
    optional_timestamp(&mut object, "created", key.created);
    object.string("description", &key.description);
    optional_timestamp(&mut object, "expires", key.expires);
    object.string("id", &key.id);
    object.boolean("invalid", key.invalid);
    object.string("key_type", &key.key_type);
    object.boolean("reusable", key.reusable);
    optional_timestamp(&mut object, "revoked", key.revoked);
    object.strings("tags", &key.tags);
    object.string("user_id", &key.user_id);
    object.close();
}

/// The serde name of a classification (`rename_all = "snake_case"`).
fn classification_name(classification: Classification) -> &'static str {
    match classification {
        Classification::Service => "service",
        Classification::External => "external",
        Classification::Test => "test",
    }
}

fn string_change(sink: &mut impl Sink, change: &FieldChange<String>) {
    let mut object = Object::open(sink);
    object.string("from", &change.from);
    object.string("to", &change.to);
    object.close();
}

fn settings_record(sink: &mut impl Sink, settings: &SettingsRecord) {
    let mut object = Object::open(sink);
    let aliases = object.key("email_aliases");
    aliases.put(b"[");
    for (index, alias) in settings.email_aliases.iter().enumerate() {
        if index > 0 {
            aliases.put(b",");
        }
        let mut member = Object::open(aliases);
        member.string("from", &alias.from);
        member.string("to", &alias.to);
        member.close();
    }
    aliases.put(b"]");
    object.boolean("include_shared_users", settings.include_shared_users);
    object.number(
        "max_removal_fraction_millionths",
        settings.max_removal_fraction_millionths,
    );
    object.number(
        "removal_guard_hold_seconds",
        settings.removal_guard_hold_seconds,
    );
    object.boolean("suspended_is_removed", settings.suspended_is_removed);
    object.number("sync_interval_seconds", settings.sync_interval_seconds);
    object.string("timezone", &settings.timezone);
    object.close();
}

fn employee_record(sink: &mut impl Sink, employee: &EmployeeRecord) {
    let mut object = Object::open(sink);
    object.string("email", &employee.email);
    object.string("employee_id", &employee.employee_id);
    object.optional_string("name", employee.name.as_deref());
    object.string("org_role", &employee.org_role);
    if let Some(date) = employee.start_date {
        // chrono serialises a date through its `Debug` form (`2026-03-02`); digits and dashes
        // (and a sign outside the years 0 to 9999), which need no escape.
        let sink = object.key("start_date");
        let mut text = String::with_capacity(16);
        write!(text, "\"{date:?}\"").expect("writing to a String cannot fail");
        sink.put(text.as_bytes());
    }
    object.close();
}

/// What an absent optional member becomes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// Omitted, as in entries.
    Omit,
    /// Written as `null`, as in listings.
    Keep,
}

/// Writes an account snapshot: `{"created":…,"display_name":…,"id":…,"login_name":…,"role":…,
/// "status":…,"type":…}`.
pub fn snapshot(sink: &mut impl Sink, account: &AccountSnapshot, nulls: Nulls) {
    let mut object = Object::open(sink);
    match account.created {
        Some(created) => object.timestamp("created", created),
        None if nulls == Nulls::Keep => object.key("created").put(b"null"),
        None => {}
    }
    object.string("display_name", &account.display_name);
    object.string("id", &account.id);
    object.string("login_name", &account.login_name);
    object.string("role", &account.role);
    object.string("status", &account.status);
    object.string("type", &account.account_type);
    object.close();
}

/// Writes a JSON array of account snapshots, `null`s kept, in the order given.
pub fn snapshots<'a>(sink: &mut impl Sink, accounts: impl Iterator<Item = &'a AccountSnapshot>) {
    sink.put(b"[");
    for (index, account) in accounts.enumerate() {
        if index > 0 {
            sink.put(b",");
        }
        snapshot(sink, account, Nulls::Keep);
    }
    sink.put(b"]");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut bytes = Vec::new();
        write(&mut bytes);
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn strings_escape_only_what_jcs_requires() {
        assert_eq!(
            text(|sink| string(sink, "a\"b\\c\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}\u{2028}é𝄞/")),
            "\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}\u{2028}é𝄞/\""
        );
    }

    #[test]
    fn numbers_are_ecmascript_doubles() {
        for (value, expected) in [
            (0, "0"),
            (42, "42"),
            (1 << 53, "9007199254740992"),
            ((1 << 53) + 1, "9007199254740992"),
            (u64::MAX, "18446744073709552000"),
        ] {
            assert_eq!(text(|sink| number(sink, value)), expected);
        }
    }

    #[test]
    fn timestamps_match_their_display_at_the_ends_of_the_range() {
        for instant in [
            Timestamp::MIN,
            Timestamp::MAX,
            Timestamp::UNIX_EPOCH,
            Timestamp::UNIX_EPOCH.saturating_add_micros(-1),
            "2024-02-29T23:59:59.999999Z".parse().unwrap(),
        ] {
            assert_eq!(
                text(|sink| timestamp(sink, instant)),
                format!("\"{instant}\"")
            );
        }
    }

    #[test]
    fn the_hash_sink_hashes_what_a_buffer_would_hold() {
        let long = "x".repeat(3 * HashSink::BUFFER);
        let mut sink = HashSink::new();
        let mut buffer = Vec::new();
        for piece in ["a", &long, "b", &long[..HashSink::BUFFER - 1], "c"] {
            sink.put(piece.as_bytes());
            buffer.put(piece.as_bytes());
        }
        assert_eq!(sink.finish(), Hash256::of(&buffer));
    }
}
