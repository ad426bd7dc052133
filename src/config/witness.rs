//! `[[witness]]` and `[witnesses]` (docs/reference/config.md#witness): the witnesses that cosign
//! the ledger's checkpoints, each a name, the URL its `add-checkpoint` is under and its
//! cosigner key, and how many must cosign a checkpoint before it is published (`quorum`, all by
//! default). Witnesses cosign signed checkpoints, so they need `[checkpoint] signing_key_path`.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source};
use crate::merkle::CosignerKey;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWitness {
    name: Spanned<String>,
    url: Spanned<String>,
    key: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWitnesses {
    quorum: Option<Spanned<i64>>,
    max_lag: Option<Spanned<String>>,
    retry_max: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

/// One configured witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessPeer {
    /// What the ledger calls it (events, findings, logs).
    pub name: String,
    /// The prefix its `add-checkpoint` is under, without a final `/`.
    pub url: String,
    /// Its cosigner key, `<name>+<hex key id>+base64(0x04 || key)`.
    pub key: CosignerKey,
}

/// The witnesses and the policy of publication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessSettings {
    pub peers: Vec<WitnessPeer>,
    /// How many must cosign a checkpoint before it is published.
    pub quorum: usize,
    /// Past this, a witness that has not cosigned the head and keeps failing is
    /// `witness-behind`.
    pub max_lag: Duration,
    /// The longest wait between two tries after a failure.
    pub retry_max: Duration,
    /// How long one request to a witness may take.
    pub timeout: Duration,
}

impl Source<'_> {
    /// `[[witness]]` and `[witnesses]`: names unique, URLs http or https, keys cosigner keys, a
    /// quorum between 1 and the number of witnesses, and a signing key to be cosigned.
    pub(super) fn witnesses(
        &self,
        raw: &[Spanned<RawWitness>],
        policy: Option<&Spanned<RawWitnesses>>,
        signs_checkpoints: bool,
    ) -> Result<Option<WitnessSettings>, ConfigError> {
        let Some(first) = raw.first() else {
            if let Some(policy) = policy {
                return Err(self.error(
                    policy,
                    "witnesses",
                    "[witnesses] sets the policy of [[witness]] entries, and there are none",
                ));
            }
            return Ok(None);
        };
        if !signs_checkpoints {
            return Err(self.error(
                first,
                "witness",
                "witnesses cosign signed checkpoints: configure `[checkpoint] signing_key_path` (made by `tailledger keygen`)",
            ));
        }
        let mut peers: Vec<WitnessPeer> = Vec::new();
        for witness in raw {
            let witness = witness.get_ref();
            let name = witness.name.get_ref();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
                return Err(self.error(
                    &witness.name,
                    "witness.name",
                    "must be non-empty printable ASCII without spaces",
                ));
            }
            if peers.iter().any(|peer| peer.name == *name) {
                return Err(self.error(
                    &witness.name,
                    "witness.name",
                    format!("two [[witness]] entries are named {name}"),
                ));
            }
            let url = witness.url.get_ref().trim_end_matches('/');
            let valid = reqwest::Url::parse(url).is_ok_and(|parsed| {
                matches!(parsed.scheme(), "http" | "https")
                    && parsed.query().is_none()
                    && parsed.fragment().is_none()
            });
            if !valid {
                return Err(self.error(
                    &witness.url,
                    "witness.url",
                    "must be an http:// or https:// URL without query or fragment (the prefix `add-checkpoint` is under)",
                ));
            }
            let key = CosignerKey::parse(witness.key.get_ref()).map_err(|error| {
                self.error(
                    &witness.key,
                    "witness.key",
                    format!(
                        "is not a witness's key as `tailledger witness keygen` prints it: {error}"
                    ),
                )
            })?;
            peers.push(WitnessPeer {
                name: name.clone(),
                url: url.to_owned(),
                key,
            });
        }
        let default = RawWitnesses::default();
        let policy = policy.map_or(&default, |policy| policy.get_ref());
        let most = i64::try_from(peers.len()).unwrap_or(i64::MAX);
        let quorum = self.optional_count(&policy.quorum, "witnesses.quorum", peers.len(), most)?;
        Ok(Some(WitnessSettings {
            peers,
            quorum,
            max_lag: self.optional_duration(
                &policy.max_lag,
                "witnesses.max_lag",
                Duration::from_secs(600),
            )?,
            retry_max: self.optional_duration(
                &policy.retry_max,
                "witnesses.retry_max",
                Duration::from_secs(300),
            )?,
            timeout: self.optional_duration(
                &policy.timeout,
                "witnesses.timeout",
                Duration::from_secs(10),
            )?,
        }))
    }
}
