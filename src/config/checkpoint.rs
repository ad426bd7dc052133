//! `[checkpoint]` (docs/reference/config.md#checkpoint): the key checkpoints are signed with, and
//! where and how often checkpoint files are written.
//!
//! The signing key is a secret file, like the TLS key: it is read once here and travels only
//! inside a [`SigningKey`], whose `Debug` shows its name and key id, never the key. A key file
//! that others than its owner may read is refused, and no error quotes the file's text.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use zeroize::Zeroizing;

use super::{ConfigError, Source};
use crate::merkle::SigningKey;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheckpoint {
    signing_key_path: Spanned<PathBuf>,
    checkpoint_dir: Option<Spanned<PathBuf>>,
    #[serde(default = "default_interval")]
    checkpoint_interval: Spanned<String>,
}

fn default_interval() -> Spanned<String> {
    Spanned::new(0..0, "1h".to_owned())
}

/// What `[checkpoint]` configures.
#[derive(Clone, Debug)]
pub struct CheckpointSettings {
    pub signing_key: Arc<SigningKey>,
    /// Where checkpoint files are written; none are without it.
    pub dir: Option<PathBuf>,
    pub interval: Duration,
}

impl Source<'_> {
    pub(super) fn checkpoint(
        &self,
        raw: &RawCheckpoint,
        base: &Path,
    ) -> Result<CheckpointSettings, ConfigError> {
        let key = "checkpoint.signing_key_path";
        let written = &raw.signing_key_path;
        let path = base.join(written.get_ref());
        let signing_key = read_signing_key(&path)
            .map_err(|reason| self.error(written, key, format!("{} {reason}", path.display())))?;
        let interval = self.duration(&raw.checkpoint_interval, "checkpoint.checkpoint_interval")?;
        Ok(CheckpointSettings {
            signing_key: Arc::new(signing_key),
            dir: raw
                .checkpoint_dir
                .as_ref()
                .map(|dir| base.join(dir.get_ref())),
            interval,
        })
    }
}

/// The signing key in the file at `path`, made by `tailledger keygen`; refused, with the reason
/// (never the file's text), when the file cannot be read, when others than its owner may read
/// it, or when it holds no key.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, String> {
    use std::os::unix::fs::PermissionsExt;

    let mode = std::fs::metadata(path)
        .map_err(|error| format!("cannot be read: {error}"))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "may be read by others (mode {:04o}): it is the ledger's signing key; make it 0600",
            mode & 0o7777
        ));
    }
    let text = Zeroizing::new(
        crate::bounded::read_text_file(path, crate::bounded::SMALL_FILE_BYTES)
            .map_err(|error| format!("cannot be read: {error}"))?,
    );
    SigningKey::parse(&text)
        .map_err(|error| format!("is not a key made by `tailledger keygen`: {error}"))
}

/// Makes a new signing key named `name` from the system's randomness and writes it to a new
/// file at `path`, mode 0600 (an existing file is never replaced), synced.
pub fn create_signing_key(path: &Path, name: &str) -> Result<SigningKey, String> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;

    let mut seed = Zeroizing::new([0u8; 32]);
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut *seed))
        .map_err(|error| format!("cannot read /dev/urandom: {error}"))?;
    let key = SigningKey::from_seed(name, &seed).map_err(|error| error.to_string())?;
    let cannot = |error: std::io::Error| format!("cannot write {}: {error}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(cannot)?;
    file.write_all(format!("{}\n", *key.encode()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(cannot)?;
    Ok(key)
}
