//! Direct I/O alignment: what `O_DIRECT` requires of a buffer's address, a
//! transfer's length and a file offset, where that comes from, and the check
//! every read and write on a direct [`File`](super::File) makes before it is
//! submitted, so a misaligned request is a clear `InvalidInput`, not the
//! kernel's bare `EINVAL`.
//!
//! Where the numbers come from, in order:
//! 1. `statx(STATX_DIOALIGN)` (Linux 6.1): `stx_dio_mem_align` and
//!    `stx_dio_offset_align`, as the filesystem reports them for this file.
//!    Both zero means the file does not support direct I/O at all.
//! 2. Otherwise (older kernels, filesystems that do not report it, other
//!    platforms): for a block device its logical block size (`BLKSSZGET`),
//!    for anything else `st_blksize`, for both the memory and the offset
//!    alignment. `st_blksize` is the filesystem's preferred I/O size, on
//!    local filesystems its block size, which is a multiple of the device's
//!    logical block size: stricter than needed, never too loose.

use super::Metadata;
use crate::buf::AlignedBuf;
use std::io;

/// What `O_DIRECT` requires of I/O on one file.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let f = ringio::fs::OpenOptions::new().read(true).direct(true).open("/var/tmp/data").await?;
///     let align = f.dio_alignment().await?;
///     let buf = align.buf(64 * 1024)?; // an AlignedBuf fit for this file
///     let (n, buf) = f.read_at(buf, 0).await;
///     println!("read {} bytes; memory alignment {}", n?, align.memory());
///     # drop(buf);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DioAlignment {
    memory: u32,
    offset: u32,
    from_statx: bool,
}

impl DioAlignment {
    /// The alignment `meta` implies (see the module docs for the order of sources).
    ///
    /// # Errors
    ///
    /// `Unsupported` when `statx` says the file does not support direct I/O.
    pub(crate) fn from_metadata(meta: &Metadata, blkdev_block: impl FnOnce() -> Option<u32>) -> io::Result<Self> {
        match meta.raw().dio_align {
            Some((0, _)) | Some((_, 0)) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this file does not support direct I/O (statx STATX_DIOALIGN reports no alignment)",
            )),
            Some((memory, offset)) => Ok(DioAlignment {
                memory,
                offset,
                from_statx: true,
            }),
            None => {
                let block = if meta.is_block_device() { blkdev_block() } else { None };
                let size = block.unwrap_or(meta.blksize()).max(512);
                Ok(DioAlignment {
                    memory: size,
                    offset: size,
                    from_statx: false,
                })
            }
        }
    }

    /// Required alignment of a buffer's start address (`stx_dio_mem_align`).
    pub fn memory(&self) -> usize {
        self.memory as usize
    }

    /// Required alignment of file offsets and transfer lengths
    /// (`stx_dio_offset_align`).
    pub fn offset(&self) -> usize {
        self.offset as usize
    }

    /// True when the numbers come from `statx(STATX_DIOALIGN)`, false when
    /// they are the block-size fallback.
    pub fn from_statx(&self) -> bool {
        self.from_statx
    }

    /// `n` rounded up to a multiple of the offset alignment.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(file: &ringio::fs::File) -> std::io::Result<()> {
    /// let align = file.dio_alignment().await?;
    /// assert_eq!(align.round_up(1) as usize, align.offset());
    /// # Ok(()) }
    /// ```
    pub fn round_up(&self, n: u64) -> u64 {
        n.div_ceil(u64::from(self.offset)) * u64::from(self.offset)
    }

    /// An empty [`AlignedBuf`] fit for this file: its address aligned for
    /// memory and its capacity `capacity` rounded up to the offset alignment.
    ///
    /// # Errors
    ///
    /// As for [`AlignedBuf::new`].
    pub fn buf(&self, capacity: usize) -> io::Result<AlignedBuf> {
        let cap = self.round_up(capacity as u64) as usize;
        AlignedBuf::new(cap, self.memory().max(self.offset()))
    }

    /// Checks one transfer before it is submitted.
    pub(crate) fn check(&self, what: &str, addr: usize, len: usize, offset: u64) -> io::Result<()> {
        let (mem, off) = (self.memory(), self.offset());
        let fail = |msg: String| {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("O_DIRECT {what}: {msg}"),
            ))
        };
        if addr % mem != 0 {
            return fail(format!(
                "buffer address {addr:#x} is not a multiple of the required memory alignment {mem} (use ringio::buf::AlignedBuf)"
            ));
        }
        if len % off != 0 {
            return fail(format!(
                "length {len} is not a multiple of the required alignment {off}"
            ));
        }
        if offset % off as u64 != 0 {
            return fail(format!(
                "file offset {offset} is not a multiple of the required alignment {off}"
            ));
        }
        Ok(())
    }

    /// Checks a vectored transfer: every segment, and the offset.
    pub(crate) fn check_segments(
        &self,
        what: &str,
        segments: impl Iterator<Item = (usize, usize)>,
        offset: u64,
    ) -> io::Result<()> {
        let mut any = false;
        for (addr, len) in segments {
            self.check(what, addr, len, offset)?;
            any = true;
        }
        if !any {
            self.check(what, self.memory(), 0, offset)?;
        }
        Ok(())
    }
}

/// The logical block size of the block device `fd` (`BLKSSZGET`).
#[cfg(target_os = "linux")]
pub(crate) fn logical_block_size(fd: std::os::fd::BorrowedFd<'_>) -> Option<u32> {
    rustix::fs::ioctl_blksszget(fd).ok()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn logical_block_size(_fd: std::os::fd::BorrowedFd<'_>) -> Option<u32> {
    None
}
