//! TLS end to end: a test CA and a server certificate for `localhost` and `127.0.0.1`, made with
//! rcgen at test time; the API served over TLS with token auth on `127.0.0.1:0`; tonic clients
//! that trust the CA, that do not, and that speak plaintext; the built binary's `status` with
//! `--ca-cert`; and the `[tls]` table of the configuration.

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tailledger::api::pb::GetStatusRequest;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tailledger::api::{TlsError, TlsFile, TlsIdentity};
use tailledger::config::Config;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::api::{AUDITOR_TOKEN, ApiServer, tokens, with_token};
use crate::cli::{args, run_with_env};
use crate::helpers::text;

/// A private CA and a server certificate it issued, all in PEM.
pub struct TestPki {
    pub ca: String,
    pub server_chain: String,
    pub server_key: KeyPair,
}

impl TestPki {
    pub fn new() -> TestPki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "tailledger test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).unwrap().pem();

        let server_key = KeyPair::generate().unwrap();
        let server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let server = server_params
            .signed_by(&server_key, &Issuer::new(ca_params, ca_key))
            .unwrap();
        TestPki {
            ca,
            server_chain: server.pem(),
            server_key,
        }
    }

    pub fn identity(&self) -> TlsIdentity {
        TlsIdentity::from_pem(
            self.server_chain.clone().into_bytes(),
            self.server_key.serialize_pem().into_bytes(),
        )
        .unwrap()
    }

    /// Writes `ca.pem`, the server's `server.pem` and `server-key.pem`, and the same key in
    /// DER as `server-key.der` (a key file that is not PEM) into `dir`.
    pub fn write(&self, dir: &Path) {
        std::fs::write(dir.join("ca.pem"), &self.ca).unwrap();
        std::fs::write(dir.join("server.pem"), &self.server_chain).unwrap();
        std::fs::write(dir.join("server-key.pem"), self.server_key.serialize_pem()).unwrap();
        std::fs::write(dir.join("server-key.der"), self.server_key.serialize_der()).unwrap();
    }
}

/// A channel to `url` over TLS with `tls`.
async fn connect_tls(
    url: String,
    tls: ClientTlsConfig,
) -> Result<Channel, tonic::transport::Error> {
    Channel::from_shared(url)
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
}

fn status_request() -> GetStatusRequest {
    GetStatusRequest {
        system: "tailscale".to_owned(),
        as_of: None,
        as_of_date: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_trusts_the_ca_is_served_and_others_are_not() {
    let pki = TestPki::new();
    let server = ApiServer::start_serving(tokens(), Some(pki.identity())).await;
    let https = format!("https://127.0.0.1:{}", server.address.port());

    let trusting = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca));
    let mut ledger = LedgerServiceClient::new(connect_tls(https.clone(), trusting).await.unwrap());
    let status = ledger
        .get_status(with_token(status_request(), Some(AUDITOR_TOKEN)))
        .await
        .expect("a client that trusts the CA is served")
        .into_inner();
    assert_eq!(status.checks.len(), 8);
    let anonymous = ledger
        .get_status(with_token(status_request(), None))
        .await
        .expect_err("TLS does not stand in for a token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let public_roots = ClientTlsConfig::new().with_webpki_roots();
    let untrusting = connect_tls(https, public_roots)
        .await
        .expect_err("the test CA is not a public one");
    assert!(
        format!("{untrusting:?}").contains("UnknownIssuer"),
        "the handshake fails on the certificate: {untrusting:?}"
    );

    let plaintext = Channel::from_shared(format!("http://{}", server.address))
        .unwrap()
        .connect_lazy();
    let refused = LedgerServiceClient::new(plaintext)
        .get_status(with_token(status_request(), Some(AUDITOR_TOKEN)))
        .await
        .expect_err("a TLS server does not answer plaintext");
    // The server hangs up on what is not a TLS handshake. Depending on when the client notices,
    // the status code differs (Unknown, Unavailable, Cancelled); what matters is that the call
    // failed in the transport rather than being answered.
    assert!(
        std::error::Error::source(&refused)
            .is_some_and(|source| source.is::<tonic::transport::Error>()),
        "{refused:?}"
    );

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_command_trusts_the_ca_given_with_ca_cert() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    pki.write(dir.path());
    let server = ApiServer::start_serving(tokens(), Some(pki.identity())).await;
    let port = server.address.port();
    let https = format!("https://localhost:{port}");
    let token = || vec![("TAILLEDGER_TOKEN", AUDITOR_TOKEN.to_owned())];
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().unwrap();

    let status = run_with_env(
        args(&["status", "--server", &https, "--ca-cert", ca, "--json"]),
        token(),
    )
    .await;
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["checks"].as_array().map(Vec::len), Some(8));

    let export = dir.path().join("export.jsonl");
    let exported = run_with_env(
        args(&[
            "export",
            "--out",
            export.to_str().unwrap(),
            "--server",
            &https,
            "--ca-cert",
            ca,
        ]),
        token(),
    )
    .await;
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported));
    assert!(export.exists());

    let untrusted = run_with_env(args(&["status", "--server", &https]), token()).await;
    assert_eq!(untrusted.status.code(), Some(2), "{}", text(&untrusted));
    assert!(
        text(&untrusted).contains("UnknownIssuer"),
        "the error says why: {}",
        text(&untrusted)
    );

    let plaintext = format!("http://127.0.0.1:{port}");
    let ca_for_plaintext = run_with_env(
        args(&["status", "--server", &plaintext, "--ca-cert", ca]),
        token(),
    )
    .await;
    assert_eq!(ca_for_plaintext.status.code(), Some(2));
    assert!(
        text(&ca_for_plaintext).contains("only used with an https:// server"),
        "{}",
        text(&ca_for_plaintext)
    );

    let key_as_ca = run_with_env(
        args(&[
            "status",
            "--server",
            &https,
            "--ca-cert",
            dir.path().join("server-key.pem").to_str().unwrap(),
        ]),
        token(),
    )
    .await;
    assert_eq!(key_as_ca.status.code(), Some(2));
    assert!(
        text(&key_as_ca).contains("holds no PEM certificate"),
        "{}",
        text(&key_as_ca)
    );

    server.stop().await;
}

#[test]
fn the_configuration_reads_the_tls_files_relative_to_itself_and_never_shows_the_key() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    pki.write(dir.path());
    let config = dir.path().join("tailledger.toml");
    std::fs::write(
        &config,
        "[auth]\ndisabled = true\n\n[tls]\ncert_path = \"server.pem\"\nkey_path = \"server-key.pem\"\n\n[tailscale]\napi_token_env = \"TOKEN\"\n",
    )
    .unwrap();
    let config = Config::load(&config, |_| Some("tskey-api-x".to_owned())).unwrap();
    assert!(config.tls.is_some());
    let shown = format!("{config:?}");
    let key = pki.server_key.serialize_pem();
    let key_body = key.lines().nth(1).unwrap();
    assert!(!shown.contains(key_body), "{shown}");
}

#[test]
fn a_key_that_does_not_belong_to_the_certificate_is_refused() {
    let pki = TestPki::new();
    let other = KeyPair::generate().unwrap();
    let refused = TlsIdentity::from_pem(
        pki.server_chain.into_bytes(),
        other.serialize_pem().into_bytes(),
    )
    .unwrap_err();
    assert_eq!(refused.file, TlsFile::PrivateKey);
    assert!(refused.reason.contains("does not belong"), "{refused}");

    let swapped = TlsIdentity::from_pem(
        pki.server_key.serialize_pem().into_bytes(),
        pki.ca.into_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        swapped,
        TlsError {
            file: TlsFile::CertificateChain,
            reason: "holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` section)".to_owned()
        }
    );
}
