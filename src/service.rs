//! The service: the ledger, the clock, the check settings, the roster file and the syncers, and
//! every operation the API, the CLI and the demo offer on them.
//!
//! Each operation that writes decides its events from the current projections and appends them
//! as one batch with nothing in between, or refuses and appends nothing. The service owns
//! blocking: an operation that writes durably, scans the log or may replay from a checkpoint
//! runs on tokio's blocking pool, so callers on async workers just `.await` it. The service
//! reads the clock for "now"; the decisions it calls receive the instant.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use crate::as_of::AsOf;
use crate::checks::{CheckResult, CheckSettings, Reason, ReviewSettings, holds_access};
use crate::commands::{self, CommandError, ExceptionRequest};
use crate::entry::Entry;
use crate::event::{Actor, Classification, EmployeeRecord, Event, SettingsRecord, SystemId};
use crate::hash::Digest;
use crate::hash::Hash256;
use crate::history::HistoryFilter;
use crate::identity::{LinkKind, resolve};
use crate::ledger::{Appended, Ledger, WriteError};
use crate::projection::{
    AccountState, ClassificationState, DEFAULT_GRACE_SECONDS, EmployeeState, ExceptionState, Mark,
    Projections, SystemState, source_of,
};
use crate::report::{self, OffboardingRow};
use crate::roster::{
    ImportSummary, Roster, RosterErrors, RosterFormat, acceptance, parse_roster_as, plan_import,
    rejection, unreadable,
};
use crate::skew::{ClockBehind, ClockSkew};
use crate::store::StoreError;
use crate::sync::{SyncError, SyncReport, Syncer};
use crate::tailscale::FetchError;
use crate::time::{Clock, Timestamp};
use crate::timeline::{self, Timeline, Window};
use crate::truto::{TrutoRead, TrutoSource};
use crate::verify::Report;

mod alerts;
mod answers;
mod archive;
mod clock;
mod people;
mod proofs;
mod reviews;
mod tiles;
mod witness;

pub use alerts::AlertWindow;
pub use people::PersonView;
pub use proofs::SignedCheckpoint;
pub use reviews::{ReviewReader, ReviewView, started_review_id};

/// Why an operation failed; nothing was appended.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Roster(#[from] RosterErrors),
    #[error("cannot read the roster {path}: {source}")]
    RosterFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the roster from Truto, so nothing of it was imported: {0}")]
    RosterSource(FetchError),
    #[error("no system `{0}` is audited here (this service audits `tailscale`)")]
    UnknownSystem(String),
    #[error("this service does not sync `{0}`: it has no credential for it")]
    NotSyncing(SystemId),
    #[error("`{0}` is no account id, login name, employee id or email the ledger knows")]
    UnknownSubject(String),
    #[error("the service is shutting down")]
    ShuttingDown,
    #[error("{as_of} is in the future (it is now {now}): the ledger can only say what it knew")]
    FutureAsOf { as_of: AsOf, now: Timestamp },
    #[error("nothing recorded yet at {as_of}: {}", match first { Some(first) => format!("the ledger's first entry was recorded at {first}"), None => "the ledger is empty".to_owned() })]
    NothingRecorded {
        as_of: Timestamp,
        first: Option<Timestamp>,
    },
    #[error("`{field}` {reason}")]
    BadWindow { field: &'static str, reason: String },
    #[error(transparent)]
    Proof(#[from] crate::ledger::ProofError),
    #[error(
        "this server signs no checkpoints: configure `[checkpoint] signing_key_path` (made by `tailledger keygen`)"
    )]
    NoSigningKey,
    #[error("the ledger is empty: there is no tree to checkpoint yet")]
    EmptyTree,
    /// With witnesses, no checkpoint the quorum cosigned is published (within the size asked).
    #[error("no checkpoint is published yet: {0}")]
    NotPublished(String),
    #[error("the checkpoint could not be signed: {0}")]
    Sign(#[source] crate::merkle::Error),
    /// A source's `Date` and the local clock differ beyond `[server] max_clock_skew`.
    #[error(transparent)]
    ClockSkew(ClockSkew),
    /// The local clock reads too far before the last entry's instant to record anything.
    #[error(transparent)]
    ClockBehind(ClockBehind),
    /// A tile or bundle could not be built from the ledger.
    #[error(transparent)]
    Tile(#[from] crate::tiles::TileError),
}

impl From<WriteError> for ServiceError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Store(error) => ServiceError::Store(error),
            WriteError::ClockBehind(error) => ServiceError::ClockBehind(error),
        }
    }
}

impl From<SyncError> for ServiceError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Store(error) => ServiceError::Store(error),
            SyncError::ClockSkew(error) => ServiceError::ClockSkew(error),
            SyncError::ClockBehind(error) => ServiceError::ClockBehind(error),
        }
    }
}

/// The checks of one system at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// The instant the checks were evaluated at.
    pub evaluated_at: Timestamp,
    /// The last entry the answer is based on.
    pub head: Option<Digest>,
    pub checks: Vec<CheckResult>,
    /// The seq of the system's first `SettingsChanged` when the instant is before it: the
    /// settings it recorded were applied to an instant before they were recorded
    /// (docs/reference/time-and-durability.md#settings-as-of).
    pub settings_recorded_from_seq: Option<u64>,
}

/// An exception as granted by an instant, and whether it held then.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ListedException {
    #[serde(flatten)]
    pub exception: ExceptionState,
    /// Whether it accepted its finding at the instant asked about.
    pub in_force: bool,
}

/// The check settings in force at an instant, and where they come from.
struct SettingsAt {
    settings: CheckSettings,
    /// The `SettingsChanged` that recorded them; `None` for the configured ones.
    since: Option<Mark>,
    /// The seq of the system's first `SettingsChanged` when the instant is before it: its
    /// settings were applied to an instant before they were recorded.
    recorded_from: Option<u64>,
}

/// An account with what the service can say of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountView {
    pub account: AccountState,
    pub holds_access: bool,
    /// The employee it belongs to, and how the link was made.
    pub link: Option<(String, LinkKind)>,
    pub classification: Option<ClassificationState>,
    /// The reasons of the checks' findings about it; empty when its access is valid.
    pub findings: Vec<Reason>,
}

/// One page of a list in key order, and whether more items follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

/// A page of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsPage {
    pub entries: Vec<Entry>,
    /// The cursor to ask for the next page with: the last seq sent, or the one asked after.
    pub next_after_seq: u64,
}

/// One cycle's roster import: skipped without a configured roster file.
pub type RosterImport = Option<Result<ImportSummary, ServiceError>>;

/// What one sync cycle did: the roster import, then the sync.
#[derive(Debug)]
pub struct CycleReport {
    pub roster: RosterImport,
    /// What the roster import appended: its events, or the `RosterRejected` of a refused file.
    pub roster_appended: Appended,
    pub sync: SyncReport,
}

/// Everything the operations need. Cloning is cheap (shared parts), which lets an operation
/// move a handle onto the blocking pool.
#[derive(Clone)]
pub struct Service {
    ledger: Arc<Ledger>,
    clock: Arc<dyn Clock>,
    settings: Arc<CheckSettings>,
    timezone: chrono_tz::Tz,
    /// How roster CSVs name their columns, status words and dates.
    roster_format: Arc<RosterFormat>,
    /// The roster re-read before every sync, when one is configured.
    roster_input: Option<Arc<RosterInput>>,
    syncers: BTreeMap<SystemId, Arc<Syncer>>,
    /// The key checkpoints are signed with, when one is configured.
    signing_key: Option<Arc<crate::merkle::SigningKey>>,
    /// The checks' recent answers.
    answers: Arc<answers::Answers>,
    /// `[access_review]`, recorded on each review as it starts.
    review_settings: ReviewSettings,
    /// The worst `Date` of the last roster listing read from Truto.
    roster_date: Arc<std::sync::Mutex<Option<crate::skew::DateReading>>>,
    /// The archiver's progress, when `[archive]` is configured.
    archive: Option<Arc<crate::archive::ArchiveStatus>>,
    /// The witness client's findings and published checkpoint, when `[[witness]]` is configured.
    witnesses: Option<Arc<crate::witness::WitnessStatus>>,
    /// Poked when what is computed live may have changed: a source's clock was read.
    live_changed: Arc<tokio::sync::watch::Sender<()>>,
}

/// Where the roster of every sync cycle comes from.
enum RosterInput {
    File(PathBuf),
    Truto(Box<TrutoSource>),
}

impl Service {
    /// The timezone dates are read in: `roster.timezone`, UTC without a roster.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.timezone
    }

    pub fn new(
        ledger: Arc<Ledger>,
        clock: Arc<dyn Clock>,
        settings: CheckSettings,
        timezone: chrono_tz::Tz,
    ) -> Self {
        Service {
            ledger,
            clock,
            settings: Arc::new(settings),
            timezone,
            roster_format: Arc::new(RosterFormat::default()),
            roster_input: None,
            syncers: BTreeMap::new(),
            signing_key: None,
            answers: Arc::default(),
            review_settings: ReviewSettings::default(),
            roster_date: Arc::default(),
            archive: None,
            witnesses: None,
            live_changed: Arc::new(tokio::sync::watch::Sender::new(())),
        }
    }

    /// Sets the syncer of its system, replacing any earlier one (say, after a credential
    /// rotation).
    pub fn set_syncer(&mut self, syncer: Syncer) {
        self.syncers
            .insert(syncer.system().clone(), Arc::new(syncer));
    }

    /// Makes every sync cycle import this roster file first (docs/reference/sync.md#cycle: re-read
    /// before every sync).
    pub fn set_roster_file(&mut self, path: PathBuf) {
        self.roster_input = Some(Arc::new(RosterInput::File(path)));
    }

    /// Makes every sync cycle import the roster Truto's HRIS states first
    /// (docs/reference/sync.md#truto), recorded as `roster:truto`.
    pub fn set_roster_truto(&mut self, source: TrutoSource) {
        self.roster_input = Some(Arc::new(RosterInput::Truto(Box::new(source))));
    }

    /// Reads roster CSVs, the configured file and `ImportRoster`'s alike, as `format` says.
    pub fn set_roster_format(&mut self, format: RosterFormat) {
        self.roster_format = Arc::new(format);
    }

    /// The instant a read "now" is evaluated at: the clock, or the last entry's instant when
    /// that is later (by at most `[server] max_clock_skew`, since writes further ahead are
    /// refused), so a read now never leaves out the head.
    pub fn now(&self) -> Timestamp {
        let now = self.clock.now();
        self.ledger
            .log()
            .head_recorded_at()
            .map_or(now, |head| head.max(now))
    }

    /// The clock every answer and append reads, for the webhook receiver's 5-minute window.
    /// The instant `as_of` names: a date is the end of that day in the roster's timezone.
    /// `None` past the year 9999.
    pub fn resolve(&self, as_of: AsOf) -> Option<Timestamp> {
        as_of.resolve(self.timezone)
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The instant a read as of `as_of` is evaluated at: that instant, or now.
    fn instant(&self, as_of: Option<Timestamp>) -> Timestamp {
        as_of.unwrap_or_else(|| self.now())
    }

    /// The instant a point-in-time read asks for (docs/reference/time-and-durability.md#as-of): a
    /// date is the end of that day in the roster's timezone, or now while that day is still
    /// running; an instant after now is refused. `None` means now.
    pub(crate) fn past_instant(
        &self,
        as_of: Option<AsOf>,
    ) -> Result<Option<Timestamp>, ServiceError> {
        let Some(as_of) = as_of else {
            return Ok(None);
        };
        let now = self.now();
        match as_of.resolve(self.timezone) {
            Some(asked) if asked <= now => Ok(Some(asked)),
            _ if matches!(as_of, AsOf::Date(_))
                && as_of
                    .starts(self.timezone)
                    .is_some_and(|start| start <= now) =>
            {
                Ok(Some(now))
            }
            _ => Err(ServiceError::FutureAsOf { as_of, now }),
        }
    }

    /// Refuses a read as of an instant before the ledger's first entry: nothing was known then,
    /// and an answer with findings would say otherwise.
    fn check_recorded_by(&self, as_of: Option<Timestamp>) -> Result<(), ServiceError> {
        let Some(as_of) = as_of else {
            return Ok(());
        };
        let first = self.ledger.log().get(1)?.map(|entry| entry.recorded_at);
        if first.is_none_or(|first| first > as_of) {
            return Err(ServiceError::NothingRecorded { as_of, first });
        }
        Ok(())
    }

    /// The instant a point-in-time read asks for, checked as [`Service::past_instant`] and
    /// [`Service::check_recorded_by`] check it; for the paged lists, whose later pages read at
    /// the instant of the first.
    pub async fn checked_as_of(
        &self,
        as_of: Option<AsOf>,
    ) -> Result<Option<Timestamp>, ServiceError> {
        let as_of = self.past_instant(as_of)?;
        self.blocking(move |service| {
            service.check_recorded_by(as_of)?;
            Ok(as_of)
        })
        .await
    }

    /// Runs `work` on the blocking pool with a handle of the service.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let service = self.clone();
        match tokio::task::spawn_blocking(move || work(&service)).await {
            Ok(result) => result,
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            // The runtime is stopping and dropped the task before it started.
            Err(_) => Err(ServiceError::ShuttingDown),
        }
    }

    /// Checks that `system` is one this service audits: today, the one tailnet of the instance.
    pub fn known_system(&self, system: &str) -> Result<SystemId, ServiceError> {
        let id = SystemId(system.to_owned());
        if id == SystemId::tailscale() {
            Ok(id)
        } else {
            Err(ServiceError::UnknownSystem(system.to_owned()))
        }
    }

    /// Decides events from the current state and appends them as one batch by `actor`.
    pub(crate) fn command(
        &self,
        actor: Actor,
        decide: impl FnOnce(&Projections) -> Result<Vec<Event>, CommandError>,
    ) -> Result<Vec<Entry>, ServiceError> {
        // A command decides a few events, far fewer than a segment, so these are all of them.
        Ok(self.decide(actor, decide)?.entries)
    }

    /// [`Service::command`], answering with what was appended.
    fn decide(
        &self,
        actor: Actor,
        decide: impl FnOnce(&Projections) -> Result<Vec<Event>, CommandError>,
    ) -> Result<Appended, ServiceError> {
        let decided = self
            .ledger
            .decide_and_append(self.clock.now(), actor, |projections| {
                decide(projections).map(|events| (events, ()))
            })??;
        Ok(decided.0)
    }

    /// [`Service::command`] on the blocking pool.
    async fn command_blocking(
        &self,
        actor: Actor,
        decide: impl FnOnce(&Projections) -> Result<Vec<Event>, CommandError> + Send + 'static,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.blocking(move |service| service.command(actor, decide))
            .await
    }

    /// Records the access policy the configuration asks for, unless the ledger already says so.
    pub fn record_configured_policy(
        &self,
        system: &SystemId,
        allowed_org_roles: &[String],
        privileged_org_roles: &[String],
        offboarding_grace_seconds: u64,
    ) -> Result<Vec<Entry>, ServiceError> {
        let event = commands::set_access_policy(
            system,
            allowed_org_roles,
            privileged_org_roles,
            offboarding_grace_seconds,
            Some("configuration file"),
        )?;
        self.command(Actor::Config, |projections| {
            Ok(if commands::policy_unchanged(projections, &event) {
                Vec::new()
            } else {
                vec![event]
            })
        })
    }

    /// Records the settings the configuration sets (docs/reference/config.md#recorded-settings),
    /// unless they are the last recorded ones.
    pub fn record_configured_settings(
        &self,
        system: &SystemId,
        settings: &SettingsRecord,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command(Actor::Config, |projections| {
            Ok(commands::record_settings(projections, system, settings)
                .into_iter()
                .collect())
        })
    }

    /// The check settings in force for `system` at `at`: the settings recorded by then, else
    /// the first recorded ones, else the configured ones.
    fn settings_at(&self, system: &SystemId, at: Timestamp) -> SettingsAt {
        self.ledger.read(|projections| {
            match projections
                .settings(system)
                .and_then(|history| history.at(at))
            {
                Some(in_force) => SettingsAt {
                    settings: in_force.settings.into(),
                    since: Some(in_force.since),
                    recorded_from: in_force.recorded_from,
                },
                None => SettingsAt {
                    settings: (*self.settings).clone(),
                    since: None,
                    recorded_from: None,
                },
            }
        })
    }

    /// Sets the access policy of `system`; no grace period means the default one.
    pub async fn set_access_policy(
        &self,
        actor: Actor,
        system: SystemId,
        allowed_org_roles: Vec<String>,
        privileged_org_roles: Vec<String>,
        offboarding_grace_seconds: Option<u64>,
        reason: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(actor, move |_| {
            Ok(vec![commands::set_access_policy(
                &system,
                &allowed_org_roles,
                &privileged_org_roles,
                offboarding_grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS),
                Some(&reason),
            )?])
        })
        .await
    }

    /// Links an account to an employee by hand.
    pub async fn link_account(
        &self,
        actor: Actor,
        system: SystemId,
        account_id: String,
        employee_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(actor, move |projections| {
            Ok(vec![commands::link_account(
                projections,
                &system,
                &account_id,
                &employee_id,
                &reason,
            )?])
        })
        .await
    }

    /// Removes an account's manual link; `expected_employee_id`, when not empty, must be the
    /// employee it links to.
    pub async fn unlink_account(
        &self,
        actor: Actor,
        system: SystemId,
        account_id: String,
        expected_employee_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(actor, move |projections| {
            Ok(vec![commands::unlink_account(
                projections,
                &system,
                &account_id,
                &expected_employee_id,
                &reason,
            )?])
        })
        .await
    }

    /// Classifies an account, or with `None` removes its classification.
    pub async fn classify_account(
        &self,
        actor: Actor,
        system: SystemId,
        account_id: String,
        classification: Option<Classification>,
        owner_employee_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(actor, move |projections| {
            Ok(vec![commands::classify_account(
                projections,
                &system,
                &account_id,
                classification,
                Some(&owner_employee_id),
                &reason,
            )?])
        })
        .await
    }

    /// Releases the removals the removal guard withholds since the anomaly of sync `sync_id`.
    pub async fn confirm_removals(
        &self,
        actor: Actor,
        system: SystemId,
        sync_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(actor, move |projections| {
            commands::confirm_removals(projections, &system, &sync_id, &reason)
        })
        .await
    }

    /// Accepts one finding until an expiry or for ever (docs/reference/checks.md#exceptions); an
    /// expiry must be after now.
    pub async fn grant_exception(
        &self,
        actor: Actor,
        request: ExceptionRequest,
    ) -> Result<Vec<Entry>, ServiceError> {
        let now = self.clock.now();
        self.command_blocking(actor, move |projections| {
            Ok(vec![commands::grant_exception(projections, &request, now)?])
        })
        .await
    }

    /// Withdraws an exception that still holds.
    pub async fn revoke_exception(
        &self,
        actor: Actor,
        exception_id: String,
        reason: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        let now = self.clock.now();
        self.command_blocking(actor, move |projections| {
            Ok(vec![commands::revoke_exception(
                projections,
                &exception_id,
                &reason,
                now,
            )?])
        })
        .await
    }

    /// The exceptions of `system` granted by now or by a past instant or date, in the order
    /// they were granted, each with whether it held then; revocations after the instant are not
    /// known to the answer.
    pub async fn exceptions(
        &self,
        system: SystemId,
        as_of: Option<AsOf>,
    ) -> Result<Vec<ListedException>, ServiceError> {
        let as_of = self.past_instant(as_of)?;
        let at = self.instant(as_of);
        self.blocking(move |service| {
            service.check_recorded_by(as_of)?;
            Ok(service.ledger.read_as_of(as_of, |projections| {
                projections
                    .exceptions()
                    .all()
                    .filter(|exception| exception.system == system)
                    .map(|exception| ListedException {
                        exception: exception.clone(),
                        in_force: exception.in_force_at(at),
                    })
                    .collect()
            })?)
        })
        .await
    }

    /// Creates or updates one employee.
    pub async fn upsert_employee(
        &self,
        actor: Actor,
        record: EmployeeRecord,
    ) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(actor, move |projections| {
            commands::upsert_employee(projections, record)
        })
        .await
    }

    /// Records that an employee left, or will leave, at `effective_at` (now when absent).
    pub async fn offboard_employee(
        &self,
        actor: Actor,
        employee_id: String,
        effective_at: Option<Timestamp>,
        reason: String,
    ) -> Result<Vec<Entry>, ServiceError> {
        let effective_at = self.instant(effective_at);
        self.command_blocking(actor, move |projections| {
            commands::offboard_employee(projections, &employee_id, effective_at, Some(&reason))
        })
        .await
    }

    /// Imports a roster CSV: all of it, or nothing when any row has a problem.
    pub async fn import_roster(
        &self,
        actor: Actor,
        csv: Vec<u8>,
    ) -> Result<(ImportSummary, Appended), ServiceError> {
        self.blocking(move |service| service.import_roster_now(actor, csv, None))
            .await
    }

    /// Parses and imports `csv`, which is dropped once parsed: the rows hold all of it that the
    /// import needs, and a large file need not stay in memory through the append. `file` is the
    /// digest of the configured roster file it was read from.
    fn import_roster_now(
        &self,
        actor: Actor,
        csv: Vec<u8>,
        file: Option<Hash256>,
    ) -> Result<(ImportSummary, Appended), ServiceError> {
        let roster = parse_roster_as(&csv, self.timezone, &self.roster_format)?;
        drop(csv);
        self.import_parsed(actor, roster, file)
    }

    /// Imports a roster without a problem; `file` is the digest of what it was read from.
    fn import_parsed(
        &self,
        actor: Actor,
        roster: Roster,
        file: Option<Hash256>,
    ) -> Result<(ImportSummary, Appended), ServiceError> {
        let now = self.clock.now();
        let source = source_of(&actor);
        let (appended, summary) = self.ledger.decide_and_append(now, actor, |projections| {
            let (mut events, summary) = plan_import(projections, roster, source.as_deref(), now)?;
            events.extend(file.and_then(|sha256| acceptance(projections, sha256)));
            Ok::<_, RosterErrors>((events, summary))
        })??;
        Ok((summary, appended))
    }

    /// Imports the configured roster, if there is one, and returns what it appended: the
    /// import's events, or the `RosterRejected` of a refused file or listing, or of a source
    /// that could not be read. A Truto listing is fetched in full first; a page that fails
    /// imports nothing of it.
    pub async fn import_configured_roster(&self) -> Result<(RosterImport, Appended), ServiceError> {
        let Some(input) = self.roster_input.clone() else {
            return Ok((None, Appended::default()));
        };
        match input.as_ref() {
            RosterInput::File(path) => {
                let path = path.clone();
                self.blocking(move |service| Ok(service.import_roster_file(&path)))
                    .await
            }
            RosterInput::Truto(source) => match self.read_truto(source).await {
                Err(error) => Ok((Some(Err(error)), Appended::default())),
                Ok(read) => self.import_truto(read).await,
            },
        }
    }

    /// Imports what a read of Truto gave, or records that Truto could not be read (once per
    /// distinct cause, without the secret the error was scrubbed of).
    async fn import_truto(
        &self,
        read: Result<TrutoRead, FetchError>,
    ) -> Result<(RosterImport, Appended), ServiceError> {
        let actor = Actor::RosterSource("truto".to_owned());
        self.blocking(move |service| {
            Ok(match read {
                Ok(read) => service.import_or_reject(actor, read.roster, read.sha256),
                Err(error) => {
                    let reason = format!(
                        "Truto could not be read ({}): {}",
                        error.class,
                        error.without_attempts()
                    );
                    let appended = service.record_refusal(
                        actor,
                        "the roster source's failure",
                        |projections| unreadable(projections, reason),
                    );
                    (Some(Err(ServiceError::RosterSource(error))), appended)
                }
            })
        })
        .await
    }

    /// Imports the roster file at `path`, or records its refusal.
    fn import_roster_file(&self, path: &std::path::Path) -> (RosterImport, Appended) {
        let csv = match crate::bounded::read_file(path, crate::roster::MAX_FILE_BYTES) {
            Ok(csv) => csv,
            Err(source) => {
                let error = ServiceError::RosterFile {
                    path: path.to_path_buf(),
                    source,
                };
                return (Some(Err(error)), Appended::default());
            }
        };
        let sha256 = Hash256::of(&csv);
        let roster = parse_roster_as(&csv, self.timezone, &self.roster_format);
        drop(csv);
        self.import_or_reject(Actor::Roster, roster, sha256)
    }

    /// Imports a configured roster read from what has digest `sha256`, or records the refusal
    /// of its problems (once per distinct digest).
    fn import_or_reject(
        &self,
        actor: Actor,
        roster: Result<Roster, RosterErrors>,
        sha256: Hash256,
    ) -> (RosterImport, Appended) {
        let imported = roster
            .map_err(ServiceError::Roster)
            .and_then(|roster| self.import_parsed(actor.clone(), roster, Some(sha256)));
        match imported {
            Ok((summary, appended)) => (Some(Ok(summary)), appended),
            Err(ServiceError::Roster(errors)) => {
                let appended = self.record_refusal(actor, "the roster's refusal", |projections| {
                    rejection(projections, sha256, &errors)
                });
                (Some(Err(ServiceError::Roster(errors))), appended)
            }
            Err(error) => (Some(Err(error)), Appended::default()),
        }
    }

    /// Records the refusal `decide` makes of what a roster source gave, if it makes one (a
    /// refusal already recorded is not repeated). The source's failure is what the caller
    /// reports; a failure to record it too (`what` names it) is logged, never put in its place.
    fn record_refusal(
        &self,
        actor: Actor,
        what: &str,
        decide: impl FnOnce(&Projections) -> Option<Event>,
    ) -> Appended {
        self.decide(actor, |projections| {
            Ok(decide(projections).into_iter().collect())
        })
        .unwrap_or_else(|error| {
            tracing::error!("{what} could not be recorded: {error}");
            Appended::default()
        })
    }

    /// One sync cycle of `system`, the same for the scheduler, `SyncNow` and `tailledger sync`:
    /// the configured roster is re-read and imported, then the system is synced. A roster that
    /// cannot be imported is reported in the cycle and the sync still runs, so access keeps
    /// being recorded while HR fixes the file. Truto is read while the system is synced, and
    /// its listing imported after the sync's batch, so a slow or failing HR system never holds
    /// up the system's sync.
    pub async fn sync_now(&self, system: &SystemId) -> Result<CycleReport, ServiceError> {
        let syncer = self.syncer(system)?;
        let (roster, roster_appended, sync) = match self.roster_input.as_deref() {
            Some(RosterInput::Truto(source)) => {
                let (read, sync) = tokio::join!(self.read_truto(source), self.run_syncer(&syncer));
                let sync = sync?;
                let (roster, appended) = match read {
                    Ok(read) => self.import_truto(read).await?,
                    Err(refused) => (Some(Err(refused)), Appended::default()),
                };
                (roster, appended, sync)
            }
            _ => {
                let (roster, appended) = self.import_configured_roster().await?;
                (roster, appended, self.run_syncer(&syncer).await?)
            }
        };
        match &roster {
            Some(Ok(summary)) => tracing::info!(%summary, "roster imported"),
            Some(Err(error)) => {
                tracing::error!("roster not imported, nothing from it was recorded: {error}");
            }
            None => {}
        }
        Ok(CycleReport {
            roster,
            roster_appended,
            sync,
        })
    }

    /// The sync of `system` alone, without the roster: what a webhook starts, since its delivery
    /// tells of a change in the system, and HR is read by every other cycle. So a removal a
    /// webhook announces is never queued behind a slow HR read.
    pub async fn sync_system_now(&self, system: &SystemId) -> Result<SyncReport, ServiceError> {
        Ok(self.run_syncer(&*self.syncer(system)?).await?)
    }

    /// Runs one sync of `syncer`, which reads its source's clock.
    async fn run_syncer(&self, syncer: &Syncer) -> Result<SyncReport, SyncError> {
        let report = syncer.sync_now().await;
        self.live_changed.send_replace(());
        report
    }

    /// The syncer of `system`, or why there is none.
    fn syncer(&self, system: &SystemId) -> Result<Arc<Syncer>, ServiceError> {
        self.syncers
            .get(system)
            .cloned()
            .ok_or_else(|| ServiceError::NotSyncing(system.clone()))
    }

    /// The checks of `system` now, or as of a past instant or date.
    pub async fn status(
        &self,
        system: SystemId,
        as_of: Option<AsOf>,
    ) -> Result<CheckReport, ServiceError> {
        let as_of = self.past_instant(as_of)?;
        let evaluated_at = self.instant(as_of);
        self.blocking(move |service| {
            service.check_recorded_by(as_of)?;
            let in_force = service.settings_at(&system, evaluated_at);
            let mut report = service
                .ledger
                .read_as_of(as_of, |projections| CheckReport {
                    evaluated_at,
                    head: projections.last_digest(),
                    checks: service.answers.checks(
                        projections,
                        &system,
                        evaluated_at,
                        &in_force.settings,
                    ),
                    settings_recorded_from_seq: in_force.recorded_from,
                })?;
            if as_of.is_none() {
                service.add_live_findings(&system, &mut report);
            }
            Ok(report)
        })
        .await
    }

    /// The checks of `system` over the window `[from, to)`
    /// (docs/reference/time-and-durability.md#timeline). A date `from` is the start of that day in
    /// the roster's timezone and a date `to` the start of the next (the window holds the whole
    /// day), or now while that day is still running; an instant `to` after now is refused, and so
    /// is a window whose `from` is not before its `to`. A window starting before the ledger's first
    /// entry starts at that entry, since nothing was known before it; one ending at or before it is
    /// "nothing recorded yet".
    pub async fn timeline(
        &self,
        system: SystemId,
        from: AsOf,
        to: AsOf,
    ) -> Result<Timeline, ServiceError> {
        let asked = self.window(from, to)?;
        self.blocking(move |service| {
            let first = service.ledger.log().get(1)?.map(|entry| entry.recorded_at);
            let window = match first {
                Some(first) if first < asked.to => Window {
                    from: asked.from.max(first),
                    to: asked.to,
                },
                _ => {
                    return Err(ServiceError::NothingRecorded {
                        as_of: asked.to,
                        first,
                    });
                }
            };
            let (projections, entries) = service.ledger.state_and_entries_after(window.from)?;
            Ok(timeline::fold(
                projections,
                entries,
                &system,
                window,
                &|at| service.settings_at(&system, at).settings,
            )?)
        })
        .await
    }

    /// The window `[from, to)` asked for, resolved and checked as [`Service::timeline`] says.
    fn window(&self, from: AsOf, to: AsOf) -> Result<Window, ServiceError> {
        let now = self.now();
        let beyond = |field, asked: AsOf| ServiceError::BadWindow {
            field,
            reason: format!("{asked} ends after the year 9999"),
        };
        let from_at = from
            .starts(self.timezone)
            .ok_or_else(|| beyond("from", from))?;
        let to_at = match to {
            AsOf::Instant(instant) => instant,
            AsOf::Date(_) => to
                .resolve(self.timezone)
                .ok_or_else(|| beyond("to", to))?
                .saturating_add_micros(1),
        };
        let to_at = match self.past_instant(Some(to)) {
            Ok(_) => to_at.min(now),
            Err(_) => {
                return Err(ServiceError::BadWindow {
                    field: "to",
                    reason: format!(
                        "{to} is in the future (it is now {now}): the ledger can only say what it knew"
                    ),
                });
            }
        };
        if from_at >= to_at {
            return Err(ServiceError::BadWindow {
                field: "from",
                reason: format!(
                    "{from} is not before `to` ({to_at}): a window [from, to) needs from < to"
                ),
            });
        }
        Ok(Window {
            from: from_at,
            to: to_at,
        })
    }

    /// When the credential `system` was last seen using expires, if it does.
    pub fn credential_expires_at(&self, system: &SystemId) -> Option<Timestamp> {
        self.ledger.read(|projections| {
            projections
                .system(system)
                .and_then(|state| state.credential.as_ref())
                .and_then(|credential| credential.expires_at)
        })
    }

    /// The offboarding report for offboardings effective within the window, each row with the
    /// link as it stood (docs/reference/checks.md#offboarding-report): the links to those who left
    /// are read from the state as of the instant each left and the later instant the ledger
    /// recorded it (`report::departures`), one read per distinct instant, with the settings in
    /// force then; a link made later adds a row, as first made (`report::links_made_later`, from
    /// the entries since the earliest of those instants), and a link removed or changed later
    /// removes or alters none.
    pub async fn offboarding_report(
        &self,
        system: SystemId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<OffboardingRow>, ServiceError> {
        self.offboarding_report_as_of(system, (from, to), self.now())
            .await
    }

    /// The offboarding report as the ledger told it at `now`: from the entries recorded by then
    /// alone, with the settings in force then. An evidence pack's table is this report as of its
    /// window's end, so its own `ledger.jsonl` reproduces it (`check_offboarding.py`).
    pub async fn offboarding_report_as_of(
        &self,
        system: SystemId,
        (from, to): (Option<Timestamp>, Option<Timestamp>),
        now: Timestamp,
    ) -> Result<Vec<OffboardingRow>, ServiceError> {
        self.blocking(move |service| {
            let departures = service.ledger.read_as_of(Some(now), |projections| {
                report::departures(projections, (from, to), now)
            })?;
            let known_from = report::known_from(&departures);
            let mut stood = Vec::new();
            for (left_at, employees) in departures {
                let then = service.settings_at(&system, left_at);
                stood.extend(service.ledger.read_as_of(Some(left_at), |projections| {
                    report::links_to(
                        projections,
                        &system,
                        &employees,
                        (&then.settings, then.since),
                    )
                })?);
            }
            let later = match known_from.values().min() {
                Some(earliest) => {
                    let (projections, entries) =
                        service.ledger.state_and_entries_after(*earliest)?;
                    // Only what was recorded by `now`: the links standing then are read below.
                    let entries = entries.take_while(|entry| {
                        entry
                            .as_ref()
                            .map_or(true, |entry| entry.recorded_at <= now)
                    });
                    report::links_made_later(projections, entries, &system, &known_from, &|at| {
                        let then = service.settings_at(&system, at);
                        (then.settings, then.since)
                    })?
                }
                None => Vec::new(),
            };
            let in_force = service.settings_at(&system, now);
            Ok(service.ledger.read_as_of(Some(now), |projections| {
                report::offboarding_report(
                    projections,
                    &system,
                    (from, to),
                    now,
                    (&in_force.settings, in_force.since),
                    (&stood, &later),
                )
            })?)
        })
        .await
    }

    /// Up to `limit` accounts of `system` as of `at`, in account id order after the id `after`,
    /// with what the checks say of each, and whether more follow.
    pub async fn accounts(
        &self,
        system: SystemId,
        at: Timestamp,
        include_removed: bool,
        after: Option<String>,
        limit: usize,
    ) -> Result<Page<AccountView>, ServiceError> {
        self.blocking(move |service| {
            let in_force = service.settings_at(&system, at);
            Ok(service.ledger.read_as_of(Some(at), |projections| {
                account_views(
                    projections,
                    &system,
                    service
                        .answers
                        .checks(projections, &system, at, &in_force.settings),
                    &in_force.settings,
                    include_removed,
                    (
                        after.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
                        limit,
                    ),
                )
            })?)
        })
        .await
    }

    /// One account of `system` as of `at` (removed or not), with what the checks say of it.
    pub async fn account(
        &self,
        system: SystemId,
        account_id: String,
        at: Timestamp,
    ) -> Result<Option<AccountView>, ServiceError> {
        self.blocking(move |service| {
            let in_force = service.settings_at(&system, at);
            let page = service.ledger.read_as_of(Some(at), |projections| {
                account_views(
                    projections,
                    &system,
                    service
                        .answers
                        .checks(projections, &system, at, &in_force.settings),
                    &in_force.settings,
                    true,
                    (Bound::Included(account_id.as_str()), 1),
                )
            })?;
            Ok(page
                .items
                .into_iter()
                .find(|view| view.account.snapshot.id == account_id))
        })
        .await
    }

    /// Up to `limit` employees as of `at`, in employee id order after the id `after`, and
    /// whether more follow.
    pub async fn employees(
        &self,
        at: Timestamp,
        after: Option<String>,
        limit: usize,
    ) -> Result<Page<EmployeeState>, ServiceError> {
        self.blocking(move |service| {
            Ok(service.ledger.read_as_of(Some(at), |projections| {
                let mut employees = projections.employees().after(after.as_deref());
                let items: Vec<EmployeeState> = employees.by_ref().take(limit).cloned().collect();
                Page {
                    items,
                    more: employees.next().is_some(),
                }
            })?)
        })
        .await
    }

    /// Every entry about an account or employee, recorded within `[from, to]`.
    pub async fn history(
        &self,
        subject: String,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<Entry>, ServiceError> {
        let seqs = self
            .ledger
            .read(|projections| {
                HistoryFilter::resolve(projections, &subject).map(|filter| filter.seqs(projections))
            })
            .ok_or(ServiceError::UnknownSubject(subject))?;
        self.blocking(move |service| {
            let mut entries = Vec::new();
            for seq in seqs {
                let Some(entry) = service.ledger.log().get(seq)? else {
                    continue;
                };
                if to.is_some_and(|to| entry.recorded_at > to) {
                    break;
                }
                if from.is_none_or(|from| entry.recorded_at >= from) {
                    entries.push(entry);
                }
            }
            Ok(entries)
        })
        .await
    }

    /// Up to `limit` entries after seq `after_seq`.
    pub async fn events(&self, after_seq: u64, limit: usize) -> Result<EventsPage, ServiceError> {
        self.blocking(move |service| {
            let entries = service
                .ledger
                .log()
                .read(after_seq.saturating_add(1), limit)?;
            Ok(EventsPage {
                next_after_seq: entries.last().map_or(after_seq, |entry| entry.seq),
                entries,
            })
        })
        .await
    }

    /// The head digest, or `None` while the ledger is empty.
    pub fn head(&self) -> Option<Digest> {
        self.ledger.log().head()
    }

    /// A receiver that sees whether the ledger takes writes: false from a failed append until
    /// one succeeds again (health follows it).
    pub fn writable(&self) -> watch::Receiver<bool> {
        self.ledger.log().writable()
    }

    /// A receiver that sees the head after every durable append, for followers.
    pub fn follow(&self) -> watch::Receiver<Option<Digest>> {
        self.ledger.log().subscribe()
    }

    /// The head digest and when it was recorded.
    pub async fn digest(&self) -> Result<Option<(Digest, Timestamp)>, ServiceError> {
        self.blocking(|service| {
            let Some(head) = service.head() else {
                return Ok(None);
            };
            let recorded_at = service
                .ledger
                .log()
                .get(head.seq)?
                .map_or(Timestamp::MIN, |entry| entry.recorded_at);
            Ok(Some((head, recorded_at)))
        })
        .await
    }

    /// The webhook deliveries from `system` recorded after `since`: each body's digest and when it
    /// was recorded, so the receiver still knows them as duplicates after a restart.
    pub async fn webhook_deliveries_since(
        &self,
        system: SystemId,
        since: Timestamp,
    ) -> Result<Vec<(Hash256, Timestamp)>, ServiceError> {
        const PAGE: usize = 1_000;
        self.blocking(move |service| {
            let log = service.ledger.log();
            let mut next = log.last_seq_recorded_by(since)?.saturating_add(1);
            let mut deliveries = Vec::new();
            loop {
                let page = log.read(next, PAGE)?;
                for entry in &page {
                    if let Event::WebhookReceived {
                        system: from,
                        body_sha256,
                        ..
                    } = &entry.event
                        && *from == system
                    {
                        deliveries.push((*body_sha256, entry.recorded_at));
                    }
                }
                match page.last() {
                    Some(last) if page.len() == PAGE => next = last.seq + 1,
                    _ => return Ok(deliveries),
                }
            }
        })
        .await
    }

    /// Verifies the whole log: every hash recomputed, every link checked.
    pub async fn verify(&self) -> Result<Report, ServiceError> {
        self.blocking(|service| Ok(service.ledger.log().verify()?))
            .await
    }
}

/// A page of the accounts of `system` (`(start, limit)`: those from a bound on the account id,
/// at most so many) with their links, classifications and the findings of `checks` (evaluated at the page's
/// instant) about each.
fn account_views(
    projections: &Projections,
    system: &SystemId,
    checks: Vec<CheckResult>,
    settings: &CheckSettings,
    include_removed: bool,
    (start, limit): (Bound<&str>, usize),
) -> Page<AccountView> {
    let Some(state) = projections.system(system) else {
        return Page {
            items: Vec::new(),
            more: false,
        };
    };
    let reasons = findings_by_account(state, &checks);
    let mut accounts = state
        .accounts
        .range::<str, _>((start, Bound::Unbounded))
        .map(|(_, account)| account)
        .filter(|account| include_removed || account.present);
    let items = accounts
        .by_ref()
        .take(limit)
        .map(|account| account_view(projections, state, &reasons, settings, account))
        .collect();
    Page {
        items,
        more: accounts.next().is_some(),
    }
}

/// The reasons of `checks`' findings, by the id of the account of `state` each is about.
fn findings_by_account<'a>(
    state: &'a SystemState,
    checks: &[CheckResult],
) -> BTreeMap<&'a str, Vec<Reason>> {
    let mut reasons: BTreeMap<&str, Vec<Reason>> = BTreeMap::new();
    for finding in checks.iter().flat_map(|check| &check.findings) {
        if let Some(account_id) = &finding.subject.account_id
            && let Some((key, _)) = state.accounts.get_key_value(account_id)
        {
            reasons
                .entry(key.as_str())
                .or_default()
                .push(finding.reason);
        }
    }
    reasons
}

/// `account` of `state` with its access, link, classification and findings (`reasons`, from
/// [`findings_by_account`]).
fn account_view(
    projections: &Projections,
    state: &SystemState,
    reasons: &BTreeMap<&str, Vec<Reason>>,
    settings: &CheckSettings,
    account: &AccountState,
) -> AccountView {
    AccountView {
        holds_access: holds_access(account.present, &account.snapshot.status, settings),
        link: resolve(
            state,
            projections.employees(),
            account,
            &settings.email_aliases,
        )
        .map(|link| (link.employee.record.employee_id.clone(), link.kind)),
        classification: state.classifications.get(&account.snapshot.id).cloned(),
        findings: reasons
            .get(account.snapshot.id.as_str())
            .cloned()
            .unwrap_or_default(),
        account: account.clone(),
    }
}
