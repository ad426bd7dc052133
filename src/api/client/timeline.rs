//! The client's `GetCheckTimeline`: the request's window, and the answer as the domain's
//! `Timeline`.

use super::{
    ApiClient, ClientError, as_of_fields, check_state, head, instant, known_check, reason, subject,
    unusable,
};
use crate::as_of::AsOf;
use crate::event::SystemId;
use crate::time::Timestamp;
use crate::timeline::{CheckTimeline, FindingSpan, Interval, Timeline, Window};

use super::super::pb;

impl ApiClient {
    /// The checks of `system` over the window `[from, to)`.
    pub async fn timeline(
        &mut self,
        system: &SystemId,
        from: AsOf,
        to: AsOf,
    ) -> Result<Timeline, ClientError> {
        let (from, from_date) = as_of_fields(Some(from));
        let (to, to_date) = as_of_fields(Some(to));
        let response = self
            .ledger
            .get_check_timeline(pb::GetCheckTimelineRequest {
                system: system.to_string(),
                from,
                from_date,
                to,
                to_date,
            })
            .await?
            .into_inner();
        timeline(system, response)
    }
}

/// A required instant of the answer.
fn required(
    field: &'static str,
    value: Option<prost_types::Timestamp>,
) -> Result<Timestamp, ClientError> {
    instant(field, value)?.ok_or_else(|| unusable(format!("the answer has no `{field}`")))
}

fn timeline(
    system: &SystemId,
    response: pb::GetCheckTimelineResponse,
) -> Result<Timeline, ClientError> {
    let checks = response
        .checks
        .into_iter()
        .map(|check| {
            let (check_id, title) = known_check(&check.check_id)?;
            let intervals = check
                .intervals
                .into_iter()
                .map(|interval| {
                    Ok(Interval {
                        start: required("start", interval.start)?,
                        end: required("end", interval.end)?,
                        state: check_state(interval.state)?,
                        findings: interval.findings as usize,
                    })
                })
                .collect::<Result<Vec<_>, ClientError>>()?;
            let findings = check
                .findings
                .into_iter()
                .map(|finding| {
                    Ok(FindingSpan {
                        subject: subject(finding.subject.unwrap_or_default()),
                        reason: reason(&finding.reason)?,
                        opened_at: required("opened_at", finding.opened_at)?,
                        closed_at: instant("closed_at", finding.closed_at)?,
                        closing_seq: Some(finding.closing_seq).filter(|seq| *seq > 0),
                    })
                })
                .collect::<Result<Vec<_>, ClientError>>()?;
            Ok(CheckTimeline {
                check_id,
                title,
                intervals,
                findings,
            })
        })
        .collect::<Result<Vec<_>, ClientError>>()?;
    Ok(Timeline {
        system: system.clone(),
        window: Window {
            from: required("from", response.from)?,
            to: required("to", response.to)?,
        },
        head: head(response.ledger_seq, &response.head_hash)?,
        checks,
    })
}
