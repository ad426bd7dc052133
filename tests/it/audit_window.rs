//! The audit window (docs/reference/time-and-durability.md#settings-as-of,
//! docs/reference/checks.md#exceptions): settings recorded as facts, so a past instant is answered
//! with the settings in force then (through the real binaries), and exceptions over gRPC.

use std::time::{Duration, SystemTime};

use tailledger::api::pb;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tailledger::simulator::SimUser;
use tailledger::time::Timestamp;
use tonic::Code;

use crate::api::{ApiServer, admin, auditor, tokens};
use crate::cli::{ADMIN_TOKEN, Setup, TOKEN_ENV, args, run_with_env, tailscale_token};
use crate::helpers::{API_TOKEN, Fixture, free_port, spawn_serve, text};

/// The findings of `user-identified` in a `status --json` answer, by login name.
fn unidentified(status: &serde_json::Value) -> Vec<String> {
    status["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["checkId"] == "user-identified")
        .flat_map(|check| check["findings"].as_array().cloned().unwrap_or_default())
        .map(|finding| finding["subject"]["loginName"].as_str().unwrap().to_owned())
        .collect()
}

/// Acceptance 1 of the audit-window issue: `identity.email_aliases` changed between two syncs;
/// `GetStatus` as of an instant before the change answers with the old alias.
#[tokio::test(flavor = "multi_thread")]
async fn a_past_instant_is_answered_with_the_email_aliases_in_force_then() {
    let fixture = Fixture::start().await;
    fixture
        .tailnet
        .upsert_user(SimUser::member("u9", "lena@corp.example", "Lena Vogt"));
    let port = free_port();
    let setup = Setup::new(fixture.server.base_url(), &format!("127.0.0.1:{port}"));
    std::fs::write(
        setup.dir.path().join("staff.csv"),
        "email,name,org_role\ndana@acme.example,Dana Whitfield,IT\nmarco@acme.example,Marco Ibáñez,IT\nlena@acme.example,Lena Vogt,IT\n",
    )
    .unwrap();
    let config = setup.config();
    let without_alias = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{without_alias}\n[identity]\nemail_aliases = {{ \"corp.example\" = \"acme.example\" }}\n"),
    )
    .unwrap();
    let sync = || {
        run_with_env(
            args(&["sync", "-c", config.to_str().unwrap()]),
            tailscale_token(),
        )
    };
    let first = sync().await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let before_the_change = Timestamp::now();
    std::fs::write(&config, &without_alias).unwrap();
    let second = sync().await;
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert!(
        text(&second).contains("unidentified") && text(&second).contains("lena@corp.example"),
        "without the alias Lena's login matches no one: {}",
        text(&second)
    );

    let served = setup.config();
    let (mut server, _log) =
        tokio::task::spawn_blocking(move || spawn_serve(&served, &[(TOKEN_ENV, API_TOKEN)]))
            .await
            .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let status = |as_of: Option<String>| {
        let mut asked = args(&["status", "--server", &url, "--json"]);
        asked.extend(
            as_of
                .into_iter()
                .flat_map(|as_of| ["--as-of".to_owned(), as_of]),
        );
        run_with_env(asked, vec![("TAILLEDGER_TOKEN", ADMIN_TOKEN.to_owned())])
    };
    let past = status(Some(before_the_change.to_string())).await;
    assert_eq!(past.status.code(), Some(0), "{}", text(&past));
    let past: serde_json::Value = serde_json::from_slice(&past.stdout).unwrap();
    // Priya's shared account matches no one either way.
    assert_eq!(
        unidentified(&past),
        ["priya@partner.example"],
        "the alias in force then links lena@corp.example to lena@acme.example: {past}"
    );
    assert_eq!(
        past.get("settingsRecordedFromSeq"),
        None,
        "the settings of the instant were recorded by then"
    );
    let now = status(None).await;
    assert_eq!(now.status.code(), Some(0), "{}", text(&now));
    let now: serde_json::Value = serde_json::from_slice(&now.stdout).unwrap();
    assert_eq!(
        unidentified(&now),
        ["priya@partner.example", "lena@corp.example"],
        "{now}"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// The state and findings of `user-identified` in a `GetStatus` answer: (state, [(account id,
/// finding state, exception id)]).
fn identified(status: &pb::GetStatusResponse) -> (i32, Vec<(String, i32, String)>) {
    let check = status
        .checks
        .iter()
        .find(|check| check.check_id == "user-identified")
        .expect("every check is reported");
    (
        check.state,
        check
            .findings
            .iter()
            .map(|finding| {
                (
                    finding.subject.clone().unwrap_or_default().account_id,
                    finding.state,
                    finding.exception_id.clone(),
                )
            })
            .collect(),
    )
}

fn tailscale() -> String {
    "tailscale".to_owned()
}

/// Acceptance 4 of the audit-window issue, over gRPC: an exception makes its finding EXCEPTED
/// and its check pass; revoking it brings the finding back; the past keeps answering EXCEPTED;
/// every bad request is refused naming the field, with nothing recorded.
#[tokio::test]
async fn exceptions_accept_a_finding_until_revoked_and_bad_grants_record_nothing() {
    let server = ApiServer::start(tokens()).await;
    let mut admin_client = server.admin().await;
    let mut ledger = server.ledger().await;
    admin_client
        .sync_now(admin(pb::SyncNowRequest {
            system: tailscale(),
        }))
        .await
        .unwrap();
    let status = |ledger: &mut LedgerServiceClient<_>, as_of| {
        let request = auditor(pb::GetStatusRequest {
            system: tailscale(),
            as_of,
            as_of_date: String::new(),
        });
        let mut ledger = ledger.clone();
        async move { ledger.get_status(request).await.unwrap().into_inner() }
    };
    let failing = pb::CheckState::Failing as i32;
    let (state, findings) = identified(&status(&mut ledger, None).await);
    assert_eq!(state, failing);
    assert!(
        findings.iter().any(|(account, _, _)| account == "u3"),
        "{findings:?}"
    );

    let grant = |check_id: &str, account_id: &str, employee_id: &str, reason: &str, expires_at| {
        pb::GrantExceptionRequest {
            system: tailscale(),
            check_id: check_id.to_owned(),
            account_id: account_id.to_owned(),
            employee_id: employee_id.to_owned(),
            reason: reason.to_owned(),
            evidence_ref: "SEC-1".to_owned(),
            expires_at,
        }
    };
    let hour = Duration::from_secs(3600);
    let in_an_hour = Some(prost_types::Timestamp::from(SystemTime::now() + hour));
    let an_hour_ago = Some(prost_types::Timestamp::from(SystemTime::now() - hour));
    let head = server.service.head();
    for (what, request, code, named) in [
        (
            "unknown check",
            grant("no-such-check", "u3", "", "contractor", in_an_hour),
            Code::InvalidArgument,
            "`check_id`",
        ),
        (
            "unknown account",
            grant("user-identified", "u404", "", "contractor", in_an_hour),
            Code::NotFound,
            "account `u404`",
        ),
        (
            "unknown employee",
            grant("user-identified", "", "E-404", "contractor", in_an_hour),
            Code::NotFound,
            "employee `E-404`",
        ),
        (
            "no subject",
            grant("user-identified", "", "", "contractor", in_an_hour),
            Code::InvalidArgument,
            "`account_id`",
        ),
        (
            "expiry in the past",
            grant("user-identified", "u3", "", "contractor", an_hour_ago),
            Code::InvalidArgument,
            "`expires_at`",
        ),
        (
            "empty reason",
            grant("user-identified", "u3", "", "  ", in_an_hour),
            Code::InvalidArgument,
            "`reason`",
        ),
    ] {
        let refused = admin_client
            .grant_exception(admin(request))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), code, "{what}: {refused:?}");
        assert!(
            refused.message().contains(named),
            "{what}: {}",
            refused.message()
        );
    }
    let refused = admin_client
        .revoke_exception(admin(pb::RevokeExceptionRequest {
            exception_id: "EX-9".to_owned(),
            reason: "done".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    assert!(
        refused.message().contains("exception `EX-9`"),
        "{}",
        refused.message()
    );
    let denied = admin_client
        .grant_exception(auditor(grant("user-identified", "u3", "", "r", in_an_hour)))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        server.service.head(),
        head,
        "refused requests record nothing"
    );

    let granted = admin_client
        .grant_exception(admin(grant(
            "user-identified",
            "u3",
            "",
            "partner's shared account",
            in_an_hour,
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(granted.exception_id, "EX-1");
    assert_eq!(granted.events.len(), 1);
    let excepted_at = Some(prost_types::Timestamp::from(SystemTime::now()));
    let (state, findings) = identified(&status(&mut ledger, None).await);
    let u3 = findings
        .iter()
        .find(|(account, _, _)| account == "u3")
        .unwrap();
    assert_eq!(
        (u3.1, u3.2.as_str()),
        (pb::CheckState::Excepted as i32, "EX-1"),
        "{findings:?}"
    );
    let others_fail = findings.iter().any(|(_, state, _)| *state == failing);
    assert_eq!(
        state,
        if others_fail {
            failing
        } else {
            pb::CheckState::Passing as i32
        },
        "the excepted finding does not count: {findings:?}"
    );
    let listed = ledger
        .list_exceptions(auditor(pb::ListExceptionsRequest {
            system: tailscale(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .exceptions;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].in_force);
    assert_eq!(listed[0].evidence_ref, "SEC-1");

    admin_client
        .revoke_exception(admin(pb::RevokeExceptionRequest {
            exception_id: "EX-1".to_owned(),
            reason: "the partner left".to_owned(),
        }))
        .await
        .unwrap();
    let (state, findings) = identified(&status(&mut ledger, None).await);
    assert_eq!(state, failing);
    assert!(
        findings.contains(&("u3".to_owned(), failing, String::new())),
        "{findings:?}"
    );
    let head = server.service.head();
    let again = admin_client
        .revoke_exception(admin(pb::RevokeExceptionRequest {
            exception_id: "EX-1".to_owned(),
            reason: "twice".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::InvalidArgument, "{again:?}");
    assert!(
        again.message().contains("`exception_id`"),
        "{}",
        again.message()
    );
    assert_eq!(server.service.head(), head);
    let listed = ledger
        .list_exceptions(auditor(pb::ListExceptionsRequest {
            system: tailscale(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .exceptions;
    assert!(!listed[0].in_force && listed[0].revoked_seq > listed[0].granted_seq);
    // The past is unchanged: as of an instant while the exception held, it still held.
    let (_, findings) = identified(&status(&mut ledger, excepted_at).await);
    assert!(
        findings.contains(&(
            "u3".to_owned(),
            pb::CheckState::Excepted as i32,
            "EX-1".to_owned()
        )),
        "{findings:?}"
    );
    server.stop().await;
}
