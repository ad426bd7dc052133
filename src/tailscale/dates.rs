//! [`PeerClock`]: the `Date` header of each answer a peer (Tailscale, Truto) sends, read against
//! the local clock around the exchange, kept until the caller that needs the clock's trust (a
//! sync, a roster import) takes the worst of them.
//!
//! The transport reads the clock it is given (the service's), so a demo on a manual clock and a
//! simulator on the same clock agree. A missing or unreadable `Date` is no reading: a peer that
//! sends none cannot vouch for the local clock, nor against it.

use std::sync::{Arc, Mutex, PoisonError};

use reqwest::header::{DATE, HeaderMap};

use crate::skew::DateReading;
use crate::time::{Clock, SystemClock, Timestamp};

/// The local clock a transport reads, and the worst reading of its peer's `Date` since the
/// last [`PeerClock::take`].
pub struct PeerClock {
    peer: &'static str,
    clock: Arc<dyn Clock>,
    worst: Mutex<Option<DateReading>>,
}

impl std::fmt::Debug for PeerClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PeerClock({}, {})", self.peer, self.clock.now())
    }
}

impl PeerClock {
    /// `peer`'s answers read against the system clock.
    pub(crate) fn new(peer: &'static str) -> Self {
        PeerClock {
            peer,
            clock: Arc::new(SystemClock),
            worst: Mutex::new(None),
        }
    }

    /// Reads answers against `clock` from now on.
    pub(crate) fn use_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// The local clock, read as a request is sent.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Reads the `Date` of an answer to a request sent at `sent`, as it arrives.
    pub(crate) fn read(&self, headers: &HeaderMap, sent: Timestamp) {
        let received = self.clock.now();
        let Some(server) = headers
            .get(DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_http_date)
        else {
            return;
        };
        let reading = DateReading {
            peer: self.peer,
            server,
            sent,
            received,
        };
        let mut worst = self.worst.lock().unwrap_or_else(PoisonError::into_inner);
        *worst = Some(worst.map_or(reading, |worst| worst.worse(reading)));
    }

    /// The reading whose clocks differed most since the last call, forgetting it.
    pub fn take(&self) -> Option<DateReading> {
        self.worst
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, the form servers send), if `text` is one.
pub(crate) fn parse_http_date(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .and_then(|date| Timestamp::from_datetime(date.with_timezone(&chrono::Utc)))
}

/// `at` as an HTTP date, whole seconds.
pub fn http_date(at: Timestamp) -> String {
    at.to_datetime()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;

    #[test]
    fn http_dates_are_read_and_written_in_whole_seconds() {
        let at: Timestamp = "2026-12-07T18:09:23.654321Z".parse().unwrap();
        let text = http_date(at);
        assert_eq!(text, "Mon, 07 Dec 2026 18:09:23 GMT");
        assert_eq!(
            parse_http_date(&text),
            Some("2026-12-07T18:09:23Z".parse().unwrap())
        );
        for bad in ["", "yesterday", "Mon, 07 Dec 2026 25:09:23 GMT", "\u{202e}"] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_worst_reading_is_kept_until_taken() {
        let clock = Arc::new(ManualClock::new("2026-12-07T18:00:00Z".parse().unwrap()));
        let mut peer = PeerClock::new("Tailscale");
        peer.use_clock(clock.clone());
        let headers = |date: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(DATE, date.parse().unwrap());
            headers
        };
        let sent = peer.now();
        peer.read(&headers("Mon, 07 Dec 2026 18:00:00 GMT"), sent);
        peer.read(&headers("Mon, 07 Dec 2026 18:05:00 GMT"), sent);
        peer.read(&headers("Mon, 07 Dec 2026 18:01:00 GMT"), sent);
        peer.read(&headers("not a date"), sent);
        peer.read(&HeaderMap::new(), sent);
        let worst = peer.take().unwrap();
        assert_eq!(worst.skew_micros(), 300_000_000);
        assert_eq!(peer.take(), None);
    }
}
