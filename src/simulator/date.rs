//! The `Date` a simulated server puts on every answer: its clock (the system's, or the one the
//! demo hands it), moved by an offset a test sets to play a server whose clock disagrees with
//! ours, or ours with it.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::tailscale::http_date;
use crate::time::{Clock, Timestamp};

/// A simulated server's clock; clones share it.
#[derive(Clone, Default)]
pub(super) struct ServerClock(Arc<Mutex<Reading>>);

#[derive(Default)]
struct Reading {
    /// The clock answers are dated by; the system clock when `None`.
    clock: Option<Arc<dyn Clock>>,
    /// Seconds added to it.
    offset_seconds: i64,
}

impl fmt::Debug for ServerClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerClock({})", self.now())
    }
}

impl ServerClock {
    /// The instant the server's clock reads.
    pub(super) fn now(&self) -> Timestamp {
        let reading = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        reading
            .clock
            .as_ref()
            .map_or_else(Timestamp::now, |clock| clock.now())
            .saturating_add_seconds(reading.offset_seconds)
    }

    pub(super) fn use_clock(&self, clock: Arc<dyn Clock>) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clock = Some(clock);
    }

    pub(super) fn set_offset(&self, seconds: i64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .offset_seconds = seconds;
    }
}

/// Dates the answer by the server's clock, as it leaves.
pub(super) async fn date_answers(
    State(clock): State<ServerClock>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let date = HeaderValue::from_str(&http_date(clock.now()))
        .expect("an HTTP date is a valid header value");
    response.headers_mut().insert(header::DATE, date);
    response
}
