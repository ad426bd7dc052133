//! `[access_review]` (docs/reference/config.md#access-review): how long a completed review keeps
//! its scope reviewed (`privileged_interval_days`, default 90; `all_interval_days`, default 365)
//! and how long a revoke or modify decision may take to be carried out (`action_grace_days`,
//! default 7).
//!
//! Each is a whole number of days from 1 to 3,660 (ten years; more is surely a typo). They are
//! recorded on every review as it starts, so the checks read them from the ledger.

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source};
use crate::checks::ReviewSettings;

const DAY_SECONDS: u64 = 24 * 3600;
const MOST_DAYS: i64 = 3_660;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccessReview {
    privileged_interval_days: Option<Spanned<i64>>,
    all_interval_days: Option<Spanned<i64>>,
    action_grace_days: Option<Spanned<i64>>,
}

impl Source<'_> {
    pub(super) fn access_review(
        &self,
        raw: &RawAccessReview,
    ) -> Result<ReviewSettings, ConfigError> {
        let defaults = ReviewSettings::default();
        let days = |value: &Option<Spanned<i64>>, key: &str, default: u64| match value {
            None => Ok(default),
            Some(written) => {
                let days = *written.get_ref();
                if (1..=MOST_DAYS).contains(&days) {
                    Ok(days.unsigned_abs() * DAY_SECONDS)
                } else {
                    Err(self.error(
                        written,
                        key,
                        format!("is {days}; write a whole number of days from 1 to {MOST_DAYS}"),
                    ))
                }
            }
        };
        Ok(ReviewSettings {
            privileged_interval_seconds: days(
                &raw.privileged_interval_days,
                "access_review.privileged_interval_days",
                defaults.privileged_interval_seconds,
            )?,
            all_interval_seconds: days(
                &raw.all_interval_days,
                "access_review.all_interval_days",
                defaults.all_interval_seconds,
            )?,
            action_grace_seconds: days(
                &raw.action_grace_days,
                "access_review.action_grace_days",
                defaults.action_grace_seconds,
            )?,
        })
    }
}
