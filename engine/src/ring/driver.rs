//! `Driver`: one io_uring, shared as `Arc` so handles and futures may be
//! `Send`, with no lock on the path its owner thread takes.
//!
//! Who touches what:
//! - the owner thread (the runtime thread that built the ring; for a hosted
//!   ring, whichever thread is inside a turn) alone touches the ring, the
//!   per-slot bookkeeping and the fixed-file table, all in one
//!   [`Owned`] state, without a lock;
//! - a future touches only its own [`Slot`](super::lifecycle::Slot) (atomic),
//!   from whichever thread polls it;
//! - other threads hand the owner what it must do (push an SQE, take a
//!   dropped operation's data, release a fixed slot) through the lock-free
//!   [`Remote`] queue, and unpark it.
//!
//! Submission (`submit.rs`), reaping (`reap.rs`), the remote queue
//! (`remote.rs`) and shutdown (`shutdown.rs`) are `impl Driver` blocks of
//! their own; this file holds construction and the operation-facing calls.

use super::enter::Enter;
use super::fixed::FixedTable;
use super::lifecycle::{Slot, Ticket};
use super::op::{MultiOp, RingOp};
use super::owner::{is_owner, Owned, OwnerGuard};
use super::remote::Remote;
use super::setup::{build_ring, RecvFeatures, RingConfig, SetupMode};
use super::slots::Slots;
use super::state::{Meta, OwnerState};
use super::stats::{Counters, Stats};
use super::stream::StreamShared;
use super::waits::Waits;
use crate::error::Error;
use crate::fd::descriptor::OpLease;
use crate::op::background::{Background, Task};
use crate::op::{Completion, Operation, Orphan, Target};
use crate::runtime::park::Unparker;
use crossbeam_queue::SegQueue;
use io_uring::types::CancelBuilder;
use io_uring::{opcode, types};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// `user_data` of the eventfd read that wakes a parked owner thread.
pub(super) const WAKE_TOKEN: u64 = u64::MAX;
/// `user_data` of cancel requests; their CQEs carry nothing we need.
pub(super) const CANCEL_TOKEN: u64 = u64::MAX - 1;
/// `user_data` of the `LINK_TIMEOUT`s bounding operations (their CQEs say
/// nothing the operation's own does not).
pub(super) const LINK_TIMEOUT_TOKEN: u64 = u64::MAX - 2;

static NEXT_DRIVER_ID: AtomicUsize = AtomicUsize::new(1);

/// Handle to one ring; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub(crate) struct Driver {
    pub(super) inner: Arc<Inner>,
}

/// A handle that does not keep the ring alive (see [`Driver::downgrade`]).
#[derive(Clone)]
pub(crate) struct WeakDriver {
    inner: std::sync::Weak<Inner>,
}

impl WeakDriver {
    pub(crate) fn upgrade(&self) -> Option<Driver> {
        self.inner.upgrade().map(|inner| Driver { inner })
    }
}

pub(super) struct Inner {
    pub id: usize,
    pub mode: SetupMode,
    /// Driven by another executor ([`crate::reactor`]): turned from any
    /// thread, one turn at a time; the host watches `notify_fd`.
    pub hosted: bool,
    /// A hosted ring set up `DEFER_TASKRUN` (see [`RingConfig::pinned`]):
    /// only the thread in `pinned_to` may enter it.
    pub pinned: bool,
    /// A pinned ring whose turns read its eventfd back after each enter
    /// that had a signal to take: its host may be level-triggered (see
    /// `Builder::edge_triggered_host`).
    pub drains_signal: bool,
    /// The thread whose first turn enabled a pinned ring.
    pub pinned_to: std::sync::OnceLock<std::thread::ThreadId>,
    /// What a hosted ring without a poller (`waits`) has its host watch:
    /// the ring's own descriptor, readable while CQEs wait to be reaped;
    /// for a pinned ring, whose completions wait for its thread to enter,
    /// the eventfd the kernel signals as work for it arrives. Either is
    /// owned by this `Inner` (the ring in `owned`, or `wake_fd`) and lives
    /// as long as it.
    pub notify_fd: RawFd,
    /// The poller a hosted, unpinned ring's readiness waits go through
    /// (`None`: they are `POLL_ADD`s on the ring).
    pub waits: Option<Waits>,
    pub slots: Slots,
    pub owned: Owned<OwnerState>,
    pub remote: SegQueue<Remote>,
    pub unparker: Arc<Unparker>,
    /// The eventfd the unparker writes and the ring keeps a read armed on
    /// (a runtime's ring; a hosted ring wakes its host's task instead).
    pub wake_fd: Arc<OwnedFd>,
    /// Target of the eventfd read; the kernel writes it, nobody reads it. An
    /// atomic so writes through a pointer from `&self` are legal.
    pub wake_buf: Box<AtomicU64>,
    /// Dropped operations that must still finish (`write_all`).
    pub background: Background,
    /// Someone drives the ring: the owner is inside `block_on` (a hosted
    /// ring always is). Other threads' operations are refused while not.
    pub driving: AtomicBool,
    pub stopping: AtomicBool,
    pub shut_down: AtomicBool,
    /// A hosted ring's turn is in progress (turns exclude each other).
    pub turning: AtomicBool,
    pub counters: Counters,
    /// What this kernel's receives into buffer groups may use.
    pub recv: RecvFeatures,
    /// The thread that built the ring: the only one a `SINGLE_ISSUER` ring
    /// accepts submissions from, also while its owner is outside `block_on`.
    pub creator: std::thread::ThreadId,
}

impl Driver {
    /// Builds a ring owned by the calling thread, or, with `config.hosted`,
    /// a ring any thread may drive through [`Driver::turn_hosted`].
    pub(crate) fn new(config: &RingConfig) -> io::Result<Driver> {
        use rustix::event::{eventfd, EventfdFlags};
        let hosted = config.hosted;
        let (mut ring, mode) = build_ring(config)?;
        let recv = super::setup::probe_recv_features(&ring);
        let wake_fd = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);
        let pinned = hosted && mode == SetupMode::Defer;
        let unparker = if hosted {
            // The host polls the ring's own descriptor, which the kernel
            // makes readable as it posts CQEs: no eventfd to signal, and
            // nothing to read before reaping. A pinned ring posts CQEs only
            // when its thread enters, so the kernel signals an eventfd when
            // it queues work for that thread instead. Submissions from other
            // threads wake the host's driving task directly.
            if pinned {
                ring.submitter().register_eventfd(wake_fd.as_raw_fd())?;
            }
            Arc::new(Unparker::for_task())
        } else {
            let writer = wake_fd.clone();
            Arc::new(Unparker::new(Box::new(move || {
                // EAGAIN: the counter is saturated, so a wakeup is pending anyway.
                if let Err(err) = rustix::io::write(&*writer, &1u64.to_ne_bytes()) {
                    if err != rustix::io::Errno::AGAIN {
                        tracing::error!(%err, "eventfd write failed");
                    }
                }
            })))
        };
        let capacity = register_fixed_table(&ring, config.fixed_files);
        if !pinned {
            // A disabled ring cannot be entered; a pinned one has
            // `DEFER_TASKRUN`, so Linux 6.1, which has fd-targeted cancels.
            super::setup::probe_fd_cancel(&mut ring, capacity > 0, wake_fd.as_raw_fd())?;
        }
        let id = NEXT_DRIVER_ID.fetch_add(1, Ordering::Relaxed);
        let waits = if hosted && !pinned && config.poller_waits {
            Some(Waits::new(ring.as_raw_fd())?)
        } else {
            None
        };
        let notify_fd = if pinned { wake_fd.as_raw_fd() } else { ring.as_raw_fd() };
        // Only a ring one thread drives may register its descriptor (the
        // registration lives in that thread's table).
        let enter = Enter::new(&ring, !hosted);
        let registered = enter.is_registered();
        let state = OwnerState {
            ring,
            enter,
            free: Vec::with_capacity(config.entries as usize),
            meta: Vec::with_capacity(config.entries as usize),
            fixed: FixedTable::new(capacity),
            fixed_fds: vec![-1; capacity as usize].into_boxed_slice(),
            in_kernel: 0,
            wake_armed: false,
            retiring: 0,
            reaped: Vec::with_capacity(config.entries as usize),
            orphans: Vec::new(),
            released: Vec::new(),
            deferred: Vec::new(),
            buffers: Default::default(),
        };
        let driver = Driver {
            inner: Arc::new(Inner {
                id,
                mode,
                hosted,
                pinned,
                drains_signal: pinned && !config.edge_triggered_host,
                pinned_to: std::sync::OnceLock::new(),
                notify_fd,
                waits,
                slots: Slots::new(),
                owned: Owned::new(id, state),
                remote: SegQueue::new(),
                background: Background::new(unparker.clone()),
                unparker,
                wake_fd,
                wake_buf: Box::new(AtomicU64::new(0)),
                driving: AtomicBool::new(hosted),
                stopping: AtomicBool::new(false),
                shut_down: AtomicBool::new(false),
                turning: AtomicBool::new(false),
                counters: Counters::default(),
                recv,
                creator: std::thread::current().id(),
            }),
        };
        tracing::debug!(
            id,
            ?mode,
            entries = config.entries,
            fixed = capacity,
            registered_ring_fd = registered,
            poller_waits = driver.inner.waits.is_some(),
            "io_uring driver ready"
        );
        Ok(driver)
    }

    pub(crate) fn unparker(&self) -> &Arc<Unparker> {
        &self.inner.unparker
    }

    /// A handle that lets the ring go when every strong one is gone.
    pub(crate) fn downgrade(&self) -> WeakDriver {
        WeakDriver {
            inner: Arc::downgrade(&self.inner),
        }
    }

    pub(crate) fn id(&self) -> usize {
        self.inner.id
    }

    pub(crate) fn is_owner_thread(&self) -> bool {
        is_owner(self.inner.id)
    }

    pub(crate) fn mode(&self) -> SetupMode {
        self.inner.mode
    }

    /// Bundles and incremental buffer rings, as probed (and allowed).
    pub(crate) fn recv_features(&self) -> RecvFeatures {
        self.inner.recv
    }

    pub(super) fn slot(&self, index: u32) -> &Slot {
        self.inner.slots.get(index)
    }

    pub(super) fn with<R>(&self, f: impl FnOnce(&mut OwnerState) -> R) -> R {
        self.inner.owned.with(f)
    }

    /// Whether this ring's kernel knows `opcode` (`IORING_REGISTER_PROBE`).
    /// Owner thread only: a `SINGLE_ISSUER` ring refuses registrations from
    /// other threads, which is reported as an error, not as "unsupported".
    pub(crate) fn probe(&self, opcode: u8) -> io::Result<bool> {
        if !self.is_owner_thread() {
            return Err(io::Error::other("probe from a thread that does not drive the ring"));
        }
        let mut probe = io_uring::Probe::new();
        self.with(|st| st.ring.submitter().register_probe(&mut probe))?;
        Ok(probe.is_supported(opcode))
    }

    // ----- operations -------------------------------------------------------

    /// Why an operation on `fd` must not reach the kernel now: the ring shuts
    /// down, the descriptor started closing (close may have cancelled what
    /// was in flight already, and an SQE pushed after that cancel would keep
    /// it waiting), or the ring is idle and this is another thread.
    pub(crate) fn admits(&self, fd: Option<&OpLease>, owner: bool) -> Result<(), Error> {
        if self.inner.stopping.load(Ordering::Acquire) {
            Err(Error::RuntimeShutDown)
        } else if fd.is_some_and(OpLease::is_closed) {
            Err(Error::Closed)
        } else if !owner && !self.inner.driving.load(Ordering::Acquire) {
            Err(Error::HomeIdle)
        } else {
            Ok(())
        }
    }

    /// Whether an operation started on this thread would be served (for
    /// operations that run a syscall of their own before they need the
    /// ring, so they are refused exactly when a submission would be).
    pub(crate) fn accepts(&self) -> Result<(), Error> {
        self.admits(None, self.is_owner_thread())
    }

    /// Submits a single-shot operation; never makes a syscall unless the SQ
    /// is full.
    pub(crate) fn submit<T: Operation>(&self, mut data: T) -> RingOp<T> {
        let owner = self.is_owner_thread();
        if let Err(err) = self.admits(data.fd(), owner) {
            return RingOp::refused(self.clone(), data, Completion::refused(err));
        }
        // A deadline of the future submitting it (`OpTimeout::timeout`).
        let deadline = crate::time::deadline::current();
        if deadline.is_some_and(|d| crate::time::deadline::left(d).is_none()) {
            return RingOp::refused(self.clone(), data, Completion::errno(libc::ETIMEDOUT));
        }
        if owner {
            // One borrow of the owner state for the slot and the push.
            let (ticket, failed) = self.with(|st| {
                let ticket = st.alloc(&self.inner.slots);
                let entry = data.entry().user_data(ticket.user_data());
                // SAFETY: the entry's pointers point into heap memory `data`
                // owns (contract of `Operation`), which stays where it is
                // when `data` moves: into the `RingOp` now, into the driver
                // if the future is dropped first, until the last CQE for
                // `ticket` is reaped. The fd-mutex reference inside `data`
                // keeps the descriptor open that long.
                let failed = match deadline {
                    // SAFETY: as above.
                    Some(deadline) => unsafe { self.push_timed_op_in(st, ticket, entry, deadline) },
                    // SAFETY: as above.
                    None => unsafe { self.push_op_in(st, ticket, &entry, None) },
                };
                (ticket, failed)
            });
            if let Some(err) = failed {
                self.push_failed(ticket, err);
            }
            return RingOp::new(self.clone(), ticket, data).timed(deadline.is_some());
        }
        let ticket = self.alloc(owner);
        let entry = data.entry().user_data(ticket.user_data());
        let fd = data.fd().map(|fd| fd.shared().clone());
        self.post(Remote::Submit {
            entry,
            ticket,
            fd,
            stream: None,
            deadline,
        });
        RingOp::new(self.clone(), ticket, data).timed(deadline.is_some())
    }

    /// Submits a multishot operation. Its data moves into the driver for
    /// the operation's whole life; the stream only takes completions.
    pub(crate) fn submit_multishot<T: Operation>(&self, mut data: T) -> MultiOp<T> {
        let owner = self.is_owner_thread();
        let stream = Arc::new(StreamShared::default());
        if let Err(err) = self.admits(data.fd(), owner) {
            let _fresh = stream.push(Completion::refused(err), true); // nobody closed it yet
            return MultiOp::refused(self.clone(), stream);
        }
        let ticket = self.alloc(owner);
        let entry = data.entry().user_data(ticket.user_data());
        let fd = data.fd().map(|fd| fd.shared().clone());
        let data: Box<dyn Orphan> = Box::new(data);
        if owner {
            // SAFETY: as in `submit`; the data (and the heap memory its SQE
            // points into) is the driver's from here to the last CQE.
            unsafe { self.push_op(ticket, entry, Some((stream.clone(), data))) };
        } else {
            self.post(Remote::Submit {
                entry,
                ticket,
                fd,
                stream: Some((stream.clone(), data)),
                deadline: None,
            });
        }
        MultiOp::new(self.clone(), ticket, stream)
    }

    fn alloc(&self, owner: bool) -> Ticket {
        if owner {
            self.with(|st| st.alloc(&self.inner.slots))
        } else {
            let ticket = self.inner.slots.alloc();
            self.slot(ticket.index).mark_foreign();
            ticket
        }
    }

    /// Ends a slot's use once its future took the completion.
    pub(crate) fn release(&self, ticket: Ticket) {
        if self.is_owner_thread() {
            self.with(|st| st.release(&self.inner.slots, ticket.index));
        } else {
            self.slot(ticket.index).reset();
            self.inner.slots.free(ticket.index);
        }
    }

    /// The future of an operation was dropped before it took its
    /// completion: the driver keeps its data until the kernel is done with
    /// it, and (with `cancel`) asks the kernel to cancel. Without `cancel`
    /// the operation runs to its end (a detached `write_all`).
    pub(crate) fn orphan<T: Operation>(&self, ticket: Ticket, mut data: T, cancel: bool) {
        if let Err(c) = self.slot(ticket.index).orphan(ticket) {
            // It completed first: dispose of the result here and now.
            data.on_orphan_cqe(&c);
            self.release(ticket);
            return drop(data);
        }
        let data: Box<dyn Orphan> = Box::new(data);
        if self.is_owner_thread() {
            self.take_orphan(ticket, data, cancel);
            self.settle();
        } else {
            self.post(Remote::Orphan { ticket, data, cancel });
        }
    }

    /// A multishot stream was dropped (having ended or not): what it did not
    /// take goes to the operation's orphan handler; if the kernel is not
    /// done, a cancel goes in.
    pub(crate) fn drop_stream(&self, ticket: Ticket, stream: Arc<StreamShared>) {
        // Marks the slot so that later CQEs go straight to the orphan
        // handler instead of the queue. (A stream's slot stays `Pending`
        // until the driver releases it, unless a closed queue refused its
        // last CQE; see `Slot::orphan_stream`.)
        self.slot(ticket.index).orphan_stream(ticket);
        if self.is_owner_thread() {
            self.push_remote_before_cancel();
            self.end_stream(ticket, &stream);
            self.settle();
        } else {
            self.post(Remote::DropStream { ticket, stream });
        }
    }

    /// Asks the kernel to cancel every operation on `target` (close).
    pub(crate) fn cancel_fd(&self, target: Target) {
        if !self.is_owner_thread() {
            return self.post(Remote::CancelFd(target));
        }
        // While stopping, shutdown cancels every operation by its user_data.
        // (A cancel by descriptor makes the kernel scan its whole cancel
        // table, once per operation it finds: descriptors closed while
        // tasks are dropped at runtime drop would make that quadratic.)
        if self.inner.shut_down.load(Ordering::Acquire) || self.inner.stopping.load(Ordering::Acquire) {
            return;
        }
        let builder = if target.is_fixed() {
            CancelBuilder::fd(types::Fixed(target.raw().0 as u32))
        } else {
            CancelBuilder::fd(target.raw())
        };
        self.push_cancel(opcode::AsyncCancel2::new(builder.all()).build());
    }

    /// Runs `task` on this ring's turns until it finishes (see [`Background`]).
    /// Dropped at once if the ring is shutting down.
    pub(crate) fn spawn_background(&self, task: Task) {
        if !self.inner.stopping.load(Ordering::Acquire) {
            self.inner.background.spawn(task);
        }
    }

    pub(super) fn post(&self, work: Remote) {
        self.inner.remote.push(work);
        self.inner.unparker.unpark();
    }

    // ----- fixed files -----------------------------------------------------

    /// Starts registering `fd` in a free slot of the fixed-file table, with
    /// a `FILES_UPDATE` in the next batch; `registration` learns the slot
    /// when it completes. Returns `false` (nothing started) when the table
    /// is full or has no room at all.
    pub(crate) fn register_fixed(&self, fd: RawFd, registration: crate::fd::descriptor::Descriptor) -> bool {
        if self.inner.stopping.load(Ordering::Acquire) {
            return false;
        }
        if !self.is_owner_thread() {
            self.post(Remote::Register(registration));
            return true;
        }
        self.start_register(fd, registration)
    }

    /// Closes `fd` on the ring once its last reference is gone, after
    /// unregistering its fixed `slot` if it has one (a `FILES_UPDATE` to -1
    /// linked to the `CLOSE`), then runs `then`. On the ring, in order
    /// behind everything pushed or posted before, the close's own cancel by
    /// number among it: a number closed before that cancel reached the
    /// kernel could be reused, and the cancel would hit its new holder.
    pub(crate) fn close_descriptor(
        &self,
        slot: Option<u32>,
        fd: OwnedFd,
        prompt: bool,
        then: Box<dyn FnOnce() + Send>,
    ) {
        if self.inner.shut_down.load(Ordering::Acquire) {
            // The whole table was unregistered at shutdown, and nothing is
            // submitted any more.
            drop(fd);
            return then();
        }
        if self.is_owner_thread() {
            self.start_release(slot, fd, then);
            if prompt {
                // Submitted now, behind the close's cancel by number (queued
                // before it): the kernel closes the number during the call.
                if let Err(err) = self.with(|st| self.flush(st)) {
                    tracing::warn!(%err, "could not submit a prompt close; it goes with the next turn");
                }
            }
            return self.settle();
        }
        if prompt && self.inner.hosted {
            // Any thread may drive a hosted ring: this one does, for the
            // moment, if no turn is in progress (a turn in progress takes
            // the release from the remote queue below).
            let mut job = Some((slot, fd, then));
            let driven = self.try_while_driving(|| {
                let (slot, fd, then) = job.take().expect("run once");
                // What was posted before first, as below.
                self.drain_remote();
                self.start_release(slot, fd, then);
                self.settle();
            });
            if driven.is_some() {
                return;
            }
            let (slot, fd, then) = job.take().expect("not run");
            return self.post(Remote::Release { slot, fd, then });
        }
        let idle = !self.inner.hosted && !self.inner.driving.load(Ordering::Acquire);
        if idle && std::thread::current().id() == self.inner.creator {
            // The runtime's own thread, outside `block_on`: no turn will
            // submit the release soon, so this thread drives the ring for
            // the moment (nothing else can: the ring is idle) and submits it
            // now. The kernel closes the number during the call; the
            // completions wait for the next turn's reap.
            let _driving = OwnerGuard::enter(self.inner.id);
            // First what was posted before, the close's cancel by number
            // among it: it must reach the kernel before the number is
            // closed, or it would cancel whatever reuses the number.
            self.drain_remote();
            self.start_release(slot, fd, then);
            if let Err(err) = self.with(|st| self.flush(st)) {
                tracing::warn!(%err, "could not submit a release while the ring is idle");
            }
            return self.settle();
        }
        self.post(Remote::Release { slot, fd, then });
    }

    // ----- provided buffer rings -------------------------------------------

    /// Registers a provided-buffer ring of `entries` entries at `addr` as
    /// group `bgid` (`IORING_REGISTER_PBUF_RING`, Linux 5.19). Owner thread
    /// only: a `SINGLE_ISSUER` ring refuses registrations from others.
    ///
    /// # Safety
    ///
    /// `addr` must point to `entries` page-aligned `io_uring_buf` entries
    /// that stay valid, and every buffer they name must stay valid and
    /// unused by anyone else, until [`Driver::unregister_buf_ring`] has run
    /// or the ring is gone.
    /// With `incremental`, the ring is registered with `IOU_PBUF_RING_INC`
    /// (Linux 6.12; see [`RecvFeatures`]).
    pub(crate) unsafe fn register_buf_ring(
        &self,
        addr: u64,
        entries: u16,
        bgid: u16,
        incremental: bool,
    ) -> io::Result<()> {
        if !self.is_owner_thread() {
            return Err(io::Error::other(
                "buffer ring registered from a thread that does not drive the ring",
            ));
        }
        let flags = if incremental {
            types::IOU_PBUF_RING_INC as u16
        } else {
            0
        };
        // SAFETY: the caller vouches for the memory until it unregisters.
        self.with(|st| unsafe {
            st.ring
                .submitter()
                .register_buf_ring_with_flags(addr, entries, bgid, flags)
        })
    }

    /// Unregisters buffer group `bgid`, then drops `memory` (the ring and
    /// buffers the kernel may use until then). From any thread: another
    /// thread's request goes through the remote queue. If the ring is never
    /// driven again, `memory` is dropped after the ring is closed.
    pub(crate) fn unregister_buf_ring(&self, bgid: u16, memory: Box<dyn Send>) {
        if !self.is_owner_thread() {
            return self.post(Remote::UnregisterBufRing { bgid, memory });
        }
        if let Err(err) = self.with(|st| st.ring.submitter().unregister_buf_ring(bgid)) {
            // The kernel keeps the group, and may read its memory: keep it
            // too, for as long as the process lives.
            tracing::error!(%err, bgid, "could not unregister a buffer ring; leaking its memory");
            return std::mem::forget(memory);
        }
        drop(memory);
    }

    // ----- idle and shutdown ------------------------------------------------

    /// True when other threads have posted work for the owner.
    pub(crate) fn has_remote_work(&self) -> bool {
        !self.inner.remote.is_empty() || self.inner.background.has_ready()
    }

    /// The counters this ring's buffer groups report into.
    pub(crate) fn buf_counters(&self) -> &Arc<super::stats::BufCounters> {
        &self.inner.counters.bufs
    }

    /// Counters and current occupancy.
    pub(crate) fn stats(&self) -> Stats {
        self.inner.counters.snapshot(self.inner.slots.live() as u64)
    }
}

/// Registers a sparse fixed-file table of `wanted` slots; returns the slots
/// registered. The kernel refuses a table larger than the process's
/// descriptor limit (`EMFILE`): then the table gets as many slots as the
/// limit allows, since no more descriptors than that can be open at once.
/// Anything else (an old kernel) leaves no table: plain descriptors.
fn register_fixed_table(ring: &io_uring::IoUring, wanted: u32) -> u32 {
    if wanted == 0 {
        return 0;
    }
    let register = |n: u32| ring.submitter().register_files_sparse(n);
    let err = match register(wanted) {
        Ok(()) => return wanted,
        Err(err) => err,
    };
    if err.raw_os_error() == Some(libc::EMFILE) {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let fits = limit.map_or(wanted, |l| u32::try_from(l).unwrap_or(u32::MAX).min(wanted));
        if fits > 0 && fits < wanted && register(fits).is_ok() {
            tracing::info!(wanted, slots = fits, "fixed-file table clamped to RLIMIT_NOFILE");
            return fits;
        }
    }
    tracing::warn!(%err, wanted, "sparse fixed-file table unavailable; using plain descriptors");
    0
}

impl Meta {
    /// Bookkeeping for an operation about to be pushed. (Everything else was
    /// taken out when the slot's previous use ended.)
    pub(super) fn start(&mut self) {
        debug_assert!(
            self.orphan.is_none() && self.stream.is_none() && self.internal.is_none() && self.early.is_none()
        );
        self.in_kernel = true;
        self.ended_by = None;
    }
}
