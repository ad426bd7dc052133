//! `GetCheckTimeline` (docs/reference/time-and-durability.md#timeline): its window arguments, and a
//! `Timeline` as its response.

use tonic::Status;

use super::convert::{check_state, digest_parts, instant_or_date_arg, subject, timestamp};
use super::errors::invalid_argument;
use super::pb;
use crate::as_of::AsOf;
use crate::checks::CheckState;
use crate::timeline::{CheckTimeline, FindingSpan, Interval, Timeline};

/// The window's `from` and `to` of a request, each an instant or a date; both required.
pub fn window_args(request: &pb::GetCheckTimelineRequest) -> Result<(AsOf, AsOf), Status> {
    let required = |field: &'static str, value: Option<AsOf>| {
        value.ok_or_else(|| {
            invalid_argument(
                field,
                &format!("is required (or `{field}_date`, YYYY-MM-DD)"),
            )
        })
    };
    let from = instant_or_date_arg(("from", request.from), ("from_date", &request.from_date))?;
    let to = instant_or_date_arg(("to", request.to), ("to_date", &request.to_date))?;
    Ok((required("from", from)?, required("to", to)?))
}

pub fn timeline_response(timeline: &Timeline) -> pb::GetCheckTimelineResponse {
    let (ledger_seq, head_hash) = digest_parts(timeline.head);
    pb::GetCheckTimelineResponse {
        from: Some(timestamp(timeline.window.from)),
        to: Some(timestamp(timeline.window.to)),
        ledger_seq,
        head_hash,
        checks: timeline
            .checks
            .iter()
            .map(|check| check_timeline(timeline, check))
            .collect(),
    }
}

fn check_timeline(timeline: &Timeline, check: &CheckTimeline) -> pb::CheckTimeline {
    pb::CheckTimeline {
        check_id: check.check_id.to_owned(),
        title: check.title.to_owned(),
        intervals: check.intervals.iter().map(interval).collect(),
        findings: check.findings.iter().map(finding).collect(),
        passing_share: timeline.share(check, CheckState::Passing),
        due_share: timeline.share(check, CheckState::Due),
        failing_share: timeline.share(check, CheckState::Failing),
    }
}

fn interval(interval: &Interval) -> pb::TimelineInterval {
    pb::TimelineInterval {
        start: Some(timestamp(interval.start)),
        end: Some(timestamp(interval.end)),
        state: check_state(interval.state).into(),
        findings: u32::try_from(interval.findings).unwrap_or(u32::MAX),
    }
}

fn finding(span: &FindingSpan) -> pb::TimelineFinding {
    pb::TimelineFinding {
        subject: Some(subject(&span.subject)),
        reason: span.reason.as_str().to_owned(),
        opened_at: Some(timestamp(span.opened_at)),
        closed_at: span.closed_at.map(timestamp),
        closing_seq: span.closing_seq.unwrap_or(0),
        time_to_resolution: span.time_to_resolution().map(duration),
    }
}

/// Microseconds as a protobuf duration (a negative one has a negative or zero `nanos`).
fn duration(micros: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: micros / 1_000_000,
        nanos: i32::try_from((micros % 1_000_000) * 1_000).expect("under a second fits in i32"),
    }
}
