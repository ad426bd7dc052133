//! `tailledger restore` and `tailledger tiles export` (docs/reference/cli.md#restore): a ledger
//! rebuilt from a tiled log (an archive in S3 or a directory) or an export, checked against a
//! checkpoint signed by a pinned key; and a ledger's tiles written to a directory, for a backup
//! or a restore drill.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Failure, Outcome, progress, runtime};
use crate::archive::{Bucket, DirBucket, S3Bucket, S3Settings, check_path};
use crate::config::{DEFAULT_RETENTION, check_bucket_name, read_signing_key, s3_endpoint};
use crate::ledger::Log;
use crate::merkle::{VerifierKey, sign_checkpoint};
use crate::restore::{self, RestoreError, Restored};
use crate::tailscale::Secret;
use crate::tiles::{self, CHECKPOINT_PATH};

/// How `restore --from s3://…` reaches the store: the same settings as `[archive] s3`.
#[derive(clap::Args, Debug)]
pub struct S3Access {
    /// With `s3://`: the S3 endpoint, as `[archive] s3.endpoint`.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    s3_endpoint: Option<String>,
    /// With `s3://`: the region requests are signed for.
    #[arg(
        long,
        env = "AWS_REGION",
        default_value = "us-east-1",
        value_name = "REGION"
    )]
    s3_region: String,
    /// With `s3://`: the environment variable holding the access key id.
    #[arg(long, default_value = "AWS_ACCESS_KEY_ID", value_name = "NAME")]
    access_key_env: String,
    /// With `s3://`: the environment variable holding the secret access key.
    #[arg(long, default_value = "AWS_SECRET_ACCESS_KEY", value_name = "NAME")]
    secret_key_env: String,
}

impl S3Access {
    /// The bucket of `location` (`bucket/prefix`, after `s3://`), read with these settings.
    fn bucket(&self, location: &str) -> Result<Bucket, Failure> {
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        let prefix = prefix.trim_matches('/');
        check_bucket_name(bucket)
            .map_err(|why| Failure::input(format!("--from s3://{location}: {why}")))?;
        if !prefix.is_empty() {
            check_path(prefix)
                .map_err(|error| Failure::input(format!("--from s3://{location}: {error}")))?;
        }
        let endpoint = self.s3_endpoint.as_deref().ok_or_else(|| {
            Failure::input(format!(
                "--from s3://{location} needs the store's address: give --s3-endpoint URL (or set AWS_ENDPOINT_URL)"
            ))
        })?;
        let endpoint =
            s3_endpoint(endpoint).map_err(|why| Failure::input(format!("--s3-endpoint: {why}")))?;
        if self.s3_region.trim().is_empty() {
            return Err(Failure::input(
                "--s3-region must not be empty (for example us-east-1)",
            ));
        }
        let secret = |name: &str, flag: &str| match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(Secret::new(value.trim().to_owned())),
            _ => Err(Failure::input(format!(
                "the environment variable {name} ({flag}) is not set or empty: it must hold the S3 credential"
            ))),
        };
        Ok(Bucket::S3(S3Bucket::new(&S3Settings {
            endpoint,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            region: self.s3_region.trim().to_owned(),
            access_key: secret(&self.access_key_env, "--access-key-env")?,
            secret_key: secret(&self.secret_key_env, "--secret-key-env")?,
            // Only read: no object is written, so no retention applies.
            retention: DEFAULT_RETENTION,
        })))
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum TilesCommand {
    /// Write the ledger's tiles, entry bundles and a signed checkpoint of its head into a
    /// directory, as `[tiles] listen` serves them: full tiles already there are kept, the rest
    /// is written whole or not at all. The ledger directory is only read (a copy of it is
    /// opened).
    Export {
        /// The ledger directory.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// The ledger's signing key (`[checkpoint] signing_key_path`, mode 0600).
        #[arg(long, value_name = "FILE")]
        signing_key: PathBuf,
        /// The directory to write into (made if needed).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
}

/// `tiles export`.
pub fn run(command: TilesCommand) -> Outcome {
    let TilesCommand::Export {
        data_dir,
        signing_key,
        to,
    } = command;
    let key = read_signing_key(&signing_key).map_err(|reason| {
        Failure::input(format!("--signing-key {} {reason}", signing_key.display()))
    })?;
    let log = Log::open_copy(&data_dir).map_err(Failure::input)?;
    let (size, root) = log.tree_head().map_err(Failure::input)?;
    let first = log
        .get(1)
        .map_err(Failure::input)?
        .ok_or_else(|| Failure::input(format!("{}: the ledger is empty", data_dir.display())))?;
    let checkpoint = crate::merkle::Checkpoint {
        origin: tiles::log_origin(&first.hash),
        size,
        root,
        extensions: Vec::new(),
    };
    let note = sign_checkpoint(&checkpoint, &key).map_err(Failure::input)?;
    // Written as the archiver writes a directory: a full object already there with the same
    // bytes is kept, with other bytes refused.
    let bucket = DirBucket::new(to.clone());
    let bar = progress::bar(size, "writing tiles", false);
    let mut written = 0usize;
    let wrote = runtime()?.block_on(async {
        for object in tiles::objects_between(&log, 0, size) {
            let object = object.map_err(Failure::input)?;
            if object.path.starts_with("tile/entries/") {
                bar.inc(tiles::TILE_WIDTH.min(size));
            }
            if object.full {
                bucket.put_full(&object.path, &object.bytes).await
            } else {
                bucket.put_mutable(&object.path, &object.bytes).await
            }
            .map_err(Failure::input)?;
            written += 1;
        }
        // The checkpoint last: a reader never sees one whose tiles are not all there.
        bucket
            .put_mutable(CHECKPOINT_PATH, note.as_bytes())
            .await
            .map_err(Failure::input)
    });
    bar.finish_and_clear();
    wrote?;
    println!(
        "wrote the tiles of tree size {size} (root {root}) to {}: {written} tiles and bundles, and the checkpoint",
        to.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `restore`: from an archive (`s3://bucket/prefix` or a directory of tiles), or from an export
/// (a file) with `--checkpoint`.
pub fn restore(
    from: &Path,
    data_dir: &Path,
    key: &VerifierKey,
    checkpoint: Option<&Path>,
    s3: &S3Access,
) -> Outcome {
    let archive = match from.to_str().and_then(|text| text.strip_prefix("s3://")) {
        Some(location) => Some(s3.bucket(location)?),
        None if from.is_dir() => Some(Bucket::Dir(DirBucket::new(from.to_path_buf()))),
        None if !from.exists() => {
            return Err(Failure::input(format!(
                "{} does not exist: give s3://bucket/prefix, a directory of tiles or an export file",
                from.display()
            )));
        }
        None => None,
    };
    let bar = progress::bar(0, "restoring", false);
    let done = |taken: u64| bar.set_position(taken);
    let restored = if let Some(archive) = archive {
        if checkpoint.is_some() {
            return Err(Failure::input(
                "--checkpoint is for an export: an archive of tiles holds its own `checkpoint`",
            ));
        }
        runtime()?.block_on(restore::restore_from_tiles(&archive, key, data_dir, &done))
    } else {
        let checkpoint = checkpoint.ok_or_else(|| {
            Failure::input(format!(
                "{} is a file, so it is read as an export: give --checkpoint FILE, a checkpoint signed by the ledger's key (from `checkpoint_dir`) whose tree the export starts with",
                from.display()
            ))
        })?;
        let note = crate::bounded::read_file(checkpoint, crate::bounded::SMALL_FILE_BYTES)
            .map_err(|error| {
                Failure::input(format!("cannot read {}: {error}", checkpoint.display()))
            })?;
        let file = std::fs::File::open(from).map_err(|error| {
            Failure::input(format!(
                "cannot read the export {}: {error}",
                from.display()
            ))
        })?;
        restore::restore_from_export(
            BufReader::new(file),
            from,
            &note,
            &checkpoint.display().to_string(),
            key,
            data_dir,
            &done,
        )
    };
    bar.finish_and_clear();
    let Restored {
        checkpoint,
        head,
        data_dir,
    } = restored.map_err(|error| refused(from, error))?;
    println!(
        "restored {} entries into {}: digest {head}, root {} (origin {}), checked against the checkpoint signed by {}+{:08x}",
        checkpoint.size,
        data_dir.display(),
        checkpoint.root,
        checkpoint.origin,
        key.name(),
        key.key_id()
    );
    Ok(ExitCode::SUCCESS)
}

/// A refused restore: what does not verify is exit 1, what cannot be read or written 2.
fn refused(from: &Path, error: RestoreError) -> Failure {
    let message = format!("{}: {error}; nothing was restored", from.display());
    match error {
        RestoreError::Checkpoint { .. }
        | RestoreError::ForeignCheckpoint { .. }
        | RestoreError::Refused { .. }
        | RestoreError::RootMismatch { .. } => Failure { code: 1, message },
        RestoreError::Target { .. }
        | RestoreError::Read(_)
        | RestoreError::Export { .. }
        | RestoreError::Store(_) => Failure::input(message),
    }
}
