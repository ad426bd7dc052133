//! The Tailscale tailnet as a [`Source`]: its users, devices and keys, its configuration audit
//! log, and the credential the client uses.

use super::{AuditWindow, Listing, Observation, Observing, Source, by_id};
use crate::event::{Coverage, CredentialKind, SyncErrorClass};
use crate::projection::CredentialState;
use crate::tailscale::{AuditEntry, Device, FetchError, Key, TailscaleClient, User};

/// Which parts of the tailnet each sync lists besides its users (`[tailscale] list_devices`,
/// `list_keys`); all of them unless the configuration switches one off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listers {
    pub devices: bool,
    pub keys: bool,
    /// Whether each sync reads the configuration audit log (`read_audit_log`).
    pub audit_log: bool,
}

impl Listers {
    /// Users alone, every other part switched off.
    pub const USERS_ONLY: Listers = Listers {
        devices: false,
        keys: false,
        audit_log: false,
    };
}

impl Default for Listers {
    fn default() -> Self {
        Listers {
            devices: true,
            keys: true,
            audit_log: true,
        }
    }
}

/// A tailnet observed through Tailscale's API.
pub struct TailscaleSource {
    client: TailscaleClient,
    listers: Listers,
}

impl TailscaleSource {
    pub fn new(client: TailscaleClient, listers: Listers) -> Self {
        TailscaleSource { client, listers }
    }

    /// Fetches the listings (users, devices and keys) and the audit log over `window` at once
    /// and, if it can be read, the credential's metadata. Only the users are required: any other
    /// part that fails is a failed part of the observation, not a failed sync.
    async fn fetch(&self, window: AuditWindow) -> Result<Observation, FetchError> {
        let (users, devices, keys, audit_log, credential) = tokio::join!(
            self.client.list_users(),
            part(self.listers.devices, Coverage::Devices, async {
                let devices = self.client.list_devices().await?;
                by_id(
                    devices.into_iter().map(Device::into_snapshot).collect(),
                    Coverage::Devices,
                )
            }),
            part(self.listers.keys, Coverage::Keys, async {
                let keys = self.client.list_keys().await?;
                by_id(
                    keys.into_iter().map(Key::into_snapshot).collect(),
                    Coverage::Keys,
                )
            }),
            part(self.listers.audit_log, Coverage::AuditLog, async {
                let entries = self.client.read_audit_log(window.from, window.to).await?;
                Ok(entries.iter().filter_map(AuditEntry::to_change).collect())
            }),
            self.client.credential_info(),
        );
        let users = users?;
        let listing = Listing::new(users.into_iter().map(User::into_snapshot).collect()).map_err(
            |error| FetchError {
                class: SyncErrorClass::Malformed,
                message: format!("the users list cannot be used: {error}"),
            },
        )?;
        // The credential's expiry feeds a health warning, not the access record, so a failure to
        // read it must not stop the sync; it is logged and the last known value stays.
        let credential = match credential {
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
            devices,
            keys,
            audit_log,
        })
    }
}

/// One part of the observation: `None` when it is switched off; its failure is logged.
async fn part<T>(
    enabled: bool,
    coverage: Coverage,
    listing: impl Future<Output = Result<T, FetchError>>,
) -> Option<Result<T, FetchError>> {
    if !enabled {
        return None;
    }
    let listed = listing.await;
    if let Err(error) = &listed {
        tracing::warn!(class = %error.class, "could not list the tailnet's {coverage}: {}", error.message);
    }
    Some(listed)
}

impl Source for TailscaleSource {
    fn observe(&self, audit_log: AuditWindow) -> Observing<'_> {
        Box::pin(self.fetch(audit_log))
    }

    fn take_date_reading(&self) -> Option<crate::skew::DateReading> {
        self.client.take_date_reading()
    }
}
