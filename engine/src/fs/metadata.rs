//! `Metadata`: what `statx` reports about a file.

use std::time::{Duration, SystemTime};

/// File metadata from `statx(2)` (or `fstat(2)` where there is no statx).
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let f = ringio::fs::File::open("/etc/hostname").await?;
///     let m = f.metadata().await?;
///     assert!(m.is_file());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Metadata {
    raw: crate::op::statx::RawStat,
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metadata")
            .field("len", &self.len())
            .field("mode", &format_args!("{:o}", self.mode()))
            .finish()
    }
}

// `mode_t` is `u32` on Linux and `u16` on Apple platforms.
#[allow(clippy::unnecessary_cast)]
const S_IFMT: u32 = libc::S_IFMT as u32;
#[allow(clippy::unnecessary_cast)]
const S_IFREG: u32 = libc::S_IFREG as u32;
#[allow(clippy::unnecessary_cast)]
const S_IFDIR: u32 = libc::S_IFDIR as u32;
#[allow(clippy::unnecessary_cast)]
const S_IFLNK: u32 = libc::S_IFLNK as u32;
#[allow(clippy::unnecessary_cast)]
const S_IFBLK: u32 = libc::S_IFBLK as u32;

impl Metadata {
    pub(crate) fn new(raw: crate::op::statx::RawStat) -> Self {
        Metadata { raw }
    }

    pub(crate) fn raw(&self) -> &crate::op::statx::RawStat {
        &self.raw
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.raw.len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Type and permission bits (`st_mode`).
    pub fn mode(&self) -> u32 {
        self.raw.mode
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.mode() & S_IFMT == S_IFREG
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.mode() & S_IFMT == S_IFDIR
    }

    /// A symbolic link (only [`symlink_metadata`](super::symlink_metadata)
    /// reports one; everything else follows links).
    pub fn is_symlink(&self) -> bool {
        self.mode() & S_IFMT == S_IFLNK
    }

    /// A block device.
    pub fn is_block_device(&self) -> bool {
        self.mode() & S_IFMT == S_IFBLK
    }

    /// Permission bits (`mode & 0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode() & 0o7777
    }

    /// Direct-I/O alignment as `statx(STATX_DIOALIGN)` (Linux 6.1) reports
    /// it: `(memory, offset)`, `(0, 0)` for a file without direct I/O, `None`
    /// where the kernel or filesystem does not say. See
    /// [`File::dio_alignment`](super::File::dio_alignment) for the fallback.
    pub fn dio_alignment(&self) -> Option<(u32, u32)> {
        self.raw.dio_align
    }

    /// Inode number.
    pub fn ino(&self) -> u64 {
        self.raw.ino
    }

    /// Preferred I/O block size.
    pub fn blksize(&self) -> u32 {
        self.raw.blksize
    }

    /// Last modification time.
    pub fn modified(&self) -> SystemTime {
        let offset = Duration::new(self.raw.mtime_sec.unsigned_abs(), self.raw.mtime_nsec);
        if self.raw.mtime_sec >= 0 {
            SystemTime::UNIX_EPOCH + offset
        } else {
            SystemTime::UNIX_EPOCH - offset
        }
    }
}
