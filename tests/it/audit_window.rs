//! The audit window (SPEC §11, §12) through the real binaries: settings recorded as facts, so a
//! past instant is answered with the settings in force then.

use tailledger::simulator::SimUser;
use tailledger::time::Timestamp;

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
