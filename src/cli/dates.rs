//! One rule for the dates the command line takes (docs/reference/cli.md#dates): every flag that
//! takes an instant takes RFC 3339 or a date `YYYY-MM-DD` ([`AsOf`], the one parser), and a date
//! is read in the ledger's `roster.timezone`: the server's for online commands (it says which in
//! `GetDigest`), the one the export recorded for offline ones (UTC when none was recorded), so
//! both read a date alike. A flag that opens a span (`--from`, `--effective-at`) takes the start
//! of the day; one that closes it (`--to`, `--as-of`, `--due`, `--expires-at`) its end. Each date
//! read is told on standard error with the timezone and the instant it became.

use chrono_tz::Tz;

use super::Failure;
use crate::api::client::{ApiClient, ClientError};
use crate::as_of::AsOf;
use crate::time::Timestamp;

/// Which end of its day a date stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// The day's first instant (`--from`, `--effective-at`).
    Start,
    /// The day's last microsecond (`--to`, `--as-of`, `--due`, `--expires-at`).
    End,
}

/// Where the timezone a date is read in comes from, as the note on standard error says it.
#[derive(Clone, Copy, Debug)]
pub struct Zone {
    pub timezone: Tz,
    pub whose: &'static str,
}

impl Zone {
    /// The server's `roster.timezone`, asked of it when one of `values` is a date (else no
    /// date is read, and nothing is asked).
    pub async fn of_server(
        client: &mut ApiClient,
        values: &[Option<AsOf>],
    ) -> Result<Zone, ClientError> {
        let timezone = match any_date(values) {
            true => client.timezone().await?,
            false => chrono_tz::UTC,
        };
        Ok(Zone {
            timezone,
            whose: "the server's roster.timezone",
        })
    }
}

/// The instant `value` of `flag` stands for: itself, or the `edge` of its day in `zone`. A
/// date is told on standard error with the timezone it was read in.
pub fn instant(flag: &str, value: AsOf, edge: Edge, zone: Zone) -> Result<Timestamp, Failure> {
    let resolved = match edge {
        Edge::Start => value.starts(zone.timezone),
        Edge::End => value.resolve(zone.timezone),
    };
    let Some(instant) = resolved else {
        return Err(Failure::input(format!(
            "{flag} {value}: the day does not fit the years 0001 to 9999 in {}",
            zone.timezone
        )));
    };
    if let AsOf::Date(_) = value {
        tell(flag, value, edge, zone, &instant.to_string());
    }
    Ok(instant)
}

/// [`instant`] for an optional flag.
pub fn maybe_instant(
    flag: &str,
    value: Option<AsOf>,
    edge: Edge,
    zone: Zone,
) -> Result<Option<Timestamp>, Failure> {
    value
        .map(|value| instant(flag, value, edge, zone))
        .transpose()
}

/// Tells on standard error how a date resolved elsewhere (by the server, or by the service over
/// a replayed export) is read.
pub fn tell_date(flag: &str, value: Option<AsOf>, edge: Edge, zone: Zone) {
    if let Some(value @ AsOf::Date(_)) = value {
        let resolved = match edge {
            Edge::Start => value.starts(zone.timezone),
            Edge::End => value.resolve(zone.timezone),
        };
        let instant = resolved.map_or_else(|| "beyond 9999".to_owned(), |at| at.to_string());
        tell(flag, value, edge, zone, &instant);
    }
}

fn tell(flag: &str, value: AsOf, edge: Edge, zone: Zone, instant: &str) {
    let which = match edge {
        Edge::Start => "start",
        Edge::End => "end",
    };
    eprintln!(
        "{flag} {value}: the {which} of that day in {} ({}), {instant}",
        zone.timezone, zone.whose
    );
}

/// Whether any of `values` is a date, so the timezone must be known.
pub fn any_date(values: &[Option<AsOf>]) -> bool {
    values
        .iter()
        .any(|value| matches!(value, Some(AsOf::Date(_))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Zone {
        Zone {
            timezone: chrono_tz::Europe::Berlin,
            whose: "a test",
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_date_opens_at_its_first_instant_and_closes_at_its_last_microsecond() {
        // Berlin's summer time starts on 2026-03-29 at 02:00: that day is 23 hours long.
        let day: AsOf = "2026-03-29".parse().unwrap();
        assert_eq!(
            instant("--from", day, Edge::Start, berlin()).unwrap(),
            at("2026-03-28T23:00:00Z")
        );
        assert_eq!(
            instant("--to", day, Edge::End, berlin()).unwrap(),
            at("2026-03-29T21:59:59.999999Z")
        );
        // One microsecond apart: consecutive days leave no gap and do not overlap.
        let before: AsOf = "2026-03-28".parse().unwrap();
        assert_eq!(
            instant("--to", before, Edge::End, berlin())
                .unwrap()
                .saturating_add_micros(1),
            at("2026-03-28T23:00:00Z")
        );
    }

    #[test]
    fn an_instant_is_itself_whatever_the_edge_and_a_day_past_9999_is_refused() {
        let exact: AsOf = "2026-03-29T12:00:00+02:00".parse().unwrap();
        for edge in [Edge::Start, Edge::End] {
            assert_eq!(
                instant("--due", exact, edge, berlin()).unwrap(),
                at("2026-03-29T10:00:00Z")
            );
        }
        let last: AsOf = "9999-12-31".parse().unwrap();
        let utc = Zone {
            timezone: chrono_tz::UTC,
            whose: "a test",
        };
        let refused = instant("--to", last, Edge::End, utc).unwrap_err();
        assert!(
            refused.message.contains("--to 9999-12-31"),
            "{}",
            refused.message
        );
    }
}
