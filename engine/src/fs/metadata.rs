//! `Metadata`: what `statx` reports about a file.

use std::time::{Duration, SystemTime};

/// File metadata from `statx(2)`.
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
    raw: libc::statx,
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metadata")
            .field("len", &self.len())
            .field("mode", &format_args!("{:o}", self.mode()))
            .finish()
    }
}

impl Metadata {
    pub(crate) fn new(raw: libc::statx) -> Self {
        Metadata { raw }
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.raw.stx_size
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Type and permission bits (`st_mode`).
    pub fn mode(&self) -> u32 {
        u32::from(self.raw.stx_mode)
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.mode() & libc::S_IFMT == libc::S_IFREG
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.mode() & libc::S_IFMT == libc::S_IFDIR
    }

    /// Inode number.
    pub fn ino(&self) -> u64 {
        self.raw.stx_ino
    }

    /// Preferred I/O block size.
    pub fn blksize(&self) -> u32 {
        self.raw.stx_blksize
    }

    /// Last modification time.
    pub fn modified(&self) -> SystemTime {
        let t = self.raw.stx_mtime;
        SystemTime::UNIX_EPOCH + Duration::new(t.tv_sec as u64, t.tv_nsec)
    }
}
