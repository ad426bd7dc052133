//! Webhook endpoints through Tailscale's API (scope `webhooks`): creating the one tailledger
//! receives on, and asking for a test event (docs/reference/cli.md#webhook,
//! `tailledger webhook register`).

use std::fmt;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::TailscaleClient;
use super::error::FetchError;
use super::secret::Secret;
use super::transport::decode;
use crate::event::SyncErrorClass;

/// An endpoint Tailscale created. Its secret is returned once, at creation; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedWebhook {
    pub endpoint_id: String,
    pub endpoint_url: String,
    pub subscriptions: Vec<String>,
    /// The `tskey-webhook-…` secret that signs the endpoint's deliveries.
    pub secret: Secret,
}

impl fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedWebhook")
            .field("endpoint_id", &self.endpoint_id)
            .field("endpoint_url", &self.endpoint_url)
            .field("subscriptions", &self.subscriptions)
            .field("secret", &self.secret)
            .finish()
    }
}

/// `Webhook` as the API answers a creation; other members are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookBody {
    endpoint_id: String,
    endpoint_url: String,
    #[serde(default)]
    subscriptions: Vec<String>,
    secret: Option<String>,
}

impl TailscaleClient {
    /// Creates an endpoint at `url` for `subscriptions`
    /// (`POST /api/v2/tailnet/{tailnet}/webhooks`).
    pub async fn create_webhook(
        &self,
        url: &str,
        subscriptions: &[&str],
    ) -> Result<CreatedWebhook, FetchError> {
        let request_url = self.url(&["tailnet", self.tailnet(), "webhooks"]);
        let body = json!({
            "endpointUrl": url,
            "providerType": "",
            "subscriptions": subscriptions,
        });
        let (request, answer, bearer) = self
            .call(Method::POST, request_url, Some(&body), None)
            .await?;
        let created: WebhookBody =
            decode(&request, &answer).map_err(|error| self.scrub(error, &bearer))?;
        let secret = created
            .secret
            .filter(|secret| !secret.is_empty())
            .ok_or_else(|| {
                FetchError::new(
                    SyncErrorClass::Malformed,
                    format!("{request}: the answer holds no `secret` for the new endpoint"),
                )
            })?;
        Ok(CreatedWebhook {
            endpoint_id: created.endpoint_id,
            endpoint_url: created.endpoint_url,
            subscriptions: created.subscriptions,
            secret: Secret::new(secret),
        })
    }

    /// Asks Tailscale to send a `test` event to an endpoint
    /// (`POST /api/v2/webhooks/{endpointId}/test`, answered 202: it arrives within seconds).
    pub async fn test_webhook(&self, endpoint_id: &str) -> Result<(), FetchError> {
        let url = self.url(&["webhooks", endpoint_id, "test"]);
        self.call(Method::POST, url, None, None).await.map(drop)
    }
}
