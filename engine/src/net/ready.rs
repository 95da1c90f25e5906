//! Readiness and non-blocking syscalls on sockets: what poll-style adapters
//! (tokio's `AsyncRead`/`AsyncWrite` in `ringio-compat`) are built from.
//!
//! The wait goes through the driver: the poller on readiness backends and
//! on a hosted ring that has one (`ring::waits`), else a `POLL_ADD` on the
//! ring; the data moves with a non-blocking syscall, straight
//! between the caller's slice and the socket, under the fd mutex's read or
//! write lock. Nothing is ever buffered on the caller's behalf, so a dropped
//! future cannot lose bytes and `Ok(n)` means the kernel took (or gave) `n`.

use crate::driver::Op;
use crate::fd::descriptor::{Descriptor, Handle, Lease};
use crate::fd::mutex::Access;
use crate::fd::rescue::Rescue;
use crate::fd::Interest;
use crate::op::poll::PollReady;
use crate::readiness::{Attempt, Source};
use crate::sync::Mutex;
use std::future::Future;
use std::io;
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The readiness wait of each direction on a ring, kept between polls for
/// `poll_*_ready(&self, cx)`. As in tokio, only the task that polled a
/// direction last is woken. (Where the descriptor has a poller
/// registration, a readiness backend's or a hosted ring's, that is the
/// wait, and nothing is kept here: every task that polled is woken by the
/// next report.)
///
/// Each wait is a single-shot `POLL_ADD`, made when a wait starts. A multishot `POLL_ADD` left armed per direction would save
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
    read: Mutex<Option<Box<Stored>>>,
    write: Mutex<Option<Box<Stored>>>,
}

/// One direction's stored wait, and the task that polled it last: close
/// drops the wait (it holds a reference to the descriptor), so it wakes
/// that task, which polls again and finds the descriptor closed.
#[derive(Default)]
struct Stored {
    op: Option<Op<PollReady>>,
    waker: Option<std::task::Waker>,
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
        if slot.as_deref().is_none_or(|stored| stored.op.is_none()) {
            if let Some(direct) = direct_wait(fd.shared(), interest, cx) {
                return direct;
            }
        }
        let stored = &mut **slot.get_or_insert_with(Box::default);
        let op = match &mut stored.op {
            Some(op) => op,
            empty => empty.insert(submit(fd.shared(), interest)?),
        };
        match Pin::new(op).poll(cx) {
            Poll::Pending => {
                match &mut stored.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    waker => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Poll::Ready(result) => {
                *stored = Stored::default();
                Poll::Ready(result.map(drop))
            }
        }
    }

    /// Closes `fd`, the descriptor these waits are for. A stored wait holds a
    /// reference to the descriptor, so close would wait for it forever: mark
    /// the descriptor closed first (no new wait can start), then drop both
    /// waits (cancelling them in the kernel) and wake the tasks that polled
    /// them (their next poll fails: closed), then wait for the close protocol.
    pub(crate) async fn close(&self, fd: &Handle) -> io::Result<()> {
        fd.claim_close()?;
        fd.start_close();
        for slot in [&self.read, &self.write] {
            let stored = slot.lock().as_deref_mut().map(std::mem::take);
            if let Some(Stored { op, waker }) = stored {
                drop(op);
                waker.into_iter().for_each(std::task::Waker::wake);
            }
        }
        fd.close().await
    }
}

/// [`Readiness::poll`] on a poller without an operation: the poller
/// registration itself is the wait (nothing to allocate, or keep between
/// polls), as `ReadyOp`'s wait would be. The poller is a readiness
/// backend's, or a hosted ring's own (`ring::waits`). `None` where an
/// operation must wait instead: on a ring without a poller, before the
/// descriptor is registered, when the poller refused it, and under an
/// `OpTimeout` deadline (which `ReadyOp` enforces).
fn direct_wait(fd: &Descriptor, interest: Interest, cx: &mut Context<'_>) -> Option<Poll<io::Result<()>>> {
    if crate::time::deadline::current().is_some() {
        return None;
    }
    let (driver, source) = fd.ready_source()?;
    if let Err(refusal) = driver.accepts() {
        // The home runtime is idle or gone: nothing would wake us.
        return Some(Poll::Ready(Err(refusal.into())));
    }
    Some(match source.poll_ready(interest, cx) {
        // Cancelled: close started.
        Poll::Ready(hit) if hit.is_empty() => Poll::Ready(Err(if fd.is_closed() {
            crate::Error::Closed.into()
        } else {
            io::Error::from_raw_os_error(libc::ECANCELED)
        })),
        Poll::Ready(_) => Poll::Ready(Ok(())),
        Poll::Pending => match driver.arm(source, interest) {
            Ok(()) => Poll::Pending,
            Err(err) => Poll::Ready(Err(err)),
        },
    })
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
///
/// On a hosted ring with a poller (`ring::waits`) the wait is the poller
/// registration's, as [`Readiness::poll`]'s is: a `POLL_ADD` would cost an
/// interrupt of the host's thread when it completes. Elsewhere it is an
/// operation, even on a readiness backend: it counts in the driver's
/// `in_flight`, which is how callers see a wait armed.
pub(crate) async fn ready_on(fd: &Descriptor, interest: Interest) -> io::Result<()> {
    if fd.waits_on_ring_poller() {
        let direct = std::future::poll_fn(|cx| match direct_wait(fd, interest, cx) {
            Some(Poll::Pending) => Poll::Pending,
            Some(Poll::Ready(done)) => Poll::Ready(Some(done)),
            None => Poll::Ready(None),
        });
        if let Some(done) = direct.await {
            return done;
        }
        // Under an `OpTimeout` deadline: an operation, which enforces it.
    }
    submit(fd, interest)?.await.map(drop)
}

/// A non-blocking read-side call under the read lock: what dropped reads
/// left on the descriptor comes first (`from_rescue`, `None` if nothing
/// fits), then the syscall `f`. A lock held by another reader is
/// `WouldBlock`, as from a socket with nothing to give.
///
/// On a readiness backend, a `WouldBlock` from `f`, or a result that
/// `drained` says emptied the socket (a stream read that came up short),
/// clears the source's read readiness, so the next wait waits for the
/// poller (see `readiness::source`).
pub(crate) fn try_read<T: ?Sized, R>(
    fd: &Handle,
    buf: &mut T,
    from_rescue: impl FnOnce(&Rescue, &mut T) -> Option<io::Result<R>>,
    mut f: impl FnMut(BorrowedFd<'_>, &mut T) -> rustix::io::Result<R>,
    drained: impl FnOnce(&R) -> bool,
) -> io::Result<R> {
    let guard = fd.try_lock(Access::Read)?.ok_or(io::ErrorKind::WouldBlock)?;
    if let Some(res) = from_rescue(guard.rescue(), buf) {
        return res;
    }
    let attempt = Attempted::note(&guard);
    let res = loop {
        match f(guard.borrow(), buf) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other,
        }
    };
    attempt.judge(Interest::READABLE, &res, drained);
    Ok(res?)
}

/// Runs the non-blocking send-side syscall `f` under the write lock
/// (retrying `EINTR`). A lock held by another writer is `WouldBlock`, as
/// from a socket with no room. On a readiness backend, a `WouldBlock` from
/// `f` clears the source's write readiness.
pub(crate) fn try_write<R>(fd: &Handle, mut f: impl FnMut(BorrowedFd<'_>) -> rustix::io::Result<R>) -> io::Result<R> {
    let guard: Lease = fd.try_lock(Access::Write)?.ok_or(io::ErrorKind::WouldBlock)?;
    let attempt = Attempted::note(&guard);
    let res = loop {
        match f(guard.borrow()) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other,
        }
    };
    attempt.judge(Interest::WRITABLE, &res, |_| false);
    Ok(res?)
}

/// Runs `f`, a non-blocking call on `lease`'s descriptor that reports
/// `io::Error`s: its `WouldBlock` clears the readiness for `interest`.
pub(crate) fn attempt<R>(lease: &Lease, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
    let attempt = Attempted::note(lease);
    let res = f();
    if matches!(&res, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
        attempt.blocked(interest);
    }
    res
}

/// A non-blocking attempt on a descriptor registered with a readiness
/// driver (nothing on a ring): its source and the tick noted before the
/// syscall.
struct Attempted<'a>(Option<(&'a Source, Attempt)>);

impl<'a> Attempted<'a> {
    fn note(lease: &'a Lease) -> Attempted<'a> {
        Attempted(
            lease
                .wait_source()
                .and_then(|source| Some((&**source, source.attempt()?))),
        )
    }

    /// Clears `interest`: the attempt said "would block".
    fn blocked(self, interest: Interest) {
        if let Attempted(Some((source, attempt))) = self {
            source.would_block(interest, attempt);
        }
    }

    /// Clears `interest` if `res` shows it not ready: `WouldBlock`, or what
    /// `drained` says emptied the socket.
    fn judge<R>(self, interest: Interest, res: &rustix::io::Result<R>, drained: impl FnOnce(&R) -> bool) {
        let Attempted(Some((source, attempt))) = self else {
            return;
        };
        match res {
            Err(errno) if *errno == rustix::io::Errno::WOULDBLOCK => source.would_block(interest, attempt),
            Ok(r) if drained(r) => source.drained(interest, attempt),
            _ => {}
        }
    }
}
