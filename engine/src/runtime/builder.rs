//! `Builder`: ring size, fixed-file slots and setup flags for a runtime.

use super::Runtime;
use crate::driver::Backend;
use crate::ring::{RingConfig, SetupMode};
use std::io;

/// The default completion queue size; see [`Builder::new`].
const DEFAULT_CQ_ENTRIES: u32 = 8192;

/// Configures a [`Runtime`].
///
/// # Examples
///
/// ```no_run
/// let rt = ringio::Runtime::builder()
///     .entries(512)
///     .fixed_files(2048)
///     .setup_mode(ringio::SetupMode::Defer)
///     .build()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    entries: u32,
    cq_entries: Option<u32>,
    fixed_files: u32,
    mode: Option<SetupMode>,
    backend: Option<Backend>,
    edge_triggered_host: bool,
    ring_waits: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: 256 SQ entries, 8192 CQ entries (the CQ size also sets how
    /// many buckets the kernel's cancel table gets, and 8192 gets its
    /// maximum, 256: cancelling one of n operations then searches n/256 of
    /// them), 1024 fixed-file slots, setup mode from `RINGIO_URING_SETUP` or
    /// [`SetupMode::Defer`].
    pub fn new() -> Builder {
        Builder {
            entries: 256,
            cq_entries: None,
            fixed_files: 1024,
            mode: None,
            backend: None,
            edge_triggered_host: false,
            ring_waits: false,
        }
    }

    /// Submission queue size (rounded up to a power of two by the kernel).
    pub fn entries(&mut self, entries: u32) -> &mut Builder {
        self.entries = entries.max(1);
        self
    }

    /// Completion queue size (default 8192; at least `entries`). Completions
    /// that do not fit wait in the kernel (`IORING_FEAT_NODROP`), so a small
    /// CQ is never lossy, only slower.
    pub fn cq_entries(&mut self, entries: u32) -> &mut Builder {
        self.cq_entries = Some(entries);
        self
    }

    /// Slots in the sparse fixed-file table (0 disables fixed files).
    pub fn fixed_files(&mut self, slots: u32) -> &mut Builder {
        self.fixed_files = slots;
        self
    }

    /// io_uring setup flags (overrides `RINGIO_URING_SETUP`).
    pub fn setup_mode(&mut self, mode: SetupMode) -> &mut Builder {
        self.mode = Some(mode);
        self
    }

    /// Forces a backend instead of choosing at run time (overrides
    /// `RINGIO_BACKEND`). Building fails with [`crate::Error::Unsupported`] if
    /// it is unavailable here, e.g. io_uring under a seccomp filter.
    pub fn backend(&mut self, backend: Backend) -> &mut Builder {
        self.backend = Some(backend);
        self
    }

    /// Declares that the host of a [`Builder::build_pinned_reactor`]
    /// reactor watches [`Reactor::as_fd`] edge-triggered (tokio's
    /// `AsyncFd`, `EPOLLET`): such a host is woken by every signal of the
    /// eventfd behind it, drained or not, so the reactor's turns never read
    /// it back, one `read` fewer per wake-up. A level-triggered host
    /// (`poll(2)`, `select`) must leave this off (the default): to it the
    /// undrained descriptor would stay readable, and it would spin. No
    /// effect on other reactors, whose descriptor a turn empties without a
    /// call of its own.
    ///
    /// [`Reactor::as_fd`]: crate::reactor::Reactor
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // Hosted by tokio (`AsyncFd`, edge-triggered epoll):
    /// let reactor = ringio::Builder::new().edge_triggered_host(true).build_pinned_reactor()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn edge_triggered_host(&mut self, yes: bool) -> &mut Builder {
        self.edge_triggered_host = yes;
        self
    }

    /// Makes a [`Builder::build_reactor`] reactor on io_uring wait for
    /// socket readiness with a `POLL_ADD` on its ring per wait, as runtimes
    /// do. By default such a reactor waits through an epoll instance of its
    /// own, which also holds the ring's descriptor and is what the host
    /// watches: its ring is turned from any thread, so the kernel runs a
    /// `POLL_ADD`'s completion by interrupting whichever thread runs the
    /// host (a rescheduling interrupt per wake-up), where an edge-triggered
    /// epoll registration costs no interrupt and no system call per wait.
    /// Operations (accept, connect, files, receives into buffer rings)
    /// stay on the ring either way. No effect on runtimes, on pinned
    /// reactors (whose ring runs that work in its turn) or on other
    /// backends.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let reactor = ringio::Builder::new().ring_waits(true).build_reactor()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ring_waits(&mut self, yes: bool) -> &mut Builder {
        self.ring_waits = yes;
        self
    }

    pub(crate) fn forced_backend(&self) -> Option<Backend> {
        self.backend
    }

    pub(crate) fn ring_config(&self) -> RingConfig {
        RingConfig {
            entries: self.entries,
            cq_entries: Some(self.cq_entries.unwrap_or(DEFAULT_CQ_ENTRIES).max(self.entries)),
            fixed_files: self.fixed_files,
            mode: self.mode.or_else(SetupMode::from_env).unwrap_or(SetupMode::Defer),
            hosted: false,
            pinned: false,
            edge_triggered_host: self.edge_triggered_host,
            poller_waits: !self.ring_waits,
        }
    }

    /// Creates a [`crate::reactor::Reactor`] for another executor to drive:
    /// the same backend choice, ring size and fixed-file table as a runtime;
    /// the setup mode is always [`SetupMode::Plain`] (see the module docs).
    ///
    /// # Errors
    ///
    /// As [`Runtime::new`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let reactor = ringio::Builder::new().fixed_files(256).build_reactor()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build_reactor(&self) -> io::Result<crate::reactor::Reactor> {
        crate::reactor::Reactor::from_builder(self, false)
    }

    /// Creates a [`crate::reactor::Reactor`] that only one thread will ever
    /// turn: the first thread to call [`Reactor::turn`] enables it and is
    /// from then on its only driver. On io_uring (Linux 6.1+) its ring is set
    /// up with `SINGLE_ISSUER | DEFER_TASKRUN`: the kernel queues completion
    /// work for that thread and signals [`Reactor::as_fd`] instead of
    /// interrupting whatever the thread is doing, and the next turn runs the
    /// work in a batch. Elsewhere it is a [`Builder::build_reactor`] reactor.
    ///
    /// For a host whose event loop stays on one thread (a current-thread
    /// tokio runtime whose `block_on` is not moved between threads). A turn
    /// from any other thread fails with [`crate::Error::PinnedElsewhere`];
    /// so does a [`Reactor::shutdown`], which then leaks the ring and the
    /// buffers in flight rather than free memory the kernel may still write.
    ///
    /// [`Reactor::turn`]: crate::reactor::Reactor::turn
    /// [`Reactor::as_fd`]: crate::reactor::Reactor
    /// [`Reactor::shutdown`]: crate::reactor::Reactor::shutdown
    ///
    /// # Errors
    ///
    /// As [`Runtime::new`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let reactor = ringio::Builder::new().build_pinned_reactor()?;
    /// reactor.turn()?; // this thread is now its driver
    /// reactor.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build_pinned_reactor(&self) -> io::Result<crate::reactor::Reactor> {
        crate::reactor::Reactor::from_builder(self, true)
    }

    /// Creates the runtime on the calling thread.
    ///
    /// # Errors
    ///
    /// As [`Runtime::new`].
    pub fn build(&self) -> io::Result<Runtime> {
        Runtime::from_builder(self)
    }
}
