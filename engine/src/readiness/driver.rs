//! The readiness driver shared by epoll, kqueue and event ports: one poller
//! per runtime thread, the table of registered descriptors ([`Source`]s),
//! and the runtime's turn (wait for events, mark sources ready, wake
//! waiters).
//!
//! Every method but `turn` may be called from any thread: the poller's calls
//! are thread-safe and the source table sits behind a mutex.

use super::source::Source;
use super::ReadyOp;
use crate::backend::{Event, Poller, MIN_WAIT_BATCH};
use crate::driver::Op;
use crate::error::Error;
use crate::fd::Interest;
use crate::op::background::Background;
use crate::op::Operation;
use crate::ring::{BufCounters, Stats};
use crate::runtime::park::{Unparker, Wait};
use crate::sync::Mutex;
use std::cell::Cell;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::Arc;

use std::time::Duration;

#[cfg(epoll)]
pub(crate) type Platform = crate::backend::epoll::Epoll;
#[cfg(kqueue)]
pub(crate) type Platform = crate::backend::kqueue::Kqueue;
#[cfg(evport)]
pub(crate) type Platform = crate::backend::port::EventPort;

static NEXT_DRIVER_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// Id of the readiness driver this thread drives (0: none).
    static OWNED_DRIVER: Cell<usize> = const { Cell::new(0) };
}

/// Buffers one turn fills and empties.
#[derive(Default)]
struct Scratch {
    events: Vec<Event>,
    ready: Vec<(Arc<Source>, Event)>,
}

/// Makes the calling thread the one that drives a readiness driver (or
/// none) until dropped, then restores what it replaced.
pub(crate) struct OwnerGuard {
    previous: usize,
}

impl OwnerGuard {
    pub(crate) fn enter(driver: Option<&Driver>) -> OwnerGuard {
        let id = driver.map_or(0, |d| d.inner.id);
        OwnerGuard {
            previous: OWNED_DRIVER.with(|d| d.replace(id)),
        }
    }
}

impl Drop for OwnerGuard {
    fn drop(&mut self) {
        OWNED_DRIVER.with(|d| d.set(self.previous));
    }
}

/// Handle to one runtime's readiness driver.
#[derive(Clone)]
pub(crate) struct Driver {
    inner: Arc<Inner>,
}

/// A handle that does not keep the driver alive (see [`Driver::downgrade`]).
#[derive(Clone)]
pub(crate) struct WeakDriver {
    inner: std::sync::Weak<Inner>,
}

impl WeakDriver {
    pub(crate) fn upgrade(&self) -> Option<Driver> {
        self.inner.upgrade().map(|inner| Driver { inner })
    }
}

struct Inner {
    id: usize,
    /// Whether a thread drives this driver (a runtime inside `block_on`, or
    /// a host turning a hosted reactor); see [`Driver::accepts`].
    driving: AtomicBool,
    shut_down: AtomicBool,
    poller: Arc<Platform>,
    /// Operations whose futures were dropped but which must finish
    /// (`write_all`), polled on each turn.
    background: Background,
    sources: Mutex<slab::Slab<Arc<Source>>>,
    unparker: Arc<Unparker>,
    /// Per-turn buffers, kept across turns (only the runtime thread turns).
    scratch: Mutex<Scratch>,
    started: AtomicU64,
    completed: AtomicU64,
    orphaned: AtomicU64,
    waits: AtomicU64,
    /// Counters of the buffer groups made on this driver.
    bufs: Arc<BufCounters>,
}

impl Driver {
    /// A driver for a runtime thread, or (`hosted`) one another executor
    /// drives through [`Driver::turn_hosted`], watching [`Driver::notify_fd`].
    pub(crate) fn new(hosted: bool) -> io::Result<Driver> {
        let poller = Arc::new(Platform::new()?);
        let unparker = if hosted {
            Arc::new(Unparker::for_task())
        } else {
            let notifier = poller.clone();
            Arc::new(Unparker::new(Box::new(move || {
                if let Err(err) = notifier.notify() {
                    tracing::error!(%err, "poller notify failed");
                }
            })))
        };
        let background = Background::new(unparker.clone());
        Ok(Driver {
            inner: Arc::new(Inner {
                id: NEXT_DRIVER_ID.fetch_add(1, Relaxed),
                driving: AtomicBool::new(hosted),
                shut_down: AtomicBool::new(false),
                background,
                poller,
                sources: Mutex::new(slab::Slab::new()),
                unparker,
                scratch: Mutex::default(),
                started: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                orphaned: AtomicU64::new(0),
                waits: AtomicU64::new(0),
                bufs: Arc::default(),
            }),
        })
    }

    pub(crate) fn unparker(&self) -> &Arc<Unparker> {
        &self.inner.unparker
    }

    /// A handle that lets the driver go when every strong one is gone.
    pub(crate) fn downgrade(&self) -> WeakDriver {
        WeakDriver {
            inner: Arc::downgrade(&self.inner),
        }
    }

    fn is_owner_thread(&self) -> bool {
        OWNED_DRIVER.with(|id| id.get()) == self.inner.id
    }

    /// Whether an operation polled on this thread can be served: on the
    /// driving thread always; from any other thread only while someone
    /// drives the driver, else nothing would ever wake it.
    pub(crate) fn accepts(&self) -> Result<(), Error> {
        if self.inner.shut_down.load(SeqCst) {
            Err(Error::RuntimeShutDown)
        } else if self.is_owner_thread() || self.inner.driving.load(SeqCst) {
            Ok(())
        } else {
            Err(Error::HomeIdle)
        }
    }

    /// The runtime enters (`true`) or leaves (`false`) `block_on`. Leaving
    /// wakes every waiter, so that operations of other threads, which
    /// nothing would wake any more, fail with [`Error::HomeIdle`].
    pub(crate) fn set_driving(&self, driving: bool) {
        // SeqCst: a foreign poll that registered a waker before this store
        // is woken below; one that polls after it sees `false`.
        self.inner.driving.store(driving, SeqCst);
        if !driving {
            self.wake_all_sources();
        }
    }

    fn wake_all_sources(&self) {
        let sources: Vec<Arc<Source>> = self.inner.sources.lock().iter().map(|(_, s)| s.clone()).collect();
        sources.iter().for_each(|s| s.wake_all());
    }

    /// The runtime is being dropped: background operations are dropped, and
    /// every waiter of another thread fails with [`Error::RuntimeShutDown`].
    pub(crate) fn shutdown(&self) {
        self.inner.shut_down.store(true, SeqCst);
        self.inner.driving.store(false, SeqCst);
        self.inner.background.clear();
        self.wake_all_sources();
    }

    /// True when a background task waits to be polled.
    pub(crate) fn has_background_work(&self) -> bool {
        self.inner.background.has_ready()
    }

    /// Runs `task` to completion in the background (see [`Background`]).
    pub(crate) fn spawn_background(&self, task: crate::op::background::Task) {
        if !self.inner.shut_down.load(SeqCst) {
            self.inner.background.spawn(task);
        }
    }

    pub(crate) fn submit<T: Operation>(&self, data: T) -> Op<T> {
        Op::Ready(ReadyOp::new(self.clone(), Box::new(data)))
    }

    /// Registers `fd` with the poller (no interest armed yet).
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<Arc<Source>> {
        let mut sources = self.inner.sources.lock();
        let entry = sources.vacant_entry();
        let source = Arc::new(Source::new(fd, entry.key()));
        self.inner.poller.add(fd, source.key)?;
        entry.insert(source.clone());
        Ok(source)
    }

    /// Removes `source` from the poller; called before its descriptor closes.
    pub(crate) fn deregister(&self, source: &Source) {
        if let Err(err) = self.inner.poller.delete(source.fd) {
            tracing::debug!(%err, fd = source.fd, "poller delete failed");
        }
        let mut sources = self.inner.sources.lock();
        if sources.get(source.key).is_some_and(|s| std::ptr::eq(&**s, source)) {
            sources.remove(source.key);
        }
    }

    pub(crate) fn arm(&self, source: &Source, interest: Interest) -> io::Result<()> {
        self.inner.poller.arm(source.fd, source.key, interest)
    }

    /// One turn of a hosted driver: collect every pending event without
    /// blocking and wake the waiters. The host's edge-triggered watch of
    /// [`Driver::notify_fd`] fires again only for new events, so this drains.
    pub(crate) fn turn_hosted(&self) -> io::Result<()> {
        while self.turn_counted(Wait::No)? >= MIN_WAIT_BATCH {}
        Ok(())
    }

    /// A hosted driver's host is about to wait: `waker` is woken when a
    /// background task becomes ready (the poller's descriptor announces
    /// everything else). `false` if one is ready already: turn again.
    pub(crate) fn park_hosted(&self, waker: &std::task::Waker) -> bool {
        self.inner.unparker.set_waker(waker);
        self.inner.unparker.park_begin();
        if self.has_background_work() {
            self.inner.unparker.park_end();
            return false;
        }
        true
    }

    /// The descriptor a host watches: readable while events are pending.
    pub(crate) fn notify_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.poller.as_fd()
    }

    /// One runtime turn: wait for events (as `wait` allows) and wake waiters.
    pub(crate) fn turn(&self, wait: Wait) -> io::Result<()> {
        self.turn_counted(wait).map(drop)
    }

    /// [`Driver::turn`], returning how many events the wait delivered.
    fn turn_counted(&self, wait: Wait) -> io::Result<usize> {
        let timeout = match wait {
            Wait::No => Some(Duration::ZERO),
            Wait::Forever => None,
            Wait::For(t) => Some(t),
        };
        self.inner.background.run();
        let mut scratch = self.inner.scratch.lock();
        let Scratch { events, ready } = &mut *scratch;
        events.clear();
        self.inner.waits.fetch_add(1, Relaxed);
        let res = self.inner.poller.wait(events, timeout);
        let delivered = events.len();
        // Awake now: wakes issued below must not notify the poller.
        self.inner.unparker.park_end();
        {
            let sources = self.inner.sources.lock();
            ready.extend(
                events
                    .iter()
                    .filter_map(|e| sources.get(e.key).map(|s| (s.clone(), *e))),
            );
        }
        // Woken outside the source table's lock: a woken task may register.
        for (source, event) in ready.drain(..) {
            source.set_ready(event.ready, event.closed);
        }
        match res {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            other => other.map(|()| delivered),
        }
    }

    pub(crate) fn op_started(&self) {
        self.inner.started.fetch_add(1, Relaxed);
    }

    pub(crate) fn op_completed(&self) {
        self.inner.completed.fetch_add(1, Relaxed);
    }

    pub(crate) fn op_orphaned(&self) {
        self.inner.orphaned.fetch_add(1, Relaxed);
        self.inner.completed.fetch_add(1, Relaxed);
    }

    pub(crate) fn stats(&self) -> Stats {
        let submitted = self.inner.started.load(Relaxed);
        let completed = self.inner.completed.load(Relaxed);
        let in_flight = submitted.saturating_sub(completed);
        let mut stats = Stats {
            submitted,
            completed,
            orphaned: self.inner.orphaned.load(Relaxed),
            in_flight,
            slab_entries: in_flight,
            enters: self.inner.waits.load(Relaxed),
            ..Stats::default()
        };
        self.inner.bufs.fill(&mut stats);
        stats
    }

    /// The counters buffer groups on this driver report into.
    pub(crate) fn buf_counters(&self) -> &Arc<BufCounters> {
        &self.inner.bufs
    }
}
