//! What a leaver leaves behind, through the real `serve` binary against the simulated tailnet
//! (docs/reference/checks.md#offboarded-leftovers-removed): a tagged CI device and a reusable auth
//! key outlive Marco's account and are found by `offboarded-leftovers-removed`; the report, through
//! gRPC and the CLI, says who removed the account and Tailscale's own time of it, and still answers
//! with the audit log switched off; a credential without the devices scope loses that coverage
//! only.

use serde_json::Value;
use tailledger::hash::Hash256;
use tailledger::simulator::{AuditActor, Endpoint, Fault, SimAuthKey, SimDevice};

use crate::cli::{args, run_with_env};
use crate::helpers::{ALWAYS, API_TOKEN, Fixture, free_port, spawn_serve, text};

const ADMIN: &str = "leftovers-admin-token";

/// Serves a ledger in a fresh directory over the fixture's tailnet, Marco offboarded at the
/// start of 2026, with `extra` lines in `[tailscale]`; returns the server, its URL and the
/// directory that holds it.
async fn serve(fixture: &Fixture, extra: &str) -> (std::process::Child, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("staff.csv"),
        "email,org_role,end_date\ndana@acme.example,Engineer,\nmarco@acme.example,Engineer,2026-01-01\n",
    )
    .unwrap();
    let config = dir.path().join("tailledger.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "ledger"
listen = "127.0.0.1:{port}"

[auth]
tokens = [ {{ name = "ops", role = "admin", sha256 = "{hash}" }} ]

[tailscale]
api_base_url = "{base_url}"
api_token_env = "TL_LEFTOVERS_TOKEN"
sync_interval = "1h"
{extra}

[tailscale.access_policy]
allowed_org_roles = ["*"]
privileged_org_roles = []

[roster]
csv_path = "staff.csv"
timezone = "UTC"
"#,
            hash = Hash256::of(ADMIN.as_bytes()),
            base_url = fixture.server.base_url(),
        ),
    )
    .unwrap();
    let (server, _log) = tokio::task::spawn_blocking(move || {
        spawn_serve(&config, &[("TL_LEFTOVERS_TOKEN", API_TOKEN)])
    })
    .await
    .unwrap();
    (server, format!("http://127.0.0.1:{port}"), dir)
}

/// Runs the CLI against `url` as the admin; asserts it exits 0 and returns its output.
async fn cli(url: &str, items: &[&str]) -> String {
    let mut items = items.to_vec();
    items.extend(["--server", url]);
    let output = run_with_env(args(&items), vec![("TAILLEDGER_TOKEN", ADMIN.to_owned())]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{items:?}: {}",
        text(&output)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn check(url: &str, check_id: &str) -> Value {
    let status: Value = serde_json::from_str(&cli(url, &["status", "--json"]).await).unwrap();
    status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["checkId"] == check_id)
        .cloned()
        .unwrap_or_else(|| panic!("no {check_id} in {status}"))
}

/// Marco (`u2`, active here) registers a laptop and a tagged CI runner and creates a reusable
/// auth key; the simulator's changes are made by it@acme.example.
fn leaver_leaves_things_behind(fixture: &Fixture) {
    fixture.tailnet.set_status("u2", "active").unwrap();
    fixture.tailnet.upsert_device(
        SimDevice::registered_by("nCiRunnerCNTRL", "ci-runner", "marco@acme.example")
            .tagged(&["tag:ci"]),
    );
    fixture.tailnet.upsert_device(SimDevice::registered_by(
        "nLaptopCNTRL",
        "marco-laptop",
        "marco@acme.example",
    ));
    fixture.tailnet.add_auth_key(SimAuthKey {
        id: "kCiDeployCNTRL".to_owned(),
        user_id: "u2".to_owned(),
        description: "CI deploys".to_owned(),
        reusable: true,
        tags: vec!["tag:ci".to_owned()],
        expires: None,
    });
    fixture.tailnet.set_audit_actor(AuditActor {
        id: "uItCNTRL".to_owned(),
        login_name: "it@acme.example".to_owned(),
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leavers_tagged_device_and_key_are_found_and_the_report_names_who_removed_the_account() {
    let fixture = Fixture::start().await;
    leaver_leaves_things_behind(&fixture);
    let (mut server, url, _dir) = serve(&fixture, "").await;
    cli(&url, &["admin", "sync-now"]).await;
    // Marco left long ago: his account, laptop, CI runner and key are all overdue.
    let leftovers = check(&url, "offboarded-leftovers-removed").await;
    assert_eq!(leftovers["state"], "FAILING", "{leftovers}");
    let ids: Vec<(&str, &str)> = leftovers["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| {
            let subject = &finding["subject"];
            (
                finding["reason"].as_str().unwrap(),
                subject["deviceId"]
                    .as_str()
                    .or(subject["keyId"].as_str())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("device-retained", "nCiRunnerCNTRL"),
            ("device-retained", "nLaptopCNTRL"),
            ("key-retained", "kCiDeployCNTRL")
        ]
    );

    // Deleting the account revokes the laptop; the tagged runner and the key live on.
    fixture.tailnet.remove_user("u2").unwrap();
    cli(&url, &["admin", "sync-now"]).await;
    let leftovers = check(&url, "offboarded-leftovers-removed").await;
    assert_eq!(
        leftovers["findings"].as_array().unwrap().len(),
        2,
        "{leftovers}"
    );
    let report: Value = serde_json::from_str(&cli(&url, &["report", "--json"]).await).unwrap();
    let row = &report["rows"][0];
    assert_eq!(row["account_id"], "u2", "{report}");
    assert_eq!(
        row["removed_by"]["actor"]["login_name"], "it@acme.example",
        "{report}"
    );
    assert_eq!(row["removed_by"]["action"], "DELETE");
    let entry = &fixture.tailnet.audit_log()[0];
    let tailscale_time: tailledger::time::Timestamp =
        entry["eventTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(row["removed_by"]["at"], tailscale_time.to_string());
    let words = cli(&url, &["report"]).await;
    assert!(
        words.contains("removed by:                it@acme.example (USER), DELETE at"),
        "{words}"
    );
    let history = cli(&url, &["history", "marco@acme.example"]).await;
    assert!(history.contains("ChangeAttributed"), "{history}");
    assert!(history.contains("KeySeen"), "{history}");

    // Cleaned up: the runner deleted and the key revoked (it drops out of the list).
    fixture.tailnet.remove_device("nCiRunnerCNTRL").unwrap();
    fixture.tailnet.revoke_key("kCiDeployCNTRL").unwrap();
    cli(&url, &["admin", "sync-now"]).await;
    let leftovers = check(&url, "offboarded-leftovers-removed").await;
    assert_eq!(leftovers["state"], "PASSING", "{leftovers}");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_audit_log_the_report_still_answers_and_a_missing_scope_costs_only_its_part() {
    let fixture = Fixture::start().await;
    leaver_leaves_things_behind(&fixture);
    fixture.tailnet.inject_on(
        Endpoint::Devices,
        Fault::missing_scope("devices:core:read"),
        ALWAYS,
    );
    let (mut server, url, _dir) = serve(&fixture, "read_audit_log = false").await;
    cli(&url, &["admin", "sync-now"]).await;
    fixture.tailnet.remove_user("u2").unwrap();
    let synced = cli(&url, &["admin", "sync-now"]).await;
    assert!(synced.contains("not listed: devices"), "{synced}");
    let health = check(&url, "integration-healthy").await;
    let finding = &health["findings"][0];
    assert_eq!(finding["reason"], "coverage-missing", "{health}");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains("the devices of tailscale could not be listed")
            && message.contains("(permission)")
            && message.contains("devices:core:read"),
        "{message}"
    );
    // The users were synced all the same, and the key found.
    let accounts = cli(&url, &["accounts", "--json"]).await;
    assert!(accounts.contains("dana@acme.example"), "{accounts}");
    let leftovers = check(&url, "offboarded-leftovers-removed").await;
    assert_eq!(
        leftovers["findings"][0]["subject"]["keyId"],
        "kCiDeployCNTRL"
    );
    let report: Value = serde_json::from_str(&cli(&url, &["report", "--json"]).await).unwrap();
    let row = &report["rows"][0];
    assert_eq!(row["account_id"], "u2", "{report}");
    assert!(row["first_without_access"].is_object(), "{report}");
    assert_eq!(row["removed_by"], Value::Null, "{report}");
    assert_eq!(fixture.tailnet.counters().audit_log_requests, 0);
    server.kill().unwrap();
    server.wait().unwrap();
}
