//! `tailledger webhook register`: creates the endpoint Tailscale posts its signed deliveries to
//! (docs/reference/sync.md#webhooks), through Tailscale's API with the configured credential (scope
//! `webhooks`), and prints its secret once, for the operator to put in the environment variable
//! `[webhook] secret_env` names; `--test` then asks Tailscale to send a test event.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::{Failure, Outcome, runtime};
use crate::config::Config;
use crate::render::Show;
use crate::tailscale::TailscaleClient;
use crate::webhook::{REGISTERED_SUBSCRIPTIONS, WEBHOOK_PATH};

pub fn register(config: &Path, url: &str, test: bool) -> Outcome {
    check_url(url)?;
    let mut config =
        Config::load(config, |name| std::env::var(name).ok()).map_err(Failure::input)?;
    // A creation is sent once: a retry after an answer that was lost could create a second
    // endpoint with a second secret.
    config.client.retry.budget = Duration::ZERO;
    let client = TailscaleClient::new(config.client).map_err(Failure::input)?;
    let runtime = runtime()?;
    let created = runtime
        .block_on(client.create_webhook(url, &REGISTERED_SUBSCRIPTIONS))
        .map_err(|error| Failure::input(format!("the endpoint was not created: {error}")))?;
    println!(
        "created webhook endpoint {} for {}\nsubscribed to: {}\n\n\
         Its secret, shown this once: store it in the environment variable that [webhook] \
         secret_env names (TAILSCALE_WEBHOOK_SECRET unless set otherwise):\n{}",
        created.endpoint_id.shown(),
        created.endpoint_url.shown(),
        created.subscriptions.join(", ").shown(),
        created.secret.expose()
    );
    if test {
        runtime
            .block_on(client.test_webhook(&created.endpoint_id))
            .map_err(|error| {
                Failure::input(format!(
                    "the endpoint was created, but the test event was refused: {error}"
                ))
            })?;
        println!(
            "\nTailscale will send a `test` event within seconds; a running `serve` records it as WebhookReceived."
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Tailscale posts to an http(s) URL; the path is the operator's (a proxy may rewrite it).
fn check_url(url: &str) -> Result<(), Failure> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| Failure::input(format!("--url `{url}` is not a URL: {error}")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(Failure::input(format!(
            "--url `{url}` must be an https:// URL (TLS in front of the endpoint, e.g. https://ledger.example.com{WEBHOOK_PATH})"
        )));
    }
    Ok(())
}
