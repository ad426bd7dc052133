//! The server's connections, bounded (`[server]` in the configuration): how many, and how long
//! one may stay silent.
//!
//! tonic keeps a TCP connection for as long as its peer does, even one that never sends the
//! HTTP/2 preface; each costs a file descriptor and about 15 KB. So every accepted connection is
//! wrapped in a [`Guarded`] stream that counts against `max_connections` and fails its reads
//! once nothing arrived for `handshake_timeout` (before the first byte) or `idle_timeout`
//! (after; HTTP/2 keepalive pings make a live client answer well within it, so only a dead or
//! silent peer reaches it). The cap and the backoff on failed accepts are the ones every listener
//! keeps ([`crate::listener`]): a connection waits until its first byte, and at the cap the
//! oldest waiting one is closed to make room, so a flood of silent connections cannot lock out
//! real clients, which send their preface at once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::listener::{Acceptor, Gate, Place};

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

/// An accepted connection under the limits.
pub struct Guarded {
    stream: TcpStream,
    /// Its place under `max_connections`; established by its first byte.
    place: Place,
    /// Fires when the connection has been silent too long.
    silence: Pin<Box<Sleep>>,
    idle_timeout: Duration,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.place.slot().poll_evicted(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to make room: it sent nothing while the server was at its connection limit",
            )));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.place.slot().establish();
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

/// Accepts connections on `listener` under `limits` (see [`crate::listener`]: the cap, and the
/// backoff when accepting fails) and hands them over on the returned channel, until the
/// receiver is dropped.
pub fn accept(listener: TcpListener, limits: &ServerLimits) -> mpsc::Receiver<io::Result<Guarded>> {
    let (accepted, incoming) = mpsc::channel(16);
    let limits = limits.clone();
    tokio::spawn(async move {
        let mut acceptor = Acceptor::new(listener, "grpc");
        let mut gate = Gate::new("grpc", limits.max_connections);
        loop {
            let stream = tokio::select! {
                stream = acceptor.accept() => stream,
                () = accepted.closed() => return,
            };
            // Without a place the stream is dropped here: closed at once.
            let Some(place) = gate.admit().await else {
                continue;
            };
            let guarded = Guarded {
                stream,
                place,
                silence: Box::pin(tokio::time::sleep(limits.handshake_timeout)),
                idle_timeout: limits.idle_timeout,
            };
            if accepted.send(Ok(guarded)).await.is_err() {
                return;
            }
        }
    });
    incoming
}
