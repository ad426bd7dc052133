//! Tokens reloaded on SIGHUP by the real `serve`: a token removed from the configuration loses
//! its web console session and its gRPC calls at once, without a restart, while the others go on;
//! a configuration that no longer loads leaves the tokens in force.

use std::io::BufRead;
use std::time::Duration;

use reqwest::StatusCode;
use tailledger::api::pb;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tailledger::hash::Hash256;
use tonic::Code;

use crate::api::with_token;
use crate::cli::TOKEN_ENV;
use crate::helpers::{API_TOKEN, Fixture, free_port, tailledger, wait_until_serving};
use crate::web::{ADMIN_TOKEN, AUDITOR_TOKEN, csrf_of};

fn config(base_url: &str, grpc: u16, web: u16, with_auditor: bool) -> String {
    let auditor = if with_auditor {
        format!(
            "  {{ name = \"audit\", role = \"auditor\", sha256 = \"{}\" }},\n",
            Hash256::of(AUDITOR_TOKEN.as_bytes())
        )
    } else {
        String::new()
    };
    format!(
        r#"data_dir = "ledger"
listen = "127.0.0.1:{grpc}"

[auth]
tokens = [
  {{ name = "ops", role = "admin", sha256 = "{admin}" }},
{auditor}]

[tailscale]
api_base_url = "{base_url}"
api_token_env = "{TOKEN_ENV}"
sync_interval = "1h"

[web]
listen = "127.0.0.1:{web}"
"#,
        admin = Hash256::of(ADMIN_TOKEN.as_bytes()),
    )
}

async fn status(grpc: u16, token: &str) -> Code {
    let mut client = LedgerServiceClient::connect(format!("http://127.0.0.1:{grpc}"))
        .await
        .unwrap();
    let request = pb::GetStatusRequest {
        system: "tailscale".to_owned(),
        as_of: None,
        as_of_date: String::new(),
    };
    match client.get_status(with_token(request, Some(token))).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

type Log = std::io::BufReader<std::process::ChildStderr>;

/// Reads the server's log until a line holds `text`, within a bound; hands the log back.
async fn log_says(mut log: Log, text: &'static str) -> Log {
    tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            loop {
                line.clear();
                assert!(log.read_line(&mut line).unwrap() > 0, "the server exited");
                if line.contains(text) {
                    return log;
                }
            }
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("the server never logged {text:?}"))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_revoked_by_a_reload_is_refused_by_the_console_and_grpc() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (grpc, web) = (free_port(), free_port());
    let file = dir.path().join("tailledger.toml");
    std::fs::write(&file, config(fixture.server.base_url(), grpc, web, true)).unwrap();
    let mut server = tailledger()
        .args([
            "--log-format",
            "json",
            "serve",
            "-c",
            file.to_str().unwrap(),
        ])
        .env(TOKEN_ENV, API_TOKEN)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut log = wait_until_serving(&mut server);
    let base = format!("http://127.0.0.1:{web}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |token: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let answer = client
                .post(format!("{base}/signin"))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::SEE_OTHER);
            answer.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        }
    };
    let overview = |cookie: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .get(format!("{base}/"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let auditor = sign_in(AUDITOR_TOKEN).await;
    let admin = sign_in(ADMIN_TOKEN).await;
    assert_eq!(overview(auditor.clone()).await, StatusCode::OK);
    assert_eq!(status(grpc, AUDITOR_TOKEN).await, Code::Ok);

    // A configuration that does not load changes nothing.
    std::fs::write(&file, "this is not toml = [").unwrap();
    let hangup = |pid: u32| {
        let sent = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    hangup(server.id());
    log = log_says(log, "cannot be reloaded").await;
    assert_eq!(overview(auditor.clone()).await, StatusCode::OK);

    std::fs::write(&file, config(fixture.server.base_url(), grpc, web, false)).unwrap();
    hangup(server.id());
    log = log_says(log, "reloaded the tokens").await;
    assert_eq!(
        overview(auditor).await,
        StatusCode::SEE_OTHER,
        "the revoked session lives"
    );
    assert_eq!(status(grpc, AUDITOR_TOKEN).await, Code::Unauthenticated);
    let answer = client
        .post(format!("{base}/signin"))
        .form(&[("token", AUDITOR_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    // The admin's session and calls go on.
    let admin_page = client
        .get(format!("{base}/reviews"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(admin_page.status(), StatusCode::OK);
    assert!(!csrf_of(&admin_page.text().await.unwrap()).is_empty());
    assert_eq!(status(grpc, ADMIN_TOKEN).await, Code::Ok);

    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    // The rest of the log is drained, so the server never blocks on a full pipe.
    let drained = std::thread::spawn(move || log.lines().count());
    let exit = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    drained.join().unwrap();
}
