//! One hosted ringio [`Reactor`] per tokio runtime thread, driven from tokio's
//! own reactor: a task on that runtime watches the reactor's descriptor with
//! [`AsyncFd`] and turns the reactor when it fires or when another thread
//! queues work for it.
//!
//! A thread remembers its reactor per tokio runtime (by [`Id`]): a test
//! thread that runs several current-thread runtimes in turn gets a fresh
//! reactor for each. When a runtime shuts down, the driving task is dropped,
//! which shuts its reactor down (cancelling whatever is still in flight and
//! waiting for the kernel to release the buffers).
//!
//! Each reactor also owns the buffer group its streams' completion reads
//! share (`read_group`), made with the first stream on its thread.

use crate::net::reads_config::{ReadPath, ReadsConfig};
use crate::net::ReadGroup;
use ringio::reactor::{Reactor, WeakReactor};
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use tokio::io::unix::AsyncFd;
use tokio::runtime::{Handle, Id};

/// Turns per wakeup of the driving task before it yields to other tasks.
const TURNS_PER_POLL: usize = 32;

/// What a thread remembers of one runtime's reactor. Weak: once the runtime
/// and every socket registered with the reactor are gone, so are its ring
/// and descriptors, even if this thread never uses compat again.
struct Local {
    runtime: Id,
    reactor: WeakReactor,
    alive: Arc<AtomicBool>,
    /// The completion reads' group, once the first stream asked (`None`
    /// inside: that path is off, or this kernel has no buffer rings);
    /// shared with the driving task, which relieves it after each turn.
    reads: Arc<OnceLock<Option<Arc<ReadGroup>>>>,
}

/// The group id of compat's buffer group on each hosted ring (a user's own
/// groups on the same reactor, through `as_ringio`, need another id).
pub(crate) const READ_GROUP: u16 = 0xc0de;

thread_local! {
    static LOCAL: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
}

/// The calling thread's reactor for the current tokio runtime, created (with
/// its driving task) on first use.
pub(crate) fn current() -> io::Result<Reactor> {
    let handle = Handle::try_current()
        .map_err(|_| io::Error::other("ringio-compat types must be used from within a tokio runtime"))?;
    let runtime = handle.id();
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        // Acquire: pairs with the Release in `Driving::drop`.
        local.retain(|l| l.alive.load(Ordering::Acquire));
        if let Some(reactor) = local
            .iter()
            .find(|l| l.runtime == runtime)
            .and_then(|l| l.reactor.upgrade())
        {
            return Ok(reactor);
        }
        let reactor = new_reactor(&handle)?;
        let alive = Arc::new(AtomicBool::new(true));
        let reads = Arc::new(OnceLock::new());
        let driving = Driving {
            reactor: reactor.clone(),
            alive: alive.clone(),
            reads: reads.clone(),
        };
        handle.spawn(drive(driving));
        tracing::debug!(backend = %reactor.backend(), "ringio-compat reactor started");
        local.retain(|l| l.runtime != runtime);
        local.push(Local {
            runtime,
            reactor: reactor.downgrade(),
            alive,
            reads,
        });
        Ok(reactor)
    })
}

/// A new reactor for `handle`'s runtime: one any worker may turn, or, with
/// `RINGIO_COMPAT_PINNED=1` on a current-thread runtime (whose tasks, the
/// driving task among them, all run on the thread in its `block_on`), one
/// pinned to that thread (`DEFER_TASKRUN`): the kernel then never
/// interrupts the thread to run io_uring's completion work (a rescheduling
/// IPI per wake-up on an unpinned ring) but waits for the driving task's
/// next enter.
///
/// Pinning stays opt-in because a current-thread runtime may be driven
/// from another thread later (`block_on` from several threads, as a
/// `static` runtime behind a blocking API is): a pinned ring cannot follow,
/// and its streams would stop. A multi-thread runtime's driving task may
/// run on any worker, so its reactors are never pinned.
///
/// An unpinned reactor's sockets wait for readiness through an epoll
/// instance of the reactor's own (`Builder::ring_waits`), which costs no
/// interrupt per wake-up; `RINGIO_COMPAT_WAITS=ring` makes each wait a
/// `POLL_ADD` on the ring instead (what compat did before; kept to compare).
fn new_reactor(handle: &Handle) -> io::Result<Reactor> {
    let unpinned = || {
        let ring_waits = std::env::var("RINGIO_COMPAT_WAITS").is_ok_and(|v| v == "ring");
        ringio::Builder::new().ring_waits(ring_waits).build_reactor()
    };
    if !std::env::var("RINGIO_COMPAT_PINNED").is_ok_and(|v| v == "1") {
        return unpinned();
    }
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
        tracing::debug!("RINGIO_COMPAT_PINNED applies to current-thread runtimes only");
        return unpinned();
    }
    // tokio watches the descriptor with `AsyncFd`, edge-triggered.
    ringio::Builder::new().edge_triggered_host(true).build_pinned_reactor()
}

/// The calling thread's reactor's group for completion reads, and the
/// unread cap per stream; `None` where streams read on readiness (chosen by
/// `RINGIO_COMPAT_READS`, or no provided-buffer rings on this backend or
/// kernel). Made on first use, with the reactor held as its driver for
/// the moment (`Reactor::buf_ring`).
pub(crate) fn read_group() -> Option<Arc<ReadGroup>> {
    let reactor = current().ok()?;
    let runtime = Handle::try_current().ok()?.id();
    let reads = LOCAL.with(|local| {
        let local = local.borrow();
        local.iter().find(|l| l.runtime == runtime).map(|l| l.reads.clone())
    })?;
    reads.get_or_init(|| new_read_group(&reactor).map(Arc::new)).clone()
}

fn new_read_group(reactor: &Reactor) -> Option<ReadGroup> {
    let config = ReadsConfig::from_env();
    if config.path == ReadPath::Readiness {
        tracing::debug!("ringio-compat streams read on readiness (RINGIO_COMPAT_READS)");
        return None;
    }
    if reactor.backend() != ringio::Backend::IoUring {
        return None; // a readiness backend's group would be a pool: no gain
    }
    match reactor.buf_ring(READ_GROUP, config.bufs, config.buf_len) {
        Ok(group) if group.kernel_ring() => {
            tracing::debug!(
                bufs = config.bufs,
                buf_len = config.buf_len,
                max_unread = config.max_unread,
                "ringio-compat streams read on completions"
            );
            Some(ReadGroup::new(group, config.max_unread))
        }
        Ok(_) => {
            tracing::debug!("no provided-buffer rings here; ringio-compat streams read on readiness");
            None
        }
        Err(err) => {
            tracing::warn!(%err, "cannot make the completion reads' buffer group; reading on readiness");
            None
        }
    }
}

/// Awaits `fut`, polling it with the calling thread's reactor entered, so
/// sockets it creates register there and descriptor-less operations (a
/// connect's socket, an `open`) run there. For set-up calls, not hot paths:
/// the future is boxed.
pub(crate) async fn entered<T>(fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    let mut fut = Box::pin(fut);
    poll_fn(|cx| {
        let reactor = current()?;
        let _entered = reactor.enter();
        fut.as_mut().poll(cx)
    })
    .await
}

/// Runs `f` with the calling thread's reactor entered.
pub(crate) fn with_entered<R>(f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
    let reactor = current()?;
    let _entered = reactor.enter();
    f()
}

/// Owned by the driving task: dropping it (the runtime shut down, or the
/// task failed) retires the reactor.
struct Driving {
    reactor: Reactor,
    alive: Arc<AtomicBool>,
    reads: Arc<OnceLock<Option<Arc<ReadGroup>>>>,
}

impl Drop for Driving {
    fn drop(&mut self) {
        // Release: a thread that sees `false` creates a new reactor, after
        // this one stopped taking work.
        self.alive.store(false, Ordering::Release);
        self.reactor.shutdown();
    }
}

/// What `AsyncFd` watches: the reactor's descriptor.
struct Watch(Reactor);

impl AsRawFd for Watch {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

async fn drive(driving: Driving) {
    let reactor = driving.reactor.clone();
    let reads = driving.reads.clone();
    // SAFETY: `Watch` holds a clone of the reactor, which owns the descriptor
    // (the ring's or the poller's own fd) and never closes or
    // replaces it while any clone lives; so it stays open, and `as_raw_fd`
    // returns that same number, for the whole life of the `AsyncFd`.
    let registered = unsafe { AsyncFd::register_with_interest(Watch(reactor.clone()), tokio::io::Interest::READABLE) };
    let watch = match registered {
        Ok(watch) => watch,
        Err(err) => {
            tracing::error!(%err, "cannot watch the ringio reactor from tokio");
            return;
        }
    };
    let result: std::io::Result<()> = poll_fn(|cx| {
        // tokio's readiness of the descriptor is taken before the turn that
        // consumes the signal behind it: a signal the kernel sends after
        // that (a completion the turn missed) sets it again, and the poll
        // below turns once more; a stale one does not cost a second turn.
        match watch.poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => guard.clear_ready(),
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => {}
        }
        for _ in 0..TURNS_PER_POLL {
            if let Err(err) = reactor.turn() {
                return Poll::Ready(Err(err));
            }
            if let Some(Some(group)) = reads.get() {
                // As the ring's driver: a disarmed receive's cancel and the
                // rescue of what it held happen in order, here and now.
                reactor.as_driver(|| group.relieve());
            }
            if !reactor.park(cx.waker()) {
                continue; // another thread queued work meanwhile
            }
            match watch.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => guard.clear_ready(),
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Still busy: let the runtime's other tasks run, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
    if let Err(err) = result {
        tracing::error!(%err, "ringio-compat reactor failed; the next use starts a new one");
    }
    drop(watch);
    drop(driving);
}
