//! The date and timezone rules of the roster (docs/reference/time-and-durability.md#roster-dates):
//! how `start_date` and `end_date` are written, and at which instant a last working day ends in the
//! configured timezone.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::mapping::RosterFormat;
use crate::time::Timestamp;

/// Reads an IANA timezone name such as `Europe/Berlin`, for the `[roster] timezone` setting.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.trim().parse().map_err(|_| {
        format!(
            "`{name}` is not a known timezone: expected an IANA name such as `UTC` or `Europe/Berlin`"
        )
    })
}

/// Reads a calendar date written exactly as `YYYY-MM-DD`.
///
/// chrono on its own also accepts one-digit months and days and signed years; the roster format
/// is the fixed-width one, so anything else is more likely a typo than a date.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let fixed_width = bytes.len() == 10
        && bytes
            .iter()
            .enumerate()
            .all(|(position, byte)| match position {
                4 | 7 => *byte == b'-',
                _ => byte.is_ascii_digit(),
            });
    if !fixed_width {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Reads an `end_date`: either the last working day, written as `format` says, which ends at the
/// start of the next day in `timezone`, or an exact RFC 3339 instant.
pub(super) fn parse_end_date(
    text: &str,
    timezone: Tz,
    format: &RosterFormat,
) -> Result<Timestamp, String> {
    if let Some(last_day) = format.date(text) {
        return start_of_next_day(last_day, timezone).ok_or_else(|| {
            format!("`{text}` is too late: the day after it is past the year 9999")
        });
    }
    text.parse().map_err(|_| {
        format!(
            "`{text}` is not a date ({}) or an RFC 3339 timestamp",
            format.date_shape()
        )
    })
}

/// The first instant of the day after `day` in `timezone`, if it is within the years of a
/// [`Timestamp`].
///
/// Where a daylight-saving change makes local midnight ambiguous, the earlier of the two instants
/// is taken; where it skips midnight, the first instant after the gap (the earliest valid instant
/// at or after midnight). Either way the person's access ends no later than the start of the day.
pub(crate) fn start_of_next_day(day: NaiveDate, timezone: Tz) -> Option<Timestamp> {
    let midnight = day.succ_opt()?.and_time(NaiveTime::MIN);
    let instant = match timezone.from_local_datetime(&midnight) {
        LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => {
            instant.with_timezone(&Utc)
        }
        LocalResult::None => first_instant_at_or_after(midnight, timezone)?,
    };
    Timestamp::from_datetime(instant)
}

/// The earliest whole second whose local time in `timezone` is at or after `local`.
///
/// chrono-tz does not expose its transitions, so this searches for the end of the gap. No UTC
/// offset in the tz database is 26 hours or more, so the local time 26 hours of real time before
/// `local` is before it, and 26 hours after is after it; within that window local time only
/// moves forward across `local`, and bisection finds the first second that reaches it.
/// Transitions happen at whole seconds, so a whole second is exact.
fn first_instant_at_or_after(local: NaiveDateTime, timezone: Tz) -> Option<DateTime<Utc>> {
    const WINDOW_SECONDS: i64 = 26 * 60 * 60;
    let local_as_utc = local.and_utc().timestamp();
    let reaches = |seconds: i64| {
        DateTime::from_timestamp(seconds, 0)
            .map(|instant| instant.with_timezone(&timezone).naive_local() >= local)
    };
    // Invariant: the local time at `before` is before `local`, the one at `after` is not.
    let (mut before, mut after) = (local_as_utc - WINDOW_SECONDS, local_as_utc + WINDOW_SECONDS);
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        if reaches(middle)? {
            after = middle;
        } else {
            before = middle;
        }
    }
    DateTime::from_timestamp(after, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(text: &str, timezone: &str) -> String {
        let timezone = parse_timezone(timezone).unwrap();
        match parse_end_date(text, timezone, &RosterFormat::default()) {
            Ok(instant) => instant.to_string(),
            Err(reason) => reason,
        }
    }

    #[test]
    fn a_last_working_day_ends_at_the_next_local_midnight() {
        assert_eq!(
            end("2026-02-27", "Europe/Berlin"),
            "2026-02-27T23:00:00.000000Z"
        );
        assert_eq!(end("2026-02-27", "UTC"), "2026-02-28T00:00:00.000000Z");
        assert_eq!(
            end("2026-02-27", "America/New_York"),
            "2026-02-28T05:00:00.000000Z"
        );
        // The end of a year and of a leap day.
        assert_eq!(
            end("2025-12-31", "Asia/Tokyo"),
            "2025-12-31T15:00:00.000000Z"
        );
        assert_eq!(end("2028-02-29", "UTC"), "2028-03-01T00:00:00.000000Z");
    }

    #[test]
    fn the_offset_of_the_next_day_counts_across_a_dst_change() {
        // Berlin moves to summer time at 02:00 on Sunday 2026-03-29: Saturday's next midnight is
        // still in winter time (+01:00), Sunday's is in summer time (+02:00).
        assert_eq!(
            end("2026-03-28", "Europe/Berlin"),
            "2026-03-28T23:00:00.000000Z"
        );
        assert_eq!(
            end("2026-03-29", "Europe/Berlin"),
            "2026-03-29T22:00:00.000000Z"
        );
        // And back on Sunday 2026-10-25.
        assert_eq!(
            end("2026-10-25", "Europe/Berlin"),
            "2026-10-25T23:00:00.000000Z"
        );
    }

    #[test]
    fn a_skipped_midnight_ends_at_the_first_instant_after_the_gap() {
        // Havana moves from 00:00 to 01:00 on 2024-03-10: there is no local midnight that day,
        // and the first local instant after it is 01:00 summer time (-04:00).
        assert_eq!(
            end("2024-03-09", "America/Havana"),
            "2024-03-10T05:00:00.000000Z"
        );
        // Santiago moves from 24:00 to 01:00 on 2024-09-07/08.
        assert_eq!(
            end("2024-09-07", "America/Santiago"),
            "2024-09-08T04:00:00.000000Z"
        );
    }

    #[test]
    fn an_ambiguous_midnight_ends_at_the_earlier_instant() {
        // Havana moves from 01:00 back to 00:00 on 2024-11-03, so midnight happens twice: first
        // in summer time (-04:00), then in winter time (-05:00).
        assert_eq!(
            end("2024-11-02", "America/Havana"),
            "2024-11-03T04:00:00.000000Z"
        );
    }

    #[test]
    fn an_rfc_3339_end_date_is_exact_whatever_the_timezone() {
        assert_eq!(
            end("2026-02-27T17:30:00+01:00", "America/New_York"),
            "2026-02-27T16:30:00.000000Z"
        );
        assert_eq!(
            end("2026-02-27T17:30:00Z", "Europe/Berlin"),
            "2026-02-27T17:30:00.000000Z"
        );
    }

    #[test]
    fn other_end_dates_are_refused_with_the_text() {
        for text in [
            "2026-13-01",
            "2026-2-27",
            "27.02.2026",
            "+2026-02-2",
            "2026-02-27 17:30",
            "",
        ] {
            assert_eq!(
                end(text, "UTC"),
                format!("`{text}` is not a date (YYYY-MM-DD) or an RFC 3339 timestamp")
            );
        }
        assert_eq!(
            end("9999-12-31", "UTC"),
            "`9999-12-31` is too late: the day after it is past the year 9999"
        );
        assert_eq!(end("9999-12-30", "UTC"), "9999-12-31T00:00:00.000000Z");
    }

    #[test]
    fn unknown_timezones_are_named() {
        assert_eq!(
            parse_timezone(" Europe/Berlin ").unwrap(),
            chrono_tz::Europe::Berlin
        );
        let error = parse_timezone("Europe/Atlantis").unwrap_err();
        assert!(
            error.contains("`Europe/Atlantis` is not a known timezone"),
            "{error}"
        );
    }
}
