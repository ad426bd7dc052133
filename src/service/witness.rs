//! Witnesses as the service knows them: the published checkpoint ([`Service::published_checkpoint`],
//! the one the tiles endpoint serves and the archive keeps), the refusals the witness client
//! records, and the `witness-refused` and `witness-behind` findings `integration-healthy`
//! reports now from the client's live status (docs/reference/checks.md).

use std::sync::Arc;

use super::{CheckReport, Service, ServiceError, SignedCheckpoint};
use crate::checks::{CheckState, Finding, Reason, Subject};
use crate::entry::Entry;
use crate::event::{Actor, Event, SystemId};
use crate::witness::WitnessStatus;

/// The check the witness findings belong to.
const CHECK: &str = "integration-healthy";

impl Service {
    /// Publishes only what the witnesses in `status` cosigned (`[[witness]]`).
    pub fn set_witness_status(&mut self, status: Arc<WitnessStatus>) {
        self.witnesses = Some(status);
    }

    /// The checkpoint the ledger publishes (served at `/checkpoint`, archived): without
    /// witnesses, the signed checkpoint of the tree at the head, or of its first `at_most`
    /// entries; with witnesses, the newest checkpoint a quorum of them cosigned (the signed note
    /// with their cosignature lines), if its size is at most `at_most`.
    pub async fn published_checkpoint(
        &self,
        at_most: Option<u64>,
    ) -> Result<SignedCheckpoint, ServiceError> {
        let Some(status) = &self.witnesses else {
            return self.checkpoint(at_most).await;
        };
        let published = status.published().ok_or_else(|| {
            ServiceError::NotPublished(format!(
                "{} of the witnesses have yet to cosign one",
                status.quorum
            ))
        })?;
        match at_most {
            Some(size) if published.checkpoint.size > size => {
                Err(ServiceError::NotPublished(format!(
                    "the one published is of {} entries, more than {size}",
                    published.checkpoint.size
                )))
            }
            _ => Ok(published),
        }
    }

    /// Records a witness's refusal (`WitnessRefused`) by `witnesses`.
    pub async fn record_witness_refusal(&self, refusal: Event) -> Result<Vec<Entry>, ServiceError> {
        self.command_blocking(Actor::Witnesses, move |_| Ok(vec![refusal]))
            .await
    }

    /// Adds to `integration-healthy` of a report evaluated now a `witness-refused` finding for
    /// each witness refusing the ledger's checkpoints, and a `witness-behind` finding for each
    /// that has failed for longer than `max_lag` without cosigning the head.
    pub(super) fn add_witness_findings(&self, system: &SystemId, report: &mut CheckReport) {
        let Some(status) = &self.witnesses else {
            return;
        };
        let head = self.head().map_or(0, |head| head.seq);
        let mut findings = Vec::new();
        for peer in status.peers() {
            let (reason, message, since) = if let Some(answer) = &peer.refused {
                (
                    Reason::WitnessRefused,
                    format!(
                        "witness {} refuses the ledger's checkpoint as inconsistent with one it cosigned (a fork of the log, or a bug): {}",
                        peer.name,
                        answer.escape_debug()
                    ),
                    peer.failing_since.unwrap_or(report.evaluated_at),
                )
            } else if let Some(since) = peer.failing_since.filter(|since| {
                peer.cosigned < head
                    && report.evaluated_at.seconds_since(*since)
                        >= i64::try_from(status.max_lag.as_secs()).unwrap_or(i64::MAX)
            }) {
                (
                    Reason::WitnessBehind,
                    format!(
                        "witness {} has cosigned {} of {head} entries and has failed since {since} (max_lag {}): {}",
                        peer.name,
                        peer.cosigned,
                        humantime::format_duration(status.max_lag),
                        peer.last_error
                            .as_deref()
                            .unwrap_or("no answer")
                            .escape_debug()
                    ),
                    since,
                )
            } else {
                continue;
            };
            findings.push(Finding {
                state: CheckState::Failing,
                reason,
                message,
                subject: Subject {
                    system: system.clone(),
                    account_id: None,
                    login_name: None,
                    employee_id: None,
                    device_id: None,
                    key_id: None,
                },
                since,
                deadline: None,
                evidence: Vec::new(),
                exception_id: None,
            });
        }
        if findings.is_empty() {
            return;
        }
        let Some(check) = report
            .checks
            .iter_mut()
            .find(|check| check.check_id == CHECK)
        else {
            return;
        };
        check.findings.extend(findings);
        check.state = CheckState::Failing;
    }
}
