//! Readiness and non-blocking syscalls on sockets: what poll-style adapters
//! (tokio's `AsyncRead`/`AsyncWrite` in `ringio-compat`) are built from.
//!
//! The wait goes through the driver (a `POLL_ADD` on io_uring, the poller on
//! readiness backends); the data moves with a non-blocking syscall, straight
//! between the caller's slice and the socket, under the fd mutex's read or
//! write lock. Nothing is ever buffered on the caller's behalf, so a dropped
//! future cannot lose bytes and `Ok(n)` means the kernel took (or gave) `n`.

use crate::driver::Op;
use crate::fd::descriptor::{Descriptor, Handle, Lease};
use crate::fd::mutex::Access;
use crate::fd::rescue::Rescue;
use crate::fd::Interest;
use crate::op::poll::PollReady;
use crate::sync::Mutex;
use std::future::Future;
use std::io;
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The readiness wait of each direction, kept between polls for
/// `poll_*_ready(&self, cx)`. As in tokio, only the task that polled a
/// direction last is woken.
///
/// Each wait is a single-shot `POLL_ADD` (or the poller's arming), made when
/// a wait starts. A multishot `POLL_ADD` left armed per direction would save
/// the submission, but measured about half the throughput on a 16-connection
/// loopback echo through `ringio-compat` (docs/benchmarks.md), so it is not
/// used.
///
/// A stored wait lives in a box that the direction's first wait allocates
/// and the later ones reuse: most connections on a ring never wait for
/// readiness (their reads and writes are operations), and an idle
/// connection then holds two empty pointers instead of two operations.
#[derive(Default)]
pub(crate) struct Readiness {
    read: Mutex<Option<Box<Option<Op<PollReady>>>>>,
    write: Mutex<Option<Box<Option<Op<PollReady>>>>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Readiness")
    }
}

impl Readiness {
    /// Ready once `fd` is ready for `interest` (one direction), or with the
    /// error that ended the wait ([`crate::Error::Closed`] after close).
    pub(crate) fn poll(&self, fd: &Handle, interest: Interest, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut slot = if interest.is_readable() {
            &self.read
        } else {
            &self.write
        }
        .lock();
        let stored = &mut **slot.get_or_insert_with(Box::default);
        let op = match &mut *stored {
            Some(op) => op,
            empty => empty.insert(submit(fd.shared(), interest)?),
        };
        let result = std::task::ready!(Pin::new(op).poll(cx));
        *stored = None;
        Poll::Ready(result.map(drop))
    }

    /// Closes `fd`, the descriptor these waits are for. A stored wait holds a
    /// reference to the descriptor, so close would wait for it forever: mark
    /// the descriptor closed first (no new wait can start), then drop both
    /// waits (cancelling them in the kernel), then wait for the close protocol.
    pub(crate) async fn close(&self, fd: &Handle) -> io::Result<()> {
        fd.start_close();
        for slot in [&self.read, &self.write] {
            let op = slot.lock().as_deref_mut().and_then(Option::take);
            drop(op);
        }
        fd.close().await
    }
}

fn submit(fd: &Descriptor, interest: Interest) -> io::Result<Op<PollReady>> {
    let driver = fd.driver()?;
    let r = fd.incref()?;
    Ok(driver.submit(PollReady::new(r.into(), interest)))
}

/// Waits until `fd` is ready for `interest`; each caller has its own wait.
pub(crate) async fn ready(fd: &Handle, interest: Interest) -> io::Result<()> {
    ready_on(fd.shared(), interest).await
}

/// [`ready`] for a shared descriptor (what outlives a borrow of the handle).
pub(crate) async fn ready_on(fd: &Descriptor, interest: Interest) -> io::Result<()> {
    submit(fd, interest)?.await.map(drop)
}

/// A non-blocking read-side call under the read lock: what dropped reads
/// left on the descriptor comes first (`from_rescue`, `None` if nothing
/// fits), then the syscall `f`. A lock held by another reader is
/// `WouldBlock`, as from a socket with nothing to give.
pub(crate) fn try_read<T: ?Sized, R>(
    fd: &Handle,
    buf: &mut T,
    from_rescue: impl FnOnce(&Rescue, &mut T) -> Option<io::Result<R>>,
    mut f: impl FnMut(BorrowedFd<'_>, &mut T) -> rustix::io::Result<R>,
) -> io::Result<R> {
    let guard = fd.try_lock(Access::Read)?.ok_or(io::ErrorKind::WouldBlock)?;
    if let Some(res) = from_rescue(guard.rescue(), buf) {
        return res;
    }
    loop {
        match f(guard.borrow(), buf) {
            Err(rustix::io::Errno::INTR) => continue,
            other => return Ok(other?),
        }
    }
}

/// Runs the non-blocking syscall `f` under `access`'s lock, or a plain
/// reference with `None` (retrying `EINTR`). A lock held by another reader (writer) is `WouldBlock`, as from
/// a socket with nothing to give.
pub(crate) fn try_io<R>(
    fd: &Handle,
    access: Option<Access>,
    mut f: impl FnMut(BorrowedFd<'_>) -> rustix::io::Result<R>,
) -> io::Result<R> {
    let guard: Lease = match access {
        Some(access) => fd.try_lock(access)?.ok_or(io::ErrorKind::WouldBlock)?,
        None => fd.incref()?,
    };
    loop {
        match f(guard.borrow()) {
            Err(rustix::io::Errno::INTR) => continue,
            other => return Ok(other?),
        }
    }
}
