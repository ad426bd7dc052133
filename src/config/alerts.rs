//! `[alerts]` (docs/reference/config.md#alerts): destinations (an outgoing webhook, a Slack
//! incoming webhook, email over SMTP) and the routes that send to them. Secrets (the webhook's
//! signing secret, Slack's URL, the SMTP password) are read from the environment variables the
//! file names, never from the file. Refused: a destination or route name used twice or not
//! `[a-z0-9_-]`, a route naming an unknown destination, check or state, a digest time that is
//! no `HH:MM`, an address that is no `https://` URL (plain `http://` only to a loopback host),
//! an email address that does not parse, SMTP without TLS to a host that is not loopback, and a
//! `ca_file` that cannot be read or holds no PEM certificate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use lettre::message::Mailbox;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source};
use crate::alerts::send::{Destination, Kind, Smtp, SmtpTls};
use crate::alerts::{AlertsSettings, Change, DEFAULT_LOOKBACK, Route, Schedule};
use crate::checks::CHECKS;
use crate::tailscale::Secret;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    console_url: Option<Spanned<String>>,
    lookback: Option<Spanned<String>>,
    #[serde(default)]
    destination: Vec<RawDestination>,
    #[serde(default)]
    route: Vec<RawRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    name: Spanned<String>,
    kind: Spanned<String>,
    /// A webhook's address.
    url: Option<Spanned<String>>,
    /// A webhook's signing secret; Slack's URL.
    secret_env: Option<Spanned<String>>,
    url_env: Option<Spanned<String>>,
    smtp_host: Option<Spanned<String>>,
    smtp_port: Option<Spanned<i64>>,
    tls: Option<Spanned<String>>,
    username: Option<String>,
    password_env: Option<Spanned<String>>,
    /// PEM certificates an SMTP server's certificate may chain to.
    ca_file: Option<Spanned<PathBuf>>,
    from: Option<Spanned<String>>,
    #[serde(default)]
    to: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Spanned<String>,
    destination: Spanned<String>,
    #[serde(default)]
    checks: Vec<Spanned<String>>,
    states: Option<Vec<Spanned<String>>>,
    digest: Option<Spanned<String>>,
}

fn good_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Source<'_> {
    pub(super) fn alerts(
        &self,
        raw: &RawAlerts,
        base: &Path,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<AlertsSettings, ConfigError> {
        let console_url = raw
            .console_url
            .as_ref()
            .map(|url| {
                self.url(url, "alerts.console_url")
                    .map(|()| url.get_ref().clone())
            })
            .transpose()?;
        let lookback = raw
            .lookback
            .as_ref()
            .map_or(Ok(DEFAULT_LOOKBACK), |value| {
                self.duration(value, "alerts.lookback")
            })?;
        let mut destinations = Vec::new();
        let mut names = BTreeSet::new();
        for raw in &raw.destination {
            let destination = self.destination(raw, base, env)?;
            if !names.insert(destination.name.clone()) {
                return Err(self.error(
                    &raw.name,
                    "alerts.destination.name",
                    format!("destination {} is named twice", destination.name),
                ));
            }
            destinations.push(destination);
        }
        let mut routes = Vec::new();
        let mut route_names = BTreeSet::new();
        for raw in &raw.route {
            let route = self.route(raw, &names)?;
            if !route_names.insert(route.name.clone()) {
                return Err(self.error(
                    &raw.name,
                    "alerts.route.name",
                    format!("route {} is named twice", route.name),
                ));
            }
            routes.push(route);
        }
        Ok(AlertsSettings {
            console_url,
            lookback,
            destinations,
            routes,
        })
    }

    /// Refuses what is no `https://` URL, or `http://` to a host that is not loopback.
    fn url(&self, written: &Spanned<String>, key: &str) -> Result<(), ConfigError> {
        let text = written.get_ref();
        let host = |rest: &str| {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            match host.rsplit_once(':') {
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
                _ => host.to_owned(),
            }
        };
        let fine = if let Some(rest) = text.strip_prefix("https://") {
            !host(rest).is_empty()
        } else if let Some(rest) = text.strip_prefix("http://") {
            loopback_host(&host(rest))
        } else {
            false
        };
        if fine {
            Ok(())
        } else {
            Err(self.error(
                written,
                key,
                "must be an https:// URL (http:// only to a loopback address)",
            ))
        }
    }

    fn required<'a, T>(
        &self,
        value: &'a Option<Spanned<T>>,
        name: &Spanned<String>,
        key: &str,
        kind: &str,
    ) -> Result<&'a Spanned<T>, ConfigError> {
        value.as_ref().ok_or_else(|| {
            self.error(
                name,
                key,
                format!(
                    "a {kind} destination needs `{}`",
                    key.rsplit('.').next().unwrap_or(key)
                ),
            )
        })
    }

    fn destination(
        &self,
        raw: &RawDestination,
        base: &Path,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Destination, ConfigError> {
        let name = raw.name.get_ref().clone();
        if !good_name(&name) {
            return Err(self.error(
                &raw.name,
                "alerts.destination.name",
                "must be 1 to 64 of a-z, 0-9, `-` and `_`",
            ));
        }
        let kind = match raw.kind.get_ref().as_str() {
            "webhook" => {
                let url =
                    self.required(&raw.url, &raw.name, "alerts.destination.url", "webhook")?;
                self.url(url, "alerts.destination.url")?;
                let secret_env = self.required(
                    &raw.secret_env,
                    &raw.name,
                    "alerts.destination.secret_env",
                    "webhook",
                )?;
                Kind::Webhook {
                    url: url.get_ref().clone(),
                    secret: Secret::new(self.secret(
                        secret_env,
                        "alerts.destination.secret_env",
                        env,
                    )?),
                }
            }
            "slack" => {
                let url_env = self.required(
                    &raw.url_env,
                    &raw.name,
                    "alerts.destination.url_env",
                    "slack",
                )?;
                let url = self.secret(url_env, "alerts.destination.url_env", env)?;
                // Checked without quoting it: the URL is the secret.
                let checked = Spanned::new(url_env.span(), url);
                self.url(&checked, "alerts.destination.url_env")
                    .map_err(|mut error| {
                        error.message = format!(
                            "the environment variable {} must hold an https:// URL",
                            url_env.get_ref()
                        );
                        error
                    })?;
                Kind::Slack {
                    url: Secret::new(checked.into_inner()),
                }
            }
            "email" => Kind::Email(Box::new(self.smtp(raw, base, env)?)),
            other => {
                return Err(self.error(
                    &raw.kind,
                    "alerts.destination.kind",
                    format!(
                        "`{other}` is no kind of destination: expected webhook, slack or email"
                    ),
                ));
            }
        };
        Ok(Destination { name, kind })
    }

    fn smtp(
        &self,
        raw: &RawDestination,
        base: &Path,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Smtp, ConfigError> {
        let host = self.required(
            &raw.smtp_host,
            &raw.name,
            "alerts.destination.smtp_host",
            "email",
        )?;
        let tls = match raw.tls.as_ref().map(|tls| tls.get_ref().as_str()) {
            None | Some("starttls") => SmtpTls::Starttls,
            Some("tls") => SmtpTls::Tls,
            Some("none") => SmtpTls::None,
            Some(other) => {
                return Err(self.error(
                    raw.tls.as_ref().expect("matched"),
                    "alerts.destination.tls",
                    format!("`{other}` is not starttls, tls or none"),
                ));
            }
        };
        if tls == SmtpTls::None && !loopback_host(host.get_ref()) {
            return Err(self.error(
                host,
                "alerts.destination.smtp_host",
                "tls = \"none\" is only allowed to a loopback address: mail would cross the network in clear",
            ));
        }
        let port = match &raw.smtp_port {
            Some(port) => u16::try_from(*port.get_ref())
                .ok()
                .filter(|port| *port > 0)
                .ok_or_else(|| {
                    self.error(
                        port,
                        "alerts.destination.smtp_port",
                        "is not a port (1 to 65535)",
                    )
                })?,
            None => match tls {
                SmtpTls::Starttls => 587,
                SmtpTls::Tls => 465,
                SmtpTls::None => 25,
            },
        };
        let password = raw
            .password_env
            .as_ref()
            .map(|name| {
                self.secret(name, "alerts.destination.password_env", env)
                    .map(Secret::new)
            })
            .transpose()?;
        let mailbox = |written: &Spanned<String>, key: &str| {
            written.get_ref().parse::<Mailbox>().map_err(|error| {
                self.error(written, key, format!("is not an email address: {error}"))
            })
        };
        let from = mailbox(
            self.required(&raw.from, &raw.name, "alerts.destination.from", "email")?,
            "alerts.destination.from",
        )?;
        if raw.to.is_empty() {
            return Err(self.error(
                &raw.name,
                "alerts.destination.to",
                "an email destination needs `to`",
            ));
        }
        let to = raw
            .to
            .iter()
            .map(|to| mailbox(to, "alerts.destination.to"))
            .collect::<Result<_, _>>()?;
        let ca = raw
            .ca_file
            .as_ref()
            .map(|path| self.ca_file(path, base))
            .transpose()?;
        if ca.is_some() && tls == SmtpTls::None {
            return Err(self.error(
                raw.ca_file.as_ref().expect("read above"),
                "alerts.destination.ca_file",
                "is only for tls = \"starttls\" or \"tls\": with tls = \"none\" no certificate is checked",
            ));
        }
        Ok(Smtp {
            host: host.get_ref().clone(),
            port,
            tls,
            ca,
            username: raw.username.clone(),
            password,
            from,
            to,
        })
    }

    /// The PEM certificates of `ca_file`, read and parsed: the authorities an SMTP server's
    /// certificate may chain to, besides the public ones.
    fn ca_file(&self, path: &Spanned<PathBuf>, base: &Path) -> Result<Vec<u8>, ConfigError> {
        const CERTIFICATE: &[u8] = b"-----BEGIN CERTIFICATE-----";
        let key = "alerts.destination.ca_file";
        let full = base.join(path.get_ref());
        let pem = crate::bounded::read_file(&full, crate::bounded::SMALL_FILE_BYTES).map_err(
            |error| {
                self.error(
                    path,
                    key,
                    format!("cannot read {}: {error}", full.display()),
                )
            },
        )?;
        match lettre::transport::smtp::client::Certificate::from_pem(&pem) {
            Ok(_)
                if pem
                    .windows(CERTIFICATE.len())
                    .any(|window| window == CERTIFICATE) =>
            {
                Ok(pem)
            }
            _ => Err(self.error(
                path,
                key,
                format!(
                    "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    full.display()
                ),
            )),
        }
    }

    fn route(&self, raw: &RawRoute, destinations: &BTreeSet<String>) -> Result<Route, ConfigError> {
        let name = raw.name.get_ref().clone();
        if !good_name(&name) {
            return Err(self.error(
                &raw.name,
                "alerts.route.name",
                "must be 1 to 64 of a-z, 0-9, `-` and `_`",
            ));
        }
        if !destinations.contains(raw.destination.get_ref()) {
            return Err(self.error(
                &raw.destination,
                "alerts.route.destination",
                format!(
                    "no [[alerts.destination]] is named {}",
                    raw.destination.get_ref()
                ),
            ));
        }
        let mut checks = Vec::new();
        for check in &raw.checks {
            if !CHECKS.iter().any(|(id, _)| id == check.get_ref()) {
                return Err(self.error(
                    check,
                    "alerts.route.checks",
                    format!(
                        "{} is no check id (see docs/reference/checks.md#check-ids)",
                        check.get_ref()
                    ),
                ));
            }
            checks.push(check.get_ref().clone());
        }
        let states = match &raw.states {
            None => vec![Change::Failing, Change::Resolved],
            Some(states) => states
                .iter()
                .map(|state| {
                    Change::parse(state.get_ref()).ok_or_else(|| {
                        self.error(
                            state,
                            "alerts.route.states",
                            format!(
                                "{} is not DUE, FAILING, EXCEPTED or RESOLVED",
                                state.get_ref()
                            ),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let schedule = match &raw.digest {
            None => Schedule::Immediate,
            Some(time) => Schedule::Digest(
                NaiveTime::parse_from_str(time.get_ref(), "%H:%M").map_err(|_| {
                    self.error(
                        time,
                        "alerts.route.digest",
                        "is not a time of day HH:MM (in roster.timezone)",
                    )
                })?,
            ),
        };
        Ok(Route {
            name,
            checks,
            states,
            destination: raw.destination.get_ref().clone(),
            schedule,
        })
    }
}
