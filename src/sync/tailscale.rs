//! The Tailscale tailnet as a [`Source`]: its users, and the credential the client uses.

use super::{Listing, Observation, Observing, Source};
use crate::event::{CredentialKind, SyncErrorClass};
use crate::projection::CredentialState;
use crate::tailscale::{FetchError, TailscaleClient};

/// A tailnet observed through Tailscale's API.
pub struct TailscaleSource {
    client: TailscaleClient,
}

impl TailscaleSource {
    pub fn new(client: TailscaleClient) -> Self {
        TailscaleSource { client }
    }

    /// Fetches the listing and, if it can be read, the credential's metadata.
    async fn fetch(&self) -> Result<Observation, FetchError> {
        let users = self.client.list_users().await?;
        let listing = Listing::new(users.iter().map(|user| user.to_snapshot()).collect()).map_err(
            |error| FetchError {
                class: SyncErrorClass::Malformed,
                message: format!("the users list cannot be used: {error}"),
            },
        )?;
        // The credential's expiry feeds a health warning, not the access record, so a failure to
        // read it must not stop the sync; it is logged and the last known value stays.
        let credential = match self.client.credential_info().await {
            Ok(info) => {
                if info.kind == CredentialKind::ApiToken && info.expires_at.is_none() {
                    tracing::warn!(
                        credential_id = %info.id,
                        "Tailscale's key lookup gave no expiry for the API token; API tokens always expire, so its expiry is unknown and a known one is kept"
                    );
                }
                if info.invalid {
                    tracing::warn!(credential_id = %info.id, "Tailscale reports the credential in use as invalid (revoked or expired)");
                }
                Some(CredentialState {
                    id: info.id,
                    kind: info.kind,
                    expires_at: info.expires_at,
                    invalid: info.invalid,
                })
            }
            Err(error) => {
                tracing::warn!(class = %error.class, "could not read the credential's expiry: {}", error.message);
                None
            }
        };
        Ok(Observation {
            listing,
            credential,
        })
    }
}

impl Source for TailscaleSource {
    fn observe(&self) -> Observing<'_> {
        Box::pin(self.fetch())
    }
}
