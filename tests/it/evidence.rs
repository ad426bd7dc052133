//! The evidence pack (docs/reference/ledger.md#evidence-pack) through the real binary, checked by
//! tools nobody here wrote: Python's `hashlib` holds every file to `MANIFEST.sha256`, Python's
//! `csv` reads every CSV file with its documented columns, and the pack's own `verify_export.py`
//! verifies its export. Names from Tailscale are attacker-controlled: a login name holding HTML and
//! a display name holding a spreadsheet formula come out as text, never as markup or a formula. A
//! destination that holds anything is refused and left as it was. (`tests/evidence/browser.sh`, a
//! `.ci/run` stage, renders the demo's pack in headless Chromium.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use tailledger::simulator::SimUser;

use crate::cli::{Setup, args, run_with_env, tailscale_token};
use crate::helpers::{Fixture, keygen, text};

const HOSTILE_LOGIN: &str = "\"><img src=x onerror=alert(1)><script>alert(2)</script>@acme.example";
const FORMULA_NAME: &str = "=HYPERLINK(\"http://evil.example\",\"click\")";
/// A reviewer's reason is untrusted text too.
const HOSTILE_REASON: &str = "=1+1 <b>gone</b>";

/// Starts a review of all access on the synced ledger in `dir` (no server holds it) and decides
/// `revoke` on the hostile account, through the same `Service` the server runs; then records
/// that the reviewer had left before deciding.
async fn review_the_hostile_account(dir: &Path) {
    use std::sync::Arc;
    use tailledger::checks::CheckSettings;
    use tailledger::commands::review::{DecisionInput, Reviewer, StartReview};
    use tailledger::event::{Actor, ReviewScope, SystemId};
    use tailledger::ledger::Ledger;
    use tailledger::service::Service;
    use tailledger::time::SystemClock;

    let ledger = Arc::new(Ledger::open(dir).unwrap());
    let service = Service::new(
        ledger,
        Arc::new(SystemClock),
        CheckSettings::default(),
        chrono_tz::UTC,
    );
    let reviewer = "marco@acme.example".to_owned();
    service
        .start_access_review(
            Actor::Api("ops".to_owned()),
            StartReview {
                system: SystemId::tailscale(),
                scope: ReviewScope::All,
                reviewers: vec![reviewer.clone()],
                due_at: tailledger::time::Timestamp::now().saturating_add_seconds(86_400),
            },
        )
        .await
        .unwrap();
    service
        .decide_access_review(
            Actor::Api("marco".to_owned()),
            Reviewer {
                token: "marco".to_owned(),
                employee_id: Some(reviewer),
            },
            "AR-1".to_owned(),
            vec![DecisionInput {
                account_id: "uEvil1".to_owned(),
                decision: "revoke".to_owned(),
                reason: HOSTILE_REASON.to_owned(),
                ..DecisionInput::default()
            }],
        )
        .await
        .unwrap();
    // HR then records, late, that Marco had left an hour before he decided: the pack flags his
    // decision as a leaver's.
    service
        .offboard_employee(
            Actor::Api("ops".to_owned()),
            "marco@acme.example".to_owned(),
            Some(tailledger::time::Timestamp::now().saturating_add_seconds(-3600)),
            "left last month, recorded late".to_owned(),
        )
        .await
        .unwrap();
}

/// Each CSV file and the columns its header row must have, in order.
const COLUMNS: [(&str, &[&str]); 10] = [
    (
        "check_timeline.csv",
        &[
            "check_id",
            "check_title",
            "interval_start",
            "interval_end",
            "state",
            "findings",
            "share_of_window",
        ],
    ),
    (
        "findings.csv",
        &[
            "check_id",
            "system",
            "account_id",
            "login_name",
            "employee_id",
            "reason",
            "opened_at",
            "closed_at",
            "time_to_resolution_seconds",
            "closing_seq",
        ],
    ),
    (
        "offboarding.csv",
        &[
            "employee_id",
            "email",
            "effective_at",
            "hr_recorded_at",
            "hr_recorded_seq",
            "system",
            "account_id",
            "login_name",
            "link",
            "link_since_at",
            "link_since_seq",
            "last_with_access_at",
            "last_with_access_seq",
            "first_without_access_at",
            "first_without_access_seq",
            "elapsed_seconds",
            "grace_seconds",
            "within_grace",
            "removed_by",
            "removal_action",
            "removed_at_by_tailscale",
            "removal_seq",
        ],
    ),
    (
        "exceptions.csv",
        &[
            "exception_id",
            "check_id",
            "account_id",
            "employee_id",
            "reason",
            "evidence_ref",
            "granted_at",
            "granted_seq",
            "expires_at",
            "revoked_at",
            "revoke_reason",
        ],
    ),
    (
        "reviews.csv",
        &[
            "review_id",
            "system",
            "scope",
            "pinned_seq",
            "population_count",
            "population_sha256",
            "reviewers",
            "started_at",
            "started_seq",
            "due_at",
            "completed_at",
            "completed_seq",
            "cancelled_at",
            "cancelled_seq",
            "reviewers_reassigned",
        ],
    ),
    (
        "review_population.csv",
        &[
            "review_id",
            "account_id",
            "login_name",
            "role",
            "employee_id",
            "link",
            "org_role",
            "findings",
        ],
    ),
    (
        "review_decisions.csv",
        &[
            "review_id",
            "account_id",
            "decision",
            "new_role",
            "reason",
            "reviewer_employee_id",
            "actor",
            "decided_at",
            "decided_seq",
            "in_force",
            "action_deadline",
            "done_at",
            "done_seq",
            "done_in_time",
            "reviewer_offboarded_at",
        ],
    ),
    (
        "accounts_at_end.csv",
        &[
            "account_id",
            "login_name",
            "display_name",
            "role",
            "status",
            "type",
            "present",
            "holds_access",
            "employee_id",
            "link",
            "classification",
            "findings",
        ],
    ),
    (
        "employees_at_end.csv",
        &[
            "employee_id",
            "email",
            "name",
            "org_role",
            "start_date",
            "status",
            "offboarding_effective_at",
        ],
    ),
    (
        "alert_deliveries.csv",
        &[
            "seq",
            "recorded_at",
            "destination",
            "route",
            "notification_id",
            "check_id",
            "reason",
            "subject",
            "state",
            "changed_at",
            "delivered_at",
            "digest_id",
        ],
    ),
];

/// Python reading the pack as an auditor's tools would: prints one JSON object.
const PYTHON_CHECK: &str = r#"
import csv, hashlib, json, os, sys
pack = sys.argv[1]
manifest = {}
for line in open(os.path.join(pack, "MANIFEST.sha256"), encoding="utf-8"):
    digest, name = line.rstrip("\n").split("  ", 1)
    with open(os.path.join(pack, name), "rb") as f:
        manifest[name] = hashlib.sha256(f.read()).hexdigest() == digest
tables = {}
for name in sorted(os.listdir(pack)):
    if name.endswith(".csv"):
        with open(os.path.join(pack, name), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        tables[name] = {"header": rows[0], "rows": rows[1:]}
print(json.dumps({"manifest": manifest, "tables": tables}))
"#;

fn python(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .args(args)
        .output()
        .expect("python3 runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pack_verifies_with_python_and_shows_hostile_names_as_text() {
    let fixture = Fixture::start().await;
    fixture
        .tailnet
        .upsert_user(SimUser::member("uEvil1", HOSTILE_LOGIN, FORMULA_NAME));
    let setup = Setup::new(fixture.server.base_url(), "127.0.0.1:0");
    let config = setup.config();
    let synced = run_with_env(
        args(&["sync", "-c", config.to_str().unwrap()]),
        tailscale_token(),
    )
    .await;
    assert_eq!(synced.status.code(), Some(0), "{}", text(&synced));
    review_the_hostile_account(&setup.ledger()).await;

    let pack = setup.dir.path().join("pack");
    let ledger = setup.ledger();
    let (signing_key, public_key) = keygen(setup.dir.path());
    let evidence = |out: &Path, key: &Path| {
        args(&[
            "evidence",
            "--data-dir",
            ledger.to_str().unwrap(),
            "--from",
            "2020-01-01",
            "--to",
            &tailledger::time::Timestamp::now().to_string(),
            "--out",
            out.to_str().unwrap(),
            "--signing-key",
            key.to_str().unwrap(),
        ])
    };
    // A key others may read is refused before anything is exported or written.
    let loose_key = setup.dir.path().join("loose.key");
    std::fs::copy(&signing_key, &loose_key).unwrap();
    std::fs::set_permissions(&loose_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loose = run_with_env(evidence(&pack, &loose_key), vec![]).await;
    assert_eq!(loose.status.code(), Some(2), "{}", text(&loose));
    assert!(
        text(&loose).contains("--signing-key") && text(&loose).contains("make it 0600"),
        "{}",
        text(&loose)
    );
    assert!(!pack.exists(), "nothing is written with a refused key");

    let written = run_with_env(evidence(&pack, &signing_key), vec![]).await;
    assert_eq!(written.status.code(), Some(0), "{}", text(&written));
    assert!(
        text(&written).contains("wrote the evidence pack"),
        "{}",
        text(&written)
    );
    assert!(
        text(&written).contains("MANIFEST.sha256, signed with the ledger's key"),
        "{}",
        text(&written)
    );

    let checked = python(&["-c", PYTHON_CHECK, pack.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", text(&checked));
    let checked: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    let manifest = checked["manifest"].as_object().unwrap();
    // And the proof of each entry the offboarding table cites.
    let proofs = std::fs::read_dir(pack.join("proofs")).unwrap().count();
    assert!(proofs > 0, "the leaver's rows cite entries");
    assert_eq!(
        manifest.len(),
        tailledger::evidence::FILES.len() + tailledger::evidence::CHECKPOINT_FILES.len() + proofs
    );
    let recomputed = python(&[
        pack.join("check_offboarding.py").to_str().unwrap(),
        pack.to_str().unwrap(),
    ]);
    assert!(recomputed.status.success(), "{}", text(&recomputed));
    assert!(manifest.values().all(|ok| ok == true), "{manifest:?}");
    for (name, columns) in COLUMNS {
        let table = &checked["tables"][name];
        assert_eq!(table["header"], serde_json::json!(columns), "{name}");
        for row in table["rows"].as_array().unwrap() {
            assert_eq!(
                row.as_array().unwrap().len(),
                columns.len(),
                "{name}: {row}"
            );
        }
    }
    let accounts = checked["tables"]["accounts_at_end.csv"]["rows"]
        .as_array()
        .unwrap();
    let evil = accounts
        .iter()
        .find(|row| row[0] == "uEvil1")
        .expect("the hostile account is at the end");
    assert_eq!(
        evil[1], HOSTILE_LOGIN,
        "the login name comes out verbatim, as text"
    );
    assert_eq!(evil[2], format!("'{FORMULA_NAME}"), "a formula is defused");
    let findings = checked["tables"]["findings.csv"]["rows"]
        .as_array()
        .unwrap();
    assert!(
        findings
            .iter()
            .any(|row| row[3] == HOSTILE_LOGIN && row[5] == "unidentified"),
        "{findings:?}"
    );
    let timeline = checked["tables"]["check_timeline.csv"]["rows"]
        .as_array()
        .unwrap();
    for (check, _) in tailledger::checks::CHECKS {
        assert!(
            timeline.iter().any(|row| row[0] == check),
            "{check} has intervals"
        );
    }

    let page = std::fs::read_to_string(pack.join("index.html")).unwrap();
    assert!(!page.contains("<script"), "the page runs no script");
    assert!(!page.contains("<img"), "no markup from a name");
    assert!(
        page.contains(
            "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;&#x2f;script&gt;"
        ),
        "{page}"
    );
    for (check, _) in tailledger::checks::CHECKS {
        assert!(page.contains(&format!("id=\"check-{check}\"")), "{check}");
    }
    // The review: its population with the hostile login as text, the reviewer's reason defused
    // and escaped, and the page's section.
    let population = checked["tables"]["review_population.csv"]["rows"]
        .as_array()
        .unwrap();
    assert!(
        population
            .iter()
            .any(|row| row[0] == "AR-1" && row[1] == "uEvil1" && row[2] == HOSTILE_LOGIN),
        "{population:?}"
    );
    let decisions = checked["tables"]["review_decisions.csv"]["rows"]
        .as_array()
        .unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0][2], "revoke");
    assert_eq!(
        decisions[0][4],
        format!("'{HOSTILE_REASON}"),
        "a formula is defused"
    );
    assert_eq!(
        decisions[0][11], "",
        "not carried out: the account is still there"
    );
    let left: tailledger::time::Timestamp = decisions[0][14].as_str().unwrap().parse().unwrap();
    let decided: tailledger::time::Timestamp = decisions[0][7].as_str().unwrap().parse().unwrap();
    assert!(
        left <= decided,
        "the decision is flagged as a leaver's: {:?}",
        decisions[0]
    );
    let reviews = checked["tables"]["reviews.csv"]["rows"].as_array().unwrap();
    let export = std::fs::read_to_string(pack.join("ledger.jsonl")).unwrap();
    let started = export
        .lines()
        .find(|line| line.contains("\"AccessReviewStarted\""))
        .unwrap();
    let started: serde_json::Value = serde_json::from_str(started).unwrap();
    assert_eq!(reviews[0][5], started["event"]["population_sha256"]);
    assert!(page.contains("id=\"review-AR-1\""), "{page}");
    assert!(page.contains(", a leaver: offboarded at "), "{page}");
    assert!(!page.contains("<b>"), "no markup from a reason");
    let verified = python(&[
        pack.join("verify_export.py").to_str().unwrap(),
        pack.join("ledger.jsonl").to_str().unwrap(),
    ]);
    assert!(verified.status.success(), "{}", text(&verified));
    // The checkpoint, signed with the ledger's key over exactly the export's tree, by the pack's
    // own scripts.
    let signed = python(&[
        pack.join("verify_checkpoint.py").to_str().unwrap(),
        pack.join("checkpoint.txt").to_str().unwrap(),
        &public_key,
    ]);
    assert!(signed.status.success(), "{}", text(&signed));
    let entries = export.lines().count();
    assert!(
        text(&signed).contains(&format!("tree size {entries},")),
        "{}",
        text(&signed)
    );
    let started = python(&[
        pack.join("check_proof.py").to_str().unwrap(),
        "export",
        pack.join("checkpoint.txt").to_str().unwrap(),
        pack.join("ledger.jsonl").to_str().unwrap(),
        pack.join("consistency_proof.json").to_str().unwrap(),
    ]);
    assert!(started.status.success(), "{}", text(&started));
    assert!(page.contains("id=\"checkpoint\""), "{page}");
    assert!(
        page.contains("check_proof.py export checkpoint.txt ledger.jsonl"),
        "the page says how to check it"
    );

    // Into a directory that holds anything: refused, and the directory left as it was.
    let before = std::fs::read_dir(&pack).unwrap().count();
    let again = run_with_env(evidence(&pack, &signing_key), vec![]).await;
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        text(&again).contains("is not an empty directory"),
        "{}",
        text(&again)
    );
    assert_eq!(std::fs::read_dir(&pack).unwrap().count(), before);
    let leftovers: Vec<_> = std::fs::read_dir(setup.dir.path())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(".evidence-")
        })
        .collect();
    assert!(leftovers.is_empty(), "no half-written pack is left behind");
}

/// Item 3 of issue 38: HR records Marco's departure an hour after it took effect; in between,
/// the partner account `u3` was linked to him by hand, and after the offboarding is recorded the
/// account is relinked to Dana. The server's report keeps Marco's row for `u3` with the link as
/// the ledger knew it when it recorded the offboarding (manual, since the link's seq), and the
/// pack, which replays the export through the real binary, has the same row.
#[tokio::test(flavor = "multi_thread")]
async fn a_late_offboarding_keeps_its_row_after_a_relink_on_the_server_and_in_the_pack() {
    late_offboarding_relinked(LinkedToMarco::BeforeTheOffboardingWasRecorded).await;
}

/// Item 3's edge: `u3` is linked to Marco only after HR's late offboarding was recorded (and so
/// after he left), then relinked to Dana. The link made later added a row, as first made; the
/// relink neither removes nor alters it, on the server or in the replayed pack.
#[tokio::test(flavor = "multi_thread")]
async fn a_link_made_after_a_late_offboarding_keeps_its_row_after_a_relink() {
    late_offboarding_relinked(LinkedToMarco::AfterTheOffboardingWasRecorded).await;
}

/// When `u3` is linked to Marco, relative to the recording of his late offboarding.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LinkedToMarco {
    BeforeTheOffboardingWasRecorded,
    AfterTheOffboardingWasRecorded,
}

/// Marco (E-2) left an hour before HR's offboarding is recorded; `u3` is linked to him `when`,
/// then relinked to Dana (E-1). His row for `u3` is asserted on the server and in the pack, at
/// the instants of the entries that made it: the link's seq against the offboarding's.
async fn late_offboarding_relinked(when: LinkedToMarco) {
    use crate::api::{AUDITOR_TOKEN, ApiServer, admin, auditor, tokens};
    use tailledger::api::pb;

    let server = ApiServer::start(tokens()).await;
    let mut client = server.admin().await;
    let system = || "tailscale".to_owned();
    client
        .sync_now(admin(pb::SyncNowRequest { system: system() }))
        .await
        .unwrap();
    client
        .import_roster(admin(pb::ImportRosterRequest {
            csv: b"employee_id,email,name,org_role\nE-1,dana@acme.example,Dana,IT\nE-2,marco@acme.example,Marco,IT\n".to_vec(),
        }))
        .await
        .unwrap();
    let link = |employee_id: &str| {
        admin(pb::LinkAccountRequest {
            system: system(),
            account_id: "u3".to_owned(),
            employee_id: employee_id.to_owned(),
            reason: "shared partner login".to_owned(),
        })
    };
    let mut link_seq = None;
    if when == LinkedToMarco::BeforeTheOffboardingWasRecorded {
        link_seq = Some(
            client
                .link_account(link("E-2"))
                .await
                .unwrap()
                .into_inner()
                .events[0]
                .seq,
        );
    }
    let effective_at = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let offboarded = client
        .offboard_employee(admin(pb::OffboardEmployeeRequest {
            employee_id: "E-2".to_owned(),
            effective_at: Some(effective_at.into()),
            reason: "left an hour ago, recorded late".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    let offboarding_seq = offboarded.events[0].seq;
    let link_seq = match link_seq {
        Some(seq) => seq,
        None => {
            client
                .link_account(link("E-2"))
                .await
                .unwrap()
                .into_inner()
                .events[0]
                .seq
        }
    };
    assert_eq!(
        link_seq > offboarding_seq,
        when == LinkedToMarco::AfterTheOffboardingWasRecorded,
        "the link is made on the intended side of the offboarding's entry"
    );
    client.link_account(link("E-1")).await.unwrap();

    let report = server
        .ledger()
        .await
        .get_offboarding_report(auditor(pb::GetOffboardingReportRequest {
            system: system(),
            from: None,
            to: None,
        }))
        .await
        .unwrap()
        .into_inner();
    let row = report
        .rows
        .iter()
        .find(|row| row.account_id == "u3")
        .unwrap_or_else(|| panic!("the relink removed Marco's row: {:?}", report.rows));
    assert_eq!(
        (
            row.employee_id.as_str(),
            row.link.as_str(),
            row.link_since_seq,
            row.hr_recorded_seq
        ),
        ("E-2", "manual", link_seq, offboarding_seq)
    );

    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("pack");
    let written = run_with_env(
        args(&[
            "evidence",
            "--server",
            &format!("http://{}", server.address),
            "--from",
            "2020-01-01",
            "--to",
            &tailledger::time::Timestamp::now().to_string(),
            "--out",
            pack.to_str().unwrap(),
        ]),
        vec![("TAILLEDGER_TOKEN", AUDITOR_TOKEN.to_owned())],
    )
    .await;
    assert_eq!(written.status.code(), Some(0), "{}", text(&written));
    let table = std::fs::read_to_string(pack.join("offboarding.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(table.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|header| header == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let u3 = rows
        .iter()
        .find(|row| &row[column("account_id")] == "u3")
        .unwrap_or_else(|| panic!("the pack has no row for u3: {table}"));
    assert_eq!(
        (
            &u3[column("employee_id")],
            &u3[column("link")],
            &u3[column("link_since_seq")]
        ),
        ("E-2", "manual", link_seq.to_string().as_str())
    );
}
