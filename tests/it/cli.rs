//! The built binary end to end: `sync` against the simulated Tailscale API (text, JSON and exit
//! codes), `serve` answering gRPC to the client commands and stopping cleanly on SIGTERM, every
//! configuration error (snapshot-tested), and the small commands.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use tailledger::hash::Hash256;

use crate::helpers::{API_TOKEN, Fixture, free_port, run, spawn_serve, tailledger, text};

pub const TOKEN_ENV: &str = "TL_TEST_TAILSCALE_TOKEN";
pub const ADMIN_TOKEN: &str = "cli-admin-token-51f0";
pub const AUDITOR_TOKEN: &str = "cli-auditor-token-77c2";

/// A directory with a configuration for the simulated tailnet, its roster, and the ledger.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(base_url: &str, listen: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("staff.csv"),
            "email,name,org_role\ndana@acme.example,Dana Whitfield,IT\nmarco@acme.example,Marco Ibáñez,IT\n",
        )
        .unwrap();
        let config = format!(
            r#"data_dir = "ledger"
listen = "{listen}"

[auth]
tokens = [
  {{ name = "ops", role = "admin", sha256 = "{admin}" }},
  {{ name = "audit", role = "auditor", sha256 = "{auditor}" }},
]

[tailscale]
api_base_url = "{base_url}"
api_token_env = "{TOKEN_ENV}"
sync_interval = "1h"

[tailscale.access_policy]
allowed_org_roles = ["IT"]
privileged_org_roles = ["IT"]

[roster]
csv_path = "staff.csv"
timezone = "Europe/Berlin"
"#,
            admin = Hash256::of(ADMIN_TOKEN.as_bytes()),
            auditor = Hash256::of(AUDITOR_TOKEN.as_bytes()),
        );
        std::fs::write(dir.path().join("tailledger.toml"), config).unwrap();
        Setup { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("tailledger.toml")
    }

    pub fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger")
    }
}

/// Runs the binary off the async workers, so the simulator in this runtime keeps answering.
pub async fn run_with_env(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        tailledger()
            .args(&args)
            .env_remove("TAILLEDGER_TOKEN")
            .envs(env)
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

pub fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

pub fn tailscale_token() -> Vec<(&'static str, String)> {
    vec![(TOKEN_ENV, API_TOKEN.to_owned())]
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_records_the_roster_and_the_tailnet_and_reports_in_text_and_json() {
    let fixture = Fixture::start().await;
    let setup = Setup::new(fixture.server.base_url(), "127.0.0.1:0");
    let config = setup.config();
    let config = config.to_str().unwrap();

    let output = run_with_env(args(&["sync", "-c", config]), tailscale_token()).await;
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(said.contains("roster: 2 onboarded"), "{said}");
    for appended in ["AccessPolicySet      config", "EmployeeOnboarded    roster"] {
        assert!(said.contains(appended), "the events it appended: {said}");
    }
    assert!(
        said.contains("sync tailscale-000001 completed: 3 accounts observed"),
        "{said}"
    );
    assert!(
        said.contains("user-identified              FAILING"),
        "Priya is unidentified: {said}"
    );

    let output = run_with_env(
        args(&["sync", "-c", config, "--json", "--fail-on-findings"]),
        tailscale_token(),
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(1),
        "a FAILING check with --fail-on-findings: {}",
        text(&output)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(json["sync"]["outcome"], "completed");
    assert_eq!(json["sync"]["syncId"], "tailscale-000002");
    assert_eq!(json["checks"].as_array().map(Vec::len), Some(8));
    assert_eq!(json["checks"][0]["checkId"], "user-identified");
    assert_eq!(json["checks"][0]["state"], "FAILING");
    assert_eq!(
        json["checks"][2]["state"], "PASSING",
        "the configured policy was recorded"
    );
    assert!(
        json["ledgerSeq"].as_str().is_some(),
        "64-bit integers are strings in proto3 JSON"
    );

    fixture.tailnet.inject_on(
        tailledger::simulator::Endpoint::Users,
        tailledger::simulator::Fault::Status {
            status: 401,
            message: "revoked".to_owned(),
        },
        1,
    );
    let output = run_with_env(args(&["sync", "-c", config]), tailscale_token()).await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "a failed sync: {}",
        text(&output)
    );
    assert!(text(&output).contains("FAILED (auth)"), "{}", text(&output));

    let output = run_with_env(
        args(&["verify", "--data-dir", setup.ledger().to_str().unwrap()]),
        vec![],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // Standard error is a pipe here, not a terminal: no progress bar is drawn on it.
    assert!(output.stderr.is_empty(), "{}", text(&output));
    let export = setup.dir.path().join("offline.jsonl");
    let exported = run_with_env(
        args(&[
            "export",
            "--out",
            export.to_str().unwrap(),
            "--data-dir",
            setup.ledger().to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported));
    assert!(exported.stderr.is_empty(), "{}", text(&exported));
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_the_client_commands_and_stops_cleanly_on_sigterm() {
    let fixture = Fixture::start().await;
    let port = free_port();
    let setup = Setup::new(fixture.server.base_url(), &format!("127.0.0.1:{port}"));
    let config = setup.config();
    let (mut server, log) =
        tokio::task::spawn_blocking(move || spawn_serve(&config, &[(TOKEN_ENV, API_TOKEN)]))
            .await
            .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let token = vec![("TAILLEDGER_TOKEN", ADMIN_TOKEN.to_owned())];

    let status = run_with_env(args(&["status", "--server", &url, "--json"]), token.clone()).await;
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["checks"].as_array().map(Vec::len), Some(8));

    let refused = run_with_env(
        args(&["status", "--server", &url]),
        vec![("TAILLEDGER_TOKEN", "wrong".to_owned())],
    )
    .await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused).contains("(UNAUTHENTICATED)"),
        "{}",
        text(&refused)
    );
    let no_token = run_with_env(args(&["status", "--server", &url]), vec![]).await;
    assert_eq!(no_token.status.code(), Some(2));
    assert!(
        text(&no_token).contains("set TAILLEDGER_TOKEN or pass --token"),
        "{}",
        text(&no_token)
    );
    let dated = run_with_env(
        args(&["status", "--server", &url, "--as-of", "2020-01-31"]),
        token.clone(),
    )
    .await;
    assert_eq!(dated.status.code(), Some(2));
    assert!(
        text(&dated).contains("nothing recorded yet at 2020-01-31T22:59:59.999999Z"),
        "a date is the end of that day in the roster's timezone, Europe/Berlin: {}",
        text(&dated)
    );

    let history = run_with_env(
        args(&["history", "dana@acme.example", "--server", &url]),
        token.clone(),
    )
    .await;
    assert_eq!(history.status.code(), Some(0), "{}", text(&history));
    assert!(
        text(&history).contains("EmployeeOnboarded"),
        "{}",
        text(&history)
    );

    let export = setup.dir.path().join("served.jsonl");
    let exported = run_with_env(
        args(&[
            "export",
            "--out",
            export.to_str().unwrap(),
            "--server",
            &url,
        ]),
        token.clone(),
    )
    .await;
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported));
    let verified = run_with_env(args(&["verify-export", export.to_str().unwrap()]), vec![]).await;
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified));
    assert!(verified.stderr.is_empty(), "{}", text(&verified));
    // The evidence pack from the server ends with the same digest as its export.
    let pack = setup.dir.path().join("pack");
    let packed = run_with_env(
        args(&[
            "evidence",
            "--from",
            "2020-01-01",
            "--to",
            &tailledger::time::Timestamp::now().to_string(),
            "--out",
            pack.to_str().unwrap(),
            "--server",
            &url,
        ]),
        token.clone(),
    )
    .await;
    assert_eq!(packed.status.code(), Some(0), "{}", text(&packed));
    let exported_lines = std::fs::read_to_string(&export).unwrap();
    assert_eq!(
        std::fs::read_to_string(pack.join("ledger.jsonl")).unwrap(),
        exported_lines,
        "nothing was recorded after the window's end"
    );

    // The auditor's replay of the export answers as the server does, for instants and for dates
    // alike: both read a date in the roster's timezone, Berlin (the export recorded it).
    let lines = std::fs::read_to_string(&export).unwrap();
    let last: serde_json::Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    let last_at = last["recorded_at"].as_str().unwrap().to_owned();
    let window = ["--from", "2020-01-01T00:00:00Z", "--to", &last_at, "--json"];
    let served = run_with_env(
        args(&[&["timeline", "--server", &url][..], &window[..]].concat()),
        token.clone(),
    )
    .await;
    assert_eq!(served.status.code(), Some(0), "{}", text(&served));
    let replayed = run_with_env(
        args(&[&["replay", export.to_str().unwrap()][..], &window[..]].concat()),
        vec![],
    )
    .await;
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
    assert_eq!(
        text(&replayed),
        text(&served),
        "replay's timeline is the server's"
    );
    let timeline: serde_json::Value = serde_json::from_slice(&served.stdout).unwrap();
    assert_eq!(timeline["checks"].as_array().map(Vec::len), Some(8));
    let dated = ["--from", "2020-01-01", "--to", &last_at, "--json"];
    let served = run_with_env(
        args(&[&["timeline", "--server", &url][..], &dated[..]].concat()),
        token.clone(),
    )
    .await;
    let replayed = run_with_env(
        args(&[&["replay", export.to_str().unwrap()][..], &dated[..]].concat()),
        vec![],
    )
    .await;
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
    assert_eq!(
        replayed.stdout, served.stdout,
        "a date is read alike online and offline"
    );
    for (said, whose) in [
        (&served, "the server's roster.timezone"),
        (&replayed, "the roster.timezone the export recorded"),
    ] {
        let note = String::from_utf8_lossy(&said.stderr);
        assert!(
            note.contains(&format!(
                "--from 2020-01-01: the start of that day in Europe/Berlin ({whose}), 2019-12-31T23:00:00.000000Z"
            )),
            "{note}"
        );
    }
    let as_of = ["--as-of", &last_at, "--json"];
    let served = run_with_env(
        args(&[&["status", "--server", &url][..], &as_of[..]].concat()),
        token.clone(),
    )
    .await;
    let replayed = run_with_env(
        args(&[&["replay", export.to_str().unwrap()][..], &as_of[..]].concat()),
        vec![],
    )
    .await;
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
    assert_eq!(
        text(&replayed),
        text(&served),
        "replay's status is the server's"
    );
    let table = run_with_env(
        args(&[
            "timeline",
            "--server",
            &url,
            "--from",
            "2020-01-01",
            "--to",
            &last_at,
        ]),
        token.clone(),
    )
    .await;
    assert!(
        text(&table).contains("access-control-configured   PASSING 100.0%"),
        "{}",
        text(&table)
    );
    let backwards = run_with_env(
        args(&[
            "timeline",
            "--server",
            &url,
            "--from",
            &last_at,
            "--to",
            "2020-01-01",
        ]),
        token.clone(),
    )
    .await;
    assert_eq!(backwards.status.code(), Some(2));
    assert!(text(&backwards).contains("`from`"), "{}", text(&backwards));

    // A broken export is refused at its seq, and nothing is answered from it.
    let tampered = setup.dir.path().join("tampered.jsonl");
    let mut edited: Vec<String> = lines.lines().map(str::to_owned).collect();
    let about_dana = edited
        .iter()
        .position(|line| line.contains("dana"))
        .expect("an entry about Dana");
    edited[about_dana] = edited[about_dana].replacen("dana", "dina", 1);
    std::fs::write(&tampered, edited.join("\n") + "\n").unwrap();
    let refused = run_with_env(args(&["replay", tampered.to_str().unwrap()]), vec![]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains(&format!("breaks at seq {}", about_dana + 1)),
        "{}",
        text(&refused)
    );
    assert!(refused.stdout.is_empty(), "{}", text(&refused));

    let locked = run_with_env(
        args(&["sync", "-c", setup.config().to_str().unwrap()]),
        tailscale_token(),
    )
    .await;
    assert_eq!(locked.status.code(), Some(2), "{}", text(&locked));
    assert!(
        text(&locked).contains("in use by another process"),
        "{}",
        text(&locked)
    );

    let pid = server.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    let rest = log.join().unwrap();
    assert_eq!(exit.code(), Some(0), "serve exits 0 on SIGTERM: {rest:?}");
    assert!(
        rest.iter().any(|line| line.contains("\"stopped\"")),
        "{rest:?}"
    );

    let output = run_with_env(
        args(&["verify", "--data-dir", setup.ledger().to_str().unwrap()]),
        vec![],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

/// Each configuration mistake, as a change to a good configuration.
fn config_cases() -> Vec<(&'static str, String)> {
    let good = |replace: &str, with: &str| {
        let base = "data_dir = \"ledger\"\nlisten = \"127.0.0.1:50051\"\n\n[auth]\ntokens = [ { name = \"ops\", role = \"admin\", sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\" } ]\n\n[tailscale]\napi_token_env = \"TL_TEST_TAILSCALE_TOKEN\"\nsync_interval = \"15m\"\nmax_removal_fraction = 0.5\n\n[roster]\ncsv_path = \"staff.csv\"\ntimezone = \"UTC\"\n";
        assert!(base.contains(replace), "{replace}");
        base.replacen(replace, with, 1)
    };
    vec![
        (
            "unknown_key",
            good(
                "sync_interval = \"15m\"",
                "sync_interval = \"15m\"\nsync_intervall = \"1h\"",
            ),
        ),
        ("bad_duration", good("\"15m\"", "\"15 minutes please\"")),
        (
            "missing_environment_variable",
            good("TL_TEST_TAILSCALE_TOKEN", "TL_TEST_NOT_SET"),
        ),
        (
            "auth_disabled_on_a_public_address",
            good(
                "listen = \"127.0.0.1:50051\"\n\n[auth]\ntokens",
                "listen = \"0.0.0.0:50051\"\n\n[auth]\ndisabled = true\ntokens",
            ),
        ),
        ("bad_listen_address", good("127.0.0.1:50051", "localhost")),
        (
            "bad_token_hash",
            good(
                "0000000000000000000000000000000000000000000000000000000000000000",
                "not-a-hash",
            ),
        ),
        ("bad_role", good("role = \"admin\"", "role = \"root\"")),
        (
            "reviewer_without_employee",
            good("role = \"admin\"", "role = \"reviewer\""),
        ),
        (
            "empty_employee_id",
            good("role = \"admin\"", "role = \"admin\", employee_id = \" \""),
        ),
        (
            "bad_access_review_interval",
            good(
                "[roster]",
                "[access_review]\nprivileged_interval_days = 0\n\n[roster]",
            ),
        ),
        (
            "no_credential",
            good("api_token_env = \"TL_TEST_TAILSCALE_TOKEN\"\n", ""),
        ),
        ("bad_timezone", good("\"UTC\"", "\"Mars/Olympus\"")),
        ("bad_fraction", good("0.5", "1.5")),
        (
            "bad_removal_guard_hold",
            good("0.5\n", "0.5\nremoval_guard_hold = \"a day\"\n"),
        ),
        ("toml_syntax", good("[roster]", "[roster")),
        (
            "tls_certificate_unreadable",
            good(
                "[roster]",
                "[tls]\ncert_path = \"missing.pem\"\nkey_path = \"server-key.pem\"\n\n[roster]",
            ),
        ),
        (
            "tls_key_not_pem",
            good(
                "[roster]",
                "[tls]\ncert_path = \"server.pem\"\nkey_path = \"server-key.der\"\n\n[roster]",
            ),
        ),
        (
            "two_tokens_with_one_name",
            good(
                " } ]",
                " },\n  { name = \"ops\", role = \"auditor\", sha256 = \"1111111111111111111111111111111111111111111111111111111111111111\" } ]",
            ),
        ),
        (
            "two_tokens_with_one_hash",
            good(
                " } ]",
                " },\n  { name = \"audit\", role = \"auditor\", sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\" } ]",
            ),
        ),
        (
            "empty_data_dir",
            good("data_dir = \"ledger\"", "data_dir = \"\""),
        ),
        (
            "data_dir_is_a_file",
            good(
                "data_dir = \"ledger\"",
                "data_dir = \"data_dir_is_a_file.toml\"",
            ),
        ),
        (
            "alias_key_not_a_domain",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[identity]\nemail_aliases = { \"ops@corp.example\" = \"example.com\" }\n",
            ),
        ),
        (
            "alias_value_not_a_domain",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[identity]\nemail_aliases = { \"corp.example\" = \"example com\" }\n",
            ),
        ),
        ("sync_interval_too_short", good("\"15m\"", "\"1ms\"")),
        (
            "zero_offboarding_grace",
            good(
                "max_removal_fraction = 0.5\n",
                "max_removal_fraction = 0.5\n\n[tailscale.access_policy]\nallowed_org_roles = [\"*\"]\noffboarding_grace = \"0s\"\n",
            ),
        ),
        ("not_utf8", good("UTC", "Europe/Z\u{fc}rich")),
        (
            "roster_column_unknown",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[roster.columns]\nmail = \"Work Email\"\n",
            ),
        ),
        (
            "roster_two_columns_one_header",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[roster.columns]\nemail = \"Email\"\nname = \"email\"\n",
            ),
        ),
        (
            "roster_status_value_not_ours",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[roster.status_values]\n\"Terminated\" = \"gone\"\n",
            ),
        ),
        (
            "roster_date_format_without_a_day",
            good(
                "timezone = \"UTC\"",
                "timezone = \"UTC\"\ndate_format = \"%m/%Y\"",
            ),
        ),
        (
            "roster_unknown_source",
            good("timezone = \"UTC\"", "source = \"ldap\""),
        ),
        (
            "roster_truto_without_table",
            good("csv_path = \"staff.csv\"", "source = \"truto\""),
        ),
        (
            "roster_truto_token_not_set",
            good(
                "csv_path = \"staff.csv\"\ntimezone = \"UTC\"\n",
                "source = \"truto\"\n[roster.truto]\nintegrated_account_id = \"62f44730-dd91-461e-bd6a-aedd9e0ad79d\"\ntoken_env = \"TL_TEST_TRUTO_NOT_SET\"\n",
            ),
        ),
        (
            "roster_truto_org_role_from",
            good(
                "csv_path = \"staff.csv\"\ntimezone = \"UTC\"\n",
                "source = \"truto\"\n[roster.truto]\nintegrated_account_id = \"62f44730\"\ntoken_env = \"TL_TEST_TAILSCALE_TOKEN\"\norg_role_from = \"title\"\n",
            ),
        ),
        (
            "roster_truto_with_csv_mapping",
            good(
                "csv_path = \"staff.csv\"\ntimezone = \"UTC\"\n",
                "source = \"truto\"\ndate_format = \"%m/%d/%Y\"\n[roster.truto]\nintegrated_account_id = \"62f44730\"\ntoken_env = \"TL_TEST_TAILSCALE_TOKEN\"\n",
            ),
        ),
        (
            "webhook_listen_not_an_address",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[webhook]\nlisten = \"anywhere\"\n",
            ),
        ),
        (
            "webhook_on_the_grpc_port",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[webhook]\nlisten = \"0.0.0.0:50051\"\n",
            ),
        ),
        (
            "metrics_listen_not_an_address",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[metrics]\nlisten = \"localhost\"\n",
            ),
        ),
        (
            "metrics_on_the_webhook_port",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[webhook]\nlisten = \"127.0.0.1:8443\"\nsecret_env = \"TL_TEST_TAILSCALE_TOKEN\"\n\n[metrics]\nlisten = \"127.0.0.1:8443\"\n",
            ),
        ),
        (
            "store_cache_capacity_not_a_size",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[store]\ncache_capacity = \"64 MB\"\n",
            ),
        ),
        (
            "store_cache_capacity_too_small",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[store]\ncache_capacity = 4096\n",
            ),
        ),
        (
            "webhook_secret_not_set",
            good(
                "timezone = \"UTC\"\n",
                "timezone = \"UTC\"\n\n[webhook]\nlisten = \"127.0.0.1:8443\"\nsecret_env = \"TL_TEST_NO_WEBHOOK_SECRET\"\n",
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_errors_name_the_key_and_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // The TLS cases name these files, relative to the configuration.
    crate::tls::TestPki::new().write(dir.path());
    let mut messages = Vec::new();
    for (name, config) in config_cases() {
        let path = dir.path().join(format!("{name}.toml"));
        let bytes = if name == "not_utf8" {
            // Latin-1, as an old editor would save it: `ü` is the one byte 0xfc.
            config
                .replace('\u{fc}', "\0")
                .into_bytes()
                .into_iter()
                .map(|byte| if byte == 0 { 0xfc } else { byte })
                .collect()
        } else {
            config.into_bytes()
        };
        std::fs::write(&path, bytes).unwrap();
        let output = run_with_env(
            args(&["sync", "-c", path.to_str().unwrap()]),
            tailscale_token(),
        )
        .await;
        assert_eq!(output.status.code(), Some(2), "{name}: {}", text(&output));
        let message =
            String::from_utf8_lossy(&output.stderr).replace(dir.path().to_str().unwrap(), "<dir>");
        messages.push(format!("{name}: {}", message.trim()));
    }
    insta::assert_snapshot!("config_errors", messages.join("\n"));
}

fn run_with_stdin(arguments: &[&str], stdin: &str) -> Output {
    let mut child = tailledger()
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn hash_token_prints_the_sha256_of_the_token_on_standard_input() {
    let output = run_with_stdin(&["hash-token"], "s3cret-token\n");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        Hash256::of(b"s3cret-token").to_string()
    );
    let empty = run_with_stdin(&["hash-token"], "");
    assert_eq!(empty.status.code(), Some(2));
}

#[test]
fn help_describes_every_command_and_bad_usage_exits_2() {
    let help = crate::helpers::run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    for command in [
        "demo",
        "serve",
        "sync",
        "status",
        "history",
        "export",
        "verify",
        "verify-export",
        "hash-token",
        "timeline",
        "replay",
    ] {
        assert!(text(&help).contains(command), "{command} is not in --help");
    }
    assert!(
        !text(&help).contains("torture-writer"),
        "the crash-test writer stays hidden"
    );
    let bad = crate::helpers::run(&["export", "--out", "x.jsonl"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "export needs a source: {}",
        text(&bad)
    );
    let ca_for_a_directory = crate::helpers::run(&[
        "export",
        "--out",
        "x.jsonl",
        "--data-dir",
        "ledger",
        "--ca-cert",
        "ca.pem",
    ]);
    assert_eq!(
        ca_for_a_directory.status.code(),
        Some(2),
        "--ca-cert is for --server only: {}",
        text(&ca_for_a_directory)
    );
    let missing = crate::helpers::run(&["sync", "-c", "/nonexistent/tailledger.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing).contains("/nonexistent/tailledger.toml: cannot be read"),
        "{}",
        text(&missing)
    );
}

/// The roster is re-read before every sync (docs/reference/sync.md#cycle), so an HR change followed
/// by `SyncNow` is recorded by that `SyncNow`, not by the next scheduled cycle (an hour away here).
#[tokio::test(flavor = "multi_thread")]
async fn sync_now_rereads_the_configured_roster_first() {
    use tailledger::api::pb;
    use tailledger::api::pb::admin_service_client::AdminServiceClient;
    use tailledger::api::pb::ledger_service_client::LedgerServiceClient;

    let fixture = Fixture::start().await;
    let port = free_port();
    let setup = Setup::new(fixture.server.base_url(), &format!("127.0.0.1:{port}"));
    let config = setup.config();
    let (mut server, log) =
        tokio::task::spawn_blocking(move || spawn_serve(&config, &[(TOKEN_ENV, API_TOKEN)]))
            .await
            .unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {ADMIN_TOKEN}").parse().unwrap();
    let authorise = move |mut request: tonic::Request<()>| {
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        Ok(request)
    };
    let mut ledger = LedgerServiceClient::with_interceptor(channel.clone(), authorise.clone());
    let mut admin = AdminServiceClient::with_interceptor(channel, authorise);

    // The first scheduled cycle imports the roster as it was, then syncs: wait for its sync.
    let mut events = ledger
        .stream_events(pb::StreamEventsRequest {
            after_seq: 0,
            follow: true,
        })
        .await
        .unwrap()
        .into_inner();
    loop {
        let event = events
            .message()
            .await
            .unwrap()
            .and_then(|response| response.event)
            .expect("the stream follows");
        assert_ne!(event.r#type, "EmployeeOffboarded", "nobody has left yet");
        if event.r#type == "SyncCompleted" {
            break;
        }
    }

    std::fs::write(
        setup.dir.path().join("staff.csv"),
        "email,name,org_role,end_date\ndana@acme.example,Dana Whitfield,IT,\nmarco@acme.example,Marco Ibáñez,IT,2026-02-27\n",
    )
    .unwrap();
    let synced = admin
        .sync_now(pb::SyncNowRequest {
            system: "tailscale".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(synced.outcome, "completed", "{synced:?}");
    let page = ledger
        .list_events(pb::ListEventsRequest {
            after_seq: 0,
            limit: 1000,
        })
        .await
        .unwrap()
        .into_inner();
    let offboarded: Vec<&pb::Event> = page
        .events
        .iter()
        .filter(|event| event.r#type == "EmployeeOffboarded")
        .collect();
    assert_eq!(offboarded.len(), 1, "{:?}", page.events);
    assert_eq!(offboarded[0].actor, "roster");
    assert!(
        offboarded[0].canonical_json.contains("marco@acme.example"),
        "{}",
        offboarded[0].canonical_json
    );
    let sync_seq = synced.events.first().expect("the sync's batch").seq;
    assert!(
        offboarded[0].seq < sync_seq,
        "the roster is imported before the sync it precedes"
    );

    let pid = server.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{:?}", log.join().unwrap());
}

#[test]
fn a_ledger_directory_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("new").join("ledger");
    let output = crate::helpers::run(&[
        "torture-writer",
        "--data-dir",
        ledger.to_str().unwrap(),
        "--batches",
        "3",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&ledger), 0o700, "the ledger directory");
    let mut files = 0;
    let mut pending = vec![ledger];
    while let Some(directory) = pending.pop() {
        for item in std::fs::read_dir(&directory).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                pending.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    assert!(files >= 2, "sled's `db` and `conf` at least");
}

#[test]
fn the_demo_refuses_a_directory_holding_a_ledger_it_did_not_create() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    let output = crate::helpers::run(&[
        "torture-writer",
        "--data-dir",
        real.to_str().unwrap(),
        "--batches",
        "2",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let files = |dir: &std::path::Path| {
        let mut listed: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|item| item.unwrap().path())
            .filter(|path| path.is_file())
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        listed.sort();
        listed
    };
    let before = files(&real);
    let refused =
        crate::helpers::run(&["demo", "--no-serve", "--data-dir", real.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("holds a ledger the demo did not create"),
        "{}",
        text(&refused)
    );
    assert!(files(&real) == before, "the real ledger is left as it was");

    let other = dir.path().join("notes");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let refused =
        crate::helpers::run(&["demo", "--no-serve", "--data-dir", other.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("not empty"), "{}", text(&refused));

    // A new directory becomes the demo's, and an earlier demo's directory is taken again.
    let demo = dir.path().join("demo");
    for run in 1..=2 {
        let told =
            crate::helpers::run(&["demo", "--no-serve", "--data-dir", demo.to_str().unwrap()]);
        assert!(told.status.success(), "run {run}: {}", text(&told));
    }
}

#[test]
fn the_demo_names_accounts_by_login_and_each_person_once() {
    let told = crate::helpers::run(&["demo", "--no-serve"]);
    assert!(told.status.success(), "{}", text(&told));
    let story = text(&told);
    assert!(
        story.contains(
            "AccountClassified    api:security-oncall ci-runner@acme-corp.example as service"
        ),
        "a classification names the account by login, in words: {story}"
    );
    assert!(
        story.contains(
            "marco.ibanez@acme-corp.example still holds access to tailscale although its owner left"
        ),
        "{story}"
    );
    assert!(
        !story.contains("although marco.ibanez@acme-corp.example left")
            && !story.contains("as sam.okafor@acme-corp.example,")
            && !story.contains(", account marco.ibanez@acme-corp.example"),
        "a sentence names a person once: {story}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_roster_that_never_ends_is_refused_at_the_limit() {
    let fixture = Fixture::start().await;
    let setup = Setup::new(fixture.server.base_url(), "127.0.0.1:0");
    let config = std::fs::read_to_string(setup.config())
        .unwrap()
        .replace("csv_path = \"staff.csv\"", "csv_path = \"/dev/zero\"");
    std::fs::write(setup.config(), config).unwrap();
    let limit = "it is larger than the limit of 52428800 bytes (50 MiB); reading stopped there";

    let config = setup.config();
    let output = run_with_env(
        args(&["sync", "-c", config.to_str().unwrap()]),
        tailscale_token(),
    )
    .await;
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("/dev/zero") && said.contains(limit), "{said}");

    // An import from a file or standard input is read before any server is asked.
    let output = run(&[
        "admin",
        "import-roster",
        "/dev/zero",
        "--server",
        "http://127.0.0.1:9",
    ]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!("cannot read /dev/zero: {limit}")),
        "{said}"
    );
}

#[test]
fn a_token_longer_than_the_limit_is_refused_not_cut_short() {
    let mut child = tailledger()
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The binary stops reading at the limit; a write it no longer reads may fail, and must not
    // matter.
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(&vec![b'a'; 64 * 1024 + 1]);
    let output = child.wait_with_output().unwrap();
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains("cannot read the token from standard input: it is larger than the limit of 65536 bytes (64 KiB)"),
        "{said}"
    );
}
