//! Sending a message to a destination (docs/operating.md#alerts): an outgoing webhook (JSON,
//! signed as Tailscale signs its own: `Tailledger-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`), a Slack incoming webhook, or email over SMTP. A destination has acknowledged
//! a message when it answered 2xx (HTTP) or accepted it (SMTP). No error names a secret: Slack's
//! URL is one, so HTTP errors are stripped of their URL.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::message;
use super::route::Outgoing;
use crate::tailscale::Secret;
use crate::time::Timestamp;
use crate::webhook::signature;

/// The header an outgoing webhook's signature is in.
pub const SIGNATURE_HEADER: &str = "Tailledger-Signature";
/// The header naming the message id, by which receivers deduplicate.
pub const ID_HEADER: &str = "Tailledger-Message-Id";
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// How an SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// None: only to a loopback address, for tests and local relays.
    None,
}

/// Where an email destination sends.
#[derive(Clone, Debug)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// PEM certificates trusted besides the public authorities (`ca_file`): a private relay's.
    pub ca: Option<Vec<u8>>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

/// What a destination is. `Debug` shows secrets as `[redacted]`.
#[derive(Clone, Debug)]
pub enum Kind {
    Webhook {
        url: String,
        secret: Secret,
    },
    /// Slack's incoming webhook URL is itself the secret.
    Slack {
        url: Secret,
    },
    Email(Box<Smtp>),
}

/// One `[[alerts.destination]]`.
#[derive(Clone, Debug)]
pub struct Destination {
    pub name: String,
    pub kind: Kind,
}

/// Why a destination did not acknowledge a message.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("destination {destination} answered HTTP {status}")]
    Status { destination: String, status: u16 },
    #[error("destination {destination} could not be reached: {reason}")]
    Unreachable { destination: String, reason: String },
    #[error("destination {destination}: the email could not be built: {reason}")]
    Email { destination: String, reason: String },
}

/// Sends messages; one per `serve`, sharing its HTTP connections.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    console_url: Option<String>,
}

impl Sender {
    pub fn new(console_url: Option<String>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(ATTEMPT_TIMEOUT)
            // A destination that redirects is misconfigured; a redirect would carry the body
            // and its signature somewhere not configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds with rustls");
        Sender {
            client,
            console_url,
        }
    }

    /// Sends `outgoing` to `destination`, signed at `now` for a webhook; `test` marks a test
    /// message.
    pub async fn send(
        &self,
        destination: &Destination,
        outgoing: &Outgoing,
        now: Timestamp,
        test: bool,
    ) -> Result<(), SendError> {
        let console = self.console_url.as_deref();
        match &destination.kind {
            Kind::Webhook { url, secret } => {
                let body = message::webhook_body(outgoing, test);
                let unix = now.as_micros().div_euclid(1_000_000);
                let signature = signature::header_value(secret, unix, &body);
                self.post(destination, url, body, Some(signature), &outgoing.id)
                    .await
            }
            Kind::Slack { url } => {
                let body = message::slack_body(outgoing, console, test);
                self.post(destination, url.expose(), body, None, &outgoing.id)
                    .await
            }
            Kind::Email(smtp) => send_email(destination, smtp, outgoing, console, test).await,
        }
    }

    async fn post(
        &self,
        destination: &Destination,
        url: &str,
        body: Vec<u8>,
        signature: Option<String>,
        id: &str,
    ) -> Result<(), SendError> {
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(ID_HEADER, id)
            .body(body);
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        let answer = request
            .send()
            .await
            .map_err(|error| SendError::Unreachable {
                destination: destination.name.clone(),
                reason: error.without_url().to_string(),
            })?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendError::Status {
                destination: destination.name.clone(),
                status: status.as_u16(),
            })
        }
    }
}

async fn send_email(
    destination: &Destination,
    smtp: &Smtp,
    outgoing: &Outgoing,
    console: Option<&str>,
    test: bool,
) -> Result<(), SendError> {
    let unreachable = |reason: String| SendError::Unreachable {
        destination: destination.name.clone(),
        reason,
    };
    let (subject, body) = message::email(outgoing, console, test);
    let mut builder = Message::builder()
        .from(smtp.from.clone())
        // The message id is ours (hex), so receivers can deduplicate a resent message by it.
        .message_id(Some(format!("<{}@tailledger>", outgoing.id)))
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for to in &smtp.to {
        builder = builder.to(to.clone());
    }
    let email = builder.body(body).map_err(|error| SendError::Email {
        destination: destination.name.clone(),
        reason: error.to_string(),
    })?;
    let parameters = || {
        let mut builder = TlsParameters::builder(smtp.host.clone());
        if let Some(pem) = &smtp.ca {
            let ca = Certificate::from_pem(pem).map_err(|error| unreachable(error.to_string()))?;
            builder = builder.add_root_certificate(ca);
        }
        builder
            .build_rustls()
            .map_err(|error| unreachable(error.to_string()))
    };
    // STARTTLS is required: a server that does not offer it is refused before anything is sent.
    let tls = match smtp.tls {
        SmtpTls::Starttls => Tls::Required(parameters()?),
        SmtpTls::Tls => Tls::Wrapper(parameters()?),
        SmtpTls::None => Tls::None,
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .tls(tls)
        .port(smtp.port)
        .timeout(Some(ATTEMPT_TIMEOUT));
    if let (Some(username), Some(password)) = (&smtp.username, &smtp.password) {
        transport = transport.credentials(Credentials::new(
            username.clone(),
            password.expose().to_owned(),
        ));
    }
    transport
        .build()
        .send(email)
        .await
        .map(|_| ())
        .map_err(|error| unreachable(error.to_string()))
}
