//! Whether the local clock can be vouched for: against the `Date` of an outside system's answer,
//! and against the instant the ledger's last entry was recorded at.
//!
//! Every entry is stamped with the local clock, and `recorded_at` never goes backwards, so one
//! batch stamped by a clock that ran fast would drag every later entry into the future with it.
//! Two rules keep that from happening, both pure functions of instants handed in:
//!
//! - a sync reads the `Date` header of each answer of Tailscale (or Truto) and compares it with
//!   the local clock around the exchange ([`DateReading`]); beyond the tolerance
//!   (`[server] max_clock_skew`) nothing of the sync is recorded ([`ClockSkew`]);
//! - a batch is stamped with now, or with the last entry's instant when the clock reads a little
//!   before it (within the tolerance), and refused when the clock reads further behind
//!   ([`stamp`], [`ClockBehind`]), rather than stamped with an instant nobody measured.

use std::fmt;
use std::time::Duration;

use crate::time::Timestamp;

/// The default of `[server] max_clock_skew`.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(120);

/// The precision of an HTTP `Date`: whole seconds, the fraction cut off.
const DATE_PRECISION_MICROS: i64 = 1_000_000;

/// One answer's `Date` header read against the local clock around the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateReading {
    /// Who answered: `Tailscale` or `Truto`.
    pub peer: &'static str,
    /// The answer's `Date`, in whole seconds.
    pub server: Timestamp,
    /// The local clock when the request was sent.
    pub sent: Timestamp,
    /// The local clock when the answer arrived.
    pub received: Timestamp,
}

impl DateReading {
    /// How far the peer's clock is ahead of the local one, in microseconds (negative: behind).
    /// The peer wrote its `Date` at some instant of the exchange, cut to the second, so any
    /// `Date` from a second before `sent` to `received` agrees with the local clock (zero); a
    /// later one is ahead by its distance from `received`, an earlier one behind by its
    /// distance from `sent`.
    pub fn skew_micros(&self) -> i64 {
        let earliest = self.sent.saturating_add_micros(-DATE_PRECISION_MICROS);
        if self.server > self.received {
            self.server.as_micros() - self.received.as_micros()
        } else if self.server < earliest {
            self.server.as_micros() - self.sent.as_micros()
        } else {
            0
        }
    }

    /// The reading, or the refusal to record anything on its strength when the clocks differ by
    /// more than `tolerance` (exactly `tolerance` is accepted).
    pub fn judge(self, tolerance: Duration) -> Result<Self, ClockSkew> {
        if self.skew_micros().unsigned_abs() > micros(tolerance) {
            return Err(ClockSkew {
                reading: self,
                tolerance,
            });
        }
        Ok(self)
    }

    /// Of two readings, the one whose clocks differ more (the first on a tie).
    pub fn worse(self, other: DateReading) -> DateReading {
        if other.skew_micros().unsigned_abs() > self.skew_micros().unsigned_abs() {
            other
        } else {
            self
        }
    }
}

/// A peer's `Date` and the local clock differ by more than the tolerance: nothing that depended
/// on the local clock was recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the local clock read {} when {}'s answer was dated {} (its Date header): {}, beyond the {} that `[server] max_clock_skew` allows, so nothing was recorded; correct the local clock (NTP)",
    reading.received, reading.peer, reading.server, Skew(reading), humantime::format_duration(*tolerance)
)]
pub struct ClockSkew {
    pub reading: DateReading,
    pub tolerance: Duration,
}

/// "the local clock is 30days behind Tailscale's", in words.
struct Skew<'a>(&'a DateReading);

impl fmt::Display for Skew<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let skew = self.0.skew_micros();
        let by = humantime::format_duration(Duration::from_secs(skew.unsigned_abs() / 1_000_000));
        let way = if skew > 0 { "behind" } else { "ahead of" };
        write!(f, "the local clock is {by} {way} {}'s", self.0.peer)
    }
}

/// The local clock reads further before the last entry's instant than the tolerance allows: a
/// batch would have to be stamped with an instant nobody measured, so nothing was recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the local clock reads {now}, {} before the last entry of the ledger (recorded at {head}), more than the {} that `[server] max_clock_skew` allows, so nothing was recorded rather than stamped with an instant the ledger cannot vouch for; correct the local clock (a ledger written while it ran fast takes writes again from {})",
    humantime::format_duration(Duration::from_micros(head.as_micros().abs_diff(now.as_micros()))),
    humantime::format_duration(*tolerance),
    head.saturating_add_micros(-i64::try_from(micros(*tolerance)).unwrap_or(i64::MAX))
)]
pub struct ClockBehind {
    pub now: Timestamp,
    pub head: Timestamp,
    pub tolerance: Duration,
}

/// The instant a batch decided `now` is recorded at, after the last entry recorded at `head`:
/// `now`, or `head` when the clock reads up to `tolerance` before it (`recorded_at` never goes
/// backwards); further before it, [`ClockBehind`].
pub fn stamp(
    now: Timestamp,
    head: Timestamp,
    tolerance: Duration,
) -> Result<Timestamp, ClockBehind> {
    if now >= head {
        return Ok(now);
    }
    if head.as_micros().abs_diff(now.as_micros()) > micros(tolerance) {
        return Err(ClockBehind {
            now,
            head,
            tolerance,
        });
    }
    Ok(head)
}

/// `duration` in whole microseconds, saturating.
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH.saturating_add_seconds(1_800_000_000 + seconds)
    }

    fn reading(server: Timestamp, sent: Timestamp, received: Timestamp) -> DateReading {
        DateReading {
            peer: "Tailscale",
            server,
            sent,
            received,
        }
    }

    const TOLERANCE: Duration = Duration::from_secs(120);

    #[test]
    fn a_date_within_the_exchange_or_the_second_before_it_is_no_skew() {
        for server in [at(-1), at(0), at(3)] {
            assert_eq!(reading(server, at(0), at(3)).skew_micros(), 0, "{server}");
        }
        let just_before = at(-1).saturating_add_micros(-1);
        assert_eq!(reading(just_before, at(0), at(3)).skew_micros(), -1_000_001);
        let just_after = at(3).saturating_add_micros(1);
        assert_eq!(reading(just_after, at(0), at(3)).skew_micros(), 1);
    }

    #[test]
    fn skew_is_judged_at_the_exact_tolerance() {
        let limit = 120_000_000;
        let ahead = |micros: i64| reading(at(0).saturating_add_micros(micros), at(0), at(0));
        assert!(ahead(limit).judge(TOLERANCE).is_ok());
        assert!(ahead(limit + 1).judge(TOLERANCE).is_err());
        let behind = |micros: i64| reading(at(0).saturating_add_micros(-micros), at(0), at(0));
        assert!(behind(limit).judge(TOLERANCE).is_ok());
        let refused = behind(limit + 1).judge(TOLERANCE).unwrap_err();
        assert_eq!(refused.reading.skew_micros(), -(limit + 1));
    }

    #[test]
    fn a_refusal_names_both_clocks_the_skew_and_the_tolerance() {
        let thirty_days = 30 * 24 * 3600;
        let fast = reading(at(0), at(thirty_days), at(thirty_days));
        let message = fast.judge(TOLERANCE).unwrap_err().to_string();
        for part in [
            at(thirty_days).to_string().as_str(),
            at(0).to_string().as_str(),
            "Tailscale",
            "the local clock is 30days",
            "ahead of Tailscale's",
            "2m",
            "max_clock_skew",
            "nothing was recorded",
        ] {
            assert!(message.contains(part), "{part} in {message}");
        }
        let slow = reading(at(thirty_days), at(0), at(0));
        let message = slow.judge(TOLERANCE).unwrap_err().to_string();
        assert!(message.contains("30days behind Tailscale's"), "{message}");
    }

    #[test]
    fn the_worse_of_two_readings_differs_more() {
        let fine = reading(at(0), at(0), at(0));
        let off = reading(at(-300), at(0), at(0));
        assert_eq!(fine.worse(off), off);
        assert_eq!(off.worse(fine), off);
        assert_eq!(fine.worse(fine), fine);
        // On a tie, the first: a clock as far ahead as another is behind.
        let ahead = reading(at(300), at(0), at(0));
        assert_eq!(ahead.worse(off), ahead);
        assert_eq!(off.worse(ahead), off);
    }

    #[test]
    fn a_batch_is_stamped_now_or_with_the_head_within_the_tolerance() {
        let head = at(1_000);
        assert_eq!(stamp(at(1_001), head, TOLERANCE), Ok(at(1_001)));
        assert_eq!(stamp(head, head, TOLERANCE), Ok(head));
        let at_limit = head.saturating_add_micros(-120_000_000);
        assert_eq!(stamp(at_limit, head, TOLERANCE), Ok(head));
        let beyond = at_limit.saturating_add_micros(-1);
        let refused = stamp(beyond, head, TOLERANCE).unwrap_err();
        assert_eq!(
            refused,
            ClockBehind {
                now: beyond,
                head,
                tolerance: TOLERANCE
            }
        );
        let message = refused.to_string();
        for part in [
            beyond.to_string(),
            head.to_string(),
            at_limit.to_string(),
            "2m".to_owned(),
            "nothing was recorded".to_owned(),
        ] {
            assert!(message.contains(&part), "{part} in {message}");
        }
    }
}
