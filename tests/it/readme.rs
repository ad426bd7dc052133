//! The README's promises: its auditor's script, taken from the README itself, verifies an export
//! written by the demo, and refuses a tampered one. (Its checkpoint and proof scripts are run
//! against a live server in `proofs.rs`.)

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::{run, text};
use tailledger::evidence::readme_script;

/// The guides whose examples these tests run as written.
const OPERATING: &str = "docs/operating.md";
const ADMIN: &str = "docs/admin.md";
const AUDITING: &str = "docs/auditing.md";

pub fn python(script: &Path, args: &[&str]) -> Output {
    Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs")
}

#[test]
fn readme_script_verifies_the_demo_export_and_refuses_a_tampered_one() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("ledger");
    let output = run(&[
        "demo",
        "--no-serve",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    let digest = said
        .lines()
        .find_map(|line| line.strip_prefix("digest:"))
        .expect("the demo prints its digest")
        .trim()
        .to_owned();

    let script = dir.path().join("verify_export.py");
    fs::write(&script, readme_script("verify_export.py")).unwrap();
    let export = data_dir.join("export.jsonl");
    let verified = python(&script, &[export.to_str().unwrap(), &digest]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains(&format!("head {digest}")),
        "{}",
        text(&verified)
    );

    let tampered = dir.path().join("tampered.jsonl");
    let original = fs::read_to_string(&export).unwrap();
    fs::write(&tampered, original.replacen("Marco", "Mallory", 1)).unwrap();
    let refused = python(&script, &[tampered.to_str().unwrap(), &digest]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("hash does not match"),
        "{}",
        text(&refused)
    );
}

/// The first fenced block of `language` after `heading` in the guide `file` (a path from the
/// repository's root).
fn guide_block(file: &str, heading: &str, language: &str) -> String {
    let guide = fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file))
        .unwrap_or_else(|error| panic!("{file} is readable: {error}"));
    let after = guide
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("{file} has the heading {heading}"));
    let fence = format!("```{language}\n");
    let block = after
        .split(&fence)
        .nth(1)
        .expect("a fenced block follows the heading");
    block
        .split("```")
        .next()
        .expect("the block is closed")
        .to_owned()
}

#[test]
fn readme_configuration_and_roster_examples_are_valid() {
    let toml = guide_block(OPERATING, "## The configuration file", "toml");
    let env = |name: &str| {
        matches!(
            name,
            "TAILSCALE_OAUTH_CLIENT_ID" | "TAILSCALE_OAUTH_CLIENT_SECRET"
        )
        .then(|| format!("value of {name}"))
    };
    let config = tailledger::config::Config::parse(
        Path::new(OPERATING),
        &toml,
        Path::new("/etc/tailledger"),
        env,
    )
    .unwrap_or_else(|error| panic!("the README's configuration is refused: {error}"));
    assert_eq!(config.sync_interval, std::time::Duration::from_secs(900));
    assert!(config.policy.is_some() && config.roster.is_some());
    assert_eq!(
        config.sync_options.removal_guard_hold_seconds,
        Some(24 * 3600)
    );
    let admin_only = toml.replace(
        "removal_guard_hold = \"24h\"",
        "removal_guard_hold = \"0s\"",
    );
    let config = tailledger::config::Config::parse(
        Path::new(OPERATING),
        &admin_only,
        Path::new("/etc/tailledger"),
        env,
    )
    .expect("a hold of 0s is accepted");
    assert_eq!(
        config.sync_options.removal_guard_hold_seconds, None,
        "0s leaves releasing to an admin"
    );

    let csv = guide_block(OPERATING, "### The roster file", "csv");
    let roster = tailledger::roster::parse_roster(csv.as_bytes(), chrono_tz::Europe::Berlin)
        .unwrap_or_else(|errors| panic!("the README's roster is refused: {errors}"));
    assert_eq!(roster.rows.len(), 3);
}

/// A real `serve` with the README's roster and a simulated tailnet holding the two accounts the
/// walk-throughs classify, link and except; its bash runs a README section's commands as written
/// (only the server's address changes).
struct ReadmeServer {
    url: String,
    dir: tempfile::TempDir,
    server: std::process::Child,
    _simulator: tailledger::simulator::SimulatorHandle,
}

const README_ADMIN_TOKEN: &str = "readme-admin-token-9d1e";
/// Sam's `reviewer` token (employee E-1002 of the README's roster).
const README_REVIEWER_TOKEN: &str = "readme-reviewer-token-5a7";

impl ReadmeServer {
    async fn start() -> ReadmeServer {
        use tailledger::hash::Hash256;
        use tailledger::simulator::{SimUser, SimulatedTailnet};

        use crate::helpers::{API_KEY_ID, API_TOKEN, free_port, spawn_serve, token_expiry};

        let tailnet = SimulatedTailnet::new("T1234CNTRL");
        tailnet.add_api_token(API_TOKEN, API_KEY_ID, Some(token_expiry()));
        for user in [
            SimUser::member(
                "uDw1tF9aaaaCNTRL",
                "dana.whitfield@acme-corp.example",
                "Dana Whitfield",
            )
            .with_role("owner"),
            SimUser::member(
                "uMi2bZ0bbbbCNTRL",
                "marco.ibanez@acme-corp.example",
                "Marco Ibáñez",
            )
            .with_status("suspended"),
            SimUser::member("uCi7dEp1oyCNTRL", "deploy-runner@acme-corp.example", "CI"),
            SimUser::member("uSm4oKa2home0CNTRL", "sam.okafor@gmail.example", "Sam"),
        ] {
            tailnet.upsert_user(user);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let simulator = tailnet.start(listener).unwrap();

        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("staff.csv"),
            guide_block(OPERATING, "### The roster file", "csv"),
        )
        .unwrap();
        for (file, token) in [
            ("admin-token.txt", README_ADMIN_TOKEN),
            ("reviewer-token.txt", README_REVIEWER_TOKEN),
        ] {
            fs::write(dir.path().join(file), format!("{token}\n")).unwrap();
        }
        let port = free_port();
        fs::write(
            dir.path().join("tailledger.toml"),
            format!(
                r#"data_dir = "ledger"
listen = "127.0.0.1:{port}"

[auth]
tokens = [
  {{ name = "security-oncall", role = "admin", sha256 = "{}" }},
  {{ name = "sam", role = "reviewer", sha256 = "{}", employee_id = "E-1002" }},
]

[tailscale]
api_base_url = "{}"
api_token_env = "TL_README_TAILSCALE_TOKEN"
sync_interval = "1h"

[tailscale.access_policy]
allowed_org_roles = ["Engineer", "IT"]
privileged_org_roles = ["IT"]

[roster]
csv_path = "staff.csv"
timezone = "Europe/Berlin"
"#,
                Hash256::of(README_ADMIN_TOKEN.as_bytes()),
                Hash256::of(README_REVIEWER_TOKEN.as_bytes()),
                simulator.base_url(),
            ),
        )
        .unwrap();
        let config = dir.path().join("tailledger.toml");
        let (server, _log) = tokio::task::spawn_blocking(move || {
            spawn_serve(&config, &[("TL_README_TAILSCALE_TOKEN", API_TOKEN)])
        })
        .await
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        // The first scheduled sync runs as `serve` starts; `sync-now` waits for it, so the
        // README's commands see the tailnet recorded.
        let synced = tailledger_as_admin(&["admin", "sync-now", "--server", &url]);
        assert!(synced.status.success(), "{}", text(&synced));
        ReadmeServer {
            url,
            dir,
            server,
            _simulator: simulator,
        }
    }

    /// Runs the first `sh` block after `heading` in the guide `file` with bash, in the directory
    /// of the config.
    async fn walk(&self, file: &str, heading: &str) -> Output {
        let walk_through =
            guide_block(file, heading, "sh").replace("http://ledger.internal:50051", &self.url);
        let binaries = PathBuf::from(env!("CARGO_BIN_EXE_tailledger"))
            .parent()
            .unwrap()
            .to_owned();
        let path = format!(
            "{}:{}",
            binaries.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let directory = self.dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            Command::new("bash")
                .args(["-euo", "pipefail", "-c", &walk_through])
                .current_dir(&directory)
                .env("PATH", path)
                .env_remove("TAILLEDGER_TOKEN")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    /// `status --json` as the admin.
    fn status(&self) -> serde_json::Value {
        let status = tailledger_as_admin(&["status", "--json", "--server", &self.url]);
        serde_json::from_slice(&status.stdout).unwrap()
    }
}

impl Drop for ReadmeServer {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The binary with the README's admin token.
fn tailledger_as_admin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailledger"))
        .args(args)
        .env("TAILLEDGER_TOKEN", README_ADMIN_TOKEN)
        .output()
        .unwrap()
}

/// The first-day walk-through of "Running it for your tailnet", run by bash as written.
#[tokio::test(flavor = "multi_thread")]
async fn readme_first_day_walk_through_classifies_links_and_reports() {
    let served = ReadmeServer::start().await;
    let walked = served.walk(ADMIN, "## The first day").await;
    let said = text(&walked);
    assert!(walked.status.success(), "the walk-through fails: {said}");
    assert!(
        said.contains("unidentified") && said.contains("uCi7dEp1oyCNTRL"),
        "`accounts` shows the unexplained accounts first: {said}"
    );
    assert!(
        said.contains("AccountClassified") && said.contains("AccountLinked"),
        "{said}"
    );
    assert!(
        said.contains("offboarding report:") && said.contains("marco.ibanez@acme-corp.example"),
        "the report names the leaver: {said}"
    );
    let status = served.status();
    assert_eq!(status["checks"][0]["checkId"], "user-identified");
    assert_eq!(
        status["checks"][0]["state"], "PASSING",
        "every account is explained after the walk-through: {status}"
    );
}

/// The exceptions walk-through of "The audit window", run by bash as written: an unexplained
/// account's finding accepted (EXCEPTED, the check no longer failing for it), listed, revoked.
#[tokio::test(flavor = "multi_thread")]
async fn readme_exceptions_walk_through_grants_lists_and_revokes() {
    let served = ReadmeServer::start().await;
    let walked = served.walk(ADMIN, "## Exceptions").await;
    let said = text(&walked);
    assert!(walked.status.success(), "the walk-through fails: {said}");
    assert!(
        said.contains("exception EX-1 granted") && said.contains("EXCEPTED unidentified"),
        "{said}"
    );
    assert!(
        said.contains("EX-1 user-identified for account uCi7dEp1oyCNTRL")
            && said.contains("ExceptionRevoked"),
        "{said}"
    );
    let status = served.status();
    let findings = status["checks"][0]["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(
            |finding| finding["subject"]["accountId"] == "uCi7dEp1oyCNTRL"
                && finding["state"] == "FAILING"
        ),
        "after the revocation the finding is back: {status}"
    );
}

/// The access review walk-through of "User access reviews", run by bash as written: a review of
/// privileged access started by the admin, decided from a CSV by Sam's reviewer token, completed
/// and shown with its population digest; the ledger holds no token.
#[tokio::test(flavor = "multi_thread")]
async fn readme_access_review_walk_through_starts_decides_from_a_csv_completes_and_shows() {
    let served = ReadmeServer::start().await;
    let walked = served.walk(ADMIN, "## Access reviews").await;
    let said = text(&walked);
    assert!(walked.status.success(), "the walk-through fails: {said}");
    assert!(said.contains("review AR-1 started"), "{said}");
    assert!(
        said.contains("AccessReviewDecided") && said.contains("api:sam"),
        "Sam's decision is recorded as his token: {said}"
    );
    assert!(said.contains("AccessReviewCompleted"), "{said}");
    assert!(
        said.contains("review AR-1 of privileged access to tailscale: completed")
            && said.contains("population 1 accounts, sha256 ")
            && said.contains(
                "uDw1tF9aaaaCNTRL dana.whitfield@acme-corp.example (owner, employee E-1001): keep"
            ),
        "`review show` prints the population and its decisions: {said}"
    );
    // A spreadsheet with bad rows records nothing and names each of them by its line.
    let started = tailledger_as_admin(&[
        "review",
        "start",
        "--scope",
        "all",
        "--reviewer",
        "E-1002",
        "--due",
        "2099-03-31T00:00:00Z",
        "--server",
        &served.url,
    ]);
    assert!(
        text(&started).contains("review AR-2 started"),
        "{}",
        text(&started)
    );
    let bad = served.dir.path().join("bad-decisions.csv");
    fs::write(
        &bad,
        "account_id,decision,reason\nuNo1CNTRL,keep,gone\nuDw1tF9aaaaCNTRL,maybe,owner\nuCi7dEp1oyCNTRL,revoke,unowned runner\n",
    )
    .unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_tailledger"))
        .args([
            "review",
            "decide",
            "AR-2",
            "--csv",
            bad.to_str().unwrap(),
            "--server",
            &served.url,
        ])
        .env("TAILLEDGER_TOKEN", README_REVIEWER_TOKEN)
        .output()
        .unwrap();
    let said = text(&refused);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("2 problems")
            && said.contains("line 2: `account_id` `uNo1CNTRL`")
            && said.contains("line 3: `decision` `maybe`")
            && !said.contains("line 4"),
        "{said}"
    );
    let shown = tailledger_as_admin(&["review", "show", "AR-2", "--server", &served.url]);
    assert!(
        !text(&shown).contains("decisions:"),
        "nothing was recorded: {}",
        text(&shown)
    );
    let file = served.dir.path().join("review-export.jsonl");
    let exported = tailledger_as_admin(&[
        "export",
        "--out",
        file.to_str().unwrap(),
        "--server",
        &served.url,
    ]);
    assert!(exported.status.success(), "{}", text(&exported));
    let export = fs::read_to_string(&file).unwrap();
    assert!(export.contains("AccessReviewStarted"), "{export}");
    for token in [README_ADMIN_TOKEN, README_REVIEWER_TOKEN] {
        assert!(
            !export.contains(token) && !said.contains(token),
            "a token leaked"
        );
    }
    let status = served.status();
    let current = status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["checkId"] == "access-review-current")
        .unwrap();
    assert_eq!(current["state"], "PASSING", "{status}");
}

/// The timelines walk-through of "Timelines, and the auditor's own replay", run by bash as
/// written: the server's timeline (text and JSON), the export, and the auditor's replay of it,
/// with a token of theirs (any token of this server reads).
#[tokio::test(flavor = "multi_thread")]
async fn readme_timelines_walk_through_matches_the_auditors_replay() {
    let served = ReadmeServer::start().await;
    fs::copy(
        served.dir.path().join("admin-token.txt"),
        served.dir.path().join("audit-token.txt"),
    )
    .unwrap();
    let audited = served.walk(AUDITING, "## Timelines").await;
    let audit = text(&audited);
    assert!(audited.status.success(), "the audit window fails: {audit}");
    assert_eq!(
        audit.matches("checks of tailscale from").count(),
        2,
        "the server's timeline and the auditor's replay of it: {audit}"
    );
    assert!(audit.contains("user-identified"), "{audit}");
    let timeline: serde_json::Value =
        serde_json::from_slice(&fs::read(served.dir.path().join("timeline.json")).unwrap())
            .unwrap();
    assert_eq!(
        timeline["checks"].as_array().map(Vec::len),
        Some(tailledger::checks::CHECKS.len())
    );
    assert!(
        audit.contains("\"checks\""),
        "replay --as-of --json prints the checks: {audit}"
    );
}
