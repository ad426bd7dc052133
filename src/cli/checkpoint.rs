//! The signing key and signed checkpoints (docs/reference/ledger.md#checkpoints) on the command
//! line: `keygen`, `checkpoint verify`, and the check of what `history` and `export --server`
//! receive against a signed checkpoint.

use std::path::Path;
use std::process::ExitCode;

use super::online::connect;
use super::{Failure, Outcome, ServerArgs, runtime};
use crate::api::client::{ApiClient, ClientError, open_checkpoint};
use crate::config::create_signing_key;
use crate::entry::Entry;
use crate::merkle::{Checkpoint, VerifierKey};

#[derive(clap::Subcommand, Debug)]
pub enum CheckpointCommand {
    /// Check a checkpoint file's signature and, with --previous, that the server's tree grew
    /// from the previous checkpoint's into this one's without rewriting it.
    ///
    /// Exits 0 when every check holds, 1 when one fails.
    Verify {
        /// The checkpoint (a signed note, as `checkpoint_dir` holds and GetCheckpoint returns).
        file: std::path::PathBuf,
        /// The ledger's public key, `<name>+<hex key id>+<base64 key>`, as `tailledger keygen`
        /// printed it.
        #[arg(long, env = "TAILLEDGER_PUBLIC_KEY", value_name = "KEY", value_parser = verifier_key)]
        public_key: VerifierKey,
        /// A checkpoint kept earlier: FILE's tree must extend its tree (asks --server for the
        /// consistency proof).
        #[arg(long, value_name = "FILE")]
        previous: Option<std::path::PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Reads a verifier key argument.
pub fn verifier_key(text: &str) -> Result<VerifierKey, String> {
    VerifierKey::parse(text).map_err(|error| error.to_string())
}

/// A client error as a command's failure: an answer that does not verify is exit 1, the rest 2.
pub(super) fn failure(error: ClientError) -> Failure {
    match error {
        ClientError::NotProven(_) => Failure {
            code: 1,
            message: error.to_string(),
        },
        other => Failure::input(other),
    }
}

/// Writes a new signing key to `out` (mode 0600; an existing file is never replaced) and prints
/// its public key for auditors to pin.
pub fn keygen(out: &Path, name: &str) -> Outcome {
    let key = create_signing_key(out, name).map_err(Failure::input)?;
    println!("{}", key.verifier_key());
    eprintln!(
        "wrote the signing key to {} (keep it secret; set `[checkpoint] signing_key_path` to it); the line above is the public key auditors pin",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run(command: CheckpointCommand) -> Outcome {
    let CheckpointCommand::Verify {
        file,
        public_key,
        previous,
        server,
    } = command;
    let read = |path: &Path| -> Result<Checkpoint, Failure> {
        let note = crate::bounded::read_text_file(path, crate::bounded::SMALL_FILE_BYTES)
            .map_err(|error| Failure::input(format!("cannot read {}: {error}", path.display())))?;
        open_checkpoint(&note, &public_key)
            .map_err(|error| failure(error).with_context(&path.display().to_string()))
    };
    let checkpoint = read(&file)?;
    println!(
        "{}: tree size {}, root {}, signed by {public_key}: signature ok",
        file.display(),
        checkpoint.size,
        checkpoint.root
    );
    let Some(previous) = previous else {
        return Ok(ExitCode::SUCCESS);
    };
    let earlier = read(&previous)?;
    runtime()?.block_on(async {
        connect(&server)
            .await?
            .check_consistency(&earlier, &checkpoint)
            .await
            .map_err(failure)
    })?;
    println!(
        "{} extends {} (tree size {} → {}): consistent",
        file.display(),
        previous.display(),
        earlier.size,
        checkpoint.size
    );
    Ok(ExitCode::SUCCESS)
}

/// The server's signed checkpoint, checked with `key`, for what a command then receives.
pub async fn signed_checkpoint(
    client: &mut ApiClient,
    key: &VerifierKey,
) -> Result<Checkpoint, Failure> {
    let (_, checkpoint) = client.checkpoint(key).await.map_err(failure)?;
    Ok(checkpoint)
}

/// Checks that `entries` are in the server's signed checkpoint's tree, taken after them.
pub async fn check_entries(
    client: &mut ApiClient,
    entries: &[Entry],
    key: &VerifierKey,
) -> Result<Checkpoint, Failure> {
    let checkpoint = signed_checkpoint(client, key).await?;
    client
        .check_inclusion(entries, &checkpoint)
        .await
        .map_err(failure)?;
    Ok(checkpoint)
}

/// Says on standard error what a received answer was checked against.
pub fn say_checked(what: &str, checkpoint: &Checkpoint, key: &VerifierKey) {
    eprintln!(
        "{what} checked against the checkpoint of tree size {} signed by {}+{:08x}",
        checkpoint.size,
        key.name(),
        key.key_id()
    );
}

impl Failure {
    /// The same failure, saying where.
    fn with_context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}
