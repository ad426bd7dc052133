//! The gRPC API (docs/reference/api.md): `tailledger.v1.LedgerService` and `AdminService` over
//! tonic, with token authentication, standard health, server reflection (v1 and v1alpha), and TLS
//! when it is given a certificate and key.
//!
//! This module is the only one that knows the protobuf types: `convert` translates, `errors`
//! maps every failure to a status code, `auth` decides who may call, `ledger` and `admin` are the
//! two services, `stream` runs `StreamEvents` followers, `tls` checks the server's identity, and
//! `connections` bounds the connections the server holds, `timeline` carries check timelines.

mod admin;
mod auth;
pub mod client;
mod connections;
mod convert;
mod errors;
mod json;
mod ledger;
mod page;
pub mod pb;
mod stream;
mod timeline;
mod tls;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use prost::Message as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Server;

pub use auth::{Auth, AuthError, Role, TokenEntry};
pub use connections::ServerLimits;
pub use convert::sync_now_response;
pub use json::{status_json, sync_json};
pub use tls::{TlsError, TlsFile, TlsIdentity};

use crate::metrics::{GrpcLayer, Metrics};
use crate::service::Service;

/// The largest request the read API accepts: its requests are small.
const MAX_READ_REQUEST_BYTES: usize = 1 << 20;
/// The largest request the admin API accepts: a roster file of up to 50 MiB, with room for the
/// message around it.
const MAX_ADMIN_REQUEST_BYTES: usize = 51 << 20;
/// The largest response: a page or history of events, a report.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("server reflection could not be set up: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The services' fully qualified names, as health and reflection report them.
pub const LEDGER_SERVICE: &str = "tailledger.v1.LedgerService";
pub const ADMIN_SERVICE: &str = "tailledger.v1.AdminService";

/// Serves the API on `listener` (over TLS with `tls`, else in plaintext) under the connection
/// `limits` until `shutdown` completes; then stops accepting calls, ends every `StreamEvents`
/// follower, waits for calls in flight, and returns. Every answer is counted in `metrics`.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    auth: Auth,
    tls: Option<&TlsIdentity>,
    limits: ServerLimits,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    let auth = Arc::new(auth);
    let (stop, stopping) = watch::channel(false);

    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };

    let writable = service.writable();
    let writable_now = *writable.borrow();
    set_health(&health, writable_now).await;
    let follow_health = follow_writable(health.clone(), writable, stopping.clone());
    let ledger = pb::ledger_service_server::LedgerServiceServer::new(ledger::LedgerApi {
        service: service.clone(),
        stopping,
    })
    .max_decoding_message_size(MAX_READ_REQUEST_BYTES)
    .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let admin = pb::admin_service_server::AdminServiceServer::new(admin::AdminApi { service })
        .max_decoding_message_size(MAX_ADMIN_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);

    let shutdown = async move {
        shutdown.await;
        // Followers watch this and end, so the graceful shutdown does not wait on open streams.
        let _ = stop.send(true);
        health
            .set_not_serving::<pb::ledger_service_server::LedgerServiceServer<ledger::LedgerApi>>()
            .await;
    };
    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .max_concurrent_streams(limits.max_concurrent_streams);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls.server_config())?;
    }
    let server = builder
        .layer(GrpcLayer::new(metrics, method_paths()))
        .layer(auth::method_path_layer())
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(tonic::service::interceptor::InterceptedService::new(
            ledger,
            auth::require(auth.clone(), Role::Auditor),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            admin,
            auth::require(auth, Role::Admin),
        ))
        .serve_with_incoming_shutdown(
            ReceiverStream::new(connections::accept(listener, &limits)),
            shutdown,
        );
    tokio::select! {
        served = server => served?,
        () = follow_health => unreachable!("health is followed until the server stops"),
    }
    Ok(())
}

/// The path of every method the server serves (`/package.Service/Method`), read from the
/// descriptors it registers for reflection: what the metrics label a call with.
fn method_paths() -> HashSet<String> {
    [
        pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]
    .into_iter()
    .flat_map(|encoded| {
        // Each set is compiled into this binary or its dependencies by their builds.
        prost_types::FileDescriptorSet::decode(encoded)
            .expect("a compiled-in descriptor set decodes")
            .file
    })
    .flat_map(|file| {
        let package = file.package().to_owned();
        file.service.into_iter().flat_map(move |service| {
            let package = package.clone();
            let name = service.name().to_owned();
            service
                .method
                .into_iter()
                .map(move |method| format!("/{package}.{name}/{}", method.name()))
        })
    })
    .collect()
}

/// Keeps health in step with the ledger (docs/reference/time-and-durability.md#append-failure):
/// `NOT_SERVING` for the server and both services from a failed append until one succeeds again.
/// Ends only when shutdown begins, and then waits forever (the server's own future ends first).
async fn follow_writable(
    health: tonic_health::server::HealthReporter,
    mut writable: watch::Receiver<bool>,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            changed = writable.changed() => if changed.is_err() { break },
            _ = stopping.wait_for(|stop| *stop) => break,
        }
        let writable = *writable.borrow_and_update();
        set_health(&health, writable).await;
    }
    std::future::pending().await
}

/// Sets the health of the server and both services.
async fn set_health(health: &tonic_health::server::HealthReporter, writable: bool) {
    let status = if writable {
        tonic_health::ServingStatus::Serving
    } else {
        tonic_health::ServingStatus::NotServing
    };
    for name in ["", LEDGER_SERVICE, ADMIN_SERVICE] {
        health.set_service_status(name, status).await;
    }
}
