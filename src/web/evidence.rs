//! `GET /evidence`: the auditor's evidence pack of a window (docs/reference/ledger.md#evidence-pack)
//! as one download. The ledger is exported page by page into a temporary file, and the pack is
//! made from that export exactly as `tailledger evidence` makes it (verified, replayed, gathered,
//! signed with the server's key when it has one), then sent as an uncompressed tar of its folder,
//! `evidence/`, which `tar -xf` unpacks and `sha256sum -c MANIFEST.sha256` checks.

use std::collections::HashMap;
use std::io::{Read as _, Write};
use std::path::Path;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;

use super::access::Read;
use super::extract::Signed;
use super::templates::page;
use super::{Shared, WebError};
use crate::as_of::AsOf;
use crate::evidence;

/// Entries read from the ledger at a time while it is exported.
const EXPORT_PAGE: usize = 1_000;
/// A tar block.
const BLOCK: usize = 512;

/// `GET /evidence`: the window form; with `from` and `to`, the pack of that window.
pub async fn evidence(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
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
    let service = &state.console.service;
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
        state.console.system.clone(),
        (from, to),
        &out,
        service.signing_key(),
    )
    .await
    .map_err(|error| match error {
        evidence::EvidenceError::Service(error) => WebError::Service(error),
        other => WebError::Evidence(other.to_string()),
    })?;
    let tar = tar_of(&out, "evidence").map_err(|error| io("pack the evidence", error))?;
    let name = format!("tailledger-evidence-{from}-{to}.tar").replace(':', "");
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        tar,
    )
        .into_response())
}

fn io(action: &str, error: std::io::Error) -> WebError {
    WebError::Evidence(format!("cannot {action}: {error}"))
}

/// The files of `dir` (a pack holds no subdirectory) as a ustar archive under `prefix/`.
fn tar_of(dir: &Path, prefix: &str) -> std::io::Result<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let mut tar = Vec::new();
    for name in names {
        let mut bytes = Vec::new();
        std::fs::File::open(dir.join(&name))?.read_to_end(&mut bytes)?;
        let path = format!("{prefix}/{}", name.to_string_lossy());
        tar.extend_from_slice(&header(&path, bytes.len()));
        tar.extend_from_slice(&bytes);
        tar.resize(tar.len().next_multiple_of(BLOCK), 0);
    }
    tar.resize(tar.len() + 2 * BLOCK, 0);
    Ok(tar)
}

/// A ustar header for a regular file of `size` bytes at `path` (under 100 bytes).
fn header(path: &str, size: usize) -> [u8; BLOCK] {
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
        let tar = tar_of(dir.path(), "evidence").unwrap();
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
    }
}
