//! The composition root: a [`Service`] built from a configuration, and the running of it.
//!
//! [`open`] is used by `tailledger serve` and `tailledger sync` alike: it opens the ledger,
//! appends the configured access policy and settings (docs/reference/config.md#recorded-settings)
//! when they differ from the recorded ones, and wires the service with its clock, roster file and
//! Tailscale source. [`run`] owns and awaits its tasks, the API server, the scheduler and, when
//! `[webhook]` is configured, the webhook endpoint (whose failure only ends itself), and the
//! metrics and tiles endpoints when configured; on shutdown
//! the scheduler abandons a sync that is still fetching (nothing is appended until a fetch is
//! complete, and an append is never interrupted), and the servers stop accepting calls and finish
//! the ones in flight. With `[checkpoint] checkpoint_dir`, a further task writes checkpoint files
//! on the interval, and the last one is written once the others have stopped. With `[archive]`,
//! the archiver (`crate::archive`) copies the log off the machine beside them, and makes a last
//! pass (bounded in time) once the others have stopped. With `[alerts]`, the alert
//! deliveries run beside them (`alerts::run`), stopping with the others.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::alerts;
use crate::api;
use crate::archive::{self, ArchiveStatus, Archiver, Bucket, DirBucket, S3Bucket};
use crate::checkpoint_file;
use crate::config::{
    ArchiveTarget, Config, MetricsSettings, RosterInput, TilesSettings, WebSettings,
    WebhookSettings,
};
use crate::entry::Entry;
use crate::event::SystemId;
use crate::ledger::Ledger;
use crate::metrics::{self, Metrics};
use crate::render;
use crate::service::{Service, ServiceError};
use crate::store::{StoreError, create_private_dir};
use crate::sync::{Syncer, TailscaleSource};
use crate::tailscale::{ClientConfigError, TailscaleClient};
use crate::tiles::{self, EntriesAccess, EntriesDenied, TilesEndpoint};
use crate::time::SystemClock;
use crate::truto::TrutoSource;
use crate::web;
use crate::webhook;
use crate::witness;

/// Why the service could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("the Tailscale client could not be configured: {0}")]
    Client(#[from] ClientConfigError),
    #[error("the Truto client could not be configured: {0}")]
    Truto(ClientConfigError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Api(#[from] api::ApiError),
    #[error("the archive cannot start: {0}")]
    Archive(#[from] archive::ArchiveError),
}

/// Opens the ledger of `config` and builds the service, with the configured policy and
/// settings recorded;
/// returns the service and the entries the configuration appended.
pub fn open(config: &Config) -> Result<(Service, Vec<Entry>), RunError> {
    create_private_dir(&config.data_dir)?;
    let ledger = Arc::new(Ledger::open_with_cache(
        &config.data_dir,
        config.store.cache_capacity,
    )?);
    ledger.set_max_clock_skew(config.max_clock_skew);
    let clock = Arc::new(SystemClock);
    let timezone = config
        .roster
        .as_ref()
        .map_or(chrono_tz::UTC, |roster| roster.timezone);
    let mut service = Service::new(
        ledger.clone(),
        clock.clone(),
        config.checks.clone(),
        timezone,
    );
    if let Some(roster) = &config.roster {
        service.set_roster_format(roster.format.clone());
        match &roster.input {
            RosterInput::Csv(path) => service.set_roster_file(path.clone()),
            RosterInput::Truto(truto) => {
                service.set_roster_truto(TrutoSource::new(truto.clone()).map_err(RunError::Truto)?);
            }
        }
    }
    if let Some(checkpoint) = &config.checkpoint {
        service.set_signing_key(checkpoint.signing_key.clone());
    }
    service.set_review_settings(config.access_review);
    service.set_syncer(
        Syncer::new(
            SystemId::tailscale(),
            Box::new(TailscaleSource::new(
                TailscaleClient::new(config.client.clone())?,
                config.listers,
            )),
            ledger,
            clock,
            config.sync_options.clone(),
        )
        .with_budget(config.sync_budget),
    );
    let mut appended = Vec::new();
    if let Some(policy) = &config.policy {
        appended = service.record_configured_policy(
            &SystemId::tailscale(),
            &policy.allowed_org_roles,
            &policy.privileged_org_roles,
            policy.offboarding_grace_seconds,
        )?;
        if !appended.is_empty() {
            tracing::info!("recorded the access policy from the configuration");
        }
    }
    let settings =
        service.record_configured_settings(&SystemId::tailscale(), &config.settings())?;
    if let Some(entry) = settings.first() {
        tracing::info!(
            seq = entry.seq,
            "recorded the settings from the configuration"
        );
    }
    appended.extend(settings);
    Ok((service, appended))
}

/// The first wait before a sync cycle that could not be recorded is tried again; each failure
/// in a row doubles it, up to `sync_interval`.
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs a sync cycle every `config.sync_interval` until `stopping` turns true. A cycle the
/// ledger could not record (a full disk, say) is tried again with backoff, and so is one after
/// any other append failed (a `SyncNow`, an admin command), so the ledger takes writes again as
/// soon as it can, without a restart (docs/reference/time-and-durability.md#append-failure).
async fn schedule(service: Arc<Service>, config: &Config, mut stopping: watch::Receiver<bool>) {
    let system = SystemId::tailscale();
    let mut writable = service.writable();
    let mut retry = RETRY_FIRST;
    loop {
        let succeeded = tokio::select! {
            result = service.sync_now(&system) => match result {
                Ok(cycle) => {
                    tracing::info!("scheduled {}", render::sync_summary(&cycle.sync));
                    true
                }
                Err(error) => {
                    tracing::error!(
                        "scheduled sync could not be recorded, trying again in {}: {error}",
                        humantime::format_duration(retry.min(config.sync_interval))
                    );
                    false
                }
            },
            // A sync still fetching is dropped: it has appended nothing yet.
            _ = stopping.wait_for(|stop| *stop) => return,
        };
        let wait = if succeeded {
            retry = RETRY_FIRST;
            config.sync_interval
        } else {
            let wait = retry.min(config.sync_interval);
            retry = retry.saturating_mul(2);
            wait
        };
        let failed_elsewhere = async {
            let _ = writable.wait_for(|writable| !*writable).await;
            tokio::time::sleep(RETRY_FIRST).await;
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = failed_elsewhere, if succeeded => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

/// Binds `config.listen`, then serves the API (and the web console) with the tokens `tokens`
/// holds at each call, and runs the scheduled syncs, until `shutdown` completes.
pub async fn run(
    config: Config,
    tokens: Arc<api::Tokens>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| RunError::Listen {
            address: config.listen,
            source,
        })?;
    run_on_with(listener, config, tokens, shutdown).await
}

/// Serves the web console on its listener until `stopping` turns true. Like the metrics
/// endpoint it is an addition: one that cannot listen is logged and the rest goes on.
async fn serve_web(
    listener: Option<(&WebSettings, std::io::Result<tokio::net::TcpListener>)>,
    console: impl FnOnce() -> web::Console,
    mut stopping: watch::Receiver<bool>,
) {
    let Some((settings, bound)) = listener else {
        return;
    };
    let listener = match bound {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(
                "the web console cannot listen on {}: {error}; gRPC and the scheduled syncs go on without it",
                settings.listen
            );
            return;
        }
    };
    let address = listener.local_addr().map_or(settings.listen, |bound| bound);
    tracing::info!(listen = %address, tls = settings.tls.is_some(), "web console listening");
    web::serve(listener, console(), &settings.limits, async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    })
    .await;
}

/// The webhook endpoint's listener, when `[webhook]` is configured: bound, or why not.
async fn bind_webhook(config: &Config) -> Option<std::io::Result<tokio::net::TcpListener>> {
    let settings = config.webhook.as_ref()?;
    Some(tokio::net::TcpListener::bind(settings.listen).await)
}

/// Logs how the webhook endpoint's binding went (after "serving", which log readers wait for);
/// a failure leaves the rest of the service running.
fn webhook_listener(
    config: &Config,
    bound: Option<std::io::Result<tokio::net::TcpListener>>,
) -> Option<(tokio::net::TcpListener, WebhookSettings)> {
    let settings = config.webhook.as_ref()?;
    match bound? {
        Ok(listener) => {
            let address = listener.local_addr().map_or(settings.listen, |bound| bound);
            tracing::info!(listen = %address, path = webhook::WEBHOOK_PATH, "webhook endpoint listening");
            Some((listener, settings.clone()))
        }
        Err(error) => {
            tracing::error!(
                "the webhook endpoint cannot listen on {}: {error}; gRPC and the scheduled syncs go on without it",
                settings.listen
            );
            None
        }
    }
}

/// Serves the Prometheus endpoint on its listener, counting the entries appended after seq
/// `counted_after`, until `stopping` turns true. Like the webhook endpoint it is an addition: one that cannot
/// listen is logged and the rest of the service goes on.
async fn serve_metrics(
    listener: Option<(&MetricsSettings, std::io::Result<tokio::net::TcpListener>)>,
    service: Arc<Service>,
    metrics: Metrics,
    counted_after: u64,
    stopping: watch::Receiver<bool>,
) {
    let Some((settings, bound)) = listener else {
        return;
    };
    let listen = settings.listen;
    let listener = match bound {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(
                "the metrics endpoint cannot listen on {listen}: {error}; gRPC and the scheduled syncs go on without it"
            );
            return;
        }
    };
    let address = listener.local_addr().map_or(listen, |bound| bound);
    tracing::info!(listen = %address, path = metrics::METRICS_PATH, "metrics endpoint listening");
    metrics::run(
        listener,
        service,
        metrics,
        SystemId::tailscale(),
        counted_after,
        settings.limits.clone(),
        stopping,
    )
    .await;
}

/// Who may read entry bundles on the tiles endpoint: the API's auditor and admin tokens.
fn entries_access(tokens: Arc<api::Tokens>) -> EntriesAccess {
    Arc::new(move |header: Option<&str>| {
        match tokens
            .current()
            .authenticate_header(header, None, api::Role::Auditor)
        {
            Ok(_) => Ok(()),
            Err(error @ api::AuthError::PermissionDenied { .. }) => {
                Err(EntriesDenied::Forbidden(error.to_string()))
            }
            Err(error) => Err(EntriesDenied::Unauthenticated(error.to_string())),
        }
    })
}

/// Serves the tiles endpoint on its listener until `stopping` turns true. Like the metrics
/// endpoint it is an addition: one that cannot listen is logged and the rest goes on.
async fn serve_tiles(
    listener: Option<(&TilesSettings, std::io::Result<tokio::net::TcpListener>)>,
    service: Arc<Service>,
    tokens: Arc<api::Tokens>,
    mut stopping: watch::Receiver<bool>,
) {
    let Some((settings, bound)) = listener else {
        return;
    };
    let listener = match bound {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(
                "the tiles endpoint cannot listen on {}: {error}; gRPC and the scheduled syncs go on without it",
                settings.listen
            );
            return;
        }
    };
    let address = listener.local_addr().map_or(settings.listen, |bound| bound);
    tracing::info!(listen = %address, "tiles endpoint listening");
    let endpoint = TilesEndpoint {
        service,
        entries_access: entries_access(tokens),
    };
    let shutdown = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tiles::serve(listener, endpoint, &settings.limits, shutdown).await;
}

/// Like [`run`], on a listener the caller bound (tests bind `127.0.0.1:0`), with the
/// configuration's tokens for good.
pub async fn run_on(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let tokens = Arc::new(api::Tokens::new(config.auth.clone()));
    run_on_with(listener, config, tokens, shutdown).await
}

/// Like [`run`], on a listener the caller bound.
pub async fn run_on_with(
    listener: tokio::net::TcpListener,
    config: Config,
    tokens: Arc<api::Tokens>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let (mut service, recorded_at_start) = open(&config)?;
    let archive = match &config.archive {
        Some(settings) => {
            let (bucket, kind) = match &settings.target {
                ArchiveTarget::Dir(dir) => (Bucket::Dir(DirBucket::new(dir.clone())), "dir"),
                ArchiveTarget::S3(s3) => (Bucket::S3(S3Bucket::new(s3)), "s3"),
            };
            let archived = archive::read_progress(&config.data_dir, &bucket.describe()).await?;
            let status = Arc::new(ArchiveStatus::new(kind, settings.max_lag, archived));
            service.set_archive_status(status.clone());
            Some((bucket, status, settings.retry_max))
        }
        None => None,
    };
    let witness_status = match (&config.witnesses, service.signing_key()) {
        (Some(settings), Some(key)) => {
            let published = witness::load_published(
                &config.data_dir,
                &key.verifier_key(),
                &settings.peers,
                settings.quorum,
            )
            .unwrap_or_else(|error| {
                tracing::error!("the checkpoint published before is not used: {error}");
                None
            });
            // Only a checkpoint of this ledger's own tree is published again.
            let published = match published {
                Some(signed) => match service.tree_checkpoint(Some(signed.checkpoint.size)).await {
                    Ok(ours) if ours == signed.checkpoint => Some(signed),
                    _ => {
                        tracing::error!(
                            size = signed.checkpoint.size,
                            "the checkpoint published before is not of this ledger's tree; it is not used"
                        );
                        None
                    }
                },
                None => None,
            };
            let status = Arc::new(witness::WitnessStatus::new(
                settings.peers.iter().map(|peer| peer.name.clone()),
                settings.quorum,
                settings.max_lag,
                published,
            ));
            service.set_witness_status(status.clone());
            Some((settings.clone(), status))
        }
        _ => None,
    };
    let service = Arc::new(service);
    let address = listener.local_addr().map_err(|source| RunError::Listen {
        address: config.listen,
        source,
    })?;
    // Bound before "serving" is logged, so the endpoints answer from then on.
    let webhook = bind_webhook(&config).await;
    let metrics_listener = match &config.metrics {
        Some(settings) => Some((
            settings,
            tokio::net::TcpListener::bind(settings.listen).await,
        )),
        None => None,
    };
    let web_listener = match &config.web {
        Some(settings) => Some((
            settings,
            tokio::net::TcpListener::bind(settings.listen).await,
        )),
        None => None,
    };
    let tiles_listener = match &config.tiles {
        Some(settings) => Some((
            settings,
            tokio::net::TcpListener::bind(settings.listen).await,
        )),
        None => None,
    };
    tracing::info!(listen = %address, tls = config.tls.is_some(), data_dir = %config.data_dir.display(), "serving");
    let webhook = webhook_listener(&config, webhook);
    let metrics = Metrics::new();
    // Everything this process appends is counted, what the configuration recorded at start too.
    let counted_after = recorded_at_start
        .first()
        .map_or(service.head().map_or(0, |head| head.seq), |entry| {
            entry.seq - 1
        });
    let (stop, stopping) = watch::channel(false);
    let stop = &stop;
    let stopped = |mut receiver: watch::Receiver<bool>| async move {
        // The sender lives until the end of `run_on`, so this only ends on a stop.
        let _ = receiver.wait_for(|stop| *stop).await;
    };
    let server = async {
        let served = api::serve_reloadable(
            listener,
            service.clone(),
            tokens.clone(),
            config.tls.as_ref(),
            config.server.clone(),
            metrics.clone(),
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
    let webhook = async {
        let Some((listener, settings)) = webhook else {
            return;
        };
        let served = webhook::wire::serve(
            listener,
            service.clone(),
            SystemId::tailscale(),
            settings.secret,
            metrics.clone(),
            settings.limits,
            stopped(stopping.clone()),
        )
        .await;
        // The endpoint is an addition: without it gRPC and the scheduled syncs go on.
        if let Err(error) = served {
            tracing::error!("{error}; gRPC and the scheduled syncs go on without it");
        }
    };
    let metrics_endpoint = serve_metrics(
        metrics_listener,
        service.clone(),
        metrics.clone(),
        counted_after,
        stopping.clone(),
    );
    let archiver = archive.map(|(bucket, status, retry_max)| Archiver {
        service: service.clone(),
        bucket,
        data_dir: config.data_dir.clone(),
        status,
        retry_max,
        published: witness_status
            .as_ref()
            .map(|(_, status)| status.subscribe()),
    });
    let archiving = async {
        if let Some(archiver) = &archiver {
            archiver.run(stopping.clone()).await;
        }
    };
    let web_console = serve_web(
        web_listener,
        || web::Console {
            service: service.clone(),
            tokens: tokens.clone(),
            system: SystemId::tailscale(),
            tls: config.web.as_ref().and_then(|web| web.tls.clone()),
            session_ttl: config
                .web
                .as_ref()
                .map_or(crate::config::DEFAULT_SESSION_TTL, |web| web.session_ttl),
        },
        stopping.clone(),
    );
    let tiles_endpoint = serve_tiles(
        tiles_listener,
        service.clone(),
        tokens.clone(),
        stopping.clone(),
    );
    let alerting = async {
        if let Some(settings) = config.alerts.clone() {
            let timezone = config
                .roster
                .as_ref()
                .map_or(chrono_tz::UTC, |roster| roster.timezone);
            alerts::run::run(
                service.clone(),
                settings,
                timezone,
                metrics.clone(),
                stopping.clone(),
            )
            .await;
        }
    };
    let witnessing = async {
        let Some((settings, status)) = witness_status.clone() else {
            return;
        };
        witness::WitnessClient {
            service: service.clone(),
            settings,
            status,
            data_dir: config.data_dir.clone(),
        }
        .run(stopping.clone())
        .await;
    };
    let (served, (), (), (), (), (), (), (), (), (), ()) = tokio::join!(
        server,
        archiving,
        witnessing,
        schedule(service.clone(), &config, stopping.clone()),
        webhook,
        metrics_endpoint,
        web_console,
        tiles_endpoint,
        checkpoint_file::keep_writing(service.clone(), config.checkpoint.clone(), stopping.clone()),
        alerting,
        signal
    );
    // The last checkpoint, once the server and the scheduler have stopped appending.
    if let Some(dir) = config
        .checkpoint
        .as_ref()
        .and_then(|checkpoint| checkpoint.dir.as_ref())
    {
        checkpoint_file::write_now(&service, dir).await;
    }
    // And the last archive pass, for the same reason.
    if let Some(archiver) = &archiver {
        archiver.finish(archive::FINAL_PASS).await;
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}
