//! The settings in force over time, per system
//! (docs/reference/time-and-durability.md#settings-as-of): every `SettingsChanged` kept with its
//! entry, so that any instant is evaluated with the settings recorded by then.
//!
//! A ledger written before settings were recorded has entries before its first
//! `SettingsChanged`; for those instants the first recorded settings apply, and the answer says
//! so (`InForce::recorded_from`).

use serde::{Deserialize, Serialize};

use super::Mark;
use crate::event::SettingsRecord;
use crate::time::Timestamp;

/// One system's recorded settings, in seq order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsHistory {
    changes: Vec<(Mark, SettingsRecord)>,
}

/// The settings that apply at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InForce<'a> {
    pub settings: &'a SettingsRecord,
    /// The entry that recorded them.
    pub since: Mark,
    /// `Some(seq of the first SettingsChanged)` when the instant is before it: the settings
    /// were recorded after the instant and are applied to it for want of older ones.
    pub recorded_from: Option<u64>,
}

impl SettingsHistory {
    pub(super) fn record(&mut self, mark: Mark, settings: &SettingsRecord) {
        self.changes.push((mark, settings.clone()));
    }

    /// The last recorded settings, if any.
    pub fn last(&self) -> Option<&SettingsRecord> {
        self.changes.last().map(|(_, settings)| settings)
    }

    /// The settings in force at `at`: the last recorded at or before it, else the first.
    pub fn at(&self, at: Timestamp) -> Option<InForce<'_>> {
        // `recorded_at` never decreases along the seq, so the changes are sorted by instant.
        let recorded_by = self.changes.partition_point(|(mark, _)| mark.at <= at);
        match recorded_by.checked_sub(1) {
            Some(index) => {
                let (since, settings) = &self.changes[index];
                Some(InForce {
                    settings,
                    since: *since,
                    recorded_from: None,
                })
            }
            None => self.changes.first().map(|(since, settings)| InForce {
                settings,
                since: *since,
                recorded_from: Some(since.seq),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(sync_interval_seconds: u64) -> SettingsRecord {
        SettingsRecord {
            email_aliases: Vec::new(),
            include_shared_users: true,
            max_removal_fraction_millionths: 500_000,
            removal_guard_hold_seconds: 86_400,
            suspended_is_removed: true,
            sync_interval_seconds,
            timezone: "UTC".to_owned(),
        }
    }

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_micros(micros).unwrap()
    }

    #[test]
    fn an_instant_gets_the_last_settings_recorded_by_then_or_else_the_first() {
        let mut history = SettingsHistory::default();
        assert_eq!(history.at(at(5)), None);
        history.record(Mark { at: at(10), seq: 3 }, &settings(60));
        history.record(Mark { at: at(20), seq: 7 }, &settings(120));
        let before = history.at(at(9)).unwrap();
        assert_eq!(
            (before.settings.sync_interval_seconds, before.recorded_from),
            (60, Some(3))
        );
        for (instant, interval, seq) in [(10, 60, 3), (19, 60, 3), (20, 120, 7), (99, 120, 7)] {
            let in_force = history.at(at(instant)).unwrap();
            assert_eq!(
                (
                    in_force.settings.sync_interval_seconds,
                    in_force.since.seq,
                    in_force.recorded_from
                ),
                (interval, seq, None),
                "at {instant}"
            );
        }
        assert_eq!(history.last().unwrap().sync_interval_seconds, 120);
    }
}
