//! The server's connections, bounded (`[server]` in the configuration): how many, and how long
//! one may stay silent.
//!
//! tonic keeps a TCP connection for as long as its peer does, even one that never sends the
//! HTTP/2 preface; each costs a file descriptor and about 15 KB. So every accepted connection is
//! wrapped in a [`Guarded`] stream that counts against `max_connections` and fails its reads
//! once nothing arrived for `handshake_timeout` (before the first byte) or `idle_timeout`
//! (after; HTTP/2 keepalive pings make a live client answer well within it, so only a dead or
//! silent peer reaches it). When the cap is reached, the oldest connection that has not sent a
//! byte yet is closed to make room, so a flood of silent connections cannot lock out real
//! clients, which send their preface at once.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// The limits on the server's connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections held at once.
    pub max_connections: usize,
    /// How long a new connection may stay silent before it is closed.
    pub handshake_timeout: Duration,
    /// How long an established connection may stay silent (no request, no ping answer).
    pub idle_timeout: Duration,
    /// How often the server pings an HTTP/2 connection.
    pub keepalive_interval: Duration,
    /// How long an unanswered ping may wait before the connection is closed.
    pub keepalive_timeout: Duration,
    /// Concurrent calls (streams) on one connection.
    pub max_concurrent_streams: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            max_concurrent_streams: 128,
        }
    }
}

/// What the acceptor and a connection share about that connection.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    /// A first byte arrived: the connection is a client's, no longer one to evict.
    established: bool,
    /// Closed to make room: its next read fails.
    evicted: bool,
    /// The task reading the connection, woken on eviction.
    reader: Option<Waker>,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        // Plain flags and a waker: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the connection evicted unless it is established; says whether it was.
    fn evict(&self) -> bool {
        let mut state = self.lock();
        if state.established {
            return false;
        }
        state.evicted = true;
        if let Some(reader) = state.reader.take() {
            reader.wake();
        }
        true
    }
}

/// An accepted connection under the limits.
pub struct Guarded {
    stream: TcpStream,
    slot: Arc<Slot>,
    /// Fires when the connection has been silent too long.
    silence: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        {
            let mut state = self.slot.lock();
            if state.evicted {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "closed to make room: it sent nothing while the server was at its connection limit",
                )));
            }
            state.reader = Some(cx.waker().clone());
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.slot.lock().established = true;
                    let deadline = Instant::now() + self.idle_timeout;
                    self.silence.as_mut().reset(deadline);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match self.silence.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection stayed silent too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl Connected for Guarded {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

/// How long the acceptor waits for an evicted connection to let go of its place before it
/// closes the new one instead.
const ROOM_WAIT: Duration = Duration::from_secs(1);

/// Accepts connections on `listener` under `limits` (with Nagle's algorithm off: a small
/// response must not wait for the client's delayed acknowledgement, about 40 ms a call) and
/// hands them over on the returned channel, until the receiver is dropped.
pub fn accept(listener: TcpListener, limits: &ServerLimits) -> mpsc::Receiver<io::Result<Guarded>> {
    let (accepted, incoming) = mpsc::channel(16);
    let places = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let limits = limits.clone();
    tokio::spawn(async move {
        let mut silent: VecDeque<Weak<Slot>> = VecDeque::new();
        let mut full = false;
        loop {
            let stream = tokio::select! {
                result = listener.accept() => match result {
                    Ok((stream, _)) => stream,
                    // A transient failure (out of file descriptors, a connection reset before it
                    // was accepted): say it and go on, as tonic's own acceptor does.
                    Err(error) => {
                        tracing::warn!("could not accept a connection: {error}");
                        continue;
                    }
                },
                () = accepted.closed() => return,
            };
            let _ = stream.set_nodelay(true);
            let permit = match places.clone().try_acquire_owned() {
                Ok(permit) => {
                    full = false;
                    permit
                }
                Err(_) => {
                    if !full {
                        tracing::warn!(
                            max_connections = limits.max_connections,
                            "at the connection limit: closing silent connections to make room"
                        );
                        full = true;
                    }
                    silent.retain(|slot| slot.strong_count() > 0);
                    while let Some(slot) = silent.pop_front() {
                        if slot.upgrade().is_some_and(|slot| slot.evict()) {
                            break;
                        }
                    }
                    match tokio::time::timeout(ROOM_WAIT, places.clone().acquire_owned()).await {
                        Ok(Ok(permit)) => permit,
                        // Every place is held by a connection that talks: refuse this one.
                        _ => continue,
                    }
                }
            };
            if silent.len() > 2 * limits.max_connections {
                silent.retain(|slot| slot.strong_count() > 0);
            }
            let slot = Arc::new(Slot::default());
            silent.push_back(Arc::downgrade(&slot));
            let guarded = Guarded {
                stream,
                slot,
                silence: Box::pin(tokio::time::sleep(limits.handshake_timeout)),
                idle_timeout: limits.idle_timeout,
                _permit: permit,
            };
            if accepted.send(Ok(guarded)).await.is_err() {
                return;
            }
        }
    });
    incoming
}
