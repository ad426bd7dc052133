//! Check timelines (docs/reference/time-and-durability.md#timeline): each check's exact sequence of
//! states over a window `[from, to)`, derived from the ledger, never stored.
//!
//! The state at an instant `t` is, by definition, what `GetStatus as_of t` answers: the checks
//! evaluated at `t` over the entries recorded at or before `t`. Between two entries that answer
//! changes only at the instants [`crate::checks::next_time_change`] names, so [`fold`] walks the
//! entries once and evaluates only at each instant entries were recorded and at each of those
//! instants, never per second; and each evaluation is an [`Evaluation`] brought forward, which
//! evaluates again only the accounts the entries since the last one touched. Pure: the projections as of the window's start and the entries after them
//! are handed in (by the service from the ledger, by `replay` from an export).

use std::collections::BTreeMap;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::checks::{CHECKS, CheckResult, CheckSettings, CheckState, Evaluation, Reason, Subject};
use crate::entry::Entry;
use crate::event::SystemId;
use crate::hash::Digest;
use crate::projection::Projections;
use crate::time::Timestamp;

/// A window `[from, to)`, `from < to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Window {
    /// The window's length in microseconds.
    pub fn micros(&self) -> i64 {
        micros_between(self.from, self.to)
    }
}

fn micros_between(start: Timestamp, end: Timestamp) -> i64 {
    end.as_micros().saturating_sub(start.as_micros())
}

/// A stretch `[start, end)` over which a check kept one state and one number of findings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub start: Timestamp,
    pub end: Timestamp,
    pub state: CheckState,
    pub findings: usize,
}

/// One finding of a check while it was open in the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingSpan {
    pub subject: Subject,
    pub reason: Reason,
    /// The finding's `since` when the window first saw it: since when it was true (it may be
    /// before the window).
    pub opened_at: Timestamp,
    /// The instant it was no longer reported; `None` while it is still open at the window's end.
    pub closed_at: Option<Timestamp>,
    /// The last entry recorded at `closed_at`, whose batch closed it; `None` when it closed by
    /// time alone (an offboarding taking effect ends a role finding) or is still open.
    pub closing_seq: Option<u64>,
}

impl FindingSpan {
    /// Microseconds from `opened_at` to `closed_at`, for a finding that closed in the window.
    pub fn time_to_resolution(&self) -> Option<i64> {
        self.closed_at
            .map(|closed_at| micros_between(self.opened_at, closed_at))
    }
}

/// One check over the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckTimeline {
    pub check_id: &'static str,
    pub title: &'static str,
    /// Consecutive, covering the window exactly; a new one starts whenever the state or the
    /// number of findings changes.
    pub intervals: Vec<Interval>,
    /// Every finding open at some instant of the window, in the order they opened.
    pub findings: Vec<FindingSpan>,
}

impl CheckTimeline {
    /// Microseconds of the window the check spent in `state`.
    pub fn time_in(&self, state: CheckState) -> i64 {
        self.intervals
            .iter()
            .filter(|interval| interval.state == state)
            .map(|interval| micros_between(interval.start, interval.end))
            .sum()
    }

    /// The interval holding `instant`, if it is in the window.
    pub fn at(&self, instant: Timestamp) -> Option<&Interval> {
        self.intervals
            .iter()
            .find(|interval| interval.start <= instant && instant < interval.end)
    }
}

/// Every check of one system over a window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub system: SystemId,
    pub window: Window,
    /// The last entry recorded before the window's end: the timeline is based on the entries up
    /// to it.
    pub head: Option<Digest>,
    pub checks: Vec<CheckTimeline>,
}

impl Timeline {
    /// The share of the window (0 to 1) `check` spent in `state`.
    pub fn share(&self, check: &CheckTimeline, state: CheckState) -> f64 {
        check.time_in(state) as f64 / self.window.micros() as f64
    }
}

/// The timeline of `system` over `window`. `projections` is any prefix of the ledger at or before
/// the window's start and `entries` the entries after it, in seq order; those recorded at or
/// before `from` are folded in first, those recorded at or after `to` are not read. Each instant
/// is evaluated with `settings_at` it: the settings in force then
/// (docs/reference/time-and-durability.md#settings-as-of), as `GetStatus` as of that instant uses.
pub fn fold<E, R: Deref<Target = Entry>>(
    projections: Projections,
    entries: impl IntoIterator<Item = Result<R, E>>,
    system: &SystemId,
    window: Window,
    settings_at: &dyn Fn(Timestamp) -> CheckSettings,
) -> Result<Timeline, E> {
    let mut builder = BuildTimeline(None);
    let projections = walk(
        projections,
        entries,
        system,
        window,
        settings_at,
        &mut builder,
    )?;
    let builder = builder.0.expect("a walk evaluates at the window's start");
    Ok(Timeline {
        system: system.clone(),
        window,
        head: projections.last_digest(),
        checks: builder.finish(window.to),
    })
}

/// What a [`walk`] shows as it goes.
pub trait Walker {
    /// An entry recorded in the window, before the evaluation at its instant.
    fn entry(&mut self, _entry: &Entry) {}
    /// The checks evaluated at `at`: first at the window's start, then at each instant in the
    /// window where entries were recorded (`closing_seq`, the last of them) or time alone
    /// changes the answer.
    fn evaluated(&mut self, at: Timestamp, results: Vec<CheckResult>, closing_seq: Option<u64>);
}

/// Walks `window` as [`fold`] does, showing `walker` each entry and each evaluation; returns the
/// projections as of the last entry read.
pub fn walk<E, R: Deref<Target = Entry>>(
    projections: Projections,
    entries: impl IntoIterator<Item = Result<R, E>>,
    system: &SystemId,
    window: Window,
    settings_at: &dyn Fn(Timestamp) -> CheckSettings,
    walker: &mut dyn Walker,
) -> Result<Projections, E> {
    let mut projections = projections.for_checks();
    let mut entries = entries.into_iter();
    let mut pending = None;
    for entry in entries.by_ref() {
        let entry = entry?;
        if entry.recorded_at > window.from {
            pending = Some(entry);
            break;
        }
        projections.apply(&entry);
    }
    let mut evaluation =
        Evaluation::new(&projections, system, window.from, &settings_at(window.from));
    walker.evaluated(window.from, evaluation.results(&projections), None);
    let mut now = window.from;
    loop {
        let by_time = evaluation.next_time_change(&projections, now);
        let by_entry = pending.as_ref().map(|entry: &R| entry.recorded_at);
        let Some(next) = by_time
            .into_iter()
            .chain(by_entry)
            .min()
            .filter(|next| *next < window.to)
        else {
            break;
        };
        let mut closing_seq = None;
        while let Some(entry) = pending.take_if(|entry| entry.recorded_at == next) {
            walker.entry(&entry);
            evaluation.note(&projections, &entry.event);
            projections.apply(&entry);
            closing_seq = Some(entry.seq);
            pending = entries.next().transpose()?;
        }
        evaluation.advance(&projections, next, &settings_at(next));
        walker.evaluated(next, evaluation.results(&projections), closing_seq);
        now = next;
    }
    Ok(projections)
}

/// The timeline's builder, made at the first evaluation.
struct BuildTimeline(Option<Builder>);

impl Walker for BuildTimeline {
    fn evaluated(&mut self, at: Timestamp, results: Vec<CheckResult>, closing_seq: Option<u64>) {
        match &mut self.0 {
            Some(builder) => builder.observe(at, results, closing_seq),
            None => self.0 = Some(Builder::new(at, results)),
        }
    }
}

/// What identifies a finding from one evaluation to the next: its reason and what it is about
/// (a login name may change under the same account; one leaver may leave several devices and
/// keys behind).
type FindingKey = (
    &'static str,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn key(reason: Reason, subject: &Subject) -> FindingKey {
    (
        reason.as_str(),
        subject.account_id.clone(),
        subject.employee_id.clone(),
        subject.device_id.clone(),
        subject.key_id.clone(),
    )
}

/// One check's timeline as it is being built.
struct Track {
    current: Interval,
    intervals: Vec<Interval>,
    findings: Vec<FindingSpan>,
    /// The findings open now, by key, as indexes into `findings`.
    open: BTreeMap<FindingKey, usize>,
}

struct Builder {
    tracks: Vec<Track>,
}

impl Builder {
    fn new(from: Timestamp, results: Vec<CheckResult>) -> Self {
        let tracks = results
            .into_iter()
            .map(|result| {
                let mut track = Track {
                    current: Interval {
                        start: from,
                        end: from,
                        state: result.state,
                        findings: result.findings.len(),
                    },
                    intervals: Vec::new(),
                    findings: Vec::new(),
                    open: BTreeMap::new(),
                };
                track.open_new(&result);
                track
            })
            .collect();
        Builder { tracks }
    }

    fn observe(&mut self, at: Timestamp, results: Vec<CheckResult>, closing_seq: Option<u64>) {
        for (track, result) in self.tracks.iter_mut().zip(results) {
            track.observe(at, &result, closing_seq);
        }
    }

    fn finish(self, to: Timestamp) -> Vec<CheckTimeline> {
        CHECKS
            .into_iter()
            .zip(self.tracks)
            .map(|((check_id, title), mut track)| {
                track.current.end = to;
                track.intervals.push(track.current);
                CheckTimeline {
                    check_id,
                    title,
                    intervals: track.intervals,
                    findings: track.findings,
                }
            })
            .collect()
    }
}

impl Track {
    /// Opens a span for every finding of `result` not open yet.
    fn open_new(&mut self, result: &CheckResult) {
        for finding in &result.findings {
            let key = key(finding.reason, &finding.subject);
            if let Some(index) = self.open.get(&key) {
                // The same finding, still open: keep what it is about up to date.
                self.findings[*index].subject = finding.subject.clone();
                continue;
            }
            self.open.insert(key, self.findings.len());
            self.findings.push(FindingSpan {
                subject: finding.subject.clone(),
                reason: finding.reason,
                opened_at: finding.since,
                closed_at: None,
                closing_seq: None,
            });
        }
    }

    fn observe(&mut self, at: Timestamp, result: &CheckResult, closing_seq: Option<u64>) {
        let reported: std::collections::BTreeSet<FindingKey> = result
            .findings
            .iter()
            .map(|finding| key(finding.reason, &finding.subject))
            .collect();
        let findings = &mut self.findings;
        self.open.retain(|key, index| {
            let still_open = reported.contains(key);
            if !still_open {
                findings[*index].closed_at = Some(at);
                findings[*index].closing_seq = closing_seq;
            }
            still_open
        });
        self.open_new(result);
        if (result.state, result.findings.len()) != (self.current.state, self.current.findings) {
            let next = Interval {
                start: at,
                end: at,
                state: result.state,
                findings: result.findings.len(),
            };
            let mut done = std::mem::replace(&mut self.current, next);
            done.end = at;
            self.intervals.push(done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn interval(start: &str, end: &str, state: CheckState) -> Interval {
        Interval {
            start: at(start),
            end: at(end),
            state,
            findings: usize::from(state != CheckState::Passing),
        }
    }

    #[test]
    fn shares_are_the_time_in_each_state_over_the_window_and_resolution_is_open_to_close() {
        let window = Window {
            from: at("2026-03-01T00:00:00Z"),
            to: at("2026-03-05T00:00:00Z"),
        };
        assert_eq!(window.micros(), 4 * 86_400_000_000);
        let check = CheckTimeline {
            check_id: CHECKS[1].0,
            title: CHECKS[1].1,
            intervals: vec![
                interval(
                    "2026-03-01T00:00:00Z",
                    "2026-03-02T00:00:00Z",
                    CheckState::Passing,
                ),
                interval(
                    "2026-03-02T00:00:00Z",
                    "2026-03-03T00:00:00Z",
                    CheckState::Due,
                ),
                interval(
                    "2026-03-03T00:00:00Z",
                    "2026-03-05T00:00:00Z",
                    CheckState::Failing,
                ),
            ],
            findings: Vec::new(),
        };
        let timeline = Timeline {
            system: SystemId::tailscale(),
            window,
            head: None,
            checks: vec![check.clone()],
        };
        assert_eq!(timeline.share(&check, CheckState::Passing), 0.25);
        assert_eq!(timeline.share(&check, CheckState::Due), 0.25);
        assert_eq!(timeline.share(&check, CheckState::Failing), 0.5);
        assert_eq!(
            check.at(at("2026-03-02T00:00:00Z")).unwrap().state,
            CheckState::Due
        );
        assert_eq!(
            check.at(at("2026-03-01T23:59:59.999999Z")).unwrap().state,
            CheckState::Passing
        );
        assert!(
            check.at(window.to).is_none(),
            "the window's end is not in it"
        );

        let span = FindingSpan {
            subject: Subject {
                system: SystemId::tailscale(),
                account_id: None,
                login_name: None,
                employee_id: None,
                device_id: None,
                key_id: None,
            },
            reason: Reason::SyncStale,
            opened_at: at("2026-03-02T00:00:00Z"),
            closed_at: Some(at("2026-03-02T01:30:00Z")),
            closing_seq: Some(7),
        };
        assert_eq!(span.time_to_resolution(), Some(5_400_000_000));
        let open = FindingSpan {
            closed_at: None,
            ..span
        };
        assert_eq!(open.time_to_resolution(), None);
    }
}
