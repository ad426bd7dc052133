//! Routes (docs/reference/config.md#alerts): which notifications go to which destination, at
//! once or in a daily digest, and what is due now. Pure: the instant is handed in.

use std::collections::BTreeSet;

use chrono::{Days, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::derive::{Change, Derived, Notification};
use crate::time::Timestamp;

/// When a route sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Each notification as soon as it is derived.
    Immediate,
    /// One message a day at this time in the roster's timezone, holding every notification not
    /// yet delivered to the destination that happened by then.
    Digest(NaiveTime),
}

/// One `[[alerts.route]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub name: String,
    /// The check ids it sends; empty for every check.
    pub checks: Vec<String>,
    /// The states it sends.
    pub states: Vec<Change>,
    /// The `[[alerts.destination]]` it sends to.
    pub destination: String,
    pub schedule: Schedule,
}

impl Route {
    pub fn matches(&self, notification: &Notification) -> bool {
        (self.checks.is_empty()
            || self
                .checks
                .iter()
                .any(|check| check == notification.check_id))
            && self.states.contains(&notification.change)
    }
}

/// A message to send: one notification of an immediate route, or a digest's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outgoing {
    pub route: String,
    pub destination: String,
    /// The notification's id, or the digest's (its route and instant hashed).
    pub id: String,
    /// The digest's instant, for a digest.
    pub digest_at: Option<Timestamp>,
    pub notifications: Vec<Notification>,
}

/// Every notification a route sends that its destination has not acknowledged, each once per
/// destination (the first route that sends it to that destination claims it): the backlog.
pub fn pending<'a>(
    routes: &'a [Route],
    derived: &'a Derived,
) -> Vec<(&'a Route, &'a Notification)> {
    let mut claimed = BTreeSet::new();
    let mut pending = Vec::new();
    for route in routes {
        for notification in &derived.notifications {
            if route.matches(notification)
                && !derived.is_delivered(&route.destination, &notification.id)
                && claimed.insert((route.destination.as_str(), notification.id.as_str()))
            {
                pending.push((route, notification));
            }
        }
    }
    pending
}

/// The messages due at `now`: each pending notification of an immediate route, and for a
/// digest route whose last digest instant is at or before `now`, one digest of its pending
/// notifications that happened by that instant.
pub fn due(routes: &[Route], derived: &Derived, now: Timestamp, timezone: Tz) -> Vec<Outgoing> {
    let mut outgoing: Vec<Outgoing> = Vec::new();
    for (route, notification) in pending(routes, derived) {
        match route.schedule {
            Schedule::Immediate => outgoing.push(Outgoing {
                route: route.name.clone(),
                destination: route.destination.clone(),
                id: notification.id.clone(),
                digest_at: None,
                notifications: vec![notification.clone()],
            }),
            Schedule::Digest(time) => {
                let Some(at) = last_digest_at(time, timezone, now) else {
                    continue;
                };
                if notification.at > at {
                    continue;
                }
                match outgoing
                    .iter_mut()
                    .find(|message| message.route == route.name && message.digest_at == Some(at))
                {
                    Some(digest) => digest.notifications.push(notification.clone()),
                    None => outgoing.push(Outgoing {
                        route: route.name.clone(),
                        destination: route.destination.clone(),
                        id: digest_id(&route.name, at),
                        digest_at: Some(at),
                        notifications: vec![notification.clone()],
                    }),
                }
            }
        }
    }
    outgoing
}

/// The id of `route`'s digest at `at`.
fn digest_id(route: &str, at: Timestamp) -> String {
    let mut hash = Sha256::new();
    for part in ["tailledger-digest/v1", route, &at.as_micros().to_string()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..16])
}

/// The instant of `time` on the day of `date` in `timezone`: the earlier of two in a repeated
/// hour, the first instant after a skipped one.
fn on_day(time: NaiveTime, timezone: Tz, date: chrono::NaiveDate) -> Option<Timestamp> {
    let local = date.and_time(time);
    let resolved = timezone
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            // In a skipped hour: an hour later is past the gap.
            timezone
                .from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })?;
    Timestamp::from_datetime(resolved.with_timezone(&chrono::Utc))
}

/// The last digest instant at or before `now`.
pub fn last_digest_at(time: NaiveTime, timezone: Tz, now: Timestamp) -> Option<Timestamp> {
    let today = now.to_datetime().with_timezone(&timezone).date_naive();
    let at = on_day(time, timezone, today)?;
    if at <= now {
        Some(at)
    } else {
        on_day(time, timezone, today.checked_sub_days(Days::new(1))?)
    }
}

/// The first digest instant after `now`.
pub fn next_digest_at(time: NaiveTime, timezone: Tz, now: Timestamp) -> Option<Timestamp> {
    let today = now.to_datetime().with_timezone(&timezone).date_naive();
    let at = on_day(time, timezone, today)?;
    if at > now {
        Some(at)
    } else {
        on_day(time, timezone, today.checked_add_days(Days::new(1))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn digest_instants_follow_the_local_day() {
        let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 09:00 in Berlin in March (before summer time) is 08:00 UTC.
        let now = at("2026-03-02T08:30:00Z");
        assert_eq!(
            last_digest_at(nine, berlin, now),
            Some(at("2026-03-02T08:00:00Z"))
        );
        assert_eq!(
            next_digest_at(nine, berlin, now),
            Some(at("2026-03-03T08:00:00Z"))
        );
        let before = at("2026-03-02T07:59:59Z");
        assert_eq!(
            last_digest_at(nine, berlin, before),
            Some(at("2026-03-01T08:00:00Z"))
        );
        assert_eq!(
            next_digest_at(nine, berlin, before),
            Some(at("2026-03-02T08:00:00Z"))
        );
        // A time in the hour summer time skips is sent after the gap.
        let two_thirty = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            next_digest_at(two_thirty, berlin, at("2026-03-29T00:00:00Z")),
            Some(at("2026-03-29T01:30:00Z"))
        );
    }
}
