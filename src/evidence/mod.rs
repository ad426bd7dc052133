//! The auditor's evidence pack (docs/reference/ledger.md#evidence-pack): a folder an auditor takes
//! away and reads without tailledger.
//!
//! Everything in it is computed from the export it holds. The ledger (a directory or a server)
//! is first exported and its chain verified, the export is replayed into a ledger of its own
//! (`replay::ledger_from_export`, the same path as `tailledger replay`), and the timeline, the
//! offboarding report, the access reviews open in the window, and the accounts and employees at
//! the window's end are read from that
//! ledger through the same `Service` the server answers with. The pack's `ledger.jsonl` is the
//! export up to the window's end, so `tailledger replay ledger.jsonl --from --to` and the
//! verification script reproduce what the page and the CSV files say.
//!
//! The pack carries a signed checkpoint of the ledger's Merkle tree when it can
//! (`checkpoint.rs`): the published checkpoint of exactly the export's tree, signed by the
//! ledger's own key, or a server's signed checkpoint with the consistency proof from the export's
//! tree to it, checked here before it is written. With a checkpoint of the export's tree, each
//! entry the offboarding table cites gets a C2SP `tlog-proof` file (`proofs.rs`). Its statement,
//! `MANIFEST.note` (`statement.rs`), names the window, the export's tree and the SHA-256 of
//! `MANIFEST.sha256`, signed by the ledger's key when the pack is written with it: so the
//! signature covers the conclusions, not only the export. `replay.rs` computes a pack's derived
//! files again from its `ledger.jsonl` for `replay --pack`.
//!
//! The folder is written under a temporary name beside its destination and renamed into place
//! only when every file is there, so a failure leaves no partial pack. Values from Tailscale and
//! HR are untrusted: the page escapes them (`html.rs`, autoescaping templates) and the CSV files
//! quote them (`tables.rs`, the `csv` crate), and a cell a spreadsheet would run as a formula is
//! prefixed with `'`.

mod checkpoint;
mod html;
mod proofs;
mod replay;
mod script;
mod statement;
mod tables;

pub use checkpoint::PackCheckpoint;
pub use replay::{Difference, ReplayPackError, replay_pack};
pub use script::readme_script;
pub use statement::{Statement, StatementError};

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::as_of::AsOf;
use crate::checks::CheckSettings;
use crate::event::SystemId;
use crate::hash::{Digest, Hash256};
use crate::merkle::{Checkpoint, EMPTY_ROOT, SigningKey};
use crate::projection::{EmployeeState, ExceptionState};
use crate::replay::{ReplayError, ledger_from_export};
use crate::report::OffboardingRow;
use crate::service::{AccountView, ReviewReader, ReviewView, Service, ServiceError};
use crate::store::{StoreError, make_private};
use crate::time::{Clock, Timestamp};
use crate::timeline::Timeline;

/// The files every pack has, in the order `MANIFEST.sha256` lists them.
pub const FILES: [&str; 16] = [
    "index.html",
    "check_timeline.csv",
    "findings.csv",
    "offboarding.csv",
    "exceptions.csv",
    "reviews.csv",
    "review_population.csv",
    "review_decisions.csv",
    "accounts_at_end.csv",
    "employees_at_end.csv",
    "alert_deliveries.csv",
    "ledger.jsonl",
    "verify_export.py",
    "verify_checkpoint.py",
    "check_proof.py",
    "check_offboarding.py",
];

/// The files of a pack's signed checkpoint, when it has one, listed after [`FILES`].
pub const CHECKPOINT_FILES: [&str; 2] = ["checkpoint.txt", "consistency_proof.json"];

/// The README's scripts a pack carries, by their file names.
const SCRIPTS: [&str; 4] = [
    "verify_export.py",
    "verify_checkpoint.py",
    "check_proof.py",
    "check_offboarding.py",
];

/// Why a pack could not be written; nothing is left behind.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(
        "{path} already exists and is not an empty directory; an evidence pack needs a new one"
    )]
    NotEmpty { path: PathBuf },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("the export's line {line} has no readable recorded_at: {detail}")]
    Export { line: usize, detail: String },
    #[error("the ledger's export: {0}")]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the signed checkpoint cannot go into the pack: {reason}")]
    Checkpoint { reason: String },
}

/// The pack of `system` over `[from, to)` written into `out` from `export` (a whole ledger's
/// JSON Lines export, read from its start): verified and replayed first, then gathered through a
/// `Service` on `clock`, its checkpoint signed with `key` when one is given, then written.
/// Returns the pack and the digest its export ends with.
pub async fn write_from_export(
    export: &mut std::fs::File,
    clock: Arc<dyn Clock>,
    system: SystemId,
    window: (AsOf, AsOf),
    out: &Path,
    key: Option<Arc<SigningKey>>,
) -> Result<(Pack, Option<Digest>), EvidenceError> {
    let mut replayed = Replayed::from_export(export, clock, out)?;
    let mut pack = replayed.gather(system, window).await?;
    if let Some(key) = key {
        replayed.service.set_signing_key(key);
        pack.checkpoint = replayed.signed_checkpoint(&pack).await?;
    }
    let head = replayed.write(out, &pack, export).await?;
    Ok((pack, head))
}

/// A whole ledger's export, verified and replayed into a ledger of its own, and the service
/// that reads it: what every part of a pack is computed from.
pub struct Replayed {
    service: Service,
}

impl Replayed {
    /// Verifies and replays `export` from its start (`out` is the pack's directory, which the
    /// errors name).
    pub fn from_export(
        export: &mut std::fs::File,
        clock: Arc<dyn Clock>,
        out: &Path,
    ) -> Result<Replayed, EvidenceError> {
        rewind(export, out)?;
        let ledger = ledger_from_export(BufReader::new(&*export))?;
        let timezone = crate::replay::recorded_timezone(&ledger, &SystemId::tailscale());
        let service = Service::new(Arc::new(ledger), clock, CheckSettings::default(), timezone);
        Ok(Replayed { service })
    }

    /// What the pack of `system` over the window says.
    pub async fn gather(
        &self,
        system: SystemId,
        window: (AsOf, AsOf),
    ) -> Result<Pack, EvidenceError> {
        Pack::gather(&self.service, system, window.0, window.1).await
    }

    /// The checkpoint of exactly `pack`'s export, signed with the key the service was given;
    /// none for an empty export.
    async fn signed_checkpoint(
        &self,
        pack: &Pack,
    ) -> Result<Option<PackCheckpoint>, EvidenceError> {
        match pack.export_size() {
            0 => Ok(None),
            size => Ok(Some(PackCheckpoint::signed(&self.service, size).await?)),
        }
    }

    /// A checkpoint signed elsewhere, kept for `pack` when `proof` shows that the pack's export
    /// is the start of its tree (see [`PackCheckpoint::extending`]).
    pub async fn extending_checkpoint(
        &self,
        pack: &Pack,
        note: String,
        checkpoint: Checkpoint,
        proof: Vec<Hash256>,
    ) -> Result<PackCheckpoint, EvidenceError> {
        PackCheckpoint::extending(&self.service, pack.export_size(), note, checkpoint, proof).await
    }

    /// Writes `pack` into the new directory `out`, its `ledger.jsonl` read from `export` (the
    /// one replayed, read again from its start), with the `tlog-proof` of each entry its
    /// offboarding table cites and its statement, signed when the service has the ledger's key;
    /// returns the digest that export ends with.
    pub async fn write(
        &self,
        out: &Path,
        pack: &Pack,
        export: &mut std::fs::File,
    ) -> Result<Option<Digest>, EvidenceError> {
        let derived = self.derived(pack).await?;
        rewind(export, out)?;
        write(out, pack, &derived, BufReader::new(&*export))
    }

    /// What the pack holds beside what it says: the root of its export's tree, the proofs of
    /// the entries its offboarding table cites (when its checkpoint is of the export's tree),
    /// and the key its statement is signed with.
    async fn derived(&self, pack: &Pack) -> Result<Derived, EvidenceError> {
        let root = match pack.export_size() {
            0 => EMPTY_ROOT,
            size => self.service.tree_checkpoint(Some(size)).await?.root,
        };
        let mut proofs = Vec::new();
        // Only with a checkpoint of the export's own tree: `ledger.jsonl` then proves them again.
        if let Some(checkpoint) = &pack.checkpoint
            && checkpoint.checkpoint.size == pack.export_size()
        {
            for seq in proofs::cited(pack) {
                let proof = self
                    .service
                    .inclusion_proof(seq, checkpoint.checkpoint.size)
                    .await?;
                proofs.push((seq, proofs::tlog_proof(&proof, &checkpoint.note)));
            }
        }
        Ok(Derived {
            root,
            proofs,
            key: self.service.signing_key(),
        })
    }
}

/// What [`Replayed::derived`] adds to a pack.
struct Derived {
    root: Hash256,
    /// Each cited seq and its `tlog-proof` file.
    proofs: Vec<(u64, String)>,
    key: Option<Arc<SigningKey>>,
}

fn rewind(file: &mut std::fs::File, out: &Path) -> Result<(), EvidenceError> {
    file.rewind().map_err(|source| EvidenceError::Io {
        action: "read back the export for",
        path: out.to_path_buf(),
        source,
    })
}

/// What a pack says, read from the replayed ledger.
pub struct Pack {
    pub timeline: Timeline,
    pub offboarding: Vec<OffboardingRow>,
    pub accounts: Vec<AccountView>,
    pub employees: Vec<EmployeeState>,
    /// Every exception granted by the window's end, in force in the window or not.
    pub exceptions: Vec<ExceptionState>,
    /// The access reviews open at some instant of the window, as of its end, with the
    /// follow-through of their decisions by then.
    pub reviews: Vec<ReviewView>,
    /// The alert deliveries (`AlertDelivered`) recorded in the window: who was told what, when.
    pub alert_deliveries: Vec<crate::entry::Entry>,
    /// The signed checkpoint of a tree that starts with the pack's export, when it has one.
    pub checkpoint: Option<PackCheckpoint>,
    /// When the pack was written, and by which version of tailledger.
    pub written_at: Timestamp,
    pub version: String,
    /// The timezone the window's dates were read in (the export's recorded `roster.timezone`).
    pub timezone: chrono_tz::Tz,
}

impl Pack {
    /// The pack of `system` over `[from, to)`, from `service` (over a replayed export).
    pub async fn gather(
        service: &Service,
        system: SystemId,
        from: AsOf,
        to: AsOf,
    ) -> Result<Pack, EvidenceError> {
        let timeline = service.timeline(system.clone(), from, to).await?;
        let window = timeline.window;
        // The window is [from, to): its end state is what was known just before `to`.
        let end = window.to.saturating_add_micros(-1);
        // Offboardings effective in the window, and those effective before it whose access was
        // still there when it began: each was an open question during the window. The report
        // is as the ledger told it at the window's end, from the entries `ledger.jsonl` holds,
        // so `check_offboarding.py` reproduces it from them alone.
        let offboarding = service
            .offboarding_report_as_of(system.clone(), (None, Some(end)), end)
            .await?
            .into_iter()
            .filter(|row| {
                row.effective_at >= window.from
                    || row
                        .first_without_access
                        .as_ref()
                        .is_none_or(|gone| gone.at >= window.from)
            })
            .collect();
        // One read each: every page of a read as of an instant would rebuild that instant's state.
        let accounts = service
            .accounts(system.clone(), end, true, None, usize::MAX)
            .await?
            .items;
        let employees = service.employees(end, None, usize::MAX).await?.items;
        let exceptions = service
            .exceptions(system.clone(), Some(AsOf::Instant(end)))
            .await?
            .into_iter()
            .map(|listed| listed.exception)
            .filter(|exception| {
                // Those that held at some instant of the window.
                exception
                    .expires_at
                    .is_none_or(|expires| expires > window.from)
                    && exception
                        .revoked
                        .as_ref()
                        .is_none_or(|(revoked, _)| revoked.at > window.from)
            })
            .collect();
        let reviews = service
            .access_reviews(system.clone(), ReviewReader::Anyone, Some(end))
            .await?
            .into_iter()
            .filter(|view| {
                view.review
                    .completed
                    .is_none_or(|completed| completed.at >= window.from)
            })
            .collect();
        let alert_deliveries = service.alert_deliveries(system.clone(), window).await?;
        Ok(Pack {
            alert_deliveries,
            timeline,
            offboarding,
            accounts,
            employees,
            exceptions,
            reviews,
            checkpoint: None,
            written_at: service.now(),
            version: crate::VERSION.to_owned(),
            timezone: service.timezone(),
        })
    }

    /// When `employee_id` left, if their offboarding (as known at the window's end) was in
    /// effect at `at`: a review decision made then was made by a leaver.
    pub fn left_before(&self, employee_id: &str, at: Timestamp) -> Option<Timestamp> {
        self.employees
            .iter()
            .find(|employee| employee.record.employee_id == employee_id)
            .and_then(|employee| employee.offboarding.as_ref())
            .map(|offboarding| offboarding.effective_at)
            .filter(|effective_at| *effective_at <= at)
    }

    /// The last entry the pack is based on.
    pub fn head(&self) -> Option<Digest> {
        self.timeline.head
    }

    /// The number of entries in the pack's `ledger.jsonl`: those up to its head.
    pub fn export_size(&self) -> u64 {
        self.head().map_or(0, |head| head.seq)
    }
}

/// Writes the pack into the new directory `out`: the page, the CSV files, the export's lines
/// recorded before the window's end (read from `export`), the verification script and the
/// manifest. Returns the digest the pack's export ends with.
fn write(
    out: &Path,
    pack: &Pack,
    derived: &Derived,
    export: impl BufRead,
) -> Result<Option<Digest>, EvidenceError> {
    refuse_unless_new(out)?;
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = tempfile::Builder::new()
        .prefix(".evidence-")
        .tempdir_in(&parent)
        .map_err(|source| EvidenceError::Io {
            action: "create a directory in",
            path: parent.clone(),
            source,
        })?;
    let dir = staging.path();
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| EvidenceError::Io {
            action,
            path,
            source,
        }
    };
    let file = |name: &str, bytes: &[u8]| -> Result<(), EvidenceError> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(io("write", &path))
    };
    if !derived.proofs.is_empty() {
        let proofs_dir = dir.join(proofs::DIR);
        std::fs::create_dir(&proofs_dir).map_err(io("create", &proofs_dir))?;
    }
    let derived_files = derived_files(pack, derived);
    for (name, bytes) in &derived_files {
        file(name, bytes)?;
    }
    let ledger = dir.join("ledger.jsonl");
    let mut writer =
        std::io::BufWriter::new(std::fs::File::create(&ledger).map_err(io("create", &ledger))?);
    let window_end = pack.timeline.window.to;
    for (index, line) in export.lines().enumerate() {
        let line = line.map_err(io("read the export for", &ledger))?;
        if recorded_at(&line, index + 1)? >= window_end {
            // `recorded_at` never decreases along the seq, so nothing later is in the window.
            break;
        }
        writeln!(writer, "{line}").map_err(io("write", &ledger))?;
    }
    writer
        .into_inner()
        .map_err(|error| error.into_error())
        .and_then(|file| file.sync_all())
        .map_err(io("write", &ledger))?;
    let checkpoint_files = pack
        .checkpoint
        .as_ref()
        .map_or(&[][..], |_| &CHECKPOINT_FILES);
    let proof_files: Vec<String> = derived
        .proofs
        .iter()
        .map(|(seq, _)| proofs::file_name(*seq))
        .collect();
    let mut manifest = String::new();
    let names = FILES.iter().chain(checkpoint_files).copied();
    for name in names.chain(proof_files.iter().map(String::as_str)) {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(io("read", &path))?;
        manifest += &format!("{}  {name}\n", hex::encode(Sha256::digest(&bytes)));
    }
    file("MANIFEST.sha256", manifest.as_bytes())?;
    let window = pack.timeline.window;
    let statement = Statement {
        window: (window.from, window.to),
        written_at: pack.written_at,
        version: pack.version.clone(),
        entries: pack.export_size(),
        root: derived.root,
        manifest: Hash256(Sha256::digest(manifest.as_bytes()).into()),
    };
    file(
        statement::FILE,
        statement.file(derived.key.as_deref()).as_bytes(),
    )?;
    // The pack holds HR personal data, like the ledger: owner-only.
    make_private(dir)?;
    let staged = staging.keep();
    // An empty directory in the way (allowed above) is replaced by the pack.
    if out.exists() {
        std::fs::remove_dir(out).map_err(io("replace", out))?;
    }
    std::fs::rename(&staged, out).map_err(io("move the pack to", out))?;
    Ok(pack.head())
}

/// Every file of `pack` computed from its export, by name (relative to the pack's directory):
/// the page, the CSV files, the scripts, its checkpoint's files and the proofs. What
/// `replay --pack` computes again and compares.
fn derived_files(pack: &Pack, derived: &Derived) -> Vec<(Cow<'static, str>, Vec<u8>)> {
    let mut files = vec![(Cow::Borrowed("index.html"), html::page(pack).into_bytes())];
    files.extend(
        tables::all(pack)
            .into_iter()
            .map(|(name, bytes)| (Cow::Borrowed(name), bytes)),
    );
    files.extend(SCRIPTS.iter().map(|name| {
        (
            Cow::Borrowed(*name),
            readme_script(name).as_bytes().to_vec(),
        )
    }));
    if let Some(checkpoint) = &pack.checkpoint {
        let [note, proof] = CHECKPOINT_FILES;
        files.push((Cow::Borrowed(note), checkpoint.note.clone().into_bytes()));
        files.push((Cow::Borrowed(proof), checkpoint.proof_json().into_bytes()));
    }
    files.extend(derived.proofs.iter().map(|(seq, proof)| {
        (
            Cow::Owned(proofs::file_name(*seq)),
            proof.clone().into_bytes(),
        )
    }));
    files
}

/// Refuses a destination that holds anything: a pack never mixes with other files.
fn refuse_unless_new(out: &Path) -> Result<(), EvidenceError> {
    let empty = match std::fs::read_dir(out) {
        Ok(mut entries) => entries.next().is_none(),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    };
    if empty {
        Ok(())
    } else {
        Err(EvidenceError::NotEmpty {
            path: out.to_path_buf(),
        })
    }
}

/// The `recorded_at` of one export line.
fn recorded_at(line: &str, number: usize) -> Result<Timestamp, EvidenceError> {
    #[derive(serde::Deserialize)]
    struct Line {
        recorded_at: String,
    }
    let bad = |detail: String| EvidenceError::Export {
        line: number,
        detail,
    };
    let parsed: Line = serde_json::from_str(line).map_err(|error| bad(error.to_string()))?;
    parsed
        .recorded_at
        .parse()
        .map_err(|error: crate::time::TimestampError| bad(error.to_string()))
}
