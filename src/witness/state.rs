//! A witness's durable state: for each log origin, the size and root of the latest checkpoint
//! it cosigned, in `<state dir>/state.json` (`{"format": 1, "logs": {origin: {size, root}}}`),
//! and every checkpoint it cosigned, with its cosignature, in `<state dir>/cosigned/`, for the
//! auditor to keep. Each file is written whole or not at all ([`AtomicFile`]: a synced temporary
//! file renamed into place, then the directory synced), so a power cut leaves the old state or
//! the new one, and at most a stray temporary file, which is ignored.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::export::AtomicFile;
use crate::hash::Hash256;

/// The state file's name in the state directory.
pub const STATE_FILE: &str = "state.json";
/// The directory of cosigned checkpoints in the state directory.
pub const COSIGNED_DIR: &str = "cosigned";
/// The state file's format; another is refused rather than guessed at.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: u32,
    logs: BTreeMap<String, LogFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogFile {
    size: u64,
    root: String,
}

/// The latest tree cosigned for each origin, as stored.
#[derive(Debug, Default)]
pub struct WitnessState {
    dir: PathBuf,
    logs: BTreeMap<String, (u64, Hash256)>,
}

impl WitnessState {
    /// Reads the state in `dir` (created when missing; it holds only public checkpoints); a missing state file is a
    /// witness that has cosigned nothing yet.
    pub fn open(dir: &Path) -> Result<WitnessState, String> {
        let cannot = |what: &str, path: &Path, error: std::io::Error| {
            format!("cannot {what} {}: {error}", path.display())
        };
        std::fs::create_dir_all(dir).map_err(|error| cannot("create", dir, error))?;
        let path = dir.join(STATE_FILE);
        let mut logs = BTreeMap::new();
        match crate::bounded::read_text_file(&path, crate::bounded::SMALL_FILE_BYTES) {
            Ok(text) => {
                let file: StateFile = serde_json::from_str(&text).map_err(|error| {
                    format!("{} is not a witness state file: {error}", path.display())
                })?;
                if file.format != FORMAT {
                    return Err(format!(
                        "{} has format {}, this witness reads format {FORMAT}",
                        path.display(),
                        file.format
                    ));
                }
                for (origin, log) in file.logs {
                    let root = BASE64
                        .decode(&log.root)
                        .ok()
                        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                        .ok_or_else(|| {
                            format!(
                                "{}: the root of {} is not the base64 of 32 bytes",
                                path.display(),
                                origin.escape_debug()
                            )
                        })?;
                    logs.insert(origin, (log.size, Hash256(root)));
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(cannot("read", &path, error)),
        }
        Ok(WitnessState {
            dir: dir.to_path_buf(),
            logs,
        })
    }

    /// The size and root last cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> Option<(u64, Hash256)> {
        self.logs.get(origin).copied()
    }

    /// Records that `note` (the checkpoint with its new cosignature) of `size` and `root` was
    /// cosigned for `origin`: the cosigned checkpoint is kept, then the state is replaced, both
    /// durably, before the cosignature is given out.
    pub fn record(
        &mut self,
        origin: &str,
        size: u64,
        root: Hash256,
        note: &str,
    ) -> std::io::Result<()> {
        let cosigned = self.dir.join(COSIGNED_DIR);
        std::fs::create_dir_all(&cosigned)?;
        write_atomically(&cosigned.join(cosigned_name(origin, size)), note.as_bytes())?;
        let mut logs = self.logs.clone();
        logs.insert(origin.to_owned(), (size, root));
        let file = StateFile {
            format: FORMAT,
            logs: logs
                .iter()
                .map(|(origin, (size, root))| {
                    (
                        origin.clone(),
                        LogFile {
                            size: *size,
                            root: BASE64.encode(root.0),
                        },
                    )
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)? + "\n";
        write_atomically(&self.dir.join(STATE_FILE), text.as_bytes())?;
        self.logs = logs;
        Ok(())
    }
}

/// `<origin, each byte not a letter, digit, `.` or `-` as `_`>-<size, 20 digits>.txt`.
pub fn cosigned_name(origin: &str, size: u64) -> String {
    let origin: String = origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{origin}-{size:020}.txt")
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.writer().write_all(bytes)?;
    file.commit()
}
