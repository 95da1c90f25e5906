//! `Reactor`: ringio's I/O driver without ringio's executor, so ringio
//! operations and handles can run inside another event loop. `ringio-compat`
//! hosts one per tokio worker thread this way.
//!
//! The host's side of the contract:
//! 1. watch [`Reactor::as_fd`] for readability, edge- or level-triggered:
//!    on io_uring it is the reactor's own epoll, which holds the ring's
//!    descriptor (readable while completions wait to be reaped) and the
//!    sockets whose readiness waits go through it (the turn reaps and
//!    takes every event); with [`Builder::ring_waits`], the ring's own
//!    descriptor; a pinned reactor's eventfd, signalled as work for its
//!    thread arrives (the turn drains it); or the readiness backend's own
//!    epoll/kqueue/port descriptor;
//! 2. when it fires, and whenever it is woken through the waker given to
//!    [`Reactor::park`], call [`Reactor::turn`] (never waits for the kernel;
//!    a turn in progress on another thread is waited for, then this one
//!    runs, so a signal the host has taken is always answered);
//! 3. before going back to waiting, call [`Reactor::park`]; if it returns
//!    `false`, work arrived in between: turn again.
//!
//! A hosted ring is set up without `SINGLE_ISSUER`, `DEFER_TASKRUN` and
//! `COOP_TASKRUN` (the host may turn it from any thread, and sleeps in its own
//! wait, where only signal-style task work reaches it). A pinned reactor
//! ([`Builder::build_pinned_reactor`]) is the exception: one thread turns
//! it, so its ring defers that work to the turn and signals an eventfd
//! instead. Operations other threads submit are queued lock-free and pushed
//! by the next turn. Readiness waits (`poll_read_ready`, `readable`) on an
//! unpinned ring would each be a `POLL_ADD` whose completion interrupts the
//! host's thread, so they go through the reactor's epoll instead, one
//! edge-triggered registration per socket, made on its first wait.

use crate::buf::BufRing;
use crate::driver::{Backend, Driver};
use crate::runtime::Builder;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::task::Waker;

/// An I/O driver (io_uring, or the platform's readiness backend) that another
/// executor drives. Cheap to clone; `Send + Sync`.
///
/// # Examples
///
/// Drive it by hand: submit a no-op while it is entered, then turn until the
/// operation completes.
///
/// ```no_run
/// use std::future::Future;
/// use std::pin::pin;
/// use std::task::{Context, Poll, Waker};
///
/// let reactor = ringio::reactor::Reactor::new()?;
/// let mut op = pin!(async {
///     let _entered = reactor.enter();
///     ringio::nop().await
/// });
/// let mut cx = Context::from_waker(Waker::noop());
/// let result = loop {
///     if let Poll::Ready(r) = op.as_mut().poll(&mut cx) {
///         break r;
///     }
///     reactor.turn()?;
/// };
/// result?;
/// reactor.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Reactor {
    driver: Driver,
}

impl Reactor {
    /// A reactor with [`Builder`]'s defaults (backend chosen as for a runtime).
    ///
    /// # Errors
    ///
    /// As [`Builder::build_reactor`].
    pub fn new() -> io::Result<Reactor> {
        Builder::new().build_reactor()
    }

    /// The driver (for the crate's own tests).
    #[cfg(test)]
    pub(crate) fn driver(&self) -> &Driver {
        &self.driver
    }

    pub(crate) fn from_builder(builder: &Builder, pinned: bool) -> io::Result<Reactor> {
        let mut config = builder.ring_config();
        config.hosted = true;
        config.pinned = pinned;
        Ok(Reactor {
            driver: Driver::new(&config, builder.forced_backend())?,
        })
    }

    /// Makes this the calling thread's driver until the guard drops: ringio
    /// handles created meanwhile register with it, and operations that have
    /// no descriptor of their own (connect's socket, `open`) run on it. A
    /// ringio [`crate::Runtime`] running on the thread takes precedence.
    pub fn enter(&self) -> EnterGuard {
        EnterGuard {
            previous: crate::runtime::context::enter_hosted(Some(self.driver.clone())),
            _not_send: std::marker::PhantomData,
        }
    }

    /// A group of `count` receive buffers of `buf_len` bytes on this
    /// reactor, from any thread (a hosted ring registers its buffer rings
    /// as its driver: this waits for a turn in progress on another thread
    /// to end, and holds the next one off while it registers).
    ///
    /// # Errors
    ///
    /// As [`BufRing::new`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let reactor = ringio::reactor::Reactor::new()?;
    /// let group = reactor.buf_ring(1, 64, 16 * 1024)?;
    /// println!("kernel ring: {}", group.kernel_ring());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn buf_ring(&self, group: u16, count: usize, buf_len: usize) -> io::Result<BufRing> {
        let _entered = self.enter();
        #[cfg(uring)]
        if let Driver::Ring(ring) = &self.driver {
            return ring.while_driving(|| BufRing::new(group, count, buf_len));
        }
        BufRing::new(group, count, buf_len)
    }

    /// Runs `f` as this reactor's driver: operations dropped inside `f` are
    /// handed back to the driver at once rather than through its remote
    /// queue. On a hosted io_uring this waits for a turn in progress on
    /// another thread to end and holds the next one off until `f` returns;
    /// elsewhere it just runs `f`. For a host's housekeeping between turns,
    /// not for hot paths.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let reactor = ringio::reactor::Reactor::new()?;
    /// reactor.turn()?;
    /// let answer = reactor.as_driver(|| 42);
    /// assert_eq!(answer, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn as_driver<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(uring)]
        if let Driver::Ring(ring) = &self.driver {
            return ring.while_driving(f);
        }
        f()
    }

    /// One non-blocking turn: push what other threads queued, submit, reap,
    /// and wake the tasks whose operations completed, until nothing is left
    /// queued for the kernel. If another thread is turning this reactor (or
    /// running [`Reactor::as_driver`]), waits for it first.
    ///
    /// # Errors
    ///
    /// [`crate::Error::PinnedElsewhere`] on a pinned reactor turned from a
    /// thread other than its first; otherwise only unexpected failures of
    /// `io_uring_enter` or the poller's wait.
    pub fn turn(&self) -> io::Result<()> {
        self.driver.turn_hosted()
    }

    /// The host is about to wait: `waker` is woken when another thread
    /// queues work for this reactor (completions make [`Reactor::as_fd`]
    /// readable instead). Returns `false` if work is already queued; then
    /// turn again rather than wait.
    pub fn park(&self, waker: &Waker) -> bool {
        self.driver.park_hosted(waker)
    }

    /// The backend this reactor runs on.
    pub fn backend(&self) -> Backend {
        self.driver.backend()
    }

    /// The io_uring setup flags its ring got, on io_uring: a pinned reactor
    /// whose kernel has `DEFER_TASKRUN` reports [`crate::SetupMode::Defer`],
    /// any other [`crate::SetupMode::Plain`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let reactor = ringio::Builder::new().build_pinned_reactor()?;
    /// println!("{:?}", reactor.setup_mode());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn setup_mode(&self) -> Option<crate::SetupMode> {
        self.driver.setup_mode()
    }

    /// Counters and current occupancy.
    pub fn stats(&self) -> crate::Stats {
        self.driver.stats()
    }

    /// Cancels every operation still in flight and waits until the kernel has
    /// released their buffers. Afterwards operations on descriptors that live
    /// here fail with [`crate::Error::RuntimeShutDown`]. Call it when the host
    /// stops driving the reactor; it blocks, at most as long as the kernel
    /// takes to cancel. A reactor dropped without it stays allocated while
    /// work it started is unfinished and nobody turns it: a descriptor's
    /// close still on the ring, for one, keeps that descriptor, and with it
    /// the ring, alive.
    pub fn shutdown(&self) {
        self.driver.shutdown();
    }
}

impl Reactor {
    /// A handle that does not keep the reactor alive: once every [`Reactor`]
    /// (and every descriptor registered with it) is gone and the reactor was
    /// shut down ([`Reactor::shutdown`]), its ring or poller
    /// and their descriptors are freed, and [`WeakReactor::upgrade`] returns
    /// `None`. For hosts that remember a reactor per thread.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let reactor = ringio::reactor::Reactor::new()?;
    /// let weak = reactor.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// reactor.shutdown();
    /// drop(reactor);
    /// assert!(weak.upgrade().is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn downgrade(&self) -> WeakReactor {
        WeakReactor {
            driver: self.driver.downgrade(),
        }
    }
}

/// A [`Reactor`] handle that does not keep it alive; see [`Reactor::downgrade`].
#[derive(Clone)]
pub struct WeakReactor {
    driver: crate::driver::WeakDriver,
}

impl WeakReactor {
    /// The reactor, if it is still alive.
    pub fn upgrade(&self) -> Option<Reactor> {
        self.driver.upgrade().map(|driver| Reactor { driver })
    }
}

impl std::fmt::Debug for WeakReactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WeakReactor")
    }
}

impl AsFd for Reactor {
    /// Readable when the reactor has completions or events to process.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.driver.notify_fd()
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor").field("backend", &self.backend()).finish()
    }
}

/// Keeps a [`Reactor`] entered on this thread; see [`Reactor::enter`].
#[must_use = "the reactor is entered only while the guard lives"]
pub struct EnterGuard {
    previous: Option<Driver>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        crate::runtime::context::enter_hosted(self.previous.take());
    }
}
