//! Email alerts over TLS (docs/operating.md#alerts), against a real SMTP server (PyPI `aiosmtpd`,
//! `tests/alerts/smtp.py`) on loopback with a certificate from a test CA: STARTTLS required by the
//! server and by us, and TLS from the first byte, both trusting the CA through `ca_file`'s
//! certificates and logging in with a password; a server offering no STARTTLS, or a certificate
//! from an authority not trusted, refused before anything is sent; and no error naming a secret
//! (the SMTP password, Slack's URL).

use std::path::Path;

use tailledger::alerts::route::Outgoing;
use tailledger::alerts::send::{Destination, Kind, SendError, Sender, Smtp, SmtpTls};
use tailledger::tailscale::Secret;
use tailledger::time::{Clock, SystemClock};

use crate::alerts::{Helper, needs};
use crate::tls::TestPki;

const PASSWORD: &str = "smtp-password-not-for-logs";
const PASSWORD_ENV: &str = "TL_TEST_SMTP_PASSWORD";

fn present() -> bool {
    needs(
        "Python 3 with aiosmtpd",
        &["python3", "-c", "import aiosmtpd"],
        "python3 -m pip install aiosmtpd",
    )
}

/// The SMTP server with `args` after its mail directory, the password in its environment.
fn server(mail: &Path, args: &[&str]) -> Helper {
    let mut all = vec![mail.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--password-env", PASSWORD_ENV]);
    Helper::start_with_env("smtp.py", &all, &[(PASSWORD_ENV, PASSWORD)])
}

fn email(port: u16, tls: SmtpTls, ca: Option<&str>, password: &str) -> Destination {
    Destination {
        name: "mail".to_owned(),
        kind: Kind::Email(Box::new(Smtp {
            host: "127.0.0.1".to_owned(),
            port,
            tls,
            ca: ca.map(|pem| pem.as_bytes().to_vec()),
            username: Some("alerts".to_owned()),
            password: Some(Secret::new(password)),
            from: "tailledger <alerts@acme.example>".parse().unwrap(),
            to: vec!["security@acme.example".parse().unwrap()],
        })),
    }
}

async fn send(destination: &Destination) -> Result<(), SendError> {
    let message = Outgoing {
        route: "mail-route".to_owned(),
        destination: destination.name.clone(),
        id: "test-1".to_owned(),
        digest_at: None,
        notifications: Vec::new(),
    };
    Sender::new(None)
        .send(destination, &message, SystemClock.now(), true)
        .await
}

fn mails(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|ext| ext == "eml")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_over_starttls_and_tls_trusting_the_configured_ca() {
    if !present() {
        return;
    }
    let pki = TestPki::new();
    let certs = tempfile::tempdir().unwrap();
    pki.write(certs.path());
    let (cert, key) = (
        certs.path().join("server.pem"),
        certs.path().join("server-key.pem"),
    );
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());

    // STARTTLS, required by both ends, then AUTH over the encrypted connection.
    let mail = tempfile::tempdir().unwrap();
    let smtp = server(mail.path(), &["--starttls", cert, key]);
    send(&email(
        smtp.port,
        SmtpTls::Starttls,
        Some(&pki.ca),
        PASSWORD,
    ))
    .await
    .expect("delivered over STARTTLS");
    assert_eq!(mails(mail.path()), 1);
    // Without the CA the server's certificate is not trusted: refused, nothing sent.
    let untrusted = send(&email(smtp.port, SmtpTls::Starttls, None, PASSWORD))
        .await
        .expect_err("an unknown authority is refused");
    let said = format!("{untrusted} {untrusted:?}");
    assert!(said.contains("destination mail"), "{said}");
    assert!(!said.contains(PASSWORD), "{said}");
    assert_eq!(mails(mail.path()), 1);

    // TLS from the first byte.
    let mail = tempfile::tempdir().unwrap();
    let smtp = server(mail.path(), &["--tls", cert, key]);
    send(&email(smtp.port, SmtpTls::Tls, Some(&pki.ca), PASSWORD))
        .await
        .expect("delivered over TLS");
    assert_eq!(mails(mail.path()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_starttls_is_refused_when_starttls_is_required() {
    if !present() {
        return;
    }
    let pki = TestPki::new();
    let mail = tempfile::tempdir().unwrap();
    // Plain SMTP, no STARTTLS offered (and so no AUTH either).
    let smtp = Helper::start("smtp.py", &[mail.path().to_str().unwrap()]);
    let refused = send(&email(
        smtp.port,
        SmtpTls::Starttls,
        Some(&pki.ca),
        PASSWORD,
    ))
    .await
    .expect_err("no STARTTLS, no mail");
    let said = refused.to_string();
    assert!(
        said.contains("destination mail") && said.contains("STARTTLS"),
        "{said}"
    );
    assert!(!said.contains(PASSWORD), "{said}");
    assert_eq!(mails(mail.path()), 0, "nothing sent in clear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_names_slacks_url_or_a_webhook_secret() {
    // A closed port: the Slack URL (itself the secret) and the webhook's secret in no error.
    let port = crate::helpers::free_port();
    let slack_url = format!("http://127.0.0.1:{port}/services/T000/B000/slack-url-secret");
    for destination in [
        Destination {
            name: "slack".to_owned(),
            kind: Kind::Slack {
                url: Secret::new(slack_url.clone()),
            },
        },
        Destination {
            name: "hook".to_owned(),
            kind: Kind::Webhook {
                url: format!("http://127.0.0.1:{port}/hook"),
                secret: Secret::new("webhook-signing-secret"),
            },
        },
    ] {
        let error = send(&destination).await.expect_err("nothing listens");
        let said = format!("{error} {error:?} {destination:?}");
        assert!(
            said.contains(&format!("destination {}", destination.name)),
            "{said}"
        );
        assert!(
            !said.contains("slack-url-secret") && !said.contains("webhook-signing-secret"),
            "{said}"
        );
    }
}
