//! The HTTP/1.1 listeners (the webhook, metrics and tiles endpoints, the web console), served
//! under [`HttpLimits`], over TLS when given a server configuration: each connection holds a
//! place of the listener's [`Gate`] and counts as waiting until its first request's headers are
//! in; a TLS handshake must finish within `header_timeout` of the connection's start; the headers of every request must arrive within `header_timeout`
//! (hyper's header read timeout, which also runs while a kept-alive connection sits idle
//! between requests); a request's whole body must arrive within `body_timeout` of its headers,
//! or reading it fails with [`BodyDeadline`], so a body sent a byte at a time frees whatever it
//! holds at the deadline.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::Request;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::{Acceptor, Gate, Place};

/// The bounds of an HTTP listener (`[webhook]`, `[metrics]`, `[tiles]` and `[web]` in the
/// configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections held at once.
    pub max_connections: usize,
    /// How long a request's headers may take to arrive, counted from the connection's start or
    /// the end of its previous response.
    pub header_timeout: Duration,
    /// How long a request's whole body may take to arrive, counted from its headers.
    pub body_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` completes, then lets the
/// requests in flight finish. `name` tells the listener apart in log lines.
pub async fn serve(
    listener: TcpListener,
    name: &'static str,
    router: Router,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    serve_tls(listener, name, router, limits, None, shutdown).await;
}

/// [`serve`], over TLS with `tls` when it is given.
pub async fn serve_tls(
    listener: TcpListener,
    name: &'static str,
    router: Router,
    limits: &HttpLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) {
    let tls = tls.map(TlsAcceptor::from);
    let mut acceptor = Acceptor::new(listener, name);
    let mut gate = Gate::new(name, limits.max_connections);
    // Connections watch `stopping` to finish gracefully; each holds a `running` receiver, so
    // the sender is closed once they are all gone.
    let (stop, stopping) = watch::channel(false);
    let (all_done, running) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            stream = acceptor.accept() => stream,
            () = &mut shutdown => break,
        };
        // Without a place the stream is dropped here: closed at once.
        if let Some(place) = gate.admit().await {
            tokio::spawn(connection(
                stream,
                tls.clone(),
                place,
                router.clone(),
                limits.clone(),
                stopping.clone(),
                running.clone(),
            ));
        }
    }
    drop(acceptor);
    stop.send_replace(true);
    drop(running);
    all_done.closed().await;
}

/// Serves one connection, after its TLS handshake when `tls` is given, until it ends, is
/// evicted, or the listener stops.
async fn connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    place: Place,
    router: Router,
    limits: HttpLimits,
    mut stopping: watch::Receiver<bool>,
    _running: watch::Receiver<()>,
) {
    let Some(tls) = tls else {
        return serve_connection(TokioIo::new(stream), place, router, limits, stopping).await;
    };
    let handshake = tokio::time::timeout(limits.header_timeout, tls.accept(stream));
    let stream = tokio::select! {
        accepted = handshake => match accepted {
            Ok(Ok(stream)) => stream,
            // A client that does not finish a handshake in time, or fails it, is closed.
            Ok(Err(error)) => {
                tracing::debug!("a TLS handshake failed: {error}");
                return;
            }
            Err(_) => return,
        },
        () = place.slot().evicted() => return,
        _ = stopping.wait_for(|stop| *stop) => return,
    };
    serve_connection(TokioIo::new(stream), place, router, limits, stopping).await;
}

/// Serves HTTP/1.1 on `io` until the connection ends, is evicted, or the listener stops.
async fn serve_connection<I>(
    io: TokioIo<I>,
    place: Place,
    router: Router,
    limits: HttpLimits,
    mut stopping: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let slot = place.slot().clone();
    let body_timeout = limits.body_timeout;
    let service = router.map_request(move |request: Request<Incoming>| {
        slot.establish();
        request.map(|body| Body::new(Deadline::new(body, body_timeout)))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let served = builder.serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(served);
    let evicted = place.slot().evicted();
    tokio::pin!(evicted);
    let mut finishing = false;
    loop {
        tokio::select! {
            // A connection that failed (a header timeout, a reset) has nothing left to say.
            _ = served.as_mut() => return,
            // Dropping the connection closes it.
            () = evicted.as_mut() => return,
            _ = stopping.wait_for(|stop| *stop), if !finishing => {
                served.as_mut().graceful_shutdown();
                finishing = true;
            }
        }
    }
}

/// A request body that fails once its deadline passes, however its bytes trickle in.
struct Deadline<B> {
    body: B,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl<B> Deadline<B> {
    fn new(body: B, timeout: Duration) -> Self {
        Deadline {
            body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        }
    }
}

impl<B> http_body::Body for Deadline<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyDeadline(self.timeout)))));
        }
        Pin::new(&mut self.body).poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body did not arrive whole within the listener's `body_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyDeadline(pub Duration);

impl fmt::Display for BodyDeadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the body did not arrive within {}",
            humantime::format_duration(self.0)
        )
    }
}

impl Error for BodyDeadline {}

impl BodyDeadline {
    /// The deadline behind a body's read error, if that is what it was.
    pub fn of(error: &axum::Error) -> Option<BodyDeadline> {
        let mut source: Option<&(dyn Error + 'static)> = Some(error);
        while let Some(error) = source {
            if let Some(deadline) = error.downcast_ref::<BodyDeadline>() {
                return Some(*deadline);
            }
            source = error.source();
        }
        None
    }
}
