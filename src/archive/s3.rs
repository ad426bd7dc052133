//! The S3 bucket: the archive in an S3-compatible object store, each full object written with
//! **Object Lock** retention (`x-amz-object-lock-mode`, `x-amz-object-lock-retain-until-date`),
//! so that nobody — the ledger's operator included, in `COMPLIANCE` mode — can delete or replace
//! it until the retention ends.
//!
//! The client is `aws-sdk-s3`, AWS's own: its `PutObject` takes the lock mode and the
//! retain-until date as typed fields and sends the checksum Object Lock requires; it addresses a
//! custom endpoint path-style (`force_path_style`, as SeaweedFS, Ceph and most self-hosted stores
//! need); and it signs with SigV4. `object_store` (Apache Arrow's) was the other candidate: a
//! fine generic store, but its `PutOptions` has no Object Lock fields, so the retention headers
//! would have had to be smuggled through its attribute map, unsigned by design. TLS is rustls on
//! ring, like the rest of tailledger. The SDK's own retries are off: the archiver retries
//! everything itself with its backoff, and the SDK's timeout bounds each call.
//!
//! In S3 a PUT to an existing key makes a new version rather than replacing the object, so
//! "never write a full object twice" is kept here: a full object found already there with the
//! same bytes is success (a crash before the progress was saved), with other bytes an error.

use std::fmt;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::ObjectLockMode;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use super::{ArchiveError, check_path};
use crate::tailscale::Secret;
use crate::tiles::MAX_OBJECT_BYTES;
use crate::time::Timestamp;

/// How long one call to the store may take before it is abandoned (and tried again later).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// How a full object is locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionMode {
    /// Nobody can delete or shorten it until the date, not even the account's root user.
    Compliance,
    /// Users with `s3:BypassGovernanceRetention` can.
    Governance,
}

impl RetentionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionMode::Compliance => "COMPLIANCE",
            RetentionMode::Governance => "GOVERNANCE",
        }
    }
}

/// The Object Lock retention every full object is written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub mode: RetentionMode,
    pub days: u32,
}

/// Where the S3 archive is and how to sign in (`[archive] s3`).
#[derive(Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub bucket: String,
    /// Prepended to every object's path, without a trailing slash; empty for none.
    pub prefix: String,
    pub region: String,
    pub access_key: Secret,
    pub secret_key: Secret,
    pub retention: Retention,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key)
            .field("retention", &self.retention)
            .finish()
    }
}

/// An archive in an S3-compatible bucket with Object Lock.
#[derive(Clone)]
pub struct S3Bucket {
    client: Client,
    endpoint: String,
    bucket: String,
    prefix: String,
    retention: Retention,
}

impl fmt::Debug for S3Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl S3Bucket {
    pub fn new(settings: &S3Settings) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let credentials = Credentials::new(
            settings.access_key.expose(),
            settings.secret_key.expose(),
            None,
            None,
            "tailledger-configuration",
        );
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .endpoint_url(settings.endpoint.clone())
            .force_path_style(true)
            .credentials_provider(credentials)
            .http_client(http)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(CALL_TIMEOUT)
                    .connect_timeout(Duration::from_secs(10))
                    .build(),
            )
            .build();
        S3Bucket {
            client: Client::from_conf(config),
            endpoint: settings.endpoint.clone(),
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.trim_matches('/').to_owned(),
            retention: settings.retention,
        }
    }

    /// The endpoint, bucket and prefix, for logs.
    pub fn describe(&self) -> String {
        format!(
            "s3 {} bucket {} prefix {:?}",
            self.endpoint, self.bucket, self.prefix
        )
    }

    /// `s3://bucket/key at endpoint`, for messages.
    pub fn location_of(&self, path: &str) -> String {
        format!(
            "s3://{}/{} at {}",
            self.bucket,
            self.key(path),
            self.endpoint
        )
    }

    fn key(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }

    fn failed(
        &self,
        operation: &'static str,
        path: &str,
        error: impl std::error::Error,
    ) -> ArchiveError {
        ArchiveError::S3 {
            endpoint: self.endpoint.clone(),
            operation,
            path: path.to_owned(),
            message: DisplayErrorContext(error).to_string(),
        }
    }

    /// Writes a full object with Object Lock retention until `now` plus the configured days,
    /// unless it is there already (with the same bytes: success; with others: a conflict).
    pub async fn put_full(
        &self,
        path: &str,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<(), ArchiveError> {
        check_path(path)?;
        if let Some(existing) = self.get(path).await? {
            if existing == bytes {
                return Ok(());
            }
            return Err(ArchiveError::Conflict {
                path: path.to_owned(),
                existing: existing.len(),
                new: bytes.len(),
            });
        }
        let until = now.saturating_add_seconds(i64::from(self.retention.days) * 86_400);
        let mode = match self.retention.mode {
            RetentionMode::Compliance => ObjectLockMode::Compliance,
            RetentionMode::Governance => ObjectLockMode::Governance,
        };
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(path))
            .body(ByteStream::from(bytes.to_vec()))
            .object_lock_mode(mode)
            .object_lock_retain_until_date(DateTime::from_secs(until.as_micros() / 1_000_000))
            .send()
            .await
            .map_err(|error| self.failed("PutObject", path, error))?;
        Ok(())
    }

    /// Writes a mutable object (a new version of it, where the bucket keeps versions).
    pub async fn put_mutable(&self, path: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        check_path(path)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(path))
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map_err(|error| self.failed("PutObject", path, error))?;
        Ok(())
    }

    /// The object at `path` (its latest version), `None` when there is none; refused when it is
    /// larger than any object of a tiled log.
    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        check_path(path)?;
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(path))
            .send()
            .await;
        match answer {
            Ok(mut object) => {
                let too_large = || ArchiveError::TooLarge {
                    path: self.key(path),
                    limit: MAX_OBJECT_BYTES,
                };
                let claimed = object.content_length().unwrap_or(0);
                if usize::try_from(claimed).map_or(true, |claimed| claimed > MAX_OBJECT_BYTES) {
                    return Err(too_large());
                }
                // Bounded as it is read too, whatever the length claimed.
                let mut bytes = Vec::with_capacity(usize::try_from(claimed).unwrap_or(0));
                while let Some(chunk) = object
                    .body
                    .try_next()
                    .await
                    .map_err(|error| self.failed("GetObject", path, error))?
                {
                    if bytes.len() + chunk.len() > MAX_OBJECT_BYTES {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(Some(bytes))
            }
            Err(error) => {
                let missing = error
                    .raw_response()
                    .is_some_and(|response| response.status().as_u16() == 404)
                    || error.code() == Some("NoSuchKey");
                if missing {
                    Ok(None)
                } else {
                    Err(self.failed("GetObject", path, error))
                }
            }
        }
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, ArchiveError> {
        let mut found = Vec::new();
        let under = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(format!("{under}{prefix}"))
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|error| self.failed("ListObjectsV2", prefix, error))?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|key| key.strip_prefix(&under)) {
                    found.push(key.to_owned());
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        found.sort();
        Ok(found)
    }
}
