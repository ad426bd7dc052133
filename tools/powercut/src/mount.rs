//! Mounting the overlay filesystem on a directory, and the power cut that ends a mount.

use std::io;
use std::path::{Path, PathBuf};

use fuser::{BackgroundSession, Config, MountOption};

use crate::overlay::{Discarded, Overlay, OverlayFs, Stats};

/// The overlay filesystem mounted over a backing directory, served by threads of this process.
pub struct Mounted {
    overlay: Overlay,
    session: Option<BackgroundSession>,
    mountpoint: PathBuf,
}

impl Mounted {
    /// Mounts a fresh overlay (nothing unsynced) of `backing` on `mountpoint`. As root, fuser
    /// mounts with mount(2) itself; the error says why when `/dev/fuse` or the permission is
    /// missing.
    pub fn mount(backing: &Path, mountpoint: &Path) -> io::Result<Self> {
        let overlay = Overlay::new(backing);
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("powercut".to_owned()),
            MountOption::Subtype("powercut".to_owned()),
            MountOption::DefaultPermissions,
        ];
        // Two threads: sled appends from one thread while the store syncs from another.
        config.n_threads = Some(2);
        let session = fuser::spawn_mount(OverlayFs::new(overlay.clone()), mountpoint, &config)
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!(
                        "cannot mount the FUSE overlay on {}: {error}",
                        mountpoint.display()
                    ),
                )
            })?;
        Ok(Mounted {
            overlay,
            session: Some(session),
            mountpoint: mountpoint.to_path_buf(),
        })
    }

    pub fn stats(&self) -> Stats {
        self.overlay.stats()
    }

    /// See [`Overlay::fail_after_writes`].
    pub fn fail_after_writes(&self, writes: u64, writer: nix::unistd::Pid) {
        self.overlay.fail_after_writes(writes, writer);
    }

    pub fn tripped(&self) -> bool {
        self.overlay.tripped()
    }

    /// The power cut, once every writer is dead: throws every unsynced write away (or with
    /// `write_back`, keeps them, for a crash-only control run), then unmounts. The backing
    /// directory then holds exactly what a disk would after the cut.
    pub fn cut(mut self, write_back: bool) -> io::Result<Vec<Discarded>> {
        let discarded = self.overlay.cut(write_back);
        self.unmount()?;
        Ok(discarded)
    }

    fn unmount(&mut self) -> io::Result<()> {
        match self.session.take() {
            Some(session) => session.umount_and_join().map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot unmount {}: {error}", self.mountpoint.display()),
                )
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // Even on an early return or a panic nothing unsynced may leak to the backing directory,
        // and the mount point must not be left behind.
        self.overlay.cut(false);
        let _ = self.unmount();
    }
}
