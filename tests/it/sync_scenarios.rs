//! Sync planner scenarios as data: each file under `tests/scenarios/sync/` is a sequence of
//! listings synced in turn, and the snapshot records the events every sync appended. Each file
//! is checked on its own (`insta::glob!`), so one failing scenario does not hide the others.

use serde::Deserialize;
use serde_json::{Value, json};
use tailledger::entry::event_object;
use tailledger::event::{Actor, CredentialKind, SystemId};
use tailledger::ledger::Ledger;
use tailledger::projection::{CredentialState, SystemState};
use tailledger::sync::{Listing, Observation, SyncContext, SyncOptions, plan_sync};
use tailledger::time::Timestamp;

use crate::helpers::{ScenarioPart, ScenarioUser, at, data_files, read_scenario};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    about: String,
    #[serde(default)]
    max_removal_fraction: Option<f64>,
    /// The removal guard's hold, e.g. `30m`; `0s` leaves releasing to an admin.
    #[serde(default)]
    removal_guard_hold: Option<String>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    listing: Vec<ScenarioUser>,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credential {
    id: String,
    kind: CredentialKind,
    expires_at: Option<Timestamp>,
    #[serde(default)]
    invalid: bool,
}

/// Runs the scenario's syncs one after the other, 15 minutes apart, and returns what each
/// appended.
fn run_scenario(scenario: Scenario) -> Value {
    let ledger = Ledger::in_memory();
    let empty = SystemState::default();
    let system = SystemId::tailscale();
    let mut options = SyncOptions::default();
    if let Some(fraction) = scenario.max_removal_fraction {
        options.max_removal_fraction = fraction;
    }
    if let Some(hold) = scenario.removal_guard_hold {
        let hold = humantime::parse_duration(&hold).expect("scenario durations parse");
        options.removal_guard_hold_seconds = Some(hold.as_secs()).filter(|seconds| *seconds > 0);
    }
    let mut steps = Vec::new();
    for (index, step) in scenario.steps.into_iter().enumerate() {
        let started_at =
            at("2026-03-02T14:00:00Z").saturating_add_micros(index as i64 * 900_000_000);
        let finished_at = started_at.saturating_add_micros(2_000_000);
        let context = SyncContext {
            system: system.clone(),
            sync_id: format!("sync-{}", index + 1),
            started_at,
        };
        let observation = Observation {
            listing: Listing::new(
                step.listing
                    .into_iter()
                    .map(ScenarioUser::snapshot)
                    .collect(),
            )
            .expect("scenario listings have unique ids"),
            credential: step.credential.map(|credential| CredentialState {
                id: credential.id,
                kind: credential.kind,
                expires_at: credential.expires_at,
                invalid: credential.invalid,
            }),
            devices: ScenarioPart::devices(step.devices),
            keys: ScenarioPart::keys(step.keys),
            audit_log: ScenarioPart::audit_log(step.audit_log),
        };
        let (events, _) = ledger.read(|projections| {
            let state = projections.system(&system).unwrap_or(&empty);
            plan_sync(state, &observation, &context, finished_at, &options)
        });
        let entries = ledger
            .append(finished_at, Actor::Sync(system.clone()), events)
            .expect("the in-memory ledger appends")
            .entries;
        steps.push(json!({
            "sync": context.sync_id,
            "events": entries.iter().map(|entry| event_object(&entry.event)).collect::<Vec<_>>(),
        }));
    }
    json!({ "about": scenario.about, "syncs": steps })
}

#[test]
fn sync_scenarios_append_the_expected_events() {
    let files = data_files("tests/scenarios/sync", "json");
    assert!(files.len() >= 12, "the scenarios are missing: {files:?}");
    insta::glob!("../scenarios/sync", "*.json", |file| {
        let (_, scenario): (String, Scenario) = read_scenario(file);
        insta::assert_json_snapshot!("sync", run_scenario(scenario));
    });
}
