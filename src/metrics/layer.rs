//! Layers that count what the gRPC server and the webhook endpoint answer.
//!
//! A gRPC call's status is in the response headers when the call failed before answering (a
//! "trailers-only" response: refused by authentication, an error from the handler) and otherwise
//! in the trailers at the end of the body, so the body is watched until its trailers pass. A call
//! whose client went away before the end is not counted. A path the server does not serve is
//! counted as method `unknown` whatever the answer (authentication is checked before the method
//! is looked up), so a scanner cannot make a series per path it tries.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use tower::{Layer, Service};

use super::Metrics;

/// A layer counting answers in `metrics` as `K` says: [`Grpc`] by method and status code,
/// [`Webhook`] by HTTP status.
#[derive(Clone)]
pub struct CountingLayer<K> {
    metrics: Metrics,
    kind: K,
}

/// Counts gRPC calls by method and status code.
pub type GrpcLayer = CountingLayer<Grpc>;

/// Counts webhook deliveries by HTTP status.
pub type WebhookLayer = CountingLayer<Webhook>;

impl GrpcLayer {
    /// Counts calls in `metrics`, each labelled with its path when it is one of `methods`.
    pub fn new(metrics: Metrics, methods: HashSet<String>) -> Self {
        CountingLayer {
            metrics,
            kind: Grpc {
                known: Arc::new(methods),
            },
        }
    }
}

impl WebhookLayer {
    pub fn new(metrics: Metrics) -> Self {
        CountingLayer {
            metrics,
            kind: Webhook,
        }
    }
}

impl<S, K: Clone> Layer<S> for CountingLayer<K> {
    type Service = Counted<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted {
            inner,
            metrics: self.metrics.clone(),
            kind: self.kind.clone(),
        }
    }
}

/// What a layer counts.
pub trait Kind: Clone + Send + 'static {
    /// Counts a response whose headers are in, and returns what must still be counted from its
    /// trailers (the label it will be counted under), if anything.
    fn headers(
        &self,
        metrics: &Metrics,
        path: &str,
        response: &HeaderMap,
        status: u16,
    ) -> Option<String>;

    /// Counts a response by its trailers under `label`, when its headers left it to count.
    fn trailers(&self, metrics: &Metrics, label: &str, trailers: &HeaderMap);
}

/// The methods served.
#[derive(Clone)]
pub struct Grpc {
    known: Arc<HashSet<String>>,
}

impl Grpc {
    fn method<'a>(&self, path: &'a str) -> &'a str {
        if self.known.contains(path) {
            path
        } else {
            "unknown"
        }
    }
}

#[derive(Clone)]
pub struct Webhook;

impl Kind for Grpc {
    fn headers(
        &self,
        metrics: &Metrics,
        path: &str,
        headers: &HeaderMap,
        _status: u16,
    ) -> Option<String> {
        let method = self.method(path);
        match grpc_code(headers) {
            Some(code) => {
                count_grpc(metrics, method, code);
                None
            }
            None => Some(method.to_owned()),
        }
    }

    fn trailers(&self, metrics: &Metrics, path: &str, trailers: &HeaderMap) {
        // A body that ends without a status is a broken call: gRPC says to read it as UNKNOWN.
        count_grpc(
            metrics,
            path,
            grpc_code(trailers).unwrap_or(tonic::Code::Unknown),
        );
    }
}

impl Kind for Webhook {
    fn headers(
        &self,
        metrics: &Metrics,
        _path: &str,
        _: &HeaderMap,
        status: u16,
    ) -> Option<String> {
        metrics.webhook_answered(status);
        None
    }

    fn trailers(&self, _: &Metrics, _: &str, _: &HeaderMap) {}
}

fn grpc_code(headers: &HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .map(|value| tonic::Code::from_bytes(value.as_bytes()))
}

fn count_grpc(metrics: &Metrics, method: &str, code: tonic::Code) {
    let code = match code {
        tonic::Code::Ok => "OK".to_owned(),
        other => format!("{other:?}"),
    };
    metrics.grpc_answered(method, &code);
}

/// A service whose answers are counted.
#[derive(Clone)]
pub struct Counted<S, K> {
    inner: S,
    metrics: Metrics,
    kind: K,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for Counted<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    K: Kind,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<tonic::codegen::StdError>,
{
    type Response = Response<axum::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let answer = self.inner.call(request);
        let metrics = self.metrics.clone();
        let kind = self.kind.clone();
        Box::pin(async move {
            let response = answer.await?;
            let mut pending = kind.headers(
                &metrics,
                &path,
                response.headers(),
                response.status().as_u16(),
            );
            Ok(response.map(|body| {
                axum::body::Body::new(body.inspect_frame(move |frame| {
                    if let Some(trailers) = frame.trailers_ref()
                        && let Some(label) = pending.take()
                    {
                        kind.trailers(&metrics, &label, trailers);
                    }
                }))
            }))
        })
    }
}
