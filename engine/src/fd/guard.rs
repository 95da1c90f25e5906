//! `FdGuard`: one reference to an [`Fd`](super::Fd)'s descriptor, lent out as
//! a `BorrowedFd` for synchronous system calls. While a guard lives, the
//! descriptor stays open and its number cannot be reused.

use crate::fd::descriptor::Lease;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// A reference to an [`Fd`](super::Fd)'s descriptor, from
/// [`Fd::incref`](super::Fd::incref) until the guard is dropped.
///
/// The descriptor is open, and is the very one the [`Fd`](super::Fd)
/// adopted, for as long as the guard lives: `close` waits for every guard to
/// go before it closes the number, and a dropped [`Fd`](super::Fd) is closed
/// by whichever guard goes last. So the [`BorrowedFd`] it lends may be used
/// for any system call (an `ioctl`, a `bpf` map lookup, `fstat`) without a
/// concurrent `close` ever making that call act on a different file that was
/// given the same number.
///
/// A guard is `Send` and `Sync` and does not borrow the [`Fd`](super::Fd):
/// move it to another thread, or keep it after the handle is dropped. Do not
/// hold one across `close().await` on the same task: that `close` waits for
/// it, forever.
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// let fd = ringio::fd::Fd::new(std::fs::File::open("/dev/null")?.into());
/// let guard = fd.incref()?;
/// let stat = rustix::fs::fstat(guard.as_fd())?;
/// assert_eq!(rustix::fs::FileType::from_raw_mode(stat.st_mode), rustix::fs::FileType::CharacterDevice);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct FdGuard {
    r: Lease,
}

impl FdGuard {
    pub(super) fn new(r: Lease) -> FdGuard {
        FdGuard { r }
    }

    /// The descriptor number, valid (and this descriptor's) while the guard lives.
    ///
    /// # Examples
    ///
    /// ```
    /// let fd = ringio::fd::Fd::new(std::fs::File::open("/dev/null")?.into());
    /// assert_eq!(fd.incref()?.raw(), fd.raw());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn raw(&self) -> RawFd {
        self.r.raw()
    }
}

impl AsFd for FdGuard {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.r.borrow()
    }
}

impl AsRawFd for FdGuard {
    fn as_raw_fd(&self) -> RawFd {
        self.r.raw()
    }
}

impl fmt::Debug for FdGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdGuard").field("raw", &self.r.raw()).finish()
    }
}
