//! The harness checks its own model before it judges the store: small writer processes write a
//! known pattern in one way each (plain `write`, `fsync`, `fdatasync`, `sync_file_range`, `mmap`
//! with and without `msync`, write-fsync-rename), say they are done, and are killed; after the
//! power cut the backing files must show the pattern exactly where the writer synced it, and
//! nowhere else. A second run with the same kills but nothing thrown away (a process crash, the
//! kernel surviving) must keep everything, so the losses come from the cut, not from the kill.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::num::NonZeroUsize;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::mount::Mounted;
use crate::process::Running;

/// What a probe writer prints on standard error once its write is done, synced or not.
const DONE: &str = "probe: written";

/// The exit code of a probe whose kind of write the filesystem does not support.
const UNSUPPORTED: i32 = 3;

/// Whether a write must survive a power cut in the model.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Expect {
    Kept,
    Lost,
}

/// Each probe: its name (the `probe` subcommand's mode) and what a power cut must do to it.
pub const PROBES: [(&str, Expect); 7] = [
    ("write", Expect::Lost),
    ("fsync", Expect::Kept),
    ("fdatasync", Expect::Kept),
    ("sync-file-range", Expect::Lost),
    ("mmap", Expect::Lost),
    ("mmap-msync", Expect::Kept),
    ("write-fsync-rename", Expect::Kept),
];

/// Several pages and a bit, so that partial pages and page boundaries are exercised.
const PATTERN_LEN: usize = 3 * 4096 + 1000;

fn pattern() -> Vec<u8> {
    (0..PATTERN_LEN)
        .map(|index| (index * 31 % 251) as u8 ^ 0x5a)
        .collect()
}

/// The probe writer (a child process): writes the pattern to `file` in the way `mode` names,
/// reads it back through the filesystem, reports, then waits to be killed.
pub fn write_probe(mode: &str, file: &Path) -> io::Result<()> {
    let data = pattern();
    match mode {
        "write" | "fsync" | "fdatasync" | "sync-file-range" => {
            let mut opened = File::create(file)?;
            opened.write_all(&data)?;
            match mode {
                "fsync" => opened.sync_all()?,
                "fdatasync" => opened.sync_data()?,
                "sync-file-range" => sync_file_range(&opened)?,
                _ => {}
            }
        }
        "mmap" | "mmap-msync" => {
            let opened = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(file)?;
            opened.set_len(data.len() as u64)?;
            if let Err(error) = write_mapped(&opened, &data, mode == "mmap-msync") {
                eprintln!("probe: mmap is not supported here: {error}");
                std::process::exit(UNSUPPORTED);
            }
        }
        "write-fsync-rename" => {
            let temporary = file.with_extension("tmp");
            let mut opened = File::create(&temporary)?;
            opened.write_all(&data)?;
            opened.sync_all()?;
            fs::rename(&temporary, file)?;
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown probe mode {other}"),
            ));
        }
    }
    // Reads must see the unsynced writes too, or the overlay would be a different file.
    let mut read_back = Vec::new();
    File::open(file)?.read_to_end(&mut read_back)?;
    if read_back != data {
        return Err(io::Error::other(format!(
            "{mode}: reading back through the mount gave {} bytes that differ from what was written",
            read_back.len()
        )));
    }
    eprintln!("{DONE}");
    // The driver kills us now; the bound only matters if it does not.
    std::thread::sleep(Duration::from_secs(120));
    Err(io::Error::other("the probe was not killed within 120 s"))
}

/// sync_file_range(2) with every flag: starts and waits for writeback of the range, which
/// flushes dirty pages of the page cache but is no data-integrity sync (no `FSYNC` request).
#[allow(unsafe_code)]
fn sync_file_range(file: &File) -> io::Result<()> {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: a plain system call on a descriptor we own for the call's duration; it touches no
    // memory of ours. Neither nix nor rustix wraps it.
    let result = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, flags) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Writes `data` through a shared mapping of `file`, with `msync(MS_SYNC)` if `sync`, then
/// unmaps it.
#[allow(unsafe_code)]
fn write_mapped(file: &File, data: &[u8], sync: bool) -> io::Result<()> {
    use nix::sys::mman::{MapFlags, MsFlags, ProtFlags, mmap, msync, munmap};
    let length = NonZeroUsize::new(data.len()).ok_or_else(|| io::Error::other("empty data"))?;
    // SAFETY: a new shared mapping of a file only this process uses; nothing else aliases it.
    let mapping = unsafe {
        mmap(
            None,
            length,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
            file,
            0,
        )
    }?;
    // SAFETY: the mapping is `length` bytes, readable and writable, and alive until `munmap`
    // below; the slice does not outlive it.
    unsafe {
        std::slice::from_raw_parts_mut(mapping.as_ptr().cast::<u8>(), data.len())
            .copy_from_slice(data);
    }
    // SAFETY: the same mapping, still mapped.
    let synced = if sync {
        unsafe { msync(mapping, data.len(), MsFlags::MS_SYNC) }
    } else {
        Ok(())
    };
    // SAFETY: the mapping from above, no longer referenced.
    unsafe { munmap(mapping, data.len()) }?;
    synced.map_err(io::Error::from)
}

/// What one probe's file held after the cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Kept,
    Lost(String),
    /// The kind of write is not possible on this mount (mmap refused).
    Unsupported(String),
}

/// The outcome of one probe in one run.
pub struct ProbeResult {
    pub mode: &'static str,
    pub write_back: bool,
    pub expected: Expect,
    pub found: Found,
}

impl ProbeResult {
    pub fn passed(&self) -> bool {
        matches!(
            (&self.found, self.expected),
            (Found::Kept, Expect::Kept)
                | (Found::Lost(_), Expect::Lost)
                | (Found::Unsupported(_), _)
        )
    }
}

fn inspect(file: &Path) -> Found {
    match fs::read(file) {
        Ok(bytes) if bytes == pattern() => Found::Kept,
        Ok(bytes) if bytes.iter().all(|&byte| byte == 0) => {
            Found::Lost(format!("{} bytes, all zero", bytes.len()))
        }
        Ok(bytes) => Found::Lost(format!("{} bytes, not the pattern", bytes.len())),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Found::Lost("no file".to_owned()),
        Err(error) => Found::Lost(format!("unreadable: {error}")),
    }
}

/// Runs every probe at once under one mount, cuts the power (or, with `write_back`, only kills),
/// and reads the backing files.
fn run_once(work: &Path, write_back: bool) -> Result<Vec<ProbeResult>, String> {
    let name = if write_back {
        "crash-only"
    } else {
        "power-cut"
    };
    let backing = work.join(format!("selftest-{name}"));
    let mountpoint = work.join(format!("selftest-{name}.mnt"));
    for dir in [&backing, &mountpoint] {
        fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    }
    let mounted = Mounted::mount(&backing, &mountpoint).map_err(|error| error.to_string())?;
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let mut running: Vec<(&'static str, Running)> = Vec::new();
    for (mode, _) in PROBES {
        let mut command = Command::new(&exe);
        command
            .arg("probe")
            .arg(mode)
            .arg(mountpoint.join(format!("{mode}.bin")))
            .current_dir(work);
        let child = Running::spawn(command, Some(DONE)).map_err(|error| error.to_string())?;
        running.push((mode, child));
    }
    let mut unsupported: Vec<(&str, String)> = Vec::new();
    let mut finished = Vec::new();
    for (mode, mut child) in running {
        let done = child.wait_for_marker(Duration::from_secs(30));
        let outcome = child.kill();
        if !done {
            if outcome.status.code() == Some(UNSUPPORTED) {
                unsupported.push((mode, outcome.stderr_tail()));
                continue;
            }
            return Err(format!(
                "probe {mode} did not finish its write: {}",
                outcome.stderr_tail()
            ));
        }
        finished.push(mode);
    }
    mounted.cut(write_back).map_err(|error| error.to_string())?;
    let mut results = Vec::new();
    for (mode, expected) in PROBES {
        let found = match unsupported.iter().find(|(name, _)| *name == mode) {
            Some((_, why)) => Found::Unsupported(why.clone()),
            None => inspect(&backing.join(format!("{mode}.bin"))),
        };
        debug_assert!(finished.contains(&mode) || matches!(found, Found::Unsupported(_)));
        results.push(ProbeResult {
            mode,
            write_back,
            // Without the cut nothing is thrown away, so every write must be there.
            expected: if write_back { Expect::Kept } else { expected },
            found,
        });
    }
    Ok(results)
}

/// The self-test: every probe under a power cut, then under a crash only.
pub fn self_test(work: &Path) -> Result<Vec<ProbeResult>, String> {
    let mut results = run_once(work, false)?;
    results.extend(run_once(work, true)?);
    Ok(results)
}

/// One line of the self-test's report.
pub fn describe(result: &ProbeResult) -> String {
    let found = match &result.found {
        Found::Kept => "kept".to_owned(),
        Found::Lost(how) => format!("lost ({how})"),
        Found::Unsupported(why) => format!("unsupported ({why})"),
    };
    format!(
        "{:<19} {:<10} expected {:<4} found {found}{}",
        result.mode,
        if result.write_back {
            "crash-only"
        } else {
            "power cut"
        },
        match result.expected {
            Expect::Kept => "kept",
            Expect::Lost => "lost",
        },
        if result.passed() { "" } else { "  <-- WRONG" }
    )
}
