//! The bounds every listener keeps (the gRPC API, the webhook endpoint, the metrics endpoint):
//! how many connections it holds, what happens at that cap, and how it meets accept errors.
//!
//! - A [`Gate`] holds `max_connections` places. A connection that has not yet made a request
//!   (gRPC: sent a first byte; HTTP: sent complete request headers) is *waiting*; at the cap the
//!   oldest waiting connection is closed to make room, so a flood of silent or half-sent
//!   connections cannot lock out real clients, which send their request at once. When every place
//!   is held by a connection that has made a request, a new one is closed at once, never queued.
//! - An [`Acceptor`] backs off when accepting fails for want of a resource (out of file
//!   descriptors, `EMFILE`): [`AcceptBackoff`], 10 ms doubling to 1 s, and logs such failures at
//!   most once per [`ACCEPT_LOG_INTERVAL`] with the number it did not log ([`LogThrottle`]).
//! - [`http`]: the HTTP/1.1 listeners, with a header timeout and a body deadline besides.

pub mod http;

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub use http::{BodyDeadline, HttpLimits};

/// The first pause after a failed accept.
pub const FIRST_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// The longest pause after failed accepts.
pub const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// How often, at most, a listener logs its failed accepts.
pub const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// How long the acceptor waits for an evicted connection to let go of its place before it
/// closes the new one instead.
const ROOM_WAIT: Duration = Duration::from_secs(1);

/// The pauses between failed accepts: [`FIRST_ACCEPT_BACKOFF`], doubling up to
/// [`MAX_ACCEPT_BACKOFF`], back to the first after an accept succeeds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcceptBackoff {
    next: Option<Duration>,
}

impl AcceptBackoff {
    /// An accept failed: how long to pause before the next one.
    pub fn failed(&mut self) -> Duration {
        let pause = self.next.unwrap_or(FIRST_ACCEPT_BACKOFF);
        self.next = Some(pause.saturating_mul(2).min(MAX_ACCEPT_BACKOFF));
        pause
    }

    /// An accept succeeded.
    pub fn succeeded(&mut self) {
        self.next = None;
    }
}

/// Lets one log line through per interval and counts the ones it holds back.
#[derive(Clone, Debug)]
pub struct LogThrottle {
    interval: Duration,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    pub fn new(interval: Duration) -> Self {
        LogThrottle {
            interval,
            last_logged: None,
            suppressed: 0,
        }
    }

    /// Something worth a log line happened at `now`: `Some(n)` to log it, saying that `n` were
    /// not logged since the last line; `None` to count it and stay quiet.
    pub fn note(&mut self, now: Instant) -> Option<u64> {
        match self.last_logged {
            Some(last) if now.saturating_duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last_logged = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// A listener that backs off and logs sparingly when accepting fails.
pub struct Acceptor {
    listener: TcpListener,
    /// Which listener, in log lines: `grpc`, `webhook`, `metrics`.
    name: &'static str,
    backoff: AcceptBackoff,
    throttle: LogThrottle,
}

impl Acceptor {
    pub fn new(listener: TcpListener, name: &'static str) -> Self {
        Acceptor {
            listener,
            name,
            backoff: AcceptBackoff::default(),
            throttle: LogThrottle::new(ACCEPT_LOG_INTERVAL),
        }
    }

    /// The next connection, with Nagle's algorithm off (a small response must not wait for the
    /// client's delayed acknowledgement, about 40 ms a call). A connection the peer reset before
    /// it was accepted is skipped; any other failure (out of file descriptors) pauses the loop.
    pub async fn accept(&mut self) -> TcpStream {
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    self.backoff.succeeded();
                    let _ = stream.set_nodelay(true);
                    return stream;
                }
                Err(error) if peer_went_away(&error) => {}
                Err(error) => {
                    let pause = self.backoff.failed();
                    if let Some(suppressed) = self.throttle.note(Instant::now()) {
                        tracing::warn!(
                            listener = self.name,
                            suppressed,
                            pause_ms = pause.as_millis() as u64,
                            "could not accept a connection: {error}; pausing before the next accept ({suppressed} more such failures since the last line)"
                        );
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

/// A failure of one connection, not of the listener: nothing to wait out.
fn peer_went_away(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What the gate and a connection share about that connection.
#[derive(Default)]
pub struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    /// The connection made a request: no longer one to evict.
    established: bool,
    /// Closed to make room.
    evicted: bool,
    /// The task serving the connection, woken on eviction.
    waker: Option<Waker>,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        // Plain flags and a waker: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection made a request: it keeps its place.
    pub fn establish(&self) {
        self.lock().established = true;
    }

    /// Ready once the connection was evicted; otherwise wakes `cx` when it is.
    pub fn poll_evicted(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.evicted {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Completes once the connection was evicted.
    pub async fn evicted(&self) {
        poll_fn(|cx| self.poll_evicted(cx)).await;
    }

    /// Marks the connection evicted unless it is established; says whether it was.
    fn evict(&self) -> bool {
        let mut state = self.lock();
        if state.established {
            return false;
        }
        state.evicted = true;
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
        true
    }
}

/// A connection's place under the cap, given back when dropped.
pub struct Place {
    slot: Arc<Slot>,
    _permit: OwnedSemaphorePermit,
}

impl Place {
    pub fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }
}

/// The places of one listener.
pub struct Gate {
    name: &'static str,
    max_connections: usize,
    places: Arc<Semaphore>,
    /// The connections that have not made a request yet, oldest first (some may be gone).
    waiting: VecDeque<Weak<Slot>>,
    /// The cap was reached and not left since (logged once per such time).
    full: bool,
}

impl Gate {
    pub fn new(name: &'static str, max_connections: usize) -> Self {
        let max_connections = max_connections.max(1);
        Gate {
            name,
            max_connections,
            places: Arc::new(Semaphore::new(max_connections)),
            waiting: VecDeque::new(),
            full: false,
        }
    }

    /// A place for a new connection: a free one, or one taken from the oldest waiting
    /// connection; `None` when every place is held by a connection that made a request (the
    /// caller closes the new one).
    pub async fn admit(&mut self) -> Option<Place> {
        let permit = match self.places.clone().try_acquire_owned() {
            Ok(permit) => {
                self.full = false;
                permit
            }
            Err(_) => {
                if !self.full {
                    tracing::warn!(
                        listener = self.name,
                        max_connections = self.max_connections,
                        "at the connection limit: closing connections that have made no request to make room"
                    );
                    self.full = true;
                }
                self.waiting.retain(|slot| slot.strong_count() > 0);
                while let Some(slot) = self.waiting.pop_front() {
                    if slot.upgrade().is_some_and(|slot| slot.evict()) {
                        break;
                    }
                }
                match tokio::time::timeout(ROOM_WAIT, self.places.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    // Every place is held by a connection that talks: refuse this one.
                    _ => return None,
                }
            }
        };
        if self.waiting.len() > 2 * self.max_connections {
            self.waiting.retain(|slot| slot.strong_count() > 0);
        }
        let slot = Arc::new(Slot::default());
        self.waiting.push_back(Arc::downgrade(&slot));
        Some(Place {
            slot,
            _permit: permit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_10_ms_to_1_s_and_starts_over_after_a_success() {
        let mut backoff = AcceptBackoff::default();
        let pauses: Vec<u64> = (0..10)
            .map(|_| backoff.failed().as_millis() as u64)
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.failed(), FIRST_ACCEPT_BACKOFF);
    }

    #[test]
    fn the_throttle_logs_once_per_interval_and_counts_the_rest() {
        let start = Instant::now();
        let mut throttle = LogThrottle::new(Duration::from_secs(1));
        assert_eq!(throttle.note(start), Some(0));
        let quiet: Vec<_> = (1..=999)
            .map(|ms| throttle.note(start + Duration::from_millis(ms)))
            .collect();
        assert!(quiet.iter().all(Option::is_none));
        assert_eq!(throttle.note(start + Duration::from_secs(1)), Some(999));
        assert_eq!(throttle.note(start + Duration::from_millis(1500)), None);
        assert_eq!(throttle.note(start + Duration::from_secs(3)), Some(1));
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_waiting_connection_makes_room_and_established_ones_do_not() {
        let mut gate = Gate::new("test", 2);
        let first = gate.admit().await.unwrap();
        let second = gate.admit().await.unwrap();
        second.slot().establish();
        // The first waits: it is evicted, and its place goes once its connection lets go.
        let (third, ()) = tokio::join!(gate.admit(), async {
            first.slot().evicted().await;
            drop(first);
        });
        let third = third.unwrap();
        third.slot().establish();
        // Both places talk now: a new connection is refused.
        assert!(gate.admit().await.is_none());
        drop(second);
        assert!(gate.admit().await.is_some());
    }
}
