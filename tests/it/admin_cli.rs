//! The admin CLI and the online readers, the real binary against a real `serve` on loopback with
//! the simulated Tailscale API: every `admin` subcommand and reader in text and `--json`, the
//! exit codes (docs/reference/cli.md#exit-codes), refusals, bad usage, shell completions and
//! `--version`.

use std::io::Write;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::cli::{ADMIN_TOKEN, AUDITOR_TOKEN, Setup, TOKEN_ENV, args, run_with_env};
use crate::helpers::{API_TOKEN, Fixture, free_port, run, spawn_serve, tailledger, text};

/// A running `serve` and the URL the CLI reaches it at.
struct Served {
    url: String,
    setup: Setup,
    server: std::process::Child,
}

impl Served {
    async fn start(fixture: &Fixture) -> Served {
        let port = free_port();
        let setup = Setup::new(fixture.server.base_url(), &format!("127.0.0.1:{port}"));
        let config = setup.config();
        let (server, _log) =
            tokio::task::spawn_blocking(move || spawn_serve(&config, &[(TOKEN_ENV, API_TOKEN)]))
                .await
                .unwrap();
        Served {
            url: format!("http://127.0.0.1:{port}"),
            setup,
            server,
        }
    }

    /// Runs `tailledger ARGS --server URL` with `token` in TAILLEDGER_TOKEN.
    async fn run_as(&self, token: &str, items: &[&str]) -> Output {
        let mut arguments = args(items);
        arguments.extend(args(&["--server", &self.url]));
        run_with_env(arguments, vec![("TAILLEDGER_TOKEN", token.to_owned())]).await
    }

    /// As the admin; asserts the exit code.
    async fn ok(&self, items: &[&str]) -> String {
        let output = self.run_as(ADMIN_TOKEN, items).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{items:?}: {}",
            text(&output)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// As the admin with `--json`; asserts exit 0 and one JSON object.
    async fn json(&self, items: &[&str]) -> Value {
        let mut with_json = items.to_vec();
        with_json.push("--json");
        let out = self.ok(&with_json).await;
        serde_json::from_str(&out).unwrap_or_else(|error| panic!("{items:?}: {error}: {out}"))
    }

    /// As the admin; asserts the exit code and returns standard error and output.
    async fn fails(&self, code: i32, items: &[&str]) -> String {
        let output = self.run_as(ADMIN_TOKEN, items).await;
        assert_eq!(
            output.status.code(),
            Some(code),
            "{items:?}: {}",
            text(&output)
        );
        text(&output)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The types of the events of a JSON answer's `events`.
fn types(answer: &Value) -> Vec<String> {
    answer["events"]
        .as_array()
        .expect("an events array")
        .iter()
        .map(|event| event["event"]["type"].as_str().unwrap().to_owned())
        .collect()
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

/// A name that would erase the line above, forge a row and turn its text around on a terminal.
const HOSTILE_NAME: &str = "Eve\u{1b}[2K\u{1b}[1A\nE-0  x@y  Forged\u{202e}gnp.exe\u{9b}\u{2066}";

#[tokio::test(flavor = "multi_thread")]
async fn names_from_outside_are_shown_escaped_in_text_and_kept_in_json() {
    let fixture = Fixture::start().await;
    let served = Served::start(&fixture).await;
    let upserted = served
        .ok(&[
            "admin",
            "upsert-employee",
            "E-7",
            "--email",
            "eve@acme.example",
            "--org-role",
            "Eng\u{1b}[31mineer",
            "--name",
            HOSTILE_NAME,
        ])
        .await;
    let listed = served.ok(&["employees"]).await;
    let shown = "Eve\\u{1b}[2K\\u{1b}[1A\\nE-0  x@y  Forged\\u{202e}gnp.exe\\u{9b}\\u{2066}";
    for (said, expected) in [(&upserted, "Eng\\u{1b}[31mineer"), (&listed, shown)] {
        assert!(
            !said.contains(['\u{1b}', '\u{202e}', '\u{9b}', '\u{2066}']),
            "{said:?}"
        );
        assert!(said.contains(expected), "{said:?}");
    }
    let employees = served.json(&["employees"]).await;
    let count = employees["employees"].as_array().unwrap().len();
    assert_eq!(
        listed.lines().count(),
        1 + count,
        "one line per employee: {listed}"
    );
    assert_eq!(
        find(&employees["employees"], "employee_id", "E-7")["name"],
        HOSTILE_NAME,
        "JSON keeps the name as it is"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_admin_command_and_reader_answers_in_text_and_json() {
    let fixture = Fixture::start().await;
    let served = Served::start(&fixture).await;

    // sync-now waits for a running sync, so afterwards the tailnet is recorded.
    let said = served.ok(&["admin", "sync-now"]).await;
    assert!(said.contains("completed: 3 accounts observed"), "{said}");
    let synced = served.json(&["admin", "sync-now"]).await;
    assert_eq!(synced["outcome"], "completed");
    assert_eq!(
        types(&synced).last().map(String::as_str),
        Some("SyncCompleted")
    );

    let listed = served.ok(&["accounts"]).await;
    assert!(listed.starts_with("ACCOUNT"), "{listed}");
    assert!(
        listed.lines().any(|line| line.starts_with("u3 ")
            && line.contains("priya@partner.example")
            && line.contains("unidentified")),
        "{listed}"
    );
    let accounts = served.json(&["accounts"]).await;
    assert_eq!(accounts["accounts"].as_array().map(Vec::len), Some(3));
    let priya = find(&accounts["accounts"], "id", "u3");
    assert_eq!(priya["findings"][0], "unidentified");
    assert_eq!(priya["type"], "shared");

    // classify, declassify, classify again.
    let said = served
        .ok(&[
            "admin",
            "classify",
            "u3",
            "external",
            "--reason",
            "partner consultant",
            "--owner",
            "dana@acme.example",
        ])
        .await;
    assert!(said.contains("AccountClassified"), "{said}");
    let removed = served
        .json(&["admin", "classify", "u3", "none", "--reason", "oops"])
        .await;
    assert_eq!(types(&removed), ["AccountDeclassified"]);
    let classified = served
        .json(&["admin", "classify", "u3", "external", "--reason", "partner"])
        .await;
    assert_eq!(types(&classified), ["AccountClassified"]);
    assert_eq!(classified["events"][0]["actor"], "api:ops");
    let accounts = served.json(&["accounts"]).await;
    let priya = find(&accounts["accounts"], "id", "u3");
    assert_eq!(priya["classification"]["classification"], "external");

    // link, refuse an unlink naming the wrong employee, unlink.
    let said = served
        .ok(&[
            "admin",
            "link",
            "u2",
            "dana@acme.example",
            "--reason",
            "shared admin login",
        ])
        .await;
    assert!(said.contains("AccountLinked"), "{said}");
    let accounts = served.json(&["accounts", "--include-removed"]).await;
    let marco = find(&accounts["accounts"], "id", "u2");
    assert_eq!(marco["link"]["kind"], "manual");
    assert_eq!(marco["link"]["employee_id"], "dana@acme.example");
    let refused = served
        .fails(
            2,
            &[
                "admin",
                "unlink",
                "u2",
                "--employee",
                "marco@acme.example",
                "--reason",
                "x",
            ],
        )
        .await;
    assert!(refused.contains("employee_id"), "{refused}");
    let unlinked = served
        .json(&[
            "admin",
            "unlink",
            "u2",
            "--employee",
            "dana@acme.example",
            "--reason",
            "a mistake",
        ])
        .await;
    assert_eq!(types(&unlinked), ["AccountUnlinked"]);
    let said = served
        .ok(&["admin", "link", "u2", "marco@acme.example", "--reason", "r"])
        .await;
    assert!(said.contains("AccountLinked"), "{said}");
    let said = served
        .ok(&["admin", "unlink", "u2", "--reason", "back to email"])
        .await;
    assert!(said.contains("AccountUnlinked"), "{said}");

    // the access policy.
    let said = served
        .ok(&[
            "admin",
            "set-policy",
            "--allow",
            "IT",
            "--allow",
            "Engineer",
            "--privileged",
            "IT",
            "--grace",
            "12h",
            "--reason",
            "engineers too",
        ])
        .await;
    assert!(said.contains("AccessPolicySet"), "{said}");
    let policy = served
        .json(&[
            "admin",
            "set-policy",
            "--allow",
            "IT,Engineer",
            "--grace",
            "2days",
            "--reason",
            "longer grace",
        ])
        .await;
    assert_eq!(types(&policy), ["AccessPolicySet"]);
    assert_eq!(
        policy["events"][0]["event"]["offboarding_grace_seconds"],
        172_800
    );

    // employees by hand.
    let upsert = [
        "admin",
        "upsert-employee",
        "E-9",
        "--email",
        "sam@acme.example",
        "--org-role",
        "Engineer",
        "--name",
        "Sam Okafor",
        "--start-date",
        "2024-01-02",
    ];
    let said = served.ok(&upsert).await;
    assert!(said.contains("EmployeeOnboarded"), "{said}");
    assert!(
        served.ok(&upsert).await.contains("nothing appended"),
        "the same record twice changes nothing"
    );
    assert_eq!(served.json(&upsert).await["events"], serde_json::json!([]));
    let offboarded = served
        .json(&[
            "admin",
            "offboard",
            "E-9",
            "--effective-at",
            "2026-01-01T00:00:00Z",
            "--reason",
            "left",
        ])
        .await;
    assert_eq!(types(&offboarded), ["EmployeeOffboarded"]);
    let said = served
        .ok(&[
            "admin",
            "offboard",
            "marco@acme.example",
            "--effective-at",
            "2026-01-02T00:00:00Z",
        ])
        .await;
    assert!(said.contains("EmployeeOffboarded"), "{said}");

    let listed = served.ok(&["employees"]).await;
    assert!(listed.starts_with("EMPLOYEE"), "{listed}");
    assert!(
        listed
            .lines()
            .any(|line| line.starts_with("E-9 ") && line.contains("offboarded")),
        "{listed}"
    );
    let employees = served.json(&["employees"]).await;
    assert_eq!(employees["employees"].as_array().map(Vec::len), Some(3));
    let sam = find(&employees["employees"], "employee_id", "E-9");
    assert_eq!(sam["status"], "offboarded");
    assert_eq!(sam["name"], "Sam Okafor");
    assert_eq!(
        sam["offboarding_effective_at"],
        "2026-01-01T00:00:00.000000Z"
    );
    // Before the first entry the ledger says so rather than listing nobody
    // (docs/reference/time-and-durability.md#as-of).
    let before = served
        .fails(
            2,
            &["employees", "--as-of", "2020-01-01T00:00:00Z", "--json"],
        )
        .await;
    assert!(before.contains("nothing recorded yet"), "{before}");
    // So do the readers given a date: the end of that day in the server's roster timezone.
    let before = served
        .fails(2, &["employees", "--as-of", "2020-01-01", "--json"])
        .await;
    assert!(before.contains("nothing recorded yet"), "{before}");
    let future = served
        .fails(2, &["accounts", "--as-of", "2999-12-31", "--json"])
        .await;
    assert!(future.contains("2999-12-31 is in the future"), "{future}");

    // the offboarding report: Marco's suspended account had no access when he left.
    let said = served.ok(&["report"]).await;
    assert!(said.contains("marco@acme.example"), "{said}");
    let report = served
        .json(&["report", "--from", "2026-01-01T00:00:00Z"])
        .await;
    let row = find(&report["rows"], "employee_id", "marco@acme.example");
    assert_eq!(row["account_id"], "u2");
    assert_eq!(row["link"], "auto");
    let report = served
        .json(&["report", "--to", "2025-01-01T00:00:00Z"])
        .await;
    assert_eq!(report["rows"], serde_json::json!([]));

    // the roster by API: a file, standard input, a refused file, a missing file.
    let roster = served.setup.dir.path().join("more-staff.csv");
    std::fs::write(
        &roster,
        "email,name,org_role\nlee@acme.example,Lee Chen,Engineer\n",
    )
    .unwrap();
    let said = served
        .ok(&["admin", "import-roster", roster.to_str().unwrap()])
        .await;
    assert!(said.starts_with("roster: 1 onboarded"), "{said}");
    let imported = served
        .json(&["admin", "import-roster", roster.to_str().unwrap()])
        .await;
    assert_eq!(imported["summary"]["unchanged"], 1);
    assert_eq!(imported["events"], serde_json::json!([]));
    let piped = run_with_stdin(
        &served,
        &["admin", "import-roster", "-", "--json"],
        "email,org_role\nkim@acme.example,IT\n",
    );
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped));
    let piped: Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(piped["summary"]["onboarded"], 1);
    assert_eq!(types(&piped), ["EmployeeOnboarded"]);
    assert!(piped["first_seq"].as_u64().unwrap() > 0);
    std::fs::write(&roster, "email,name\nlee@acme.example,Lee\n").unwrap();
    let refused = served
        .fails(2, &["admin", "import-roster", roster.to_str().unwrap()])
        .await;
    assert!(
        refused.contains("line 1, column `org_role`"),
        "the roster's problems are named: {refused}"
    );
    let missing = served
        .fails(2, &["admin", "import-roster", "/nonexistent/staff.csv"])
        .await;
    assert!(
        missing.contains("cannot read /nonexistent/staff.csv"),
        "{missing}"
    );

    // the head and verification.
    let said = served.ok(&["digest"]).await;
    let digest = said.split_whitespace().next().unwrap().to_owned();
    assert!(
        said.contains("(recorded at ") && digest.contains(':'),
        "{said}"
    );
    let head = served.json(&["digest"]).await;
    assert_eq!(head["digest"], digest.as_str());
    assert!(head["seq"].as_u64().unwrap() > 10);
    let said = served.ok(&["verify"]).await;
    assert!(
        said.starts_with("ok: the server's ledger verifies"),
        "{said}"
    );
    let verified = served.json(&["verify"]).await;
    assert_eq!(verified["ok"], true);
    assert_eq!(verified["events_checked"], head["seq"]);

    // refusals: an auditor may read but not write; unknown accounts; no token.
    let read = served.run_as(AUDITOR_TOKEN, &["accounts"]).await;
    assert_eq!(read.status.code(), Some(0), "{}", text(&read));
    let denied = served
        .run_as(
            AUDITOR_TOKEN,
            &["admin", "classify", "u1", "test", "--reason", "x"],
        )
        .await;
    assert_eq!(denied.status.code(), Some(2), "{}", text(&denied));
    assert!(
        text(&denied).contains("PERMISSION_DENIED"),
        "{}",
        text(&denied)
    );
    let unknown = served
        .fails(
            2,
            &["admin", "classify", "nobody", "service", "--reason", "x"],
        )
        .await;
    assert!(unknown.contains("NOT_FOUND"), "{unknown}");
    // No sync withheld anything here: the release is refused, naming the sync.
    let nothing_withheld = served
        .fails(
            2,
            &[
                "admin",
                "confirm-removals",
                "tailscale-999999",
                "--reason",
                "the March offboarding",
            ],
        )
        .await;
    assert!(
        nothing_withheld.contains("NOT_FOUND") && nothing_withheld.contains("tailscale-999999"),
        "{nothing_withheld}"
    );
    let mut arguments = args(&["admin", "sync-now", "--server", &served.url]);
    arguments.push("--json".to_owned());
    let anonymous = run_with_env(arguments, vec![]).await;
    assert_eq!(anonymous.status.code(), Some(2), "{}", text(&anonymous));

    // a failed sync exits 3, in text and JSON.
    fixture.tailnet.inject_on(
        tailledger::simulator::Endpoint::Users,
        tailledger::simulator::Fault::Status {
            status: 401,
            message: "revoked".to_owned(),
        },
        2,
    );
    let failed = served.fails(3, &["admin", "sync-now"]).await;
    assert!(failed.contains("FAILED (auth)"), "{failed}");
    let failed = served.fails(3, &["admin", "sync-now", "--json"]).await;
    let failed: Value = serde_json::from_str(failed.lines().next().unwrap()).unwrap();
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["errorClass"], "auth");
    assert_eq!(types(&failed), ["SyncFailed"]);
}

fn run_with_stdin(served: &Served, items: &[&str], stdin: &str) -> Output {
    let mut child = tailledger()
        .args(items)
        .args(["--server", &served.url])
        .env("TAILLEDGER_TOKEN", ADMIN_TOKEN)
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
fn bad_usage_exits_2_with_a_message() {
    for (arguments, says) in [
        (
            &["admin", "classify", "u3", "robot", "--reason", "x"][..],
            "invalid value 'robot'",
        ),
        (&["admin", "link", "u3", "--reason", "x"], "<EMPLOYEE_ID>"),
        (&["admin", "classify", "u3", "service"], "--reason"),
        (&["admin", "set-policy", "--reason", "x"], "--allow"),
        (
            &[
                "admin",
                "set-policy",
                "--allow",
                "IT",
                "--grace",
                "soon",
                "--reason",
                "x",
            ],
            "invalid value 'soon'",
        ),
        (
            &["admin", "upsert-employee", "E-1", "--email", "a@b.example"],
            "--org-role",
        ),
        (
            &["admin", "offboard", "E-1", "--effective-at", "tomorrow"],
            "invalid value 'tomorrow'",
        ),
        (&["admin"], "Usage"),
        (&["admin", "frobnicate"], "unrecognized subcommand"),
        (&["verify"], "--data-dir"),
        (
            &["verify", "--data-dir", "d", "--digest", "nonsense"],
            "invalid value 'nonsense'",
        ),
        (&["accounts", "--as-of", "yesterday"], "invalid value"),
        (&["completions", "tcsh"], "invalid value 'tcsh'"),
    ] {
        let output = run(arguments);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{arguments:?}: {}",
            text(&output)
        );
        assert!(
            text(&output).contains(says),
            "{arguments:?} should say {says}: {}",
            text(&output)
        );
    }
    let unreachable = run(&["digest", "--server", "http://127.0.0.1:1"]);
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(
        text(&unreachable).contains("cannot connect to http://127.0.0.1:1"),
        "{}",
        text(&unreachable)
    );
}

#[test]
fn completions_cover_every_command_and_the_version_names_the_commit() {
    for shell in ["bash", "zsh", "fish"] {
        let output = run(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}: {}", text(&output));
        let script = String::from_utf8(output.stdout).unwrap();
        for word in [
            "tailledger",
            "admin",
            "sync-now",
            "import-roster",
            "accounts",
        ] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map_or("unknown".to_owned(), |output| {
            String::from_utf8(output.stdout).unwrap().trim().to_owned()
        });
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!("tailledger {} (commit {commit})", env!("CARGO_PKG_VERSION"))
    );
}

/// Exceptions through the CLI (docs/reference/cli.md#admin): `admin grant-exception` and
/// `revoke-exception`, the reader `exceptions [--as-of]`, the auditor refused on the writes and
/// allowed to read, a bad grant refused naming the field. The export holds the exception as
/// recorded by `api:ops`, and no token.
#[tokio::test(flavor = "multi_thread")]
async fn exceptions_are_granted_listed_and_revoked_through_the_cli() {
    let fixture = Fixture::start().await;
    let served = Served::start(&fixture).await;
    served.ok(&["admin", "sync-now"]).await;

    let grant = [
        "admin",
        "grant-exception",
        "user-identified",
        "--account",
        "u3",
        "--reason",
        "partner's shared account",
        "--evidence",
        "SEC-77",
    ];
    let denied = served.run_as(AUDITOR_TOKEN, &grant).await;
    assert_eq!(denied.status.code(), Some(2), "{}", text(&denied));
    assert!(
        text(&denied).contains("PERMISSION_DENIED"),
        "{}",
        text(&denied)
    );
    let past = served
        .fails(
            2,
            &[
                "admin",
                "grant-exception",
                "user-identified",
                "--account",
                "u3",
                "--reason",
                "r",
                "--expires-at",
                "2020-01-01T00:00:00Z",
            ],
        )
        .await;
    assert!(
        past.contains("INVALID_ARGUMENT") && past.contains("`expires_at`"),
        "{past}"
    );

    let said = served.ok(&grant).await;
    assert!(said.contains("exception EX-1 granted"), "{said}");
    assert!(said.contains("ExceptionGranted"), "{said}");
    let status = served.json(&["status"]).await;
    let identified = find(&status["checks"], "checkId", "user-identified");
    assert_eq!(identified["state"], "PASSING", "{status}");
    assert_eq!(identified["findings"][0]["state"], "EXCEPTED");
    assert_eq!(identified["findings"][0]["exceptionId"], "EX-1");
    let table = served.ok(&["status"]).await;
    assert!(
        table.contains("EXCEPTED unidentified") && table.contains("(exception EX-1)"),
        "{table}"
    );

    let read = served.run_as(AUDITOR_TOKEN, &["exceptions"]).await;
    assert_eq!(read.status.code(), Some(0), "{}", text(&read));
    assert!(
        text(&read).contains("EX-1 user-identified for account u3")
            && text(&read).contains("never expires; in force"),
        "{}",
        text(&read)
    );
    let granted_at = served.json(&["exceptions"]).await["exceptions"][0]["granted"]["at"]
        .as_str()
        .unwrap()
        .to_owned();

    let revoked = served
        .ok(&[
            "admin",
            "revoke-exception",
            "EX-1",
            "--reason",
            "partner left",
        ])
        .await;
    assert!(revoked.contains("ExceptionRevoked"), "{revoked}");
    let again = served
        .fails(
            2,
            &["admin", "revoke-exception", "EX-1", "--reason", "twice"],
        )
        .await;
    assert!(again.contains("`exception_id`"), "{again}");
    let listed = served.json(&["exceptions"]).await;
    assert_eq!(listed["exceptions"][0]["in_force"], false, "{listed}");
    let then = served.json(&["exceptions", "--as-of", &granted_at]).await;
    assert_eq!(then["exceptions"][0]["in_force"], true, "{then}");
    assert_eq!(then["exceptions"][0]["revoked"], Value::Null, "{then}");

    let export = served.setup.dir.path().join("exceptions.jsonl");
    served
        .ok(&["export", "--out", export.to_str().unwrap()])
        .await;
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(
        exported.contains(r#""actor":"api:ops""#) && exported.contains("SEC-77"),
        "{exported}"
    );
    for secret in [ADMIN_TOKEN, AUDITOR_TOKEN, API_TOKEN] {
        assert!(!exported.contains(secret), "a token is in the ledger");
    }
}

/// Item 2 of issue 38 through `serve`: an admin offboards Marco while the configured roster file
/// still lists him with an empty `end_date`. The syncs that re-read the unchanged file record
/// nothing about him (no `EmployeeReinstated`), his offboarding stands, and `integration-healthy`
/// fails with `roster-disagrees` naming him and both sides. When HR then gives him an end date,
/// `sync-now` prints the roster's `EmployeeOffboarded`, naming what the roster said before, and
/// the disagreement is gone.
#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_roster_leaves_an_admin_offboarding_standing_and_shows_the_disagreement() {
    let fixture = Fixture::start().await;
    let served = Served::start(&fixture).await;
    let staff = served.setup.dir.path().join("staff.csv");
    let roster = |marco_end: &str| {
        format!(
            "email,name,org_role,end_date\ndana@acme.example,Dana Whitfield,IT,\nmarco@acme.example,Marco Ibáñez,IT,{marco_end}\n"
        )
    };
    std::fs::write(&staff, roster("")).unwrap();
    served.ok(&["admin", "sync-now"]).await;
    let said = served
        .ok(&[
            "admin",
            "offboard",
            "marco@acme.example",
            "--reason",
            "left",
        ])
        .await;
    assert!(said.contains("EmployeeOffboarded"), "{said}");

    let synced = served.json(&["admin", "sync-now"]).await;
    assert_eq!(
        synced["roster_events"],
        serde_json::json!([]),
        "the unchanged file records nothing: {synced}"
    );
    let said = served.ok(&["admin", "sync-now"]).await;
    assert!(!said.contains("EmployeeReinstated"), "{said}");
    let employees = served.json(&["employees"]).await;
    let marco = find(&employees["employees"], "employee_id", "marco@acme.example");
    assert_eq!(marco["status"], "offboarded", "{marco}");
    let status = served.json(&["status"]).await;
    let health = find(&status["checks"], "checkId", "integration-healthy");
    assert_eq!(health["state"], "FAILING", "{health}");
    let disagreement = health["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["reason"] == "roster-disagrees")
        .unwrap_or_else(|| panic!("no roster-disagrees in {health}"));
    let message = disagreement["message"].as_str().unwrap();
    assert!(
        message.contains("the roster (roster) says marco@acme.example is active")
            && message.contains("as offboarded effective "),
        "{message}"
    );

    std::fs::write(&staff, roster("2026-01-30")).unwrap();
    let said = served.ok(&["admin", "sync-now"]).await;
    assert!(
        said.contains("roster:\n") && said.contains("EmployeeOffboarded"),
        "{said}"
    );
    let synced = served.json(&["admin", "sync-now"]).await;
    assert_eq!(synced["roster_events"], serde_json::json!([]), "{synced}");
    let status = served.json(&["status"]).await;
    let health = find(&status["checks"], "checkId", "integration-healthy");
    assert!(!health.to_string().contains("roster-disagrees"), "{health}");
}

/// One rule for dates (docs/reference/cli.md#dates): every date flag reads a day in the
/// server's `roster.timezone` (Europe/Berlin here, which moves to summer time on 2026-03-29), a
/// flag opening a span at the day's first instant and one closing it at its last microsecond,
/// and says so on standard error.
#[tokio::test(flavor = "multi_thread")]
async fn every_date_flag_reads_a_day_in_the_servers_timezone_to_the_microsecond() {
    let fixture = Fixture::start().await;
    let served = Served::start(&fixture).await;
    served
        .ok(&[
            "admin",
            "upsert-employee",
            "E-70",
            "--email",
            "lea@acme.example",
            "--org-role",
            "IT",
        ])
        .await;
    let berlin = "Europe/Berlin (the server's roster.timezone)";

    let offboarded = served
        .run_as(
            ADMIN_TOKEN,
            &[
                "admin",
                "offboard",
                "E-70",
                "--effective-at",
                "2026-03-29",
                "--json",
            ],
        )
        .await;
    assert_eq!(offboarded.status.code(), Some(0), "{}", text(&offboarded));
    let answer: Value = serde_json::from_slice(&offboarded.stdout).unwrap();
    assert_eq!(
        answer["events"][0]["event"]["effective_at"], "2026-03-28T23:00:00.000000Z",
        "the day starts at midnight in Berlin, still winter time"
    );
    let note = String::from_utf8_lossy(&offboarded.stderr);
    assert!(
        note.contains(&format!(
            "--effective-at 2026-03-29: the start of that day in {berlin}, 2026-03-28T23:00:00.000000Z"
        )),
        "{note}"
    );

    let granted = served
        .run_as(
            ADMIN_TOKEN,
            &[
                "admin",
                "grant-exception",
                "user-identified",
                "--employee",
                "E-70",
                "--reason",
                "pending paperwork",
                "--expires-at",
                "2099-07-01",
                "--json",
            ],
        )
        .await;
    assert_eq!(granted.status.code(), Some(0), "{}", text(&granted));
    let answer: Value = serde_json::from_slice(&granted.stdout).unwrap();
    assert_eq!(
        answer["events"][0]["event"]["expires_at"], "2099-07-01T21:59:59.999999Z",
        "the day ends at its last microsecond, in summer time"
    );

    // The report's window: the day's first instant, the day before's last microsecond.
    for (flags, note) in [
        (
            ["--from", "2026-03-29"],
            "--from 2026-03-29: the start of that day in Europe/Berlin (the server's roster.timezone), 2026-03-28T23:00:00.000000Z",
        ),
        (
            ["--to", "2026-03-28"],
            "--to 2026-03-28: the end of that day in Europe/Berlin (the server's roster.timezone), 2026-03-28T22:59:59.999999Z",
        ),
        (
            ["--to", "2026-03-29"],
            "--to 2026-03-29: the end of that day in Europe/Berlin (the server's roster.timezone), 2026-03-29T21:59:59.999999Z",
        ),
    ] {
        let mut items = vec!["report", "--json"];
        items.extend(flags);
        let report = served.run_as(ADMIN_TOKEN, &items).await;
        assert_eq!(report.status.code(), Some(0), "{}", text(&report));
        assert!(
            String::from_utf8_lossy(&report.stderr).contains(note),
            "{}",
            text(&report)
        );
    }

    let refused = served
        .fails(
            2,
            &["admin", "offboard", "E-70", "--effective-at", "2026-02-30"],
        )
        .await;
    assert!(
        refused.contains("--effective-at")
            && refused.contains("RFC 3339")
            && refused.contains("date"),
        "{refused}"
    );
}
