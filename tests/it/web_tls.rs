//! The web console over TLS (`[web.tls]`), as for gRPC: a test CA's certificate for `localhost`,
//! made with rcgen; a reqwest client that trusts the CA signs in and acts, and its session
//! cookie is `Secure`; a client that does not trust the CA, one that speaks plain HTTP, and one
//! that never finishes its handshake are not served. The real `serve` reads `[web.tls]` and
//! refuses a key that is not the certificate's, naming the key.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tailledger::config::Config;
use tailledger::hash::Hash256;
use tailledger::listener::HttpLimits;
use tailledger::time::SystemClock;
use tokio::net::TcpStream;

use crate::cli::TOKEN_ENV;
use crate::helpers::{API_TOKEN, Fixture, free_port, spawn_serve};
use crate::tls::TestPki;
use crate::web::{ADMIN_TOKEN, AUDITOR_TOKEN, Console, closed_within, same_origin};

/// The `Set-Cookie` of a sign-in with `token` through `client`.
async fn signed_in_cookie(client: &reqwest::Client, base: &str, token: &str) -> String {
    let answer = client
        .post(format!("{base}/signin"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    answer.headers()["set-cookie"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_serves_tls_with_secure_cookies_and_nothing_else() {
    let pki = TestPki::new();
    let limits = HttpLimits {
        header_timeout: Duration::from_millis(500),
        ..HttpLimits::default()
    };
    let console = Console::serving(limits, Some(&pki), Arc::new(SystemClock)).await;
    assert!(console.base.starts_with("https://localhost:"));
    let cookie = signed_in_cookie(&console.http, &console.base, AUDITOR_TOKEN).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // A session over TLS reads pages and posts forms, recorded as `web:ops`.
    let admin = console.sign_in(ADMIN_TOKEN).await;
    let (status, page) = console.get(Some(&admin), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-check-id=\"user-identified\""), "{page}");
    let before = console.head_seq();
    let (status, body) = console
        .post(
            &admin,
            "/accounts/u3/link",
            &[("employee_id", "E-1"), ("reason", "Priya works for Dana")],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("data-actor=\"web:ops\""), "{body}");
    assert_eq!(console.head_seq(), before + 1);
    // Signing out clears the cookie, `Secure` too.
    let answer = console
        .http
        .post(format!("{}/signout", console.base))
        .header("cookie", &admin.cookie)
        .headers(same_origin(&console))
        .form(&[("csrf", admin.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let cleared = answer.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("Secure"),
        "{cleared}"
    );

    // A client that does not trust the test CA fails the handshake.
    let untrusting = reqwest::Client::new()
        .get(format!("{}/signin", console.base))
        .send()
        .await
        .expect_err("the test CA is no public one");
    assert!(
        format!("{untrusting:?}").contains("UnknownIssuer"),
        "{untrusting:?}"
    );
    // Plain HTTP to the TLS port gets no answer.
    let address = console.base.trim_start_matches("https://localhost:");
    let address = format!("127.0.0.1:{address}");
    let plaintext = Console::client()
        .get(format!("http://{address}/signin"))
        .send()
        .await;
    assert!(plaintext.is_err(), "plain HTTP was answered: {plaintext:?}");
    // A client that never starts its handshake is closed at the header timeout.
    let mut silent = TcpStream::connect(&address).await.unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(10)).await,
        "a silent client held on"
    );
    console.stop().await;
}

fn config(
    dir: &std::path::Path,
    base_url: &str,
    grpc: u16,
    web: u16,
    key: &str,
) -> std::path::PathBuf {
    let path = dir.join("tailledger.toml");
    std::fs::write(
        &path,
        format!(
            r#"data_dir = "ledger"
listen = "127.0.0.1:{grpc}"

[auth]
tokens = [{{ name = "ops", role = "admin", sha256 = "{admin}" }}]

[tailscale]
api_base_url = "{base_url}"
api_token_env = "{TOKEN_ENV}"
sync_interval = "1h"

[web]
listen = "127.0.0.1:{web}"

[web.tls]
cert_path = "server.pem"
key_path = "{key}"
"#,
            admin = Hash256::of(ADMIN_TOKEN.as_bytes()),
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_web_tls_key_that_is_not_the_certificates_is_refused_naming_it() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    pki.write(dir.path());
    std::fs::write(
        dir.path().join("other-key.pem"),
        rcgen::KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let path = config(
        dir.path(),
        "http://127.0.0.1:9",
        50051,
        8443,
        "other-key.pem",
    );
    let refused = Config::load(&path, |_| Some("tskey-api-x".to_owned())).unwrap_err();
    let message = refused.to_string();
    assert!(message.contains("web.tls.key_path"), "{message}");
    assert!(message.contains("does not belong"), "{message}");
    let path = config(
        dir.path(),
        "http://127.0.0.1:9",
        50051,
        8443,
        "server-key.pem",
    );
    let loaded = Config::load(&path, |_| Some("tskey-api-x".to_owned())).unwrap();
    assert!(loaded.web.unwrap().tls.is_some());
    assert!(loaded.tls.is_none(), "gRPC stays plaintext without [tls]");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_the_console_over_tls_with_a_secure_cookie() {
    let fixture = Fixture::start().await;
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    pki.write(dir.path());
    let (grpc, web) = (free_port(), free_port());
    let path = config(
        dir.path(),
        fixture.server.base_url(),
        grpc,
        web,
        "server-key.pem",
    );
    let (mut server, log) = spawn_serve(&path, &[(TOKEN_ENV, API_TOKEN)]);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    let cookie = signed_in_cookie(&client, &format!("https://localhost:{web}"), ADMIN_TOKEN).await;
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    let answer = client
        .get(format!("https://localhost:{web}/ledger"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.text().await.unwrap().contains("data-verified"));
    let plaintext = Console::client()
        .get(format!("http://127.0.0.1:{web}/signin"))
        .send()
        .await;
    assert!(plaintext.is_err(), "{plaintext:?}");
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let exit = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    let log = log.join().unwrap();
    assert!(
        log.iter()
            .any(|line| line.contains("web console listening") && line.contains("\"tls\":true")),
        "{log:?}"
    );
}
