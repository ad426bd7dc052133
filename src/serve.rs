//! Running the service from a configuration: `tailledger serve` (the gRPC server and scheduled
//! syncs) and `tailledger sync` (one roster import and one sync).
//!
//! Both open the ledger, append the configured access policy when it differs from the recorded
//! one, and build the same [`Service`]. `serve` owns and awaits its two tasks, the API server and
//! the scheduler; on shutdown the scheduler abandons a sync that is still fetching (nothing is
//! appended until a fetch is complete, and an append is never interrupted), and the server stops
//! accepting calls and finishes the ones in flight.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::api;
use crate::commands::{policy_unchanged, set_access_policy};
use crate::config::{Config, RosterSettings};
use crate::event::{Actor, SystemId};
use crate::ledger::Ledger;
use crate::projection::ProjectedLedger;
use crate::roster::ImportSummary;
use crate::service::{Service, ServiceError};
use crate::store::StoreError;
use crate::sync::{SyncReport, Syncer};
use crate::tailscale::{ConfigError as ClientConfigError, TailscaleClient};
use crate::time::SystemClock;

/// Why the service could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("the Tailscale client could not be configured: {0}")]
    Client(#[from] ClientConfigError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the roster {path}: {source}")]
    RosterFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Api(#[from] api::ApiError),
}

/// Opens the ledger of `config` and builds the service, with the configured policy recorded.
pub fn open(config: &Config) -> Result<Service, RunError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StoreError::Io {
        action: "create the ledger directory",
        path: config.data_dir.clone(),
        source,
    })?;
    let books = Arc::new(ProjectedLedger::new(Ledger::open(&config.data_dir)?)?);
    let clock = Arc::new(SystemClock);
    let timezone = config
        .roster
        .as_ref()
        .map_or(chrono_tz::UTC, |roster| roster.timezone);
    let mut service = Service::new(
        books.clone(),
        clock.clone(),
        config.checks.clone(),
        timezone,
    );
    service.set_syncer(Syncer::new(
        SystemId::tailscale(),
        TailscaleClient::new(config.client.clone())?,
        books,
        clock,
        config.sync_options.clone(),
    ));
    if let Some(policy) = &config.policy {
        let event = set_access_policy(
            &SystemId::tailscale(),
            &policy.allowed_org_roles,
            &policy.privileged_org_roles,
            policy.offboarding_grace_seconds,
            Some("configuration file"),
        )
        .map_err(ServiceError::from)?;
        let appended = service.command(Actor::Config, |projections| {
            Ok(if policy_unchanged(projections, &event) {
                Vec::new()
            } else {
                vec![event]
            })
        })?;
        if !appended.is_empty() {
            tracing::info!("recorded the access policy from the configuration");
        }
    }
    Ok(service)
}

/// Imports the configured roster, if there is one.
pub fn import_roster(
    service: &Service,
    roster: Option<&RosterSettings>,
) -> Result<Option<ImportSummary>, RunError> {
    let Some(roster) = roster else {
        return Ok(None);
    };
    let csv = std::fs::read(&roster.csv_path).map_err(|source| RunError::RosterFile {
        path: roster.csv_path.clone(),
        source,
    })?;
    let (summary, _) = service.import_roster(Actor::Roster, &csv)?;
    Ok(Some(summary))
}

/// One scheduled cycle: the roster, then a sync. A roster that cannot be imported is logged and
/// the sync still runs, so access keeps being recorded while HR fixes the file.
async fn cycle(service: &Service, roster: Option<&RosterSettings>) -> Result<SyncReport, RunError> {
    match import_roster(service, roster) {
        Ok(Some(summary)) => tracing::info!(?summary, "roster imported"),
        Ok(None) => {}
        Err(error) => tracing::error!("roster not imported, nothing from it was recorded: {error}"),
    }
    Ok(service.sync_now(&SystemId::tailscale()).await?)
}

/// Syncs every `config.sync_interval` until `stopping` turns true.
async fn schedule(service: Arc<Service>, config: &Config, mut stopping: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            result = cycle(&service, config.roster.as_ref()) => match result {
                Ok(report) => tracing::info!(sync_id = %report.sync_id, outcome = ?report.outcome, "scheduled sync finished"),
                Err(error) => tracing::error!("scheduled sync could not be recorded: {error}"),
            },
            // A sync still fetching is dropped: it has appended nothing yet.
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            () = tokio::time::sleep(config.sync_interval) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

/// Serves the API on `config.listen` and runs the scheduled syncs until `shutdown` completes.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Listen {
            address: config.listen,
            source,
        })?;
    serve_on(listener, config, shutdown).await
}

/// Like [`serve`], on a listener the caller bound (tests bind `127.0.0.1:0`).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let service = Arc::new(open(&config)?);
    let address = listener.local_addr().map_err(|source| RunError::Listen {
        address: config.listen,
        source,
    })?;
    tracing::info!(listen = %address, tls = config.tls.is_some(), data_dir = %config.data_dir.display(), "serving");
    let (stop, stopping) = watch::channel(false);
    let stop = &stop;
    let stopped = |mut receiver: watch::Receiver<bool>| async move {
        // The sender lives until the end of `serve`, so this only ends on a stop.
        let _ = receiver.wait_for(|stop| *stop).await;
    };
    let server = async {
        let served = api::serve(
            listener,
            service.clone(),
            config.auth.clone(),
            config.tls.as_ref(),
            stopped(stopping.clone()),
        )
        .await;
        // A server that ends on its own (it failed) takes the scheduler down with it.
        stop.send_replace(true);
        served
    };
    let signal = async {
        tokio::select! {
            () = shutdown => tracing::info!("stopping: letting the running work finish"),
            () = stopped(stopping.clone()) => {}
        }
        stop.send_replace(true);
    };
    let (served, (), ()) = tokio::join!(
        server,
        schedule(service.clone(), &config, stopping.clone()),
        signal
    );
    served?;
    tracing::info!("stopped");
    Ok(())
}
