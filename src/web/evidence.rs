//! `GET /evidence`: the auditor's evidence pack of a window (docs/reference/ledger.md#evidence-pack)
//! as one download. The ledger is exported page by page into a temporary file, and the pack is
//! made from that export exactly as `tailledger evidence` makes it (verified, replayed, gathered,
//! signed with the server's key when it has one), then sent as an uncompressed tar of its folder,
//! `evidence/`, which `tar -xf` unpacks and `sha256sum -c MANIFEST.sha256` checks.
//!
//! Making a pack reads and replays the whole ledger: it runs on tokio's blocking pool, so the
//! console goes on answering meanwhile, and [`PACKS_AT_ONCE`] are made at once; one asked for
//! beyond is refused (`503`) until one is done. The tar is written to a temporary file and
//! streamed from it, so memory does not grow with the ledger.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::access;
use super::extract::Signed;
use super::templates::page;
use super::{Shared, WebError};
use crate::as_of::AsOf;
use crate::event::SystemId;
use crate::evidence;
use crate::service::Service;

/// Evidence packs made at once.
pub const PACKS_AT_ONCE: usize = 1;
/// Entries read from the ledger at a time while it is exported.
const EXPORT_PAGE: usize = 1_000;
/// A tar block.
const BLOCK: usize = 512;
/// The bytes of the tar sent at a time.
const CHUNK: usize = 64 * 1024;

/// `GET /evidence`: the window form; with `from` and `to`, the pack of that window.
pub async fn evidence(
    State(state): State<Shared>,
    Signed(session, ..): Signed<access::Read>,
    Query(args): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let window = |name: &str| -> Result<Option<AsOf>, WebError> {
        match args.get(name).map(|text| text.trim()) {
            None | Some("") => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|error| WebError::BadForm(format!("`{name}`: {error}"))),
        }
    };
    let (Some(from), Some(to)) = (window("from")?, window("to")?) else {
        return Ok(page(
            "evidence.html",
            Some(&session),
            context! { title => "Evidence pack" },
        ));
    };
    let permit = state.packs.clone().try_acquire_owned().map_err(|_| {
        WebError::Busy("another evidence pack is being made; ask again once it is done".to_owned())
    })?;
    let service = state.console.service.clone();
    let system = state.console.system.clone();
    let runtime = tokio::runtime::Handle::current();
    // The permit goes with the work, so that a pack whose asker has gone still counts until done.
    let (made, permit) = tokio::task::spawn_blocking(move || {
        (
            runtime.block_on(tar_of_pack(&service, system, (from, to))),
            permit,
        )
    })
    .await
    .map_err(|error| WebError::Evidence(format!("making the pack stopped: {error}")))?;
    let made = made?;
    let name = format!("tailledger-evidence-{from}-{to}.tar").replace(':', "");
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CONTENT_LENGTH, made.1.to_string()),
        ],
        streamed(made.0, permit),
    )
        .into_response())
}

/// The pack of `system` over `window`, made from an export of `service`'s ledger, as a tar in
/// a temporary file (read from its start), and its length. Blocking work: the caller runs it on
/// the blocking pool.
async fn tar_of_pack(
    service: &Arc<Service>,
    system: SystemId,
    window: (AsOf, AsOf),
) -> Result<(File, u64), WebError> {
    let mut export = tempfile::tempfile().map_err(|error| io("create the export file", error))?;
    let mut after = 0;
    loop {
        let page = service.events(after, EXPORT_PAGE).await?;
        if page.entries.is_empty() {
            break;
        }
        let mut lines = String::new();
        for entry in &page.entries {
            lines.push_str(&entry.export_line());
            lines.push('\n');
        }
        export
            .write_all(lines.as_bytes())
            .map_err(|error| io("write the export", error))?;
        after = page.next_after_seq;
    }
    let dir = tempfile::tempdir().map_err(|error| io("create the pack's directory", error))?;
    let out = dir.path().join("evidence");
    evidence::write_from_export(
        &mut export,
        service.clock(),
        system,
        window,
        &out,
        service.signing_key(),
    )
    .await
    .map_err(|error| match error {
        evidence::EvidenceError::Service(error) => WebError::Service(error),
        other => WebError::Evidence(other.to_string()),
    })?;
    let mut tar = tempfile::tempfile().map_err(|error| io("create the archive", error))?;
    let length = tar_into(&out, "evidence", &mut tar)
        .and_then(|length| tar.seek(SeekFrom::Start(0)).map(|_| length))
        .map_err(|error| io("pack the evidence", error))?;
    Ok((tar, length))
}

/// `file`'s bytes as a body, read on the blocking pool a chunk at a time; `permit` is held
/// until the last is sent or the client goes away.
fn streamed(mut file: File, permit: OwnedSemaphorePermit) -> Body {
    let (chunks, body) = mpsc::channel::<std::io::Result<Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let chunk = match file.read(&mut buffer) {
                Ok(0) => return,
                Ok(read) => Ok(Bytes::copy_from_slice(&buffer[..read])),
                Err(error) => Err(error),
            };
            let failed = chunk.is_err();
            // A send fails once the client has gone: nothing is left to do.
            if chunks.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    Body::from_stream(ReceiverStream::new(body))
}

fn io(action: &str, error: std::io::Error) -> WebError {
    WebError::Evidence(format!("cannot {action}: {error}"))
}

/// The files of `dir` and of its subdirectories (a pack's `proofs/`) as a ustar archive under
/// `prefix/`, written to `out`, in name order; the archive's length.
fn tar_into(dir: &Path, prefix: &str, out: &mut impl Write) -> std::io::Result<u64> {
    let mut length = 0u64;
    for name in files_under(dir, "")? {
        let mut file = File::open(dir.join(&name))?;
        let size = file.metadata()?.len();
        out.write_all(&header(&format!("{prefix}/{name}"), size))?;
        let copied = std::io::copy(&mut (&mut file).take(size), out)?;
        if copied != size {
            return Err(std::io::Error::other(format!(
                "{name} shrank while it was packed"
            )));
        }
        let padded = size.next_multiple_of(BLOCK as u64);
        out.write_all(&vec![0u8; (padded - size) as usize])?;
        length += BLOCK as u64 + padded;
    }
    out.write_all(&[0u8; 2 * BLOCK])?;
    Ok(length + 2 * BLOCK as u64)
}

/// The paths of the files under `dir`, relative to the pack's directory (`under` is `dir`'s
/// own), in name order, each directory's files where its name sorts.
fn files_under(dir: &Path, under: &str) -> std::io::Result<Vec<String>> {
    let mut items: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    items.sort_by_key(|item| item.file_name());
    let mut files = Vec::new();
    for item in items {
        let path = format!("{under}{}", item.file_name().to_string_lossy());
        if item.file_type()?.is_dir() {
            files.extend(files_under(&item.path(), &format!("{path}/"))?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// A ustar header for a regular file of `size` bytes at `path` (under 100 bytes).
fn header(path: &str, size: u64) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    let mut put = |at: usize, field: &[u8]| block[at..at + field.len()].copy_from_slice(field);
    put(0, &path.as_bytes()[..path.len().min(99)]);
    put(100, b"0000644\0");
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{size:011o}\0").as_bytes());
    put(136, b"00000000000\0");
    put(148, b"        ");
    put(156, b"0");
    put(257, b"ustar\0");
    put(263, b"00");
    let sum: u32 = block.iter().map(|byte| u32::from(*byte)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_is_one_tar_can_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "second\n").unwrap();
        std::fs::write(dir.path().join("a.txt"), vec![b'x'; 600]).unwrap();
        std::fs::create_dir(dir.path().join("proofs")).unwrap();
        std::fs::write(dir.path().join("proofs/7.tlog-proof"), "proof\n").unwrap();
        let mut tar = Vec::new();
        let length = tar_into(dir.path(), "evidence", &mut tar).unwrap();
        assert_eq!(length, tar.len() as u64);
        assert_eq!(tar.len() % BLOCK, 0);
        let archive = dir.path().join("pack.tar");
        std::fs::write(&archive, &tar).unwrap();
        let listed = std::process::Command::new("tar")
            .args(["-tvf", archive.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(listed.status.success(), "{listed:?}");
        let text = String::from_utf8(listed.stdout).unwrap();
        assert!(
            text.contains("600") && text.contains("evidence/a.txt"),
            "{text}"
        );
        assert!(text.contains("evidence/b.txt"), "{text}");
        assert!(text.contains("evidence/proofs/7.tlog-proof"), "{text}");
    }
}
