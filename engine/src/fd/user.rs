//! `Fd`: the public handle for a descriptor the user brings, on the engine's
//! own lifecycle (fd mutex + close protocol of [`descriptor`](super::descriptor)):
//! adoption, guards, close, and what the handle knows about its descriptor.
//! Its operations are in [`io`](super::io).

use super::guard::FdGuard;
use crate::fd::descriptor::Handle;
use crate::sync::event::Event;
use rustix::fs::{FileType, OFlags};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A descriptor shared by tasks and threads, closed only once nobody uses it.
///
/// `Fd` adopts any [`OwnedFd`] (an eBPF map, a device, a socket from another
/// library, a pipe) and puts it under the fd mutex every ringio handle uses:
///
/// * [`incref`](Fd::incref) returns an [`FdGuard`] lending the descriptor
///   until the guard drops; any number of guards may be alive at once, on any
///   threads;
/// * [`close`](Fd::close) makes every new call fail with
///   [`Error::Closed`](crate::Error::Closed), cancels the ring operations in
///   flight, waits until every guard and operation is gone, and only then
///   closes the number, so it can never be reused under a guard. It is
///   idempotent, and concurrent callers all return once the descriptor is
///   really closed;
/// * dropping the `Fd` without `close` does the same without waiting: the
///   descriptor is closed when its last guard or operation goes.
///
/// After closing has begun, [`raw`](Fd::raw) returns -1.
///
/// `Fd` is `Send + Sync`: share it with an `Arc` (or a plain reference in
/// scoped threads) and close it from whichever task or thread is done first.
///
/// The same handle runs operations through the runtime: owned-buffer
/// [`read`](Fd::read) and [`write`](Fd::write), readiness with
/// [`poll`](Fd::poll), and any non-blocking system call with
/// [`async_io`](Fd::async_io). By default its operations name the plain
/// descriptor number; [`Fd::with_fixed_slot`] asks for a slot in the io_uring
/// fixed-file table instead.
///
/// # Examples
///
/// A descriptor used from another thread through a guard, then closed:
///
/// ```
/// use std::os::fd::AsFd;
/// use std::sync::Arc;
///
/// let fd = Arc::new(ringio::fd::Fd::new(std::fs::File::open("/dev/null")?.into()));
/// let guard = fd.incref()?;
/// let user = std::thread::spawn(move || {
///     // The descriptor cannot be closed (nor its number reused) while `guard` lives.
///     rustix::fs::fstat(guard.as_fd()).map(|st| st.st_rdev)
/// });
/// ringio::Runtime::new()?.block_on(fd.close())?; // waits for `guard`
/// assert_eq!(fd.raw(), -1);
/// assert!(ringio::Error::is_closed(&fd.incref().unwrap_err()));
/// user.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Fd {
    pub(super) handle: Handle,
    /// Set when `close` starts, so that each operation of this handle in
    /// flight on a ring cancels itself there, whichever thread closes.
    pub(super) closing: Event,
    /// Pollable (not a regular file or block device): decides how readiness
    /// backends run reads and writes at the file position.
    pub(super) pollable: bool,
}

impl Fd {
    /// Adopts `fd`. Its operations name the plain descriptor number.
    ///
    /// The descriptor's flags are left as they are. For [`read`](Fd::read),
    /// [`write`](Fd::write) and [`async_io`](Fd::async_io) on anything but a
    /// regular file it should be non-blocking (`O_NONBLOCK`), as every
    /// descriptor ringio creates is: io_uring copes with either, but the
    /// readiness backends (epoll, kqueue, event ports) make those calls on
    /// the runtime thread, and refuse a blocking descriptor rather than stall
    /// it (see [`Fd::set_nonblocking`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let (r, _w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK)?;
    /// let fd = ringio::fd::Fd::new(r);
    /// assert!(fd.raw() >= 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(fd: OwnedFd) -> Fd {
        Fd::adopt(fd, false)
    }

    /// Adopts `fd` and registers it in the fixed-file table of the io_uring
    /// runtime that uses it first (at once, if called inside one): its ring
    /// operations then name the slot, which spares the kernel a file-table
    /// lookup per operation (`IOSQE_FIXED_FILE`, Linux 5.1; sparse tables
    /// 5.19). The ring fills the slot with a `FILES_UPDATE` in the next batch
    /// it submits anyway (no syscall of its own); operations submitted before
    /// that completed name the plain number.
    ///
    /// Slots are a per-runtime resource ([`Builder::fixed_files`](crate::Builder::fixed_files)).
    /// Where the table is full, or on a readiness backend, this is the same
    /// as [`Fd::new`]; [`fixed_slot`](Fd::fixed_slot) tells which happened,
    /// once the ring has run.
    ///
    /// A slot can only be released by its ring's own thread, so when the
    /// last guard or operation goes on another thread, the number is closed
    /// (and `close` returns) once that runtime next runs: do not block its
    /// thread waiting for such a `close`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let fd = ringio::fd::Fd::with_fixed_slot(std::fs::File::open("/dev/null")?.into());
    ///     println!("fixed slot: {:?}", fd.fixed_slot());
    ///     fd.close().await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_fixed_slot(fd: OwnedFd) -> Fd {
        Fd::adopt(fd, true)
    }

    pub(crate) fn adopt(fd: OwnedFd, fixed: bool) -> Fd {
        let pollable = match rustix::fs::fstat(&fd) {
            Ok(st) => !matches!(
                FileType::from_raw_mode(st.st_mode),
                FileType::RegularFile | FileType::BlockDevice
            ),
            Err(_) => true,
        };
        Fd {
            handle: Handle::adopt(fd, fixed),
            closing: Event::new(),
            pollable,
        }
    }

    /// Takes a reference to the descriptor: until the returned guard drops,
    /// the descriptor stays open and its number stays this descriptor's.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) once closing has begun;
    /// [`Error::TooManyOperations`](crate::Error::TooManyOperations) past about
    /// a million references.
    ///
    /// # Examples
    ///
    /// ```
    /// let fd = ringio::fd::Fd::new(std::fs::File::open("/dev/null")?.into());
    /// let a = fd.incref()?;
    /// let b = fd.incref()?; // as many as needed, on any thread
    /// assert_eq!(a.raw(), b.raw());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incref(&self) -> io::Result<FdGuard> {
        Ok(FdGuard::new(self.handle.incref()?))
    }

    /// Closes the descriptor once every guard and operation is gone.
    ///
    /// Steps: new calls fail with [`Error::Closed`](crate::Error::Closed)
    /// from now on; this handle's operations in flight are cancelled (they
    /// report `Closed`); then `close` waits until the last guard and the last
    /// operation have gone, and the number is closed (after its fixed slot,
    /// if any, is unregistered). Idempotent: a second call, or a concurrent
    /// one from another task or thread, waits for the same moment and
    /// returns `Ok`. It needs no runtime: any executor may poll it.
    ///
    /// Never await it while the same task holds a guard of this handle: it
    /// would wait for that guard forever.
    ///
    /// # Errors
    ///
    /// None today: `close(2)` errors happen after the descriptor is gone and
    /// are not reported (as with `OwnedFd`'s drop).
    ///
    /// # Examples
    ///
    /// ```
    /// let fd = ringio::fd::Fd::new(std::fs::File::open("/dev/null")?.into());
    /// ringio::Runtime::new()?.block_on(async {
    ///     fd.close().await?;
    ///     fd.close().await // idempotent
    /// })?;
    /// assert_eq!(fd.raw(), -1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn close(&self) -> io::Result<()> {
        // Closed bit first, so a cancelled operation that completes at once
        // already reads as "closed"; then the operations are told.
        self.handle.start_close();
        self.closing.set();
        self.handle.close().await
    }

    /// True once closing has begun (by [`close`](Fd::close) on any thread).
    ///
    /// # Examples
    ///
    /// ```
    /// let fd = ringio::fd::Fd::new(std::fs::File::open("/dev/null")?.into());
    /// assert!(!fd.is_closed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// The descriptor number, or -1 once closing has begun.
    ///
    /// The number is only a name: it is safe to use only under a guard
    /// ([`Fd::incref`]), which keeps it from being closed and reused.
    ///
    /// # Examples
    ///
    /// ```
    /// let fd = ringio::fd::Fd::new(std::fs::File::open("/dev/null")?.into());
    /// assert!(fd.raw() >= 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn raw(&self) -> RawFd {
        self.handle.raw_fd()
    }

    /// The io_uring fixed-file slot the descriptor occupies, if any (see
    /// [`Fd::with_fixed_slot`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let fd = ringio::fd::Fd::new(std::fs::File::open("/dev/null")?.into());
    /// assert_eq!(fd.fixed_slot(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fixed_slot(&self) -> Option<u32> {
        self.handle.fixed_slot()
    }

    /// Sets or clears `O_NONBLOCK` on the descriptor (a flag of the open
    /// file description: duplicates of the descriptor see it too).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed); any `fcntl` error.
    ///
    /// # Examples
    ///
    /// ```
    /// let (r, _w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    /// let fd = ringio::fd::Fd::new(r);
    /// fd.set_nonblocking(true)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.handle.with(|fd| {
            let flags = rustix::fs::fcntl_getfl(fd)?;
            let wanted = if nonblocking {
                flags | OFlags::NONBLOCK
            } else {
                flags - OFlags::NONBLOCK
            };
            if wanted == flags {
                return Ok(());
            }
            rustix::fs::fcntl_setfl(fd, wanted)
        })
    }
}

impl From<OwnedFd> for Fd {
    /// Same as [`Fd::new`].
    fn from(fd: OwnedFd) -> Fd {
        Fd::new(fd)
    }
}

impl AsRawFd for Fd {
    /// The descriptor number, or -1 once closing has begun; see [`Fd::raw`].
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

impl fmt::Debug for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.handle.fmt(f)
    }
}
