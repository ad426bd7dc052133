//! What a point-in-time read is asked for (docs/reference/time-and-durability.md#as-of): an exact
//! instant, or a calendar date, which means the end of that day in the roster's timezone.
//!
//! The date is resolved where the timezone is known: by the service, with its
//! `roster.timezone` (UTC without a roster), so every client — the CLI, grpcurl, a script —
//! gets the same day for the same date.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::roster::{parse_date, start_of_next_day};
use crate::time::Timestamp;

/// A point-in-time read's instant, as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Instant(Timestamp),
    /// The end of this day in the roster's timezone (its last microsecond).
    Date(NaiveDate),
}

impl AsOf {
    /// The instant a date ends in `timezone`, or the instant itself. `None` for a date whose
    /// end is past the year 9999.
    pub fn resolve(self, timezone: Tz) -> Option<Timestamp> {
        match self {
            AsOf::Instant(instant) => Some(instant),
            AsOf::Date(day) => {
                start_of_next_day(day, timezone).map(|next| next.saturating_add_micros(-1))
            }
        }
    }

    /// When the day of a date starts in `timezone` (a date of today, still running, means
    /// now); the instant itself otherwise.
    pub fn starts(self, timezone: Tz) -> Option<Timestamp> {
        match self {
            AsOf::Instant(instant) => Some(instant),
            AsOf::Date(day) => day
                .pred_opt()
                .and_then(|before| start_of_next_day(before, timezone)),
        }
    }
}

impl From<Timestamp> for AsOf {
    fn from(instant: Timestamp) -> Self {
        AsOf::Instant(instant)
    }
}

/// Why a text is not an `as_of`.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is neither an RFC 3339 instant (2026-03-31T23:59:59Z) nor a date (2026-03-31: the end of that day in the server's roster.timezone)"
)]
pub struct AsOfError(String);

impl FromStr for AsOf {
    type Err = AsOfError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Some(day) = parse_date(text) {
            return Ok(AsOf::Date(day));
        }
        text.parse()
            .map(AsOf::Instant)
            .map_err(|_| AsOfError(text.to_owned()))
    }
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsOf::Instant(instant) => write!(f, "{instant}"),
            AsOf::Date(day) => write!(f, "{}", day.format("%Y-%m-%d")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_is_the_end_of_that_day_in_the_timezone() {
        let date: AsOf = "2026-03-31".parse().unwrap();
        let berlin = chrono_tz::Europe::Berlin;
        // Summer time in Berlin: UTC+2.
        assert_eq!(
            date.resolve(berlin),
            Some("2026-03-31T21:59:59.999999Z".parse().unwrap())
        );
        assert_eq!(
            date.starts(berlin),
            Some("2026-03-30T22:00:00Z".parse().unwrap())
        );
        assert_eq!(
            date.resolve(chrono_tz::UTC),
            Some("2026-03-31T23:59:59.999999Z".parse().unwrap())
        );
    }

    #[test]
    fn an_instant_is_itself_and_anything_else_is_refused_with_both_forms_named() {
        let instant: AsOf = "2026-03-31T12:00:00Z".parse().unwrap();
        assert_eq!(
            instant,
            AsOf::Instant("2026-03-31T12:00:00Z".parse().unwrap())
        );
        let refused = "31/03/2026".parse::<AsOf>().unwrap_err().to_string();
        assert!(
            refused.contains("RFC 3339") && refused.contains("date"),
            "{refused}"
        );
    }
}
