//! `GET /metrics`: the series in Prometheus's text format, with the checks evaluated now, on a
//! listener under the bounds of [`crate::listener::http`] (`[metrics]` in the configuration).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::Metrics;
use crate::event::SystemId;
use crate::listener::{HttpLimits, http};
use crate::service::Service;

/// The endpoint's path.
pub const METRICS_PATH: &str = "/metrics";

/// The content type of the text format prometheus-client writes (OpenMetrics 1.0).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct Scrape {
    service: Arc<Service>,
    metrics: Metrics,
    system: SystemId,
}

/// Serves `GET /metrics` on `listener` under `limits` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    metrics: Metrics,
    system: SystemId,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let router = Router::new()
        .route(METRICS_PATH, get(scrape))
        .with_state(Arc::new(Scrape {
            service,
            metrics,
            system,
        }));
    http::serve(listener, "metrics", router, limits, shutdown).await;
}

async fn scrape(State(scrape): State<Arc<Scrape>>) -> Response {
    let now = scrape.service.now();
    match scrape.service.status(scrape.system.clone(), None).await {
        Ok(report) => {
            let expires = scrape.service.credential_expires_at(&scrape.system);
            scrape
                .metrics
                .set_status(&scrape.system.0, &report, expires, now);
            scrape
                .metrics
                .set_clock_skews(&scrape.service.date_readings());
            if let Some((kind, lag)) = scrape.service.archive_lag() {
                scrape.metrics.set_archive_lag(kind, lag);
            }
            (
                [(header::CONTENT_TYPE, CONTENT_TYPE)],
                scrape.metrics.encode(),
            )
                .into_response()
        }
        Err(error) => {
            // The checks cannot be told, so no series is served rather than stale ones.
            tracing::warn!("metrics scrape: the checks could not be evaluated: {error}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the checks could not be evaluated: {error}\n"),
            )
                .into_response()
        }
    }
}
