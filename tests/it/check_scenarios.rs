//! Check scenarios as data: each file under `tests/scenarios/checks/` is a sequence of steps
//! (a roster import, a sync of a listing, an admin action, the clock moving) and the snapshot
//! records the five checks after every step, and the offboarding report at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tailledger::checks::{CheckResult, CheckSettings, evaluate};
use tailledger::commands::{
    classify_account, link_account, offboard_employee, set_access_policy, unlink_account,
};
use tailledger::event::{Actor, Classification, CredentialKind, Event, SyncErrorClass, SystemId};
use tailledger::identity::EmailAliases;
use tailledger::ledger::Ledger;
use tailledger::projection::{CredentialState, ProjectedLedger};
use tailledger::report::offboarding_report;
use tailledger::roster::{parse_roster, parse_timezone, plan_import};
use tailledger::sync::{Listing, Observation, SyncContext, SyncOptions, plan_failure, plan_sync};
use tailledger::time::Timestamp;

use crate::helpers::{ScenarioUser, data_files, read_scenario};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    about: String,
    start: Timestamp,
    #[serde(default)]
    settings: Settings,
    steps: Vec<Step>,
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timezone: utc(),
            email_aliases: BTreeMap::new(),
            suspended_is_removed: true,
        }
    }
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
    /// Sync this listing (and credential) successfully.
    Sync {
        users: Vec<ScenarioUser>,
        #[serde(default)]
        credential: Option<Credential>,
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
    /// Let time pass, e.g. `25h`.
    Advance(String),
}

fn one_day() -> u64 {
    24
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credential {
    id: String,
    expires_at: Timestamp,
}

/// One finding in one line: state, reason, subject, since, deadline, evidence.
fn finding_line(finding: &tailledger::checks::Finding) -> String {
    let subject = [
        finding.subject.login_name.as_deref(),
        finding.subject.employee_id.as_deref(),
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

struct Run {
    books: ProjectedLedger,
    now: Timestamp,
    system: SystemId,
    timezone: chrono_tz::Tz,
    syncs: u64,
}

impl Run {
    fn append(&mut self, actor: Actor, events: Vec<Event>) {
        self.books
            .append(self.now, actor, events)
            .expect("the in-memory ledger appends");
    }

    fn context(&mut self) -> SyncContext {
        self.syncs += 1;
        SyncContext {
            system: self.system.clone(),
            sync_id: format!("sync-{}", self.syncs),
            started_at: self.now,
        }
    }

    /// Applies a step and returns a short description of it.
    fn step(&mut self, step: Step) -> String {
        let admin = Actor::Api("admin".to_owned());
        let projections = self.books.read(Clone::clone);
        match step {
            Step::Roster(csv) => {
                let rows = parse_roster(csv.as_bytes(), self.timezone)
                    .expect("scenario rosters are valid");
                let (events, summary) =
                    plan_import(&projections, rows, self.now).expect("scenario rosters import");
                self.append(Actor::Roster, events);
                format!("roster import {summary:?}")
            }
            Step::Sync { users, credential } => {
                let accounts = users.into_iter().map(ScenarioUser::snapshot).collect();
                let observation = Observation {
                    listing: Listing::new(accounts).expect("scenario listings have unique ids"),
                    credential: credential.map(|credential| CredentialState {
                        id: credential.id,
                        kind: CredentialKind::OauthClient,
                        expires_at: Some(credential.expires_at),
                    }),
                };
                let context = self.context();
                let state = projections.system(&self.system);
                let events = plan_sync(
                    &state,
                    &observation,
                    &context,
                    self.now,
                    &SyncOptions::default(),
                );
                let changes = events.len() - 1;
                self.append(Actor::Sync(self.system.clone()), events);
                format!("sync ({changes} changes)")
            }
            Step::SyncFails(class) => {
                let context = self.context();
                let events = plan_failure(&context, self.now, class, format!("simulated {class}"));
                self.append(Actor::Sync(self.system.clone()), events);
                format!("sync fails ({class})")
            }
            Step::Policy {
                allowed,
                privileged,
                grace_hours,
            } => {
                let event = set_access_policy(
                    &self.system,
                    &allowed,
                    &privileged,
                    grace_hours * 3600,
                    None,
                )
                .expect("scenario policies are valid");
                self.append(Actor::Config, vec![event]);
                format!("policy allowed {allowed:?} privileged {privileged:?} grace {grace_hours}h")
            }
            Step::Link { account, employee } => {
                let event =
                    link_account(&projections, &self.system, &account, &employee, "scenario")
                        .expect("scenario links are valid");
                self.append(admin, vec![event]);
                format!("link {account} to {employee}")
            }
            Step::Unlink { account } => {
                let event = unlink_account(&projections, &self.system, &account, "scenario")
                    .expect("scenario unlinks are valid");
                self.append(admin, vec![event]);
                format!("unlink {account}")
            }
            Step::Classify {
                account,
                classification,
                owner,
            } => {
                let event = classify_account(
                    &projections,
                    &self.system,
                    &account,
                    Some(classification),
                    owner.as_deref(),
                    "scenario",
                )
                .expect("scenario classifications are valid");
                self.append(admin, vec![event]);
                format!("classify {account} as {classification:?}")
            }
            Step::Declassify { account } => {
                let event =
                    classify_account(&projections, &self.system, &account, None, None, "scenario")
                        .expect("scenario declassifications are valid");
                self.append(admin, vec![event]);
                format!("declassify {account}")
            }
            Step::Offboard {
                employee,
                effective_at,
            } => {
                let events = offboard_employee(&projections, &employee, effective_at, None)
                    .expect("scenario offboardings are valid");
                self.append(admin, events);
                format!("offboard {employee} effective {effective_at}")
            }
            Step::Advance(duration) => {
                let duration: Duration =
                    humantime::parse_duration(&duration).expect("scenario durations parse");
                self.now = self.now.saturating_add_micros(
                    i64::try_from(duration.as_micros()).expect("short durations"),
                );
                format!("advance {}", humantime::format_duration(duration))
            }
        }
    }
}

fn run_scenario(scenario: Scenario) -> Value {
    let settings = CheckSettings {
        email_aliases: EmailAliases::new(scenario.settings.email_aliases),
        suspended_is_removed: scenario.settings.suspended_is_removed,
        ..CheckSettings::default()
    };
    let mut run = Run {
        books: ProjectedLedger::new(Ledger::in_memory()).expect("an empty ledger projects"),
        now: scenario.start,
        system: SystemId::tailscale(),
        timezone: parse_timezone(&scenario.settings.timezone)
            .expect("scenario timezones are valid"),
        syncs: 0,
    };
    let mut steps = Vec::new();
    for step in scenario.steps {
        let description = run.step(step);
        let checks = run
            .books
            .read(|projections| evaluate(projections, &run.system, run.now, &settings));
        steps.push(json!({ "step": description, "at": run.now, "checks": checks_json(&checks) }));
    }
    let report = run.books.read(|projections| {
        offboarding_report(projections, &run.system, None, None, run.now, &settings)
    });
    json!({ "about": scenario.about, "steps": steps, "offboarding_report": report })
}

#[test]
fn check_scenarios_evaluate_as_recorded() {
    let files = data_files("tests/scenarios/checks", "json");
    assert!(!files.is_empty(), "no check scenarios");
    let mut reasons_seen = std::collections::BTreeSet::new();
    let mut states_seen = std::collections::BTreeSet::new();
    for file in files {
        let (name, scenario): (String, Scenario) = read_scenario(&file);
        let result = run_scenario(scenario);
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
        insta::assert_json_snapshot!(format!("checks_{name}"), result);
    }
    assert_eq!(
        states_seen.into_iter().collect::<Vec<_>>(),
        ["DUE", "FAILING", "PASSING"],
        "the scenarios reach every state"
    );
    let every_reason = [
        "access-retained",
        "credential-expired",
        "credential-expiring",
        "last-sync-failed",
        "no-policy",
        "no-successful-sync",
        "privilege-not-allowed",
        "role-not-allowed",
        "sync-stale",
        "unidentified",
    ];
    assert_eq!(
        reasons_seen.into_iter().collect::<Vec<_>>(),
        every_reason,
        "the scenarios reach every reason code"
    );
}
