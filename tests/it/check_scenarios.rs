//! Check scenarios as data: each file under `tests/scenarios/checks/` is a sequence of steps
//! (a roster import, a sync of a listing, an admin action, the clock moving) and the snapshot
//! records every check after every step, and the offboarding report at the end. The steps
//! drive the real `Service`: syncs observe through an in-memory `Source`, so the wiring under
//! test is the one `serve` uses. A `settings` step records settings as `serve` does at start,
//! and a `status_as_of` step records the checks as of a past instant. A scenario with a
//! `timeline` window also records the check timeline over it at the end: intervals, whether
//! each began at an entry or by time alone, and the findings with their time to resolution.
//! A scenario with `alerts_since` also records the notifications derived from it to the end
//! (docs/operating.md#alerts), one line each with its id, derived twice to show the ids stable.
//! Each file is checked on its own (`insta::glob!`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tailledger::alerts::{Deriver, Notification};
use tailledger::as_of::AsOf;
use tailledger::checks::{CheckResult, CheckSettings, Reason};
use tailledger::commands::ExceptionRequest;
use tailledger::commands::review::{DecisionInput, Reviewer, StartReview};
use tailledger::event::{
    Actor, Classification, CredentialKind, Event, ReviewScope, SettingsRecord, SyncErrorClass,
    SystemId,
};
use tailledger::identity::EmailAliases;
use tailledger::ledger::Ledger;
use tailledger::projection::CredentialState;
use tailledger::roster::parse_timezone;
use tailledger::service::Service;
use tailledger::sync::{
    AuditWindow, Listing, Observation, Observing, Source, SyncOptions, SyncOutcome, Syncer,
};
use tailledger::tailscale::FetchError;
use tailledger::time::{ManualClock, Timestamp};
use tailledger::timeline::{Timeline, Window};

use crate::helpers::{ScenarioPart, ScenarioUser, data_files, read_scenario};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    about: String,
    start: Timestamp,
    #[serde(default)]
    settings: Settings,
    steps: Vec<Step>,
    /// The window `[from, to)` whose timeline is recorded after the last step.
    #[serde(default)]
    timeline: Option<Window>,
    /// Record the alert notifications derived from this instant to the end.
    #[serde(default)]
    alerts_since: Option<Timestamp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "utc")]
    timezone: String,
    #[serde(default)]
    email_aliases: BTreeMap<String, String>,
    #[serde(default = "yes")]
    suspended_is_removed: bool,
    /// The removal guard's hold, e.g. `1h`; `0s` leaves releasing to an admin.
    #[serde(default = "one_day_text")]
    removal_guard_hold: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timezone: utc(),
            email_aliases: BTreeMap::new(),
            suspended_is_removed: true,
            removal_guard_hold: one_day_text(),
        }
    }
}

fn one_day_text() -> String {
    "24h".to_owned()
}

fn utc() -> String {
    "UTC".to_owned()
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Step {
    /// Import this CSV text as the roster.
    Roster(String),
    /// Write this CSV text to the configured roster file, which every sync imports first.
    RosterFile(String),
    /// Sync this listing (and credential) successfully.
    Sync {
        users: Vec<ScenarioUser>,
        #[serde(default)]
        credential: Option<Credential>,
        /// The devices listing; absent, listing devices is switched off.
        #[serde(default)]
        devices: Option<ScenarioPart>,
        /// The keys listing; absent, listing keys is switched off.
        #[serde(default)]
        keys: Option<ScenarioPart>,
        /// The audit log's entries; absent, reading it is switched off.
        #[serde(default)]
        audit_log: Option<ScenarioPart>,
    },
    /// A sync that fails with this class.
    SyncFails(SyncErrorClass),
    Policy {
        allowed: Vec<String>,
        #[serde(default)]
        privileged: Vec<String>,
        #[serde(default = "one_day")]
        grace_hours: u64,
    },
    Link {
        account: String,
        employee: String,
    },
    Unlink {
        account: String,
    },
    Classify {
        account: String,
        #[serde(rename = "as")]
        classification: Classification,
        #[serde(default)]
        owner: Option<String>,
    },
    Declassify {
        account: String,
    },
    Offboard {
        employee: String,
        effective_at: Timestamp,
    },
    /// Confirm the removals withheld since the anomaly of this sync.
    ConfirmRemovals {
        sync_id: String,
    },
    /// Let time pass, e.g. `25h`.
    Advance(String),
    /// Record these settings, as `serve` does at start when the file changed
    /// (docs/reference/config.md#recorded-settings).
    Settings {
        #[serde(default)]
        email_aliases: BTreeMap<String, String>,
        #[serde(default = "yes")]
        suspended_is_removed: bool,
    },
    /// The checks as of this past instant, recorded beside the steps' checks of now.
    StatusAsOf(Timestamp),
    /// Grant an exception for the finding of `check` about an account
    /// (docs/reference/checks.md#exceptions).
    GrantException {
        check: String,
        account: String,
        #[serde(default)]
        expires_at: Option<Timestamp>,
    },
    RevokeException {
        exception: String,
    },
    /// Start an access review pinned to the head (docs/reference/checks.md#reviews), due at
    /// `due_at`.
    StartReview {
        scope: ReviewScope,
        reviewers: Vec<String>,
        due_at: Timestamp,
    },
    /// `by`, a reviewer's employee id, decides about one account of `review`.
    Decide {
        review: String,
        account: String,
        decision: String,
        #[serde(default)]
        new_role: String,
        by: String,
    },
    CompleteReview {
        review: String,
    },
}

fn one_day() -> u64 {
    24
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credential {
    id: String,
    expires_at: Timestamp,
    #[serde(default)]
    invalid: bool,
}

/// One finding in one line: state, reason, subject, since, deadline, evidence.
fn finding_line(finding: &tailledger::checks::Finding) -> String {
    let subject = [
        finding.subject.login_name.as_deref(),
        finding.subject.employee_id.as_deref(),
        finding.subject.device_id.as_deref(),
        finding.subject.key_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" / ");
    let deadline = finding
        .deadline
        .map(|deadline| format!(" deadline {deadline}"))
        .unwrap_or_default();
    format!(
        "{:?} {} [{}] since {}{deadline} evidence {:?}",
        finding.state,
        finding.reason.as_str(),
        if subject.is_empty() {
            finding.subject.system.to_string()
        } else {
            subject
        },
        finding.since,
        finding.evidence
    )
}

fn checks_json(results: &[CheckResult]) -> Value {
    results
        .iter()
        .map(|result| {
            (
                result.check_id.to_owned(),
                json!({
                    "state": result.state,
                    "findings": result.findings.iter().map(finding_line).collect::<Vec<_>>(),
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The listing the next sync observes: an in-memory [`Source`] that the steps fill.
#[derive(Clone, Default)]
struct ScenarioSource(Arc<Mutex<Option<Result<Observation, FetchError>>>>);

impl Source for ScenarioSource {
    fn observe(&self, _audit_log: AuditWindow) -> Observing<'_> {
        let next = self
            .0
            .lock()
            .unwrap()
            .take()
            .expect("a sync step sets what the sync observes");
        Box::pin(async move { next })
    }
}

/// The real service over an in-memory ledger, a manual clock and the scenario's source.
struct Run {
    service: Service,
    source: ScenarioSource,
    clock: Arc<ManualClock>,
    system: SystemId,
    /// The configured roster file (in a temporary directory), when a step writes one.
    roster_file: Option<tempfile::NamedTempFile>,
}

impl Run {
    /// Syncs once, observing `observed`, and returns the outcome.
    async fn sync(&self, observed: Result<Observation, FetchError>) -> SyncOutcome {
        *self.source.0.lock().unwrap() = Some(observed);
        let cycle = self
            .service
            .sync_now(&self.system)
            .await
            .expect("the in-memory ledger appends");
        cycle.sync.outcome
    }

    /// Applies a step and returns a short description of it.
    async fn step(&self, step: Step) -> String {
        let admin = || Actor::Api("admin".to_owned());
        let system = || self.system.clone();
        match step {
            Step::Roster(csv) => {
                let (summary, _) = self
                    .service
                    .import_roster(Actor::Roster, csv.into_bytes())
                    .await
                    .expect("scenario rosters import");
                format!("roster import {summary:?}")
            }
            Step::RosterFile(csv) => {
                let file = self
                    .roster_file
                    .as_ref()
                    .expect("the roster file is configured");
                std::fs::write(file.path(), csv).expect("the roster file is writable");
                "roster file written".to_owned()
            }
            Step::Sync {
                users,
                credential,
                devices,
                keys,
                audit_log,
            } => {
                let accounts = users.into_iter().map(ScenarioUser::snapshot).collect();
                let observation = Observation {
                    listing: Listing::new(accounts).expect("scenario listings have unique ids"),
                    credential: credential.map(|credential| CredentialState {
                        id: credential.id,
                        kind: CredentialKind::OauthClient,
                        expires_at: Some(credential.expires_at),
                        invalid: credential.invalid,
                    }),
                    devices: ScenarioPart::devices(devices),
                    keys: ScenarioPart::keys(keys),
                    audit_log: ScenarioPart::audit_log(audit_log),
                };
                let SyncOutcome::Completed {
                    events_appended,
                    not_listed,
                    ..
                } = self.sync(Ok(observation)).await
                else {
                    panic!("a scenario sync with a listing completes");
                };
                if not_listed.is_empty() {
                    format!("sync ({events_appended} changes)")
                } else {
                    format!("sync ({events_appended} changes; not listed: {not_listed:?})")
                }
            }
            Step::SyncFails(class) => {
                let failure = FetchError {
                    class,
                    message: format!("simulated {class}"),
                };
                self.sync(Err(failure)).await;
                format!("sync fails ({class})")
            }
            Step::Policy {
                allowed,
                privileged,
                grace_hours,
            } => {
                let description = format!(
                    "policy allowed {allowed:?} privileged {privileged:?} grace {grace_hours}h"
                );
                self.service
                    .set_access_policy(
                        Actor::Config,
                        system(),
                        allowed,
                        privileged,
                        Some(grace_hours * 3600),
                        String::new(),
                    )
                    .await
                    .expect("scenario policies are valid");
                description
            }
            Step::Link { account, employee } => {
                let description = format!("link {account} to {employee}");
                self.service
                    .link_account(admin(), system(), account, employee, "scenario".into())
                    .await
                    .expect("scenario links are valid");
                description
            }
            Step::Unlink { account } => {
                let description = format!("unlink {account}");
                self.service
                    .unlink_account(admin(), system(), account, String::new(), "scenario".into())
                    .await
                    .expect("scenario unlinks are valid");
                description
            }
            Step::Classify {
                account,
                classification,
                owner,
            } => {
                let description = format!("classify {account} as {classification:?}");
                self.service
                    .classify_account(
                        admin(),
                        system(),
                        account,
                        Some(classification),
                        owner.unwrap_or_default(),
                        "scenario".into(),
                    )
                    .await
                    .expect("scenario classifications are valid");
                description
            }
            Step::Declassify { account } => {
                let description = format!("declassify {account}");
                self.service
                    .classify_account(
                        admin(),
                        system(),
                        account,
                        None,
                        String::new(),
                        "scenario".into(),
                    )
                    .await
                    .expect("scenario declassifications are valid");
                description
            }
            Step::Offboard {
                employee,
                effective_at,
            } => {
                let description = format!("offboard {employee} effective {effective_at}");
                self.service
                    .offboard_employee(admin(), employee, Some(effective_at), String::new())
                    .await
                    .expect("scenario offboardings are valid");
                description
            }
            Step::ConfirmRemovals { sync_id } => {
                let description = format!("confirm the removals withheld since {sync_id}");
                self.service
                    .confirm_removals(admin(), system(), sync_id, "scenario".into())
                    .await
                    .expect("scenario confirmations are valid");
                description
            }
            Step::Advance(duration) => {
                let duration: Duration =
                    humantime::parse_duration(&duration).expect("scenario durations parse");
                self.clock.advance(duration);
                format!("advance {}", humantime::format_duration(duration))
            }
            Step::Settings {
                email_aliases,
                suspended_is_removed,
            } => {
                let description = format!(
                    "settings: aliases {email_aliases:?}, suspended_is_removed {suspended_is_removed}"
                );
                let settings = SettingsRecord {
                    email_aliases: EmailAliases::new(email_aliases).to_record(),
                    suspended_is_removed,
                    ..recorded_defaults()
                };
                self.service
                    .record_configured_settings(&self.system, &settings)
                    .expect("the in-memory ledger appends");
                description
            }
            Step::StatusAsOf(_) => unreachable!("run_scenario answers it"),
            Step::GrantException {
                check,
                account,
                expires_at,
            } => {
                let until = expires_at.map_or("never".to_owned(), |at| at.to_string());
                let description =
                    format!("grant an exception for {check} of {account} until {until}");
                self.service
                    .grant_exception(
                        admin(),
                        ExceptionRequest {
                            system: system(),
                            check_id: check,
                            account_id: account,
                            employee_id: String::new(),
                            reason: "scenario".into(),
                            evidence_ref: String::new(),
                            expires_at,
                        },
                    )
                    .await
                    .expect("scenario exceptions are valid");
                description
            }
            Step::RevokeException { exception } => {
                let description = format!("revoke {exception}");
                self.service
                    .revoke_exception(admin(), exception, "scenario".into())
                    .await
                    .expect("scenario revocations are valid");
                description
            }
            Step::StartReview {
                scope,
                reviewers,
                due_at,
            } => {
                let entries = self
                    .service
                    .start_access_review(
                        admin(),
                        StartReview {
                            system: system(),
                            scope,
                            reviewers,
                            due_at,
                        },
                    )
                    .await
                    .expect("scenario reviews start");
                let Event::AccessReviewStarted {
                    review_id,
                    pinned_seq,
                    population,
                    ..
                } = &entries[0].event
                else {
                    panic!("a review starts with AccessReviewStarted");
                };
                let accounts: Vec<&str> = population
                    .iter()
                    .map(|account| account.account_id.as_str())
                    .collect();
                format!("start {review_id} of {scope} access at seq {pinned_seq}: {accounts:?}")
            }
            Step::Decide {
                review,
                account,
                decision,
                new_role,
                by,
            } => {
                let role = if new_role.is_empty() {
                    String::new()
                } else {
                    format!(" to {new_role}")
                };
                let description = format!("{by} decides {decision}{role} on {account} in {review}");
                self.service
                    .decide_access_review(
                        Actor::Api(by.clone()),
                        Reviewer {
                            token: by.clone(),
                            employee_id: Some(by),
                        },
                        review,
                        vec![DecisionInput {
                            account_id: account,
                            decision,
                            reason: "scenario".into(),
                            new_role,
                            line: None,
                        }],
                    )
                    .await
                    .expect("scenario decisions are valid");
                description
            }
            Step::CompleteReview { review } => {
                let description = format!("complete {review}");
                self.service
                    .complete_access_review(admin(), review)
                    .await
                    .expect("scenario reviews complete");
                description
            }
        }
    }
}

/// The settings a scenario's `settings` step leaves as they were: those the service runs with.
fn recorded_defaults() -> SettingsRecord {
    SettingsRecord {
        email_aliases: Vec::new(),
        include_shared_users: true,
        max_removal_fraction_millionths: 500_000,
        removal_guard_hold_seconds: 86_400,
        suspended_is_removed: true,
        sync_interval_seconds: CheckSettings::default().sync_interval_seconds,
        timezone: "UTC".to_owned(),
    }
}

/// The real service of a scenario, before its steps: an in-memory ledger, the scenario's clock,
/// settings and source, and its roster file when a step writes one.
fn start(scenario: &Scenario) -> Run {
    let settings = CheckSettings {
        email_aliases: EmailAliases::new(scenario.settings.email_aliases.clone()),
        suspended_is_removed: scenario.settings.suspended_is_removed,
        ..CheckSettings::default()
    };
    let ledger = Arc::new(Ledger::in_memory());
    let clock = Arc::new(ManualClock::new(scenario.start));
    let system = SystemId::tailscale();
    let source = ScenarioSource::default();
    let timezone =
        parse_timezone(&scenario.settings.timezone).expect("scenario timezones are valid");
    let mut service = Service::new(ledger.clone(), clock.clone(), settings, timezone);
    let hold = humantime::parse_duration(&scenario.settings.removal_guard_hold)
        .expect("scenario durations parse");
    service.set_syncer(Syncer::new(
        system.clone(),
        Box::new(source.clone()),
        ledger,
        clock.clone(),
        SyncOptions {
            removal_guard_hold_seconds: Some(hold.as_secs()).filter(|seconds| *seconds > 0),
            ..SyncOptions::default()
        },
    ));
    let writes_roster_file = scenario
        .steps
        .iter()
        .any(|step| matches!(step, Step::RosterFile(_)));
    let roster_file = writes_roster_file.then(|| {
        let file = tempfile::NamedTempFile::new().expect("a temporary roster file");
        service.set_roster_file(file.path().to_path_buf());
        file
    });
    Run {
        service,
        source,
        clock,
        system,
        roster_file,
    }
}

/// A scenario played on its service, which recorded the scenario's settings first as `serve`
/// does at start: so an export of its ledger says everything the service answers with.
pub(crate) async fn play_recording_settings(file: &Path) -> (Service, Arc<ManualClock>) {
    let (_, scenario): (String, Scenario) = read_scenario(file);
    let run = start(&scenario);
    let settings = SettingsRecord {
        email_aliases: EmailAliases::new(scenario.settings.email_aliases.clone()).to_record(),
        suspended_is_removed: scenario.settings.suspended_is_removed,
        timezone: scenario.settings.timezone.clone(),
        ..recorded_defaults()
    };
    run.service
        .record_configured_settings(&run.system, &settings)
        .expect("the in-memory ledger appends");
    for step in scenario.steps {
        if !matches!(step, Step::StatusAsOf(_)) {
            run.step(step).await;
        }
    }
    (run.service, run.clock)
}

async fn run_scenario(scenario: Scenario) -> Value {
    let run = start(&scenario);
    let mut steps = Vec::new();
    // Alerts derived as the delivery loop derives them: brought forward a pass at each step.
    let mut incremental = None;
    for step in scenario.steps {
        if scenario.alerts_since.is_some() {
            incremental = Some(alert_pass(&run, incremental).await);
        }
        if let Step::StatusAsOf(as_of) = step {
            let past = run
                .service
                .status(run.system.clone(), Some(AsOf::Instant(as_of)))
                .await
                .expect("the in-memory ledger reads");
            steps.push(json!({
                "step": format!("status as of {as_of}"),
                "at": past.evaluated_at,
                "checks": checks_json(&past.checks),
            }));
            continue;
        }
        let description = run.step(step).await;
        let status = run
            .service
            .status(run.system.clone(), None)
            .await
            .expect("the in-memory ledger reads");
        steps.push(json!({
            "step": description,
            "at": status.evaluated_at,
            "checks": checks_json(&status.checks),
        }));
    }
    let report = run
        .service
        .offboarding_report(run.system.clone(), None, None)
        .await
        .unwrap();
    let mut result =
        json!({ "about": scenario.about, "steps": steps, "offboarding_report": report });
    if let Some(since) = scenario.alerts_since {
        let incremental = alert_pass(&run, incremental).await;
        result["alerts"] = alerts_json(&run, since, incremental).await;
    }
    if let Some(window) = scenario.timeline {
        let timeline = run
            .service
            .timeline(run.system.clone(), window.from.into(), window.to.into())
            .await
            .expect("scenario windows are valid");
        result["timeline"] = timeline_json(&timeline);
    }
    result
}

/// The alerts' derivation brought forward from `previous` to now, over the whole ledger.
async fn alert_pass(run: &Run, previous: Option<Deriver>) -> Deriver {
    run.service
        .alert_pass(run.system.clone(), Duration::MAX, previous)
        .await
        .expect("the in-memory ledger reads")
        .deriver
}

/// One line per notification derived from `since` to now: instant, change, check, reason,
/// subject, what it was, the entry that made it (or time) and its id. The same as `incremental`
/// derived them pass by pass, from the first step on.
async fn alerts_json(run: &Run, since: Timestamp, incremental: Deriver) -> Value {
    let derive = || async {
        let lookback = Duration::from_micros(
            u64::try_from(run.service.now().as_micros() - since.as_micros()).unwrap(),
        );
        run.service
            .alert_window(run.system.clone(), lookback)
            .await
            .expect("the in-memory ledger reads")
    };
    let first = derive().await;
    let again = derive().await;
    let ids = |window: &tailledger::service::AlertWindow| -> Vec<String> {
        window
            .derived()
            .notifications
            .iter()
            .map(|n| n.id.clone())
            .collect()
    };
    assert_eq!(
        ids(&first),
        ids(&again),
        "deriving again gives the same ids"
    );
    let passes: Vec<&Notification> = incremental
        .derived()
        .notifications
        .iter()
        .filter(|notification| notification.at > since)
        .collect();
    assert_eq!(
        passes,
        first.derived().notifications.iter().collect::<Vec<_>>(),
        "derived pass by pass, the same as all at once"
    );
    let lines: Vec<String> = first
        .derived()
        .notifications
        .iter()
        .map(|notification| {
            format!(
                "{} {} {} {} [{}] was {} by {} id {}",
                notification.at,
                notification.change.as_str(),
                notification.check_id,
                notification.reason.as_str(),
                notification.subject_text(),
                notification.previous.map_or("-", |state| state.as_str()),
                notification
                    .seq
                    .map_or("time".to_owned(), |seq| format!("seq {seq}")),
                notification.id
            )
        })
        .collect();
    json!(lines)
}

/// Per check, one line per interval (`start .. end STATE findings`) and one per finding.
fn timeline_json(timeline: &Timeline) -> Value {
    timeline
        .checks
        .iter()
        .map(|check| {
            let intervals: Vec<String> = check
                .intervals
                .iter()
                .map(|interval| {
                    format!(
                        "{} .. {} {} {}",
                        interval.start,
                        interval.end,
                        interval.state.as_str(),
                        interval.findings
                    )
                })
                .collect();
            let findings: Vec<String> = check
                .findings
                .iter()
                .map(|finding| {
                    let closed = match (finding.closed_at, finding.time_to_resolution()) {
                        (Some(closed_at), Some(micros)) => format!(
                            "closed {closed_at} by {} after {}s",
                            finding
                                .closing_seq
                                .map_or("time".to_owned(), |seq| format!("seq {seq}")),
                            micros / 1_000_000
                        ),
                        _ => "still open".to_owned(),
                    };
                    format!(
                        "{} [{}] opened {} {closed}",
                        finding.reason.as_str(),
                        finding.subject.login_name.as_deref().unwrap_or("-"),
                        finding.opened_at,
                    )
                })
                .collect();
            (
                check.check_id.to_owned(),
                json!({ "intervals": intervals, "findings": findings }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[test]
fn check_scenarios_evaluate_as_recorded() {
    let files = data_files("tests/scenarios/checks", "json");
    assert!(!files.is_empty(), "no check scenarios");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the service");
    let mut reasons_seen = BTreeSet::new();
    let mut states_seen = BTreeSet::new();
    let mut interval_states_seen = BTreeSet::new();
    insta::glob!("../scenarios/checks", "*.json", |file| {
        let (_, scenario): (String, Scenario) = read_scenario(file);
        let result = runtime.block_on(run_scenario(scenario));
        for step in result["steps"].as_array().expect("steps") {
            for check in step["checks"].as_object().expect("checks").values() {
                states_seen.insert(check["state"].as_str().expect("a state").to_owned());
                for finding in check["findings"].as_array().expect("findings") {
                    let reason = finding
                        .as_str()
                        .expect("a line")
                        .split(' ')
                        .nth(1)
                        .expect("a reason");
                    reasons_seen.insert(reason.to_owned());
                }
            }
        }
        for check in result["timeline"]
            .as_object()
            .into_iter()
            .flat_map(|checks| checks.values())
        {
            for interval in check["intervals"].as_array().expect("intervals") {
                let state = interval.as_str().expect("a line").split(' ').nth(3);
                interval_states_seen.insert(state.expect("a state").to_owned());
            }
        }
        insta::assert_json_snapshot!("checks", result);
    });
    assert_eq!(
        interval_states_seen.into_iter().collect::<Vec<_>>(),
        ["DUE", "FAILING", "PASSING"],
        "the timeline scenarios reach every kind of interval"
    );
    assert_eq!(
        states_seen.into_iter().collect::<Vec<_>>(),
        ["DUE", "FAILING", "PASSING"],
        "the scenarios reach every state"
    );
    // `clock-skew` is found live by the service from the last sync's `Date`, never from the
    // ledger a scenario builds; `clock.rs` drives it through the simulated API. So is
    // `archive-behind`, from the archiver's progress (`archive.rs`), and `witness-refused` and
    // `witness-behind`, from the witness client's (`witness.rs`).
    let mut every_reason: Vec<&str> = Reason::ALL
        .iter()
        .filter(|reason| {
            !matches!(
                reason,
                Reason::ClockSkew
                    | Reason::ArchiveBehind
                    | Reason::WitnessRefused
                    | Reason::WitnessBehind
            )
        })
        .map(|reason| reason.as_str())
        .collect();
    every_reason.sort_unstable();
    assert_eq!(
        reasons_seen.into_iter().collect::<Vec<_>>(),
        every_reason,
        "the scenarios reach every reason code"
    );
}
