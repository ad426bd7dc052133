//! A FUSE pass-through filesystem over a backing directory whose file *contents* behave like a
//! page cache that is lost at a power cut.
//!
//! The model (see RELIABILITY.md, "Power loss"):
//! - Every write to a file goes to a volatile overlay of 4 KiB pages kept per file, not to the
//!   backing file. Reads see the overlay over the backing file. Only an `fsync` or `fdatasync`
//!   of that file (the FUSE `FSYNC` request, from any descriptor of it) writes its overlay to the
//!   backing file. A `close` is not a sync; `sync_file_range` sends nothing to a FUSE
//!   filesystem in direct-I/O mode, so it syncs nothing here either.
//! - Metadata operations (create, mkdir, rename, unlink, rmdir, truncate, chmod, chown, utimes)
//!   are applied to the backing directory at once: they are durable as soon as they return. This
//!   is lenient: a real filesystem may lose a creation or a rename whose directory was not
//!   synced, and this model cannot show that.
//! - Every file is opened with `FOPEN_DIRECT_IO`, so the kernel keeps no page cache of its own
//!   that could hide writes from us; shared `mmap` is allowed through
//!   `FUSE_DIRECT_IO_ALLOW_MMAP`, and the pages it dirties reach us as writes on writeback (at
//!   `msync` or `close`), into the overlay like any other write.
//!
//! A power cut is [`Overlay::cut`]: every overlay is thrown away (or, for a "process crash only"
//! control run, written back as an operating system that survived would), and from then on the
//! filesystem refuses every write and sync with `EIO`, until it is unmounted. The driver then
//! inspects the backing directory without FUSE.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request,
    TimeOrNow, WriteFlags,
};

/// The overlay's granularity, the page size of the machines this runs on.
const PAGE: u64 = 4096;

/// Attributes and entries are not cached by the kernel: sizes change with overlay writes and
/// truncations that the kernel should always ask us about.
const TTL: Duration = Duration::ZERO;

const ROOT: u64 = 1;

/// What a cut did to one file: its path under the backing directory and the bytes of unsynced
/// writes it held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discarded {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Counters of what went through the filesystem, to show that the workload really wrote through
/// it and synced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub writes: u64,
    pub bytes_written: u64,
    pub fsyncs: u64,
    pub bytes_synced: u64,
}

/// The state shared by the mounted filesystem and the driver that cuts its power.
#[derive(Clone)]
pub struct Overlay {
    state: Arc<Mutex<State>>,
}

/// The unsynced contents of one file: dirty pages and the size the file has with them.
#[derive(Default)]
struct Dirty {
    pages: BTreeMap<u64, Box<[u8]>>,
    /// Never smaller than the backing file: truncation is applied to both at once, and only a
    /// sync grows the backing file.
    size: u64,
}

impl Dirty {
    fn bytes(&self) -> u64 {
        self.pages.len() as u64 * PAGE
    }
}

struct Node {
    /// Relative to the backing directory; `None` once the name is unlinked or replaced.
    path: Option<PathBuf>,
    parent: u64,
    dirty: Option<Dirty>,
    /// A writable descriptor of the backing file, to write the overlay back on `fsync` (which
    /// may arrive on a read-only descriptor: the store syncs `db` through one).
    writer: Option<Arc<File>>,
}

struct Handle {
    ino: u64,
    file: Arc<File>,
    writable: bool,
}

struct State {
    backing: PathBuf,
    nodes: HashMap<u64, Node>,
    by_path: HashMap<PathBuf, u64>,
    next_ino: u64,
    handles: HashMap<u64, Handle>,
    next_fh: u64,
    /// Set by a cut: the power is off, nothing more reaches the backing directory.
    dead: bool,
    /// Armed by [`Overlay::fail_after_writes`]: writes left before the power fails, and the
    /// writer the failure kills.
    trip: Option<(u64, nix::unistd::Pid)>,
    tripped: bool,
    stats: Stats,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic in one request must not take the others down; the state is only changed by
    // complete assignments under the lock.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn errno(error: &io::Error) -> Errno {
    Errno::from_i32(error.raw_os_error().unwrap_or(libc::EIO))
}

impl Overlay {
    /// A filesystem over `backing`, with nothing dirty yet.
    pub fn new(backing: &Path) -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node {
                path: Some(PathBuf::new()),
                parent: ROOT,
                dirty: None,
                writer: None,
            },
        );
        let mut by_path = HashMap::new();
        by_path.insert(PathBuf::new(), ROOT);
        Overlay {
            state: Arc::new(Mutex::new(State {
                backing: backing.to_path_buf(),
                nodes,
                by_path,
                next_ino: ROOT + 1,
                handles: HashMap::new(),
                next_fh: 1,
                dead: false,
                trip: None,
                tripped: false,
                stats: Stats::default(),
            })),
        }
    }

    /// Cuts the power: throws away every unsynced write (or with `write_back`, writes them to the
    /// backing files, as a process crash with a surviving kernel would) and refuses every later
    /// write and sync. Returns what each file held unsynced.
    pub fn cut(&self, write_back: bool) -> Vec<Discarded> {
        let mut state = lock(&self.state);
        state.dead = true;
        state.trip = None;
        let mut discarded = Vec::new();
        for node in state.nodes.values_mut() {
            if let Some(dirty) = node.dirty.take() {
                if dirty.pages.is_empty() && !write_back {
                    continue;
                }
                discarded.push(Discarded {
                    path: node
                        .path
                        .clone()
                        .unwrap_or_else(|| PathBuf::from("(unlinked)")),
                    bytes: dirty.bytes(),
                });
                if write_back && let Some(writer) = &node.writer {
                    // Best effort, like the kernel's own writeback of a dead process's pages.
                    let _ = write_back_pages(writer, &dirty);
                }
            }
            node.writer = None;
        }
        state.handles.clear();
        discarded.sort_by(|a, b| a.path.cmp(&b.path));
        discarded
    }

    pub fn stats(&self) -> Stats {
        lock(&self.state).stats
    }

    /// Makes the power fail at the `writes`-th write from now (0: the next one): that write and
    /// everything after it fails with `EIO`, and `writer` is SIGKILLed on the spot, so the cut
    /// lands between a write and the sync that would have made it durable, where a cut at a
    /// random instant rarely falls. `writer` must not be reaped before the cut (the driver
    /// reaps its children only after killing them), so its pid cannot have been reused.
    pub fn fail_after_writes(&self, writes: u64, writer: nix::unistd::Pid) {
        lock(&self.state).trip = Some((writes, writer));
    }

    /// Whether an armed failure happened.
    pub fn tripped(&self) -> bool {
        lock(&self.state).tripped
    }
}

/// Writes a file's dirty pages and size to its backing file.
fn write_back_pages(file: &File, dirty: &Dirty) -> io::Result<u64> {
    let mut written = 0;
    for (&page, bytes) in &dirty.pages {
        let start = page * PAGE;
        if start >= dirty.size {
            continue;
        }
        let length = (dirty.size - start).min(PAGE) as usize;
        file.write_all_at(&bytes[..length], start)?;
        written += length as u64;
    }
    if file.metadata()?.len() != dirty.size {
        file.set_len(dirty.size)?;
    }
    Ok(written)
}

/// Reads `buffer.len()` bytes at `offset`, leaving zeros past the end of the file.
fn read_fully_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buffer.len() {
        match file.read_at(&mut buffer[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(read) => done += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

fn system_time(seconds: i64, nanos: i64) -> SystemTime {
    let nanos = u32::try_from(nanos).unwrap_or(0);
    match u64::try_from(seconds) {
        Ok(seconds) => UNIX_EPOCH + Duration::new(seconds, nanos),
        Err(_) => UNIX_EPOCH,
    }
}

fn kind_of(metadata: &fs::Metadata) -> FileType {
    FileType::from_std(metadata.file_type()).unwrap_or(FileType::RegularFile)
}

impl State {
    fn full(&self, relative: &Path) -> PathBuf {
        self.backing.join(relative)
    }

    fn path_of(&self, ino: u64) -> Result<PathBuf, Errno> {
        self.nodes
            .get(&ino)
            .and_then(|node| node.path.clone())
            .ok_or(Errno::ENOENT)
    }

    /// The inode number of a relative path, the same one for as long as the name exists, so that
    /// a file's overlay is found again after the kernel forgets the inode.
    fn intern(&mut self, relative: PathBuf, parent: u64) -> u64 {
        if let Some(&ino) = self.by_path.get(&relative) {
            return ino;
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.by_path.insert(relative.clone(), ino);
        self.nodes.insert(
            ino,
            Node {
                path: Some(relative),
                parent,
                dirty: None,
                writer: None,
            },
        );
        ino
    }

    /// Forgets the name `relative`: the node lives on (open descriptors still reach it) but a new
    /// file of that name gets a new inode.
    fn unname(&mut self, relative: &Path) {
        if let Some(ino) = self.by_path.remove(relative)
            && let Some(node) = self.nodes.get_mut(&ino)
        {
            node.path = None;
        }
    }

    fn child(&self, parent: u64, name: &OsStr) -> Result<PathBuf, Errno> {
        Ok(self.path_of(parent)?.join(name))
    }

    /// The attributes of `ino` from `metadata`, with the size the overlay gives it.
    fn attr(&self, ino: u64, metadata: &fs::Metadata) -> FileAttr {
        let size = self
            .nodes
            .get(&ino)
            .and_then(|node| node.dirty.as_ref())
            .map_or(metadata.len(), |dirty| dirty.size);
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: metadata.blocks().max(size.div_ceil(512)),
            atime: system_time(metadata.atime(), metadata.atime_nsec()),
            mtime: system_time(metadata.mtime(), metadata.mtime_nsec()),
            ctime: system_time(metadata.ctime(), metadata.ctime_nsec()),
            crtime: UNIX_EPOCH,
            kind: kind_of(metadata),
            perm: (metadata.mode() & 0o7777) as u16,
            nlink: metadata.nlink() as u32,
            uid: metadata.uid(),
            gid: metadata.gid(),
            rdev: metadata.rdev() as u32,
            blksize: PAGE as u32,
            flags: 0,
        }
    }

    /// The metadata of `ino`: from the descriptor `fh` if given (it works for unlinked files
    /// too), else from its path.
    fn metadata(&self, ino: u64, fh: Option<u64>) -> Result<fs::Metadata, Errno> {
        let handle = fh.and_then(|fh| self.handles.get(&fh)).or_else(|| {
            self.handles
                .values()
                .find(|handle| handle.ino == ino && self.path_of(ino).is_err())
        });
        match handle {
            Some(handle) => handle.file.metadata().map_err(|error| errno(&error)),
            None => {
                fs::symlink_metadata(self.full(&self.path_of(ino)?)).map_err(|error| errno(&error))
            }
        }
    }

    fn add_handle(&mut self, ino: u64, file: File, writable: bool) -> u64 {
        let fh = self.next_fh;
        self.next_fh += 1;
        let file = Arc::new(file);
        if writable && let Some(node) = self.nodes.get_mut(&ino) {
            node.writer.get_or_insert_with(|| file.clone());
        }
        self.handles.insert(
            fh,
            Handle {
                ino,
                file,
                writable,
            },
        );
        fh
    }

    fn read(&self, ino: u64, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let handle = self.handles.get(&fh).ok_or(Errno::EBADF)?;
        let dirty = self.nodes.get(&ino).and_then(|node| node.dirty.as_ref());
        let length = match dirty {
            Some(dirty) => dirty.size,
            None => handle.file.metadata().map_err(|error| errno(&error))?.len(),
        };
        if offset >= length {
            return Ok(Vec::new());
        }
        let count = (length - offset).min(u64::from(size)) as usize;
        let mut buffer = vec![0; count];
        read_fully_at(&handle.file, &mut buffer, offset).map_err(|error| errno(&error))?;
        if let Some(dirty) = dirty {
            let end = offset + count as u64;
            for (&page, bytes) in dirty.pages.range(offset / PAGE..end.div_ceil(PAGE)) {
                let start = page * PAGE;
                let from = start.max(offset);
                let to = (start + PAGE).min(end);
                buffer[(from - offset) as usize..(to - offset) as usize]
                    .copy_from_slice(&bytes[(from - start) as usize..(to - start) as usize]);
            }
        }
        Ok(buffer)
    }

    fn write(&mut self, ino: u64, fh: u64, offset: u64, data: &[u8]) -> Result<(), Errno> {
        if let Some((left, writer)) = self.trip {
            if left == 0 {
                self.trip = None;
                self.tripped = true;
                self.dead = true;
                let _ = nix::sys::signal::kill(writer, nix::sys::signal::Signal::SIGKILL);
            } else {
                self.trip = Some((left - 1, writer));
            }
        }
        if self.dead {
            return Err(Errno::EIO);
        }
        let handle = self.handles.get(&fh).ok_or(Errno::EBADF)?;
        if !handle.writable {
            return Err(Errno::EBADF);
        }
        let file = handle.file.clone();
        let node = self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        node.writer.get_or_insert_with(|| file.clone());
        if node.dirty.is_none() {
            let size = file.metadata().map_err(|error| errno(&error))?.len();
            node.dirty = Some(Dirty {
                pages: BTreeMap::new(),
                size,
            });
        }
        let dirty = node.dirty.as_mut().ok_or(Errno::EIO)?;
        let end = offset + data.len() as u64;
        let mut position = offset;
        while position < end {
            let page = position / PAGE;
            let start = page * PAGE;
            if !dirty.pages.contains_key(&page) {
                // A page written for the first time starts as what the file holds now.
                let mut bytes = vec![0; PAGE as usize].into_boxed_slice();
                if start < dirty.size {
                    let valid = (dirty.size - start).min(PAGE) as usize;
                    read_fully_at(&file, &mut bytes[..valid], start)
                        .map_err(|error| errno(&error))?;
                }
                dirty.pages.insert(page, bytes);
            }
            let bytes = dirty.pages.get_mut(&page).ok_or(Errno::EIO)?;
            let within = (position - start) as usize;
            let count = (PAGE as usize - within).min((end - position) as usize);
            let from = (position - offset) as usize;
            bytes[within..within + count].copy_from_slice(&data[from..from + count]);
            position += count as u64;
        }
        dirty.size = dirty.size.max(end);
        self.stats.writes += 1;
        self.stats.bytes_written += data.len() as u64;
        Ok(())
    }

    /// Makes a file's unsynced writes durable: the only way anything written reaches the backing
    /// file.
    fn fsync(&mut self, ino: u64) -> Result<(), Errno> {
        if self.dead {
            return Err(Errno::EIO);
        }
        let node = self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        let Some(dirty) = node.dirty.take() else {
            self.stats.fsyncs += 1;
            return Ok(());
        };
        let Some(writer) = node.writer.clone() else {
            node.dirty = Some(dirty);
            return Err(Errno::EBADF);
        };
        match write_back_pages(&writer, &dirty) {
            Ok(written) => {
                self.stats.fsyncs += 1;
                self.stats.bytes_synced += written;
                Ok(())
            }
            Err(error) => {
                node.dirty = Some(dirty);
                Err(errno(&error))
            }
        }
    }

    /// Truncates at once (a metadata operation), and cuts the overlay to the new size.
    fn truncate(&mut self, ino: u64, fh: Option<u64>, size: u64) -> Result<(), Errno> {
        let file = match fh.and_then(|fh| self.handles.get(&fh)) {
            Some(handle) if handle.writable => handle.file.clone(),
            _ => Arc::new(
                OpenOptions::new()
                    .write(true)
                    .open(self.full(&self.path_of(ino)?))
                    .map_err(|error| errno(&error))?,
            ),
        };
        file.set_len(size).map_err(|error| errno(&error))?;
        if let Some(dirty) = self
            .nodes
            .get_mut(&ino)
            .and_then(|node| node.dirty.as_mut())
        {
            dirty.pages.retain(|&page, _| page * PAGE < size);
            let boundary = size / PAGE;
            if let Some(bytes) = dirty.pages.get_mut(&boundary) {
                let keep = (size - boundary * PAGE) as usize;
                bytes[keep..].fill(0);
            }
            dirty.size = size;
        }
        Ok(())
    }

    fn rename(
        &mut self,
        from: PathBuf,
        to: PathBuf,
        to_parent: u64,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return Err(Errno::EINVAL);
        }
        if flags.contains(RenameFlags::RENAME_NOREPLACE)
            && fs::symlink_metadata(self.full(&to)).is_ok()
        {
            return Err(Errno::EEXIST);
        }
        fs::rename(self.full(&from), self.full(&to)).map_err(|error| errno(&error))?;
        self.unname(&to);
        // The renamed node and everything under it (a directory) move to the new name.
        let moved: Vec<(PathBuf, u64)> = self
            .by_path
            .iter()
            .filter(|(path, _)| path.starts_with(&from))
            .map(|(path, &ino)| (path.clone(), ino))
            .collect();
        for (old, ino) in moved {
            let suffix = old.strip_prefix(&from).unwrap_or(Path::new(""));
            let new = if suffix.as_os_str().is_empty() {
                to.clone()
            } else {
                to.join(suffix)
            };
            self.by_path.remove(&old);
            self.by_path.insert(new.clone(), ino);
            if let Some(node) = self.nodes.get_mut(&ino) {
                if old == from {
                    node.parent = to_parent;
                }
                node.path = Some(new);
            }
        }
        Ok(())
    }
}

/// The mounted side of an [`Overlay`].
pub struct OverlayFs {
    overlay: Overlay,
}

impl OverlayFs {
    pub fn new(overlay: Overlay) -> Self {
        OverlayFs { overlay }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.overlay.state)
    }

    fn entry(&self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        let mut state = self.state();
        let relative = state.child(parent, name)?;
        let metadata =
            fs::symlink_metadata(state.full(&relative)).map_err(|error| errno(&error))?;
        let ino = state.intern(relative, parent);
        Ok(state.attr(ino, &metadata))
    }
}

fn open_options(flags: i32) -> (OpenOptions, bool) {
    let writable = !matches!(OpenFlags(flags).acc_mode(), OpenAccMode::O_RDONLY);
    let mut options = OpenOptions::new();
    // Always readable: a partial page written for the first time is read from the backing file.
    options.read(true).write(writable);
    (options, writable)
}

impl Filesystem for OverlayFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // Without it the kernel refuses shared mmap of direct-I/O files; an older kernel that
        // lacks it just makes the mmap probe report that mmap is unsupported.
        let _ = config.add_capabilities(InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.entry(parent.0, name) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(error) => reply.error(error),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let state = self.state();
        match state.metadata(ino.0, fh.map(|fh| fh.0)) {
            Ok(metadata) => reply.attr(&TTL, &state.attr(ino.0, &metadata)),
            Err(error) => reply.error(error),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut state = self.state();
        let ino = ino.0;
        let fh = fh.map(|fh| fh.0);
        let result = (|| -> Result<FileAttr, Errno> {
            if let Some(size) = size {
                state.truncate(ino, fh, size)?;
            }
            let full = state.path_of(ino).map(|relative| state.full(&relative));
            if let Some(mode) = mode {
                fs::set_permissions(full.clone()?, fs::Permissions::from_mode(mode & 0o7777))
                    .map_err(|error| errno(&error))?;
            }
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::lchown(full.clone()?, uid, gid)
                    .map_err(|error| errno(&error))?;
            }
            if atime.is_some() || mtime.is_some() {
                let resolve = |time: TimeOrNow| match time {
                    TimeOrNow::SpecificTime(time) => time,
                    TimeOrNow::Now => SystemTime::now(),
                };
                let mut times = fs::FileTimes::new();
                if let Some(atime) = atime {
                    times = times.set_accessed(resolve(atime));
                }
                if let Some(mtime) = mtime {
                    times = times.set_modified(resolve(mtime));
                }
                File::open(full?)
                    .and_then(|file| file.set_times(times))
                    .map_err(|error| errno(&error))?;
            }
            let metadata = state.metadata(ino, fh)?;
            Ok(state.attr(ino, &metadata))
        })();
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(error) => reply.error(error),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let created = {
            let state = self.state();
            state.child(parent.0, name).and_then(|relative| {
                fs::DirBuilder::new()
                    .mode(mode & !umask & 0o7777)
                    .create(state.full(&relative))
                    .map_err(|error| errno(&error))
            })
        };
        match created.and_then(|()| self.entry(parent.0, name)) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(error) => reply.error(error),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.state();
        let result = state.child(parent.0, name).and_then(|relative| {
            fs::remove_file(state.full(&relative)).map_err(|error| errno(&error))?;
            state.unname(&relative);
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.state();
        let result = state.child(parent.0, name).and_then(|relative| {
            fs::remove_dir(state.full(&relative)).map_err(|error| errno(&error))?;
            state.unname(&relative);
            Ok(())
        });
        match result {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        let result = state.child(parent.0, name).and_then(|from| {
            let to = state.child(newparent.0, newname)?;
            state.rename(from, to, newparent.0, flags)
        });
        match result {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut state = self.state();
        let (options, writable) = open_options(flags.0);
        let opened = state
            .path_of(ino.0)
            .and_then(|relative| {
                options
                    .open(state.full(&relative))
                    .map_err(|error| errno(&error))
            })
            .and_then(|file| {
                if flags.0 & libc::O_TRUNC != 0 && writable {
                    state.truncate(ino.0, None, 0)?;
                }
                Ok(file)
            });
        match opened {
            Ok(file) => {
                let fh = state.add_handle(ino.0, file, writable);
                reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
            }
            Err(error) => reply.error(error),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut state = self.state();
        let result = (|| -> Result<(FileAttr, u64), Errno> {
            let relative = state.child(parent.0, name)?;
            let (mut options, writable) = open_options(flags);
            if flags & libc::O_EXCL != 0 {
                options.create_new(true);
            } else {
                options.create(true);
            }
            // Creation needs write access to the new file even for O_RDONLY|O_CREAT.
            options.write(true).mode(mode & !umask & 0o7777);
            let file = options
                .open(state.full(&relative))
                .map_err(|error| errno(&error))?;
            let ino = state.intern(relative, parent.0);
            if flags & libc::O_TRUNC != 0 {
                file.set_len(0).map_err(|error| errno(&error))?;
                if let Some(node) = state.nodes.get_mut(&ino) {
                    node.dirty = None;
                }
            }
            let metadata = file.metadata().map_err(|error| errno(&error))?;
            let fh = state.add_handle(ino, file, writable || flags & libc::O_TRUNC != 0);
            Ok((state.attr(ino, &metadata), fh))
        })();
        match result {
            Ok((attr, fh)) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(error) => reply.error(error),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.state().read(ino.0, fh.0, offset, size) {
            Ok(data) => reply.data(&data),
            Err(error) => reply.error(error),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.state().write(ino.0, fh.0, offset, data) {
            Ok(()) => reply.written(data.len() as u32),
            Err(error) => reply.error(error),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) is not a sync: the overlay stays.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        // The node keeps its own writable descriptor for a later fsync through another one.
        self.state().handles.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.state().fsync(ino.0) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut state = self.state();
        let listed = state.path_of(ino.0).and_then(|relative| {
            let mut names: Vec<(PathBuf, FileType)> = fs::read_dir(state.full(&relative))
                .map_err(|error| errno(&error))?
                .filter_map(Result::ok)
                .map(|entry| {
                    let kind = entry
                        .file_type()
                        .ok()
                        .and_then(FileType::from_std)
                        .unwrap_or(FileType::RegularFile);
                    (relative.join(entry.file_name()), kind)
                })
                .collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(names)
        });
        let names = match listed {
            Ok(names) => names,
            Err(error) => return reply.error(error),
        };
        let parent = state.nodes.get(&ino.0).map_or(ROOT, |node| node.parent);
        let mut entries = vec![
            (ino.0, FileType::Directory, OsStr::new(".").to_owned()),
            (parent, FileType::Directory, OsStr::new("..").to_owned()),
        ];
        for (path, kind) in names {
            let name = path.file_name().map(OsStr::to_owned).unwrap_or_default();
            let child = state.intern(path, ino.0);
            entries.push((child, kind, name));
        }
        for (index, (child, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*child), index as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Directory entries are durable at once in this model, so there is nothing to do.
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Plenty of room: the backing directory's own limits apply to the writes themselves.
        reply.statfs(
            1 << 24,
            1 << 23,
            1 << 23,
            1 << 20,
            1 << 19,
            PAGE as u32,
            255,
            PAGE as u32,
        );
    }
}
