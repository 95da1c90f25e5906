//! `Driver`: one io_uring, the slab of in-flight operations, and the fixed-file
//! table, shared as `Arc` so handles and futures may be `Send`.
//!
//! Thread rules. The owner thread (the runtime thread that built the ring, or
//! for a hosted ring whichever thread is running its turn) is the only one
//! that pushes SQEs and enters the kernel. Everything a foreign thread needs
//! (submitting an operation on a descriptor whose home is this ring, cancelling
//! an operation whose future it dropped, releasing a descriptor whose last
//! reference it dropped) goes through the lock-free [`Remote`] queue and an
//! unpark. The `state` mutex guards
//! the slab, the SQ/CQ ring memory and the slot allocator; it is uncontended on
//! the owner thread and never held across a blocking wait, nor while a waker
//! runs or operation data is dropped (both can re-enter the driver).

use super::setup::{build_ring, RingConfig, SetupMode};
use super::stats::{Counters, Stats};
use crate::error::Error;
use crate::fd::fixed::FixedTable;
use crate::fd::shared::{FdHold, SharedFd};
use crate::op::background::{Background, Task};
use crate::op::{Completion, Lifecycle, MultiOp, Operation, Orphan, RingOp, Target};
use crate::runtime::park::Unparker;
use crossbeam_queue::SegQueue;
use io_uring::types::{CancelBuilder, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// `user_data` of the eventfd read that wakes a parked owner thread.
const WAKE_TOKEN: u64 = u64::MAX;
/// `user_data` of cancel requests; their CQEs carry nothing we need.
const CANCEL_TOKEN: u64 = u64::MAX - 1;

static NEXT_DRIVER_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// Id of the driver owned by this thread (0: none).
    static OWNED_DRIVER: Cell<usize> = const { Cell::new(0) };
}

/// Work a foreign thread asks the owner thread to do.
pub(crate) enum Remote {
    /// Push this SQE for the operation already in the slab at its
    /// `user_data`, unless its descriptor started closing meanwhile.
    Submit(squeue::Entry, Option<SharedFd>),
    /// Cancel the operation at this slab index, if it is still abandoned.
    Cancel(usize),
    /// Cancel every operation on this descriptor.
    CancelFd(Target),
    /// Unregister a fixed slot, close its descriptor, then run `then`.
    Release {
        slot: u32,
        fd: OwnedFd,
        then: Box<dyn FnOnce() + Send>,
    },
}

/// Handle to one ring; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub(crate) struct Driver {
    inner: Arc<Inner>,
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

struct Inner {
    id: usize,
    ring: IoUring,
    mode: SetupMode,
    /// Driven by another executor ([`crate::reactor`]): no thread owns the
    /// ring; completions are announced on `wake_fd`, registered with the ring.
    hosted: bool,
    state: Mutex<State>,
    remote: SegQueue<Remote>,
    unparker: Arc<Unparker>,
    /// The eventfd the unparker writes and the ring keeps a read armed on.
    wake_fd: Arc<OwnedFd>,
    /// Target of the eventfd read; the kernel writes it, nobody reads it. An
    /// atomic so writes through a pointer from `&self` are legal.
    wake_buf: Box<AtomicU64>,
    /// Dropped operations that must still finish (`write_all`).
    background: Background,
    counters: Counters,
}

struct State {
    ops: slab::Slab<Entry>,
    fixed: FixedTable,
    /// SQEs whose final CQE is not reaped yet (slab operations and the wake read).
    in_kernel: usize,
    wake_armed: bool,
    /// A thread drives the ring: the owner is inside `block_on` (always, for
    /// a hosted ring). Other threads' operations are refused while not.
    driving: bool,
    /// Foreign operations cancelled because the owner went idle whose last
    /// completion is not reaped yet.
    retiring: usize,
    stopping: bool,
    shut_down: bool,
    /// Wakers, orphaned data and released references collected under the
    /// lock, run/dropped after it (dropping either may re-enter the driver).
    woken: Vec<Waker>,
    dead: Vec<Box<dyn Orphan>>,
    released: Vec<FdHold>,
}

/// One slab entry: where the operation stands, and who waits for it.
struct Entry {
    life: Lifecycle,
    /// Submitted, or last polled, from a thread other than the owner: its
    /// future is not one of the owner's tasks, so it is cancelled when the
    /// owner goes idle (nothing would reap its completion).
    foreign: bool,
    /// Why the driver cancelled the operation itself; its `ECANCELED`
    /// reports this instead.
    ended_by: Option<Error>,
}

impl Entry {
    fn new(life: Lifecycle, foreign: bool) -> Entry {
        Entry {
            life,
            foreign,
            ended_by: None,
        }
    }
}

/// Deferred work taken out of the state so it runs without the lock held.
struct Aftermath {
    woken: Vec<Waker>,
    dead: Vec<Box<dyn Orphan>>,
    released: Vec<FdHold>,
}

impl Aftermath {
    fn run(self) {
        for waker in self.woken {
            waker.wake();
        }
        drop(self.dead);
        drop(self.released);
    }
}

impl Driver {
    /// Builds a ring owned by the calling thread, or, with `config.hosted`,
    /// a ring any thread may drive through [`Driver::turn_hosted`].
    pub(crate) fn new(config: &RingConfig) -> io::Result<Driver> {
        use rustix::event::{eventfd, EventfdFlags};
        let hosted = config.hosted;
        let (ring, mode) = build_ring(config)?;
        let wake_fd = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);
        let unparker = if hosted {
            // The kernel signals the eventfd on every completion; the host
            // watches it. Submissions wake the host's driving task directly.
            ring.submitter().register_eventfd(wake_fd.as_raw_fd())?;
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
        let capacity = match config.fixed_files {
            0 => 0,
            n => match ring.submitter().register_files_sparse(n) {
                Ok(()) => n,
                Err(err) => {
                    tracing::warn!(%err, "sparse fixed-file table unavailable; using plain descriptors");
                    0
                }
            },
        };
        let mut ring = ring;
        probe_fd_cancel(&mut ring, capacity > 0, wake_fd.as_raw_fd())?;
        let driver = Driver {
            inner: Arc::new(Inner {
                id: NEXT_DRIVER_ID.fetch_add(1, Ordering::Relaxed),
                ring,
                mode,
                hosted,
                state: Mutex::new(State {
                    ops: slab::Slab::with_capacity(config.entries as usize),
                    fixed: FixedTable::new(capacity),
                    in_kernel: 0,
                    wake_armed: false,
                    driving: hosted,
                    retiring: 0,
                    stopping: false,
                    shut_down: false,
                    woken: Vec::new(),
                    dead: Vec::new(),
                    released: Vec::new(),
                }),
                remote: SegQueue::new(),
                unparker: unparker.clone(),
                background: Background::new(unparker.clone()),
                wake_fd,
                wake_buf: Box::new(AtomicU64::new(0)),
                counters: Counters::default(),
            }),
        };
        tracing::debug!(
            id = driver.inner.id,
            ?mode,
            entries = config.entries,
            fixed = capacity,
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

    /// Marks (or unmarks, with `None`) the calling thread as the owner of `driver`.
    pub(crate) fn set_owner_thread(driver: Option<&Driver>) {
        OWNED_DRIVER.with(|id| id.set(driver.map_or(0, |d| d.inner.id)));
    }

    pub(crate) fn is_owner_thread(&self) -> bool {
        OWNED_DRIVER.with(|id| id.get()) == self.inner.id
    }

    pub(crate) fn same(&self, other: &Driver) -> bool {
        self.inner.id == other.inner.id
    }

    pub(crate) fn mode(&self) -> SetupMode {
        self.inner.mode
    }

    /// Whether this ring's kernel knows `opcode` (`IORING_REGISTER_PROBE`).
    /// Owner thread only: a `SINGLE_ISSUER` ring refuses registrations from
    /// other threads, which is reported as an error, not as "unsupported".
    pub(crate) fn probe(&self, opcode: u8) -> io::Result<bool> {
        let mut probe = io_uring::Probe::new();
        self.inner.ring.submitter().register_probe(&mut probe)?;
        Ok(probe.is_supported(opcode))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the slab consistent (every
        // mutation is a single assignment), so poisoning is ignored.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn aftermath(st: &mut State) -> Aftermath {
        Aftermath {
            woken: std::mem::take(&mut st.woken),
            dead: std::mem::take(&mut st.dead),
            released: std::mem::take(&mut st.released),
        }
    }

    // ----- submission -------------------------------------------------------

    /// Pushes a single-shot operation; never makes a syscall unless the SQ is full.
    pub(crate) fn submit<T: Operation>(&self, data: T) -> RingOp<T> {
        let mut data = Box::new(data);
        let owner = self.is_owner_thread();
        let mut st = self.lock();
        let index = match self.refusal(&st, data.fd(), owner) {
            Some(c) => st.ops.insert(Entry::new(Lifecycle::Completed(c), !owner)),
            None => {
                let index = st.ops.insert(Entry::new(Lifecycle::Pending(None), !owner));
                let entry = data.entry().user_data(index as u64);
                let fd = (!owner).then(|| data.fd().map(|fd| fd.shared().clone())).flatten();
                // SAFETY: the entry's pointers refer to `*data` (contract of
                // `Operation`), which stays boxed at this address until the
                // last CQE for `index` is reaped: the `RingOp` owns the box
                // and, if dropped first, moves the same box into the slab
                // (`abandon`). Its descriptor is held open by the fd-mutex
                // reference inside `data`.
                unsafe { self.enqueue(st, index, entry, fd, owner) };
                index
            }
        };
        RingOp::new(self.clone(), index, data)
    }

    /// Pushes a multishot operation. Its data moves into the slab for the
    /// operation's whole life (see `Lifecycle::Streaming`).
    pub(crate) fn submit_multishot<T: Operation>(&self, data: T) -> MultiOp<T> {
        let mut data = Box::new(data);
        let owner = self.is_owner_thread();
        let mut st = self.lock();
        let refusal = self.refusal(&st, data.fd(), owner);
        let entry = refusal.is_none().then(|| data.entry());
        if refusal.is_some() {
            // Never in the kernel: the reference can go at once.
            st.released.extend(data.take_fd());
        }
        let fd = (!owner).then(|| data.fd().map(|fd| fd.shared().clone())).flatten();
        let index = st.ops.insert(Entry::new(
            Lifecycle::Streaming {
                waker: None,
                queue: refusal.into_iter().collect(),
                done: refusal.is_some(),
                data,
            },
            !owner,
        ));
        match entry {
            // SAFETY: the entry's pointers refer to the boxed data, which the
            // slab entry at `index` now owns at the same heap address until
            // the stream's last CQE is reaped (`Lifecycle::Streaming`, then
            // `Ignored` if the stream is dropped first).
            Some(entry) => unsafe { self.enqueue(st, index, entry.user_data(index as u64), fd, owner) },
            None => {
                let after = Self::aftermath(&mut st);
                drop(st);
                after.run();
            }
        }
        MultiOp::new(self.clone(), index)
    }

    /// Whether an operation started on this thread can be served: refused
    /// while the ring shuts down, and from other threads while nobody
    /// drives it (see [`Driver::set_driving`]). For operations that run a
    /// syscall of their own before they need the ring (`RingReadyOp`), so
    /// they are refused exactly when a submission would be.
    pub(crate) fn accepts(&self) -> Result<(), Error> {
        let owner = self.is_owner_thread();
        let st = self.lock();
        if st.stopping {
            Err(Error::RuntimeShutDown)
        } else if !owner && !st.driving {
            Err(Error::HomeIdle)
        } else {
            Ok(())
        }
    }

    /// Why an operation on `fd` submitted now must not reach the kernel, as
    /// the completion it gets instead.
    fn refusal(&self, st: &State, fd: Option<&FdHold>, owner: bool) -> Option<Completion> {
        let err = if st.stopping {
            Error::RuntimeShutDown
        } else if fd.is_some_and(|fd| fd.is_closed()) {
            // Close may already have cancelled what was in flight: an SQE
            // pushed now would escape that cancel and keep close waiting.
            Error::Closed
        } else if !owner && !st.driving {
            Error::HomeIdle
        } else {
            return None;
        };
        Some(Completion::refused(err))
    }

    /// Pushes the SQE of the operation at `index` (on the owner thread), or
    /// hands it to the owner (elsewhere: `fd` lets the owner see a close
    /// that started meanwhile). A push that fails completes the operation
    /// with the error, as if the kernel had.
    ///
    /// # Safety
    ///
    /// Every pointer in `entry` must stay valid until the CQE for `index` is
    /// reaped.
    unsafe fn enqueue<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        index: usize,
        entry: squeue::Entry,
        fd: Option<SharedFd>,
        owner: bool,
    ) {
        Counters::bump(&self.inner.counters.submitted);
        if !owner {
            // The owner pushes the SQE on its next turn.
            drop(st);
            return self.post(Remote::Submit(entry, fd));
        }
        st.in_kernel += 1;
        // SAFETY: the caller vouches for the entry's pointers.
        if let Err(err) = unsafe { self.push_entry(&mut st, &entry) } {
            self.on_cqe(&mut st, index as u64, Completion::failed(&err));
        }
        let after = Self::aftermath(&mut st);
        drop(st);
        after.run();
    }

    /// Pushes `entry`, draining a full SQ by submitting.
    ///
    /// # Safety
    ///
    /// Every pointer in `entry` must stay valid until its CQE is reaped.
    unsafe fn push_entry(&self, st: &mut State, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: the SQ ring is only touched by the owner thread with `state`
            // locked (we hold `st`), so no other `SubmissionQueue` is alive. The
            // caller vouches for the entry's pointers.
            let pushed = unsafe {
                let mut sq = self.inner.ring.submission_shared();
                sq.push(entry).is_ok()
            };
            if pushed {
                return Ok(());
            }
            Counters::bump(&self.inner.counters.sq_full_flushes);
            self.flush_locked(st)?;
        }
    }

    /// Submits everything queued, reaping first when the kernel pushes back
    /// (`EBUSY`: completions must be consumed before it takes more).
    fn flush_locked(&self, st: &mut State) -> io::Result<()> {
        loop {
            Counters::bump(&self.inner.counters.enters);
            match self.inner.ring.submitter().submit() {
                Ok(_) => return Ok(()),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {
                    if self.reap_locked(st) == 0 {
                        std::thread::yield_now();
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn push_cancel(&self, st: &mut State, entry: squeue::Entry) {
        // SAFETY: a cancel request carries no pointers.
        if let Err(err) = unsafe { self.push_entry(st, &entry.user_data(CANCEL_TOKEN)) } {
            tracing::warn!(%err, "could not submit a cancel request");
        }
    }

    // ----- completion side of futures --------------------------------------

    /// Polls the slab entry of a single-shot operation.
    pub(crate) fn poll_op(&self, index: usize, cx: &mut Context<'_>) -> Poll<Completion> {
        let owner = self.is_owner_thread();
        let mut st = self.lock();
        let entry = &mut st.ops[index];
        entry.foreign |= !owner;
        match &mut entry.life {
            Lifecycle::Completed(completion) => {
                let completion = *completion;
                st.ops.remove(index);
                Poll::Ready(completion)
            }
            Lifecycle::Pending(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            _ => unreachable!("single-shot op in a multishot state"),
        }
    }

    /// Polls the slab entry of a multishot operation.
    pub(crate) fn poll_stream(&self, index: usize, cx: &mut Context<'_>) -> Poll<Option<Completion>> {
        let owner = self.is_owner_thread();
        let mut st = self.lock();
        let entry = &mut st.ops[index];
        entry.foreign |= !owner;
        match &mut entry.life {
            Lifecycle::Streaming { waker, queue, done, .. } => {
                if let Some(c) = queue.pop_front() {
                    return Poll::Ready(Some(c));
                }
                if *done {
                    // The data may hold references: drop it after the lock.
                    if let Lifecycle::Streaming { data, .. } = st.ops.remove(index).life {
                        st.dead.push(data);
                    }
                    let after = Self::aftermath(&mut st);
                    drop(st);
                    after.run();
                    return Poll::Ready(None);
                }
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            _ => unreachable!("multishot op in a single-shot state"),
        }
    }

    /// The future of an operation was dropped: keep its data until the kernel
    /// is done with it, and ask the kernel to cancel.
    pub(crate) fn abandon<T: Operation>(&self, index: usize, data: Box<T>) {
        self.orphan(index, data, true);
    }

    /// The future of an operation was dropped, but the operation must run to
    /// its end: keep its data until the kernel is done, and do not cancel.
    pub(crate) fn detach<T: Operation>(&self, index: usize, data: Box<T>) {
        self.orphan(index, data, false);
    }

    fn orphan<T: Operation>(&self, index: usize, mut data: Box<T>, cancel: bool) {
        let mut st = self.lock();
        match st.ops[index].life {
            Lifecycle::Completed(c) => {
                st.ops.remove(index);
                drop(st);
                // A result nobody will consume (an accepted socket, received
                // bytes) must still be released or rescued.
                data.on_orphan_cqe(&c);
                return;
            }
            Lifecycle::Pending(_) => {}
            _ => unreachable!("single-shot operation abandoned twice, or in a multishot state"),
        }
        st.ops[index].life = Lifecycle::Ignored(data);
        self.cancel_abandoned(st, index, cancel);
    }

    /// The future of a multishot operation was dropped: completions it did
    /// not take go to the operation's orphan handler; if the kernel is not
    /// done, the data waits (`Ignored`) for the last CQE and a cancel goes in.
    pub(crate) fn abandon_stream(&self, index: usize) {
        let mut st = self.lock();
        let life = std::mem::replace(&mut st.ops[index].life, Lifecycle::Pending(None));
        let Lifecycle::Streaming {
            queue, done, mut data, ..
        } = life
        else {
            unreachable!("multishot op in a single-shot state")
        };
        queue.iter().for_each(|c| data.on_cqe(c));
        if done {
            st.ops.remove(index);
            st.dead.push(data);
            let after = Self::aftermath(&mut st);
            drop(st);
            return after.run();
        }
        st.ops[index].life = Lifecycle::Ignored(data);
        self.cancel_abandoned(st, index, true);
    }

    /// Counts an abandoned operation and, unless told otherwise or shutting
    /// down (which cancels everything at once), asks the kernel to cancel it.
    fn cancel_abandoned<'a>(&'a self, mut st: MutexGuard<'a, State>, index: usize, cancel: bool) {
        Counters::bump(&self.inner.counters.abandoned);
        // While stopping, shutdown cancels everything at once.
        if !cancel || st.stopping {
            return;
        }
        if self.is_owner_thread() {
            if !self.inner.remote.is_empty() {
                // The op's own SQE may still be queued: push it before its cancel.
                drop(st);
                self.drain_remote();
                st = self.lock();
            }
            self.push_cancel(&mut st, opcode::AsyncCancel::new(index as u64).build());
            let after = Self::aftermath(&mut st);
            drop(st);
            after.run();
        } else {
            drop(st);
            self.post(Remote::Cancel(index));
        }
    }

    /// Asks the kernel to cancel every operation on `target` (used by close).
    pub(crate) fn cancel_fd(&self, target: Target) {
        if !self.is_owner_thread() {
            return self.post(Remote::CancelFd(target));
        }
        let mut st = self.lock();
        // While stopping, shutdown cancels every operation by its user_data.
        // (A cancel by descriptor makes the kernel scan its whole cancel
        // table, once per operation it finds: descriptors closed while
        // tasks are dropped at runtime drop would make that quadratic.)
        if st.shut_down || st.stopping {
            return;
        }
        let builder = if target.is_fixed() {
            CancelBuilder::fd(types::Fixed(target.raw().0 as u32))
        } else {
            CancelBuilder::fd(target.raw())
        };
        self.push_cancel(&mut st, opcode::AsyncCancel2::new(builder.all()).build());
        let after = Self::aftermath(&mut st);
        drop(st);
        after.run();
    }

    /// Runs `task` on this ring's turns until it finishes (see [`Background`]).
    /// Dropped at once if the ring is shutting down.
    pub(crate) fn spawn_background(&self, task: Task) {
        if !self.lock().stopping {
            self.inner.background.spawn(task);
        }
    }

    /// The owner enters (`true`) or leaves (`false`) `block_on`. While the
    /// owner is away nothing reaps this ring, so operations of other threads
    /// are refused with [`Error::HomeIdle`], and leaving cancels those in
    /// flight (they complete with `HomeIdle`) and waits for the kernel to
    /// release them. The owner's own tasks keep their operations: they
    /// resume on the next `block_on`.
    pub(crate) fn set_driving(&self, driving: bool) {
        if self.inner.hosted {
            return;
        }
        self.lock().driving = driving;
        if !driving {
            self.retire_foreign();
        }
    }

    fn retire_foreign(&self) {
        debug_assert!(self.is_owner_thread());
        // Queued submissions are refused now that `driving` is false.
        self.drain_remote();
        {
            let mut st = self.lock();
            let foreign: Vec<usize> = st
                .ops
                .iter()
                .filter(|(_, e)| e.foreign && e.ended_by.is_none() && e.life.in_kernel())
                .map(|(i, _)| i)
                .collect();
            for index in foreign {
                st.ops[index].ended_by = Some(Error::HomeIdle);
                st.retiring += 1;
                self.push_cancel(&mut st, opcode::AsyncCancel::new(index as u64).build());
            }
            if st.retiring == 0 {
                return;
            }
        }
        let started = Instant::now();
        while self.lock().retiring > 0 {
            if let Err(err) = self.enter_wait(Some(Duration::from_millis(10))) {
                tracing::error!(%err, "io_uring_enter failed while going idle");
            }
            self.reap();
            if started.elapsed() > Duration::from_secs(5) {
                tracing::warn!("operations of other threads still in the kernel after going idle");
                break;
            }
        }
    }

    fn post(&self, work: Remote) {
        self.inner.remote.push(work);
        self.inner.unparker.unpark();
    }

    // ----- fixed files ------------------------------------------------------

    /// Registers `fd` in a free slot of the fixed-file table (owner thread only).
    /// `None` when the table is full or this is not the owner thread: the
    /// caller then uses the plain descriptor.
    pub(crate) fn register_fixed(&self, fd: RawFd) -> Option<u32> {
        // A single-issuer ring rejects registration from other threads; a
        // hosted ring (no such flag) takes it from any thread.
        if !self.is_owner_thread() && !self.inner.hosted {
            return None;
        }
        let mut st = self.lock();
        if st.shut_down || st.fixed.capacity() == 0 {
            return None;
        }
        let Some(slot) = st.fixed.alloc() else {
            Counters::bump(&self.inner.counters.fixed_table_full);
            tracing::debug!("fixed-file table full; descriptor uses its plain number");
            return None;
        };
        match self.inner.ring.submitter().register_files_update(slot, &[fd]) {
            Ok(_) => {
                Counters::bump(&self.inner.counters.fixed_registered);
                Some(slot)
            }
            Err(err) => {
                tracing::warn!(%err, slot, "register_files_update failed; using plain descriptor");
                st.fixed.free(slot);
                None
            }
        }
    }

    /// Unregisters `slot`, then closes `fd`, then runs `then`. Called once the
    /// descriptor's last fd-mutex reference is gone.
    pub(crate) fn release_fixed(&self, slot: u32, fd: OwnedFd, then: Box<dyn FnOnce() + Send>) {
        let mut st = self.lock();
        if st.shut_down {
            // The whole table was unregistered at shutdown.
            drop(st);
            drop(fd);
            return then();
        }
        if !self.is_owner_thread() && !self.inner.hosted {
            drop(st);
            return self.post(Remote::Release { slot, fd, then });
        }
        self.unregister_locked(&mut st, slot);
        drop(st);
        drop(fd);
        then();
    }

    fn unregister_locked(&self, st: &mut State, slot: u32) {
        if let Err(err) = self.inner.ring.submitter().register_files_update(slot, &[-1]) {
            tracing::error!(%err, slot, "could not unregister fixed slot; leaking it");
            return;
        }
        st.fixed.free(slot);
    }

    // ----- the owner's turn -------------------------------------------------

    /// True when other threads have posted work for the owner.
    pub(crate) fn has_remote_work(&self) -> bool {
        !self.inner.remote.is_empty() || self.inner.background.has_ready()
    }

    /// One driver turn on the owner thread: run posted work, submit everything
    /// queued (one `io_uring_enter`), optionally wait, then reap.
    ///
    /// `wait`: `None` = don't block; `Some(None)` = block until a completion or
    /// an unpark; `Some(Some(d))` = block at most `d`.
    pub(crate) fn turn(&self, wait: Option<Option<Duration>>) -> io::Result<()> {
        debug_assert!(self.is_owner_thread());
        self.inner.background.run();
        self.drain_remote();
        let (pending_sq, in_kernel) = {
            let mut st = self.lock();
            if !st.wake_armed && !st.stopping {
                self.arm_wake(&mut st);
            }
            // The armed wake read is always in the kernel; it alone is no reason to enter.
            let ops_in_kernel = st.in_kernel - usize::from(st.wake_armed);
            // SAFETY: SQ ring memory is only read under the state lock.
            let queued = unsafe { self.inner.ring.submission_shared() }.len();
            (queued, ops_in_kernel)
        };
        let result = match wait {
            Some(timeout) => self.enter_wait(timeout),
            None if pending_sq > 0 || in_kernel > 0 => self.enter_nowait(pending_sq),
            None => Ok(()),
        };
        // Awake now: wakes issued while reaping (usually for tasks of this
        // very thread) must not write the eventfd.
        self.inner.unparker.park_end();
        self.reap();
        result
    }

    /// One turn of a hosted ring, on whichever thread the host runs it:
    /// consume the eventfd signal, push what other threads queued, submit,
    /// and reap (waking the tasks whose operations completed). Never blocks.
    pub(crate) fn turn_hosted(&self) -> io::Result<()> {
        debug_assert!(self.inner.hosted);
        let previous = OWNED_DRIVER.with(|id| id.replace(self.inner.id));
        self.inner.unparker.park_end();
        // Consume the signal before reaping: a completion posted after this
        // read signals the eventfd again, so the host comes back for it.
        // (Leaving the counter undrained measured no faster, and would make
        // a level-triggered host spin.)
        let mut counter = [0u8; 8];
        let _ = rustix::io::read(&*self.inner.wake_fd, &mut counter);
        self.inner.background.run();
        self.drain_remote();
        let queued = {
            let _st = self.lock();
            // SAFETY: SQ ring memory is only read under the state lock.
            unsafe { self.inner.ring.submission_shared() }.len()
        };
        let result = if queued > 0 { self.enter_nowait(queued) } else { Ok(()) };
        self.reap();
        OWNED_DRIVER.with(|id| id.set(previous));
        result
    }

    /// A hosted ring's driving task is about to wait: `waker` is woken when
    /// another thread queues work. Returns `false` if work is already queued
    /// (turn again instead of waiting).
    pub(crate) fn park_hosted(&self, waker: &Waker) -> bool {
        self.inner.unparker.set_waker(waker);
        self.inner.unparker.park_begin();
        if self.has_remote_work() {
            self.inner.unparker.park_end();
            return false;
        }
        true
    }

    /// The descriptor a hosted ring's host watches: readable when completions
    /// arrived.
    pub(crate) fn notify_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.inner.wake_fd.as_fd()
    }

    /// Submits `queued` SQEs and runs deferred task work (GETEVENTS) without blocking.
    fn enter_nowait(&self, queued: usize) -> io::Result<()> {
        Counters::bump(&self.inner.counters.enters);
        let to_submit = queued.min(u32::MAX as usize) as u32;
        // SAFETY: no argument pointer is passed.
        entered(unsafe {
            self.inner
                .ring
                .submitter()
                .enter::<libc::sigset_t>(to_submit, 0, libc_getevents(), None)
        })
    }

    /// Submits what is queued and waits for one completion, at most `timeout`.
    fn enter_wait(&self, timeout: Option<Duration>) -> io::Result<()> {
        Counters::bump(&self.inner.counters.enters);
        let submitter = self.inner.ring.submitter();
        entered(match timeout {
            Some(d) => {
                let ts = Timespec::new().sec(d.as_secs()).nsec(d.subsec_nanos());
                submitter.submit_with_args(1, &SubmitArgs::new().timespec(&ts))
            }
            None => submitter.submit_and_wait(1),
        })
    }

    fn arm_wake(&self, st: &mut State) {
        let entry = opcode::Read::new(
            types::Fd(self.inner.wake_fd.as_raw_fd()),
            self.inner.wake_buf.as_ptr().cast(),
            8,
        )
        .build()
        .user_data(WAKE_TOKEN);
        // SAFETY: `wake_buf` is a boxed atomic owned by `Inner`, which outlives
        // the ring's last CQE (shutdown waits for `in_kernel == 0`); `Inner`
        // owns the eventfd too.
        if unsafe { self.push_entry(st, &entry) }.is_ok() {
            st.wake_armed = true;
            st.in_kernel += 1;
        }
    }

    fn drain_remote(&self) {
        while let Some(work) = self.inner.remote.pop() {
            match work {
                Remote::Submit(entry, fd) => {
                    let mut st = self.lock();
                    let refusal = if st.stopping {
                        Some(Completion::refused(Error::RuntimeShutDown))
                    } else if fd.is_some_and(|fd| fd.is_closed()) {
                        // Close started after the op was queued, and its cancel
                        // may be in the kernel already: the op must not follow it.
                        Some(Completion::refused(Error::Closed))
                    } else if !st.driving {
                        Some(Completion::refused(Error::HomeIdle))
                    } else {
                        None
                    };
                    let pushed = match refusal {
                        Some(c) => Err(c),
                        // SAFETY: the entry was built from its op's boxed data,
                        // which the op or the slab keeps at that address until
                        // the CQE for this index is reaped (see `push_op`).
                        None => unsafe { self.push_entry(&mut st, &entry) }.map_err(|e| Completion::failed(&e)),
                    };
                    // Counted in the kernel either way: a refusal completes it
                    // here, as if the kernel had.
                    st.in_kernel += 1;
                    if let Err(c) = pushed {
                        self.on_cqe(&mut st, entry.get_user_data(), c);
                    }
                    let after = Self::aftermath(&mut st);
                    drop(st);
                    after.run();
                }
                Remote::Cancel(index) => {
                    let mut st = self.lock();
                    // Only if that index still holds an abandoned op; if it was
                    // reaped and reused, the new op must not be cancelled.
                    if matches!(
                        st.ops.get(index),
                        Some(Entry {
                            life: Lifecycle::Ignored(_),
                            ..
                        })
                    ) {
                        self.push_cancel(&mut st, opcode::AsyncCancel::new(index as u64).build());
                    }
                }
                Remote::CancelFd(target) => self.cancel_fd(target),
                Remote::Release { slot, fd, then } => self.release_fixed(slot, fd, then),
            }
        }
    }

    /// Moves every available CQE into the slab and wakes the futures waiting on them.
    pub(crate) fn reap(&self) -> usize {
        let mut st = self.lock();
        let n = self.reap_locked(&mut st);
        let after = Self::aftermath(&mut st);
        drop(st);
        after.run();
        n
    }

    fn reap_locked(&self, st: &mut State) -> usize {
        let mut reaped = 0;
        loop {
            // SAFETY: the CQ ring memory is only touched under the state lock.
            let cq = unsafe { self.inner.ring.completion_shared() };
            for cqe in cq {
                reaped += 1;
                self.on_cqe(
                    st,
                    cqe.user_data(),
                    Completion {
                        result: cqe.result(),
                        flags: cqe.flags(),
                    },
                );
            }
            // SAFETY: as above, for the SQ flags word.
            let overflow = unsafe { self.inner.ring.submission_shared() }.cq_overflow();
            if !overflow {
                return reaped;
            }
            // NODROP kept the completions that did not fit; an enter with
            // GETEVENTS (the submit below adds it when the flag is set) moves them
            // into the CQ, which we just emptied.
            Counters::bump(&self.inner.counters.cq_overflows);
            tracing::debug!("completion queue overflowed; flushing the kernel's backlog");
            Counters::bump(&self.inner.counters.enters);
            if let Err(err) = self.inner.ring.submitter().submit() {
                if !matches!(err.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN | libc::EINTR)) {
                    tracing::error!(%err, "flushing CQ overflow failed");
                    return reaped;
                }
            }
        }
    }

    fn on_cqe(&self, st: &mut State, user_data: u64, c: Completion) {
        if user_data == CANCEL_TOKEN {
            return;
        }
        if user_data == WAKE_TOKEN {
            st.in_kernel -= 1;
            st.wake_armed = false;
            return;
        }
        let index = user_data as usize;
        let more = cqueue::more(c.flags);
        if !more {
            st.in_kernel -= 1;
            Counters::bump(&self.inner.counters.completed);
        }
        let stopping = st.stopping;
        let Some(entry) = st.ops.get_mut(index) else {
            tracing::error!(index, "completion for an unknown operation");
            return;
        };
        // A cancellation the driver made itself reports why.
        let mut c = c;
        if c.is_cancelled() {
            match &entry.ended_by {
                Some(err) => c = Completion::refused(err.clone()),
                None if stopping => c = Completion::refused(Error::RuntimeShutDown),
                None => {}
            }
        }
        if !more && entry.ended_by.is_some() {
            st.retiring -= 1;
        }
        match &mut entry.life {
            Lifecycle::Pending(waker) => {
                if let Some(w) = waker.take() {
                    st.woken.push(w);
                }
                entry.life = Lifecycle::Completed(c);
            }
            Lifecycle::Streaming {
                waker,
                queue,
                done,
                data,
            } => {
                queue.push_back(c);
                *done = !more;
                if !more {
                    // The kernel is done with the descriptor: let it go now,
                    // not when (if ever) the stream is polled again.
                    st.released.extend(data.take_reference());
                }
                if let Some(w) = waker.take() {
                    st.woken.push(w);
                }
            }
            Lifecycle::Ignored(orphan) => {
                orphan.on_cqe(&c);
                if !more {
                    st.released.extend(orphan.take_reference());
                    if let Entry {
                        life: Lifecycle::Ignored(orphan),
                        ..
                    } = st.ops.remove(index)
                    {
                        st.dead.push(orphan);
                    }
                }
            }
            Lifecycle::Completed(_) => {
                tracing::error!(index, "second completion for a single-shot operation")
            }
        }
    }

    // ----- shutdown and stats -----------------------------------------------

    /// Cancels everything in flight and waits until the kernel has let go of
    /// every buffer, then unregisters the fixed-file table. Owner thread only.
    pub(crate) fn shutdown(&self) {
        debug_assert!(self.is_owner_thread() || self.inner.hosted);
        // A hosted ring is shut down by whichever thread drops its reactor.
        let previous = OWNED_DRIVER.with(|id| id.replace(self.inner.id));
        let started = Instant::now();
        let mut warned = false;
        self.begin_shutdown();
        // Every cancel in one go (batched into as few enters as the SQ
        // allows), then wait for the kernel to hand everything back.
        self.drain_remote();
        self.cancel_everything();
        loop {
            self.drain_remote();
            if self.lock().in_kernel == 0 {
                break;
            }
            if let Err(err) = self.enter_wait(Some(Duration::from_millis(100))) {
                tracing::error!(%err, "io_uring_enter failed during shutdown");
            }
            if self.reap() == 0 {
                // Nothing finished for a while: operations submitted after
                // the first cancel, or ones the kernel could not cancel yet.
                self.cancel_everything();
            }
            if !warned && started.elapsed() > Duration::from_secs(5) {
                warned = true;
                tracing::warn!("runtime shutdown still waiting for the kernel to finish operations");
            }
        }
        let mut st = self.lock();
        if st.fixed.capacity() > 0 {
            if let Err(err) = self.inner.ring.submitter().unregister_files() {
                tracing::warn!(%err, "unregister_files at shutdown failed");
            }
        }
        st.shut_down = true;
        drop(st);
        // Releases posted before `shut_down` was set.
        while let Some(work) = self.inner.remote.pop() {
            if let Remote::Release { fd, then, .. } = work {
                drop(fd);
                then();
            }
        }
        OWNED_DRIVER.with(|id| id.set(previous));
        tracing::debug!(id = self.inner.id, "io_uring driver shut down");
    }

    /// Stops taking work: operations submitted from now on fail with
    /// [`Error::RuntimeShutDown`], dropped ones are not cancelled one by one
    /// ([`Driver::shutdown`] cancels them all at once), and background tasks
    /// are dropped. Called before a runtime drops its tasks.
    pub(crate) fn begin_shutdown(&self) {
        self.lock().stopping = true;
        self.inner.background.clear();
    }

    /// Cancels every operation in the kernel, each by its `user_data`.
    ///
    /// Not one `ASYNC_CANCEL_ANY | ALL`: the kernel serves that by finding
    /// the first match again from the start of its cancel table for every
    /// request it cancels, skipping the ones it already marked, which is
    /// quadratic (10^4 operations took 0.8 s here). A cancel by `user_data`
    /// looks in one bucket of that table; with the 256 buckets a CQ of 8192
    /// entries gets (the kernel's maximum), 10^4 cancels take a few ms.
    fn cancel_everything(&self) {
        let mut st = self.lock();
        let in_kernel: Vec<u64> = st
            .ops
            .iter()
            .filter(|(_, e)| e.life.in_kernel() || matches!(e.life, Lifecycle::Ignored(_)))
            .map(|(index, _)| index as u64)
            .chain(st.wake_armed.then_some(WAKE_TOKEN))
            .collect();
        for user_data in in_kernel {
            self.push_cancel(&mut st, opcode::AsyncCancel::new(user_data).build());
        }
    }

    /// Counters and current occupancy.
    pub(crate) fn stats(&self) -> Stats {
        let st = self.lock();
        let in_flight = st.in_kernel - usize::from(st.wake_armed);
        self.inner
            .counters
            .snapshot(in_flight as u64, st.ops.len() as u64, st.fixed.in_use() as u64)
    }
}

/// `close` cancels a descriptor's operations with `IORING_ASYNC_CANCEL_FD`
/// (5.19) and `_FD_FIXED` (6.0); without them it would wait forever. A kernel
/// that rejects the flags (`EINVAL`) gets the readiness backend instead.
fn probe_fd_cancel(ring: &mut IoUring, fixed: bool, fd: RawFd) -> io::Result<()> {
    let target = if fixed {
        CancelBuilder::fd(types::Fixed(0))
    } else {
        CancelBuilder::fd(types::Fd(fd))
    };
    let entry = opcode::AsyncCancel2::new(target.all()).build().user_data(CANCEL_TOKEN);
    // SAFETY: a cancel request carries no pointers; the ring is not shared yet.
    unsafe { ring.submission().push(&entry) }.map_err(|_| io::Error::other("fresh submission queue is full"))?;
    ring.submit_and_wait(1)?;
    let result = ring.completion().next().map(|cqe| cqe.result());
    match result {
        Some(r) if r == -libc::EINVAL => Err(crate::error::Error::Unsupported(
            "kernel lacks fd-targeted cancellation (IORING_ASYNC_CANCEL_FD_FIXED, Linux 6.0)".into(),
        )
        .into()),
        Some(_) => Ok(()), // ENOENT: nothing to cancel, as expected
        None => Err(io::Error::other("no completion for the cancel probe")),
    }
}

/// An `io_uring_enter` outcome: timeouts, signals and "reap first" pushback
/// are not errors (the caller reaps and the scheduler loop goes on).
fn entered(res: io::Result<usize>) -> io::Result<()> {
    match res {
        Err(e)
            if !matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
            ) =>
        {
            Err(e)
        }
        _ => Ok(()),
    }
}

/// `IORING_ENTER_GETEVENTS`: also run deferred task work and post completions.
fn libc_getevents() -> u32 {
    1
}
