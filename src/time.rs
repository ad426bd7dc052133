//! The one timestamp type of the ledger: a UTC instant with microsecond precision.
//!
//! Every instant that enters an event goes through [`Timestamp`], so the canonical JSON of an
//! event (and therefore its hash) never depends on how precise a clock or an upstream API was.
//! In human-readable formats (JSON) it is always written as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, a fixed
//! width that sorts as text; in the binary storage codec it is a signed count of microseconds
//! since the Unix epoch. Instants are confined to the years 0001 to 9999, the range RFC 3339 can
//! write, so every stored or received value has a text form.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z, truncated to
/// whole microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a text could not be read as a [`Timestamp`].
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not an RFC 3339 timestamp (for example 2026-03-02T08:41:10Z): {reason}")]
pub struct TimestampError {
    text: String,
    reason: String,
}

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);
    /// The earliest instant: 0001-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800_000_000);
    /// The latest instant: 9999-12-31T23:59:59.999999Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999_999);

    /// Builds a timestamp from microseconds since the Unix epoch, if within the range.
    pub const fn from_micros(micros: i64) -> Option<Self> {
        if micros >= Self::MIN.0 && micros <= Self::MAX.0 {
            Some(Timestamp(micros))
        } else {
            None
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Converts a chrono instant, dropping anything finer than a microsecond, if within the
    /// range.
    pub fn from_datetime(instant: DateTime<Utc>) -> Option<Self> {
        Self::from_micros(instant.timestamp_micros())
    }

    /// The same instant as a chrono value.
    pub fn to_datetime(self) -> DateTime<Utc> {
        // The years 0001 to 9999 are well within chrono's range (about ±262,000 years), so this
        // conversion cannot fail.
        DateTime::from_timestamp_micros(self.0).expect("the timestamp range is within chrono's")
    }

    /// Reads the system clock. Only the edges of the program call this; the core receives time
    /// as an argument.
    pub fn now() -> Self {
        // A system clock outside the years 0001 to 9999 is broken beyond what any ledger can
        // record; saturating keeps the service running and the entry visibly wrong.
        Self::UNIX_EPOCH.saturating_add_micros(Utc::now().timestamp_micros())
    }

    /// This instant moved by a signed number of whole seconds, saturating at the ends of the
    /// range: the one place durations in seconds (grace periods, intervals) meet microseconds.
    pub fn saturating_add_seconds(self, seconds: i64) -> Self {
        self.saturating_add_micros(seconds.saturating_mul(1_000_000))
    }

    /// Microseconds from `earlier` to this instant, in whole seconds (rounded toward zero).
    pub fn seconds_since(self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0) / 1_000_000
    }

    /// This instant moved by a signed number of microseconds, saturating at the ends of the range.
    pub fn saturating_add_micros(self, micros: i64) -> Self {
        Timestamp(
            self.0
                .saturating_add(micros)
                .clamp(Self::MIN.0, Self::MAX.0),
        )
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| TimestampError {
            text: text.to_owned(),
            reason,
        };
        let instant =
            DateTime::parse_from_rfc3339(text).map_err(|reason| error(reason.to_string()))?;
        Self::from_datetime(instant.with_timezone(&Utc))
            .ok_or_else(|| error("it is outside the years 0001 to 9999 in UTC".to_owned()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(serde::de::Error::custom)
        } else {
            let micros = i64::deserialize(deserializer)?;
            Self::from_micros(micros).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{micros} microseconds since the epoch is outside the years 0001 to 9999"
                ))
            })
        }
    }
}

/// A source of the current instant. The edges of the program hold one and pass the instants it
/// gives down to the pure core; the demo and tests use [`ManualClock`] to let days pass in
/// milliseconds.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until it is moved.
#[derive(Debug)]
pub struct ManualClock {
    micros: std::sync::atomic::AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            micros: std::sync::atomic::AtomicI64::new(start.as_micros()),
        }
    }

    /// Moves the clock to `instant` (also backwards).
    pub fn set(&self, instant: Timestamp) {
        self.micros
            .store(instant.as_micros(), std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the clock forward by `duration`.
    pub fn advance(&self, duration: std::time::Duration) {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        self.set(self.now().saturating_add_micros(micros));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        let micros = self.micros.load(std::sync::atomic::Ordering::SeqCst);
        // Only `new` and `set` store values, and both take a `Timestamp`, so this is in range.
        Timestamp::from_micros(micros).expect("a manual clock holds a valid timestamp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_has_fixed_width_and_truncates_to_microseconds() {
        let parsed: Timestamp = "2026-03-02T09:41:10.123456789+01:00".parse().unwrap();
        assert_eq!(parsed.to_string(), "2026-03-02T08:41:10.123456Z");
        let whole: Timestamp = "2023-02-14T09:12:44Z".parse().unwrap();
        assert_eq!(whole.to_string(), "2023-02-14T09:12:44.000000Z");
    }

    #[test]
    fn tailscale_zero_time_is_representable() {
        let zero: Timestamp = "0001-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(zero.to_string(), "0001-01-01T00:00:00.000000Z");
    }

    #[test]
    fn instants_outside_the_years_1_to_9999_are_refused() {
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999999Z");
        assert_eq!(Timestamp::from_micros(Timestamp::MIN.as_micros() - 1), None);
        assert!("0001-01-01T00:00:00+01:00".parse::<Timestamp>().is_err());
        assert_eq!(Timestamp::MAX.saturating_add_micros(1), Timestamp::MAX);
        let bytes = bincode::serde::encode_to_vec(i64::MAX, bincode::config::standard()).unwrap();
        let decoded: Result<(Timestamp, usize), _> =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard());
        assert!(decoded.is_err());
    }

    #[test]
    fn bad_text_names_the_text() {
        let error = "yesterday".parse::<Timestamp>().unwrap_err();
        assert!(error.to_string().contains("`yesterday`"), "{error}");
    }

    #[test]
    fn json_uses_text_and_bincode_uses_micros() {
        let instant = Timestamp::from_micros(1_772_440_870_123_456).unwrap();
        assert_eq!(
            serde_json::to_string(&instant).unwrap(),
            "\"2026-03-02T08:41:10.123456Z\""
        );
        let bytes = bincode::serde::encode_to_vec(instant, bincode::config::standard()).unwrap();
        let (decoded, _): (Timestamp, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(decoded, instant);
        assert!(bytes.len() <= 9, "micros are stored as a varint, not text");
    }
}
