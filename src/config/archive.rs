//! `[archive]` (docs/reference/config.md#archive): where the log is copied off the machine — a
//! directory (`dir`) or an S3-compatible bucket with Object Lock (`s3`) — and how far behind it
//! may fall before `integration-healthy` says so.
//!
//! The S3 credentials never appear in the file: it names the environment variables that hold
//! them, read once here. A directory has no Object Lock, so retention keys beside `dir` are
//! refused rather than silently ignored. Archiving needs `[checkpoint] signing_key_path`: the
//! archive's `checkpoint` object is the signed note a restore checks everything against.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source};
use crate::archive::{Retention, RetentionMode, S3Settings};
use crate::tailscale::Secret;

/// The retention a full object gets when the file does not say.
pub const DEFAULT_RETENTION: Retention = Retention {
    mode: RetentionMode::Compliance,
    days: 400,
};

/// The longest retention accepted: a century is surely a typo.
const MOST_DAYS: i64 = 36_500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArchive {
    dir: Option<Spanned<PathBuf>>,
    s3: Option<Spanned<RawS3>>,
    retention_mode: Option<Spanned<String>>,
    retention_days: Option<Spanned<i64>>,
    #[serde(default = "default_max_lag")]
    max_lag: Spanned<String>,
    #[serde(default = "default_retry_max")]
    retry_max: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    endpoint: Spanned<String>,
    bucket: Spanned<String>,
    #[serde(default = "default_prefix")]
    prefix: Spanned<String>,
    #[serde(default = "default_region")]
    region: Spanned<String>,
    #[serde(default = "default_access_key_env")]
    access_key_env: Spanned<String>,
    #[serde(default = "default_secret_key_env")]
    secret_key_env: Spanned<String>,
}

fn default_max_lag() -> Spanned<String> {
    Spanned::new(0..0, "1h".to_owned())
}

fn default_retry_max() -> Spanned<String> {
    Spanned::new(0..0, "5m".to_owned())
}

fn default_prefix() -> Spanned<String> {
    Spanned::new(0..0, String::new())
}

fn default_region() -> Spanned<String> {
    Spanned::new(0..0, "us-east-1".to_owned())
}

fn default_access_key_env() -> Spanned<String> {
    Spanned::new(0..0, "AWS_ACCESS_KEY_ID".to_owned())
}

fn default_secret_key_env() -> Spanned<String> {
    Spanned::new(0..0, "AWS_SECRET_ACCESS_KEY".to_owned())
}

/// Where the archive is kept.
#[derive(Clone, Debug)]
pub enum ArchiveTarget {
    Dir(PathBuf),
    S3(S3Settings),
}

/// What `[archive]` configures.
#[derive(Clone, Debug)]
pub struct ArchiveSettings {
    pub target: ArchiveTarget,
    /// Past this, `integration-healthy` reports `archive-behind`.
    pub max_lag: Duration,
    /// The longest wait between two tries after a failure.
    pub retry_max: Duration,
}

/// An S3 endpoint as `archive.s3.endpoint` and `restore --s3-endpoint` take it: an `http://` or
/// `https://` address, returned without a trailing slash; else why not.
pub fn s3_endpoint(text: &str) -> Result<String, String> {
    let endpoint = text.trim_end_matches('/');
    let host = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    if host.is_none_or(|host| host.is_empty() || host.contains(char::is_whitespace)) {
        return Err(format!(
            "`{text}` is not an http:// or https:// address (for example https://s3.eu-west-1.amazonaws.com)"
        ));
    }
    Ok(endpoint.to_owned())
}

/// Whether `bucket` is an S3 bucket name; else why not.
pub fn check_bucket_name(bucket: &str) -> Result<(), String> {
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'.'
        })
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if bucket_ok {
        Ok(())
    } else {
        Err(format!(
            "`{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)"
        ))
    }
}

impl Source<'_> {
    pub(super) fn archive(
        &self,
        raw: &Spanned<RawArchive>,
        base: &Path,
        has_signing_key: bool,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<ArchiveSettings, ConfigError> {
        let archive = raw.get_ref();
        if !has_signing_key {
            return Err(self.error(
                raw,
                "archive",
                "needs `[checkpoint] signing_key_path`: the archive's checkpoint is the signed note a restore checks the archive against",
            ));
        }
        let max_lag = self.duration(&archive.max_lag, "archive.max_lag")?;
        let retry_max = self.duration(&archive.retry_max, "archive.retry_max")?;
        let target = match (&archive.dir, &archive.s3) {
            (Some(dir), None) => {
                if dir.get_ref().as_os_str().is_empty() {
                    return Err(self.error(
                        dir,
                        "archive.dir",
                        "must not be empty: name the directory the archive is written to",
                    ));
                }
                let retention = archive
                    .retention_mode
                    .as_ref()
                    .map(|mode| (mode.span(), "archive.retention_mode"))
                    .or(archive
                        .retention_days
                        .as_ref()
                        .map(|days| (days.span(), "archive.retention_days")));
                if let Some((span, key)) = retention {
                    return Err(self.error(
                        &Spanned::new(span, ()),
                        key,
                        "applies to `s3` only: a directory has no Object Lock (leave it out, or make the directory's storage immutable itself)",
                    ));
                }
                ArchiveTarget::Dir(base.join(dir.get_ref()))
            }
            (None, Some(s3)) => ArchiveTarget::S3(self.s3(s3.get_ref(), archive, env)?),
            (Some(_), Some(s3)) => {
                return Err(self.error(
                    s3,
                    "archive.s3",
                    "set `dir` or `s3`, not both: the archive is kept in one place",
                ));
            }
            (None, None) => {
                return Err(self.error(raw, "archive", "set `dir = \"…\"` (a directory) or `s3 = { endpoint = …, bucket = … }` (an S3 bucket with Object Lock)"));
            }
        };
        Ok(ArchiveSettings {
            target,
            max_lag,
            retry_max,
        })
    }

    fn s3(
        &self,
        raw: &RawS3,
        archive: &RawArchive,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<S3Settings, ConfigError> {
        let endpoint = s3_endpoint(raw.endpoint.get_ref())
            .map_err(|why| self.error(&raw.endpoint, "archive.s3.endpoint", why))?;
        let bucket = raw.bucket.get_ref();
        check_bucket_name(bucket)
            .map_err(|why| self.error(&raw.bucket, "archive.s3.bucket", why))?;
        let prefix = raw.prefix.get_ref().trim_matches('/');
        if !prefix.is_empty() {
            crate::archive::check_path(prefix)
                .map_err(|error| self.error(&raw.prefix, "archive.s3.prefix", error.to_string()))?;
        }
        if raw.region.get_ref().trim().is_empty() {
            return Err(self.error(
                &raw.region,
                "archive.s3.region",
                "must not be empty (for example us-east-1)",
            ));
        }
        let mode = match archive.retention_mode.as_ref() {
            None => DEFAULT_RETENTION.mode,
            Some(mode) => match mode.get_ref().as_str() {
                "COMPLIANCE" => RetentionMode::Compliance,
                "GOVERNANCE" => RetentionMode::Governance,
                other => {
                    return Err(self.error(
                        mode,
                        "archive.retention_mode",
                        format!("`{other}` is not an Object Lock mode (COMPLIANCE or GOVERNANCE)"),
                    ));
                }
            },
        };
        let days = match archive.retention_days.as_ref() {
            None => DEFAULT_RETENTION.days,
            Some(days) => match u32::try_from(*days.get_ref()) {
                Ok(count) if (1..=MOST_DAYS).contains(days.get_ref()) => count,
                _ => {
                    return Err(self.error(
                        days,
                        "archive.retention_days",
                        format!("{} is not between 1 and {MOST_DAYS}", days.get_ref()),
                    ));
                }
            },
        };
        Ok(S3Settings {
            endpoint,
            bucket: bucket.clone(),
            prefix: prefix.to_owned(),
            region: raw.region.get_ref().trim().to_owned(),
            access_key: Secret::new(self.secret(
                &raw.access_key_env,
                "archive.s3.access_key_env",
                env,
            )?),
            secret_key: Secret::new(self.secret(
                &raw.secret_key_env,
                "archive.s3.secret_key_env",
                env,
            )?),
            retention: Retention { mode, days },
        })
    }
}
