//! The witness client under `serve`: after each new head, the signed checkpoint of the tree at
//! the head goes to every configured witness as a C2SP `add-checkpoint` request, from the size
//! that witness last cosigned (learnt from its `409` answer after a restart) with the
//! consistency proof from there. Heads that come while a round is under way are coalesced: the
//! next round sends the newest. Appends never wait for it: it runs beside the service, reads
//! through it, and appends only a refusal.
//!
//! A cosignature is verified against the witness's configured key before it counts. Once
//! `quorum` witnesses cosigned one checkpoint, the note with their cosignature lines is saved
//! durably (`published.rs`) and becomes the published checkpoint. A `422` (or a witness holding a
//! larger tree than the ledger) is a refusal: recorded as `WitnessRefused` once per witness and
//! tree it holds, and `witness-refused` while it lasts. Any failure is tried again after a wait that
//! doubles from one second up to `retry_max`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::protocol::{ADD_CHECKPOINT, AddCheckpoint, parse_size};
use super::published::save_published;
use super::status::WitnessStatus;
use crate::config::{WitnessPeer, WitnessSettings};
use crate::event::Event;
use crate::merkle::{Cosignature, find_cosignature};
use crate::service::{Service, ServiceError, SignedCheckpoint};

/// The first wait after a failure.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The most of a witness's answer read, and kept in a `WitnessRefused`.
const MAX_ANSWER_BYTES: usize = 512;
/// How many `409`s one request follows before giving up until the next try.
const MAX_CONFLICTS: usize = 3;

/// Sends checkpoints to the witnesses and publishes the cosigned ones.
pub struct WitnessClient {
    pub service: Arc<Service>,
    pub settings: WitnessSettings,
    pub status: Arc<WitnessStatus>,
    /// Where the published checkpoint is kept: the ledger's data directory.
    pub data_dir: PathBuf,
}

/// Why one witness did not cosign.
enum PeerFailure {
    /// It refuses the checkpoint: a fork, or a bug.
    Refused { old_size: u64, answer: String },
    /// It could not be asked, or answered something else.
    Failed(String),
}

/// What the client remembers of one witness between rounds.
#[derive(Clone, Default)]
struct Peer {
    /// The size it last cosigned, as far as the client knows (0 until it says).
    old_size: u64,
    /// Its cosignature of that size.
    cosignature: Option<Cosignature>,
    /// The size of the witness's tree whose refusal was last recorded: a witness stuck on
    /// another history refuses every later checkpoint too, and one record of it is enough (a
    /// record per refused size would itself be appended, refused and recorded without end).
    recorded_refusal: Option<u64>,
}

impl WitnessClient {
    /// Sends each new head's checkpoint until `stopping` turns true.
    pub async fn run(self, mut stopping: watch::Receiver<bool>) {
        let http = match reqwest::Client::builder()
            .timeout(self.settings.timeout)
            .build()
        {
            Ok(http) => http,
            Err(error) => {
                tracing::error!("the witness client could not start: {error}");
                return;
            }
        };
        let mut peers = vec![Peer::default(); self.settings.peers.len()];
        let mut heads = self.service.follow();
        let mut retry = RETRY_FIRST;
        loop {
            heads.borrow_and_update();
            let round = tokio::select! {
                result = self.round(&http, &mut peers) => result,
                _ = stopping.wait_for(|stop| *stop) => return,
            };
            let wait = match round {
                Ok(()) => {
                    retry = RETRY_FIRST;
                    None
                }
                Err(error) => {
                    tracing::warn!(
                        "witnesses: {error}; trying again within {}",
                        humantime::format_duration(retry)
                    );
                    let wait = retry;
                    retry = retry.saturating_mul(2).min(self.settings.retry_max);
                    Some(wait)
                }
            };
            let stop = match wait {
                None => tokio::select! {
                    changed = heads.changed() => changed.is_err(),
                    _ = stopping.wait_for(|stop| *stop) => true,
                },
                Some(wait) => tokio::select! {
                    () = tokio::time::sleep(wait) => false,
                    _ = stopping.wait_for(|stop| *stop) => true,
                },
            };
            if stop {
                return;
            }
        }
    }

    /// Brings every witness to the head's checkpoint and publishes it once the quorum cosigned.
    async fn round(&self, http: &reqwest::Client, peers: &mut [Peer]) -> Result<(), String> {
        let signed = match self.service.checkpoint(None).await {
            Ok(signed) => signed,
            Err(ServiceError::EmptyTree) => return Ok(()),
            Err(error) => return Err(error.to_string()),
        };
        let size = signed.checkpoint.size;
        let text = signed
            .checkpoint
            .body()
            .map_err(|error| error.to_string())?;
        let mut lines = String::new();
        let mut cosigned = 0;
        let mut failures = Vec::new();
        for (index, (config, peer)) in self.settings.peers.iter().zip(peers.iter_mut()).enumerate()
        {
            let cosignature = match &peer.cosignature {
                Some(cosignature) if peer.old_size == size => Ok(cosignature.clone()),
                _ => self.submit(http, config, peer, &signed, &text).await,
            };
            let now = self.service.now();
            match cosignature {
                Ok(cosignature) => {
                    lines.push_str(&cosignature.line);
                    cosigned += 1;
                    peer.old_size = size;
                    peer.cosignature = Some(cosignature);
                    self.status.update(index, |status| {
                        status.cosigned = size;
                        status.failing_since = None;
                        status.last_error = None;
                        status.refused = None;
                    });
                }
                Err(PeerFailure::Refused { old_size, answer }) => {
                    failures.push(format!("{} refused size {size}", config.name));
                    self.status.update(index, |status| {
                        status.failing_since.get_or_insert(now);
                        status.refused = Some(answer.clone());
                    });
                    if peer.recorded_refusal != Some(old_size) {
                        let event = Event::WitnessRefused {
                            witness: config.name.clone(),
                            old_size,
                            size,
                            root: signed.checkpoint.root,
                            answer,
                        };
                        match self.service.record_witness_refusal(event).await {
                            Ok(_) => peer.recorded_refusal = Some(old_size),
                            Err(error) => failures.push(format!(
                                "the refusal by {} could not be recorded: {error}",
                                config.name
                            )),
                        }
                    }
                }
                Err(PeerFailure::Failed(error)) => {
                    failures.push(format!("{}: {error}", config.name));
                    self.status.update(index, |status| {
                        status.failing_since.get_or_insert(now);
                        status.last_error = Some(error);
                    });
                }
            }
        }
        let note = format!("{}{lines}", signed.note);
        let newer = self.status.published().is_none_or(|published| {
            published.checkpoint.size < size
                || (published.checkpoint.size == size && published.note != note)
        });
        if cosigned >= self.settings.quorum && newer {
            let data_dir = self.data_dir.clone();
            let saved = note.clone();
            super::blocking(move || save_published(&data_dir, &saved))
                .await
                .map_err(|error| format!("the cosigned checkpoint could not be saved: {error}"))?;
            tracing::info!(
                size,
                cosignatures = cosigned,
                "published a witnessed checkpoint"
            );
            self.status.publish(SignedCheckpoint {
                checkpoint: signed.checkpoint.clone(),
                note,
            });
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }

    /// Sends `signed` to one witness, following its `409`s, and returns its cosignature.
    async fn submit(
        &self,
        http: &reqwest::Client,
        config: &WitnessPeer,
        peer: &mut Peer,
        signed: &SignedCheckpoint,
        text: &str,
    ) -> Result<Cosignature, PeerFailure> {
        let size = signed.checkpoint.size;
        let url = format!("{}{ADD_CHECKPOINT}", config.url);
        for _ in 0..MAX_CONFLICTS {
            let old_size = peer.old_size;
            if old_size > size {
                return Err(PeerFailure::Refused {
                    old_size,
                    answer: format!(
                        "the witness has cosigned a tree of {old_size} entries, larger than this ledger's {size}"
                    ),
                });
            }
            let proof = if old_size == 0 || old_size == size {
                Vec::new()
            } else {
                self.service
                    .consistency_proof(old_size, size)
                    .await
                    .map_err(|error| PeerFailure::Failed(error.to_string()))?
            };
            let body = AddCheckpoint {
                old_size,
                proof,
                note: signed.note.clone(),
            }
            .body();
            let mut response = http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(body)
                .send()
                .await
                .map_err(|error| PeerFailure::Failed(format!("{url}: {error}")))?;
            let status = response.status();
            let mut answer = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|error| PeerFailure::Failed(format!("{url}: {error}")))?
            {
                answer.extend_from_slice(&chunk);
                if answer.len() > 64 * 1024 {
                    return Err(PeerFailure::Failed(format!(
                        "{url}: the answer is too long"
                    )));
                }
            }
            let answer = String::from_utf8_lossy(&answer).into_owned();
            match status.as_u16() {
                200 => {
                    return match find_cosignature(text, &answer, &config.key) {
                        Ok(Some(cosignature)) => Ok(cosignature),
                        Ok(None) => Err(PeerFailure::Failed(format!(
                            "{url}: the answer has no cosignature by {}",
                            config.key
                        ))),
                        Err(error) => Err(PeerFailure::Failed(format!("{url}: {error}"))),
                    };
                }
                409 => match parse_size(&answer) {
                    Some(latest) => {
                        peer.old_size = latest;
                        peer.cosignature = None;
                    }
                    None => {
                        return Err(PeerFailure::Failed(format!(
                            "{url}: a 409 without the witness's size"
                        )));
                    }
                },
                422 => {
                    return Err(PeerFailure::Refused {
                        old_size,
                        answer: truncated(&answer),
                    });
                }
                _ => {
                    return Err(PeerFailure::Failed(format!(
                        "{url} answered {status}: {}",
                        truncated(&answer).escape_debug()
                    )));
                }
            }
        }
        Err(PeerFailure::Failed(format!(
            "{url} kept answering 409 (another client is moving it?)"
        )))
    }
}

/// At most [`MAX_ANSWER_BYTES`] of `text`, cut at a character boundary, without the final
/// newline.
fn truncated(text: &str) -> String {
    let text = text.trim_end();
    let mut end = text.len().min(MAX_ANSWER_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
