//! The owner's turn: run background tasks and work other threads posted,
//! submit everything queued with one `io_uring_enter` (waiting in it if the
//! scheduler has nothing to run), then reap. A hosted ring's turn is the
//! same, never waits, and may run on any thread, one at a time.

use super::driver::Driver;
use super::owner::OwnerGuard;
use super::stats::Counters;
use crate::runtime::park::Wait;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::task::Waker;

impl Driver {
    /// One turn on the owner thread.
    pub(crate) fn turn(&self, wait: Wait) -> io::Result<()> {
        debug_assert!(self.is_owner_thread());
        self.inner.background.run();
        self.drain_remote();
        let stopping = self.inner.stopping.load(Ordering::Acquire);
        let (queued, in_kernel) = self.with(|st| {
            if !st.wake_armed && !stopping {
                self.arm_wake(st);
            }
            // The armed wake read is always in the kernel; it alone is no
            // reason to enter.
            (st.ring.submission().len(), st.in_kernel - usize::from(st.wake_armed))
        });
        let result = match wait {
            Wait::No if queued == 0 && in_kernel == 0 => Ok(()),
            Wait::No => self.enter(false, None),
            Wait::Forever => self.enter(true, None),
            Wait::For(timeout) => self.enter(true, Some(timeout)),
        };
        // Awake now: wakes issued while reaping (usually for tasks of this
        // very thread) must not write the eventfd.
        self.inner.unparker.park_end();
        self.reap();
        result
    }

    /// One turn of a hosted ring, on whichever thread the host runs it:
    /// push what other threads queued, submit, and reap. Never waits for the kernel. A turn or set-up call
    /// ([`Driver::while_driving`]) in progress on another thread is waited
    /// for, then this one turns: skipping it would leave unanswered a signal
    /// the host has already taken (its readiness cleared), and nothing would
    /// signal again. Called from within such a call on this thread, it does
    /// nothing (the outer one has the ring).
    pub(crate) fn turn_hosted(&self) -> io::Result<()> {
        debug_assert!(self.inner.hosted);
        if self.is_owner_thread() {
            return Ok(());
        }
        // Acquire/Release: the previous turn's writes to the owner state
        // happen-before this one's. (Turns and set-up calls are short.)
        while self.inner.turning.swap(true, Ordering::Acquire) {
            std::thread::yield_now();
        }
        let _owner = OwnerGuard::enter(self.inner.id);
        self.inner.unparker.park_end();
        // Nothing to consume: the ring's descriptor stops being readable
        // as the reap below empties the CQ, and a CQE posted after that
        // wakes the host's poll again.
        self.inner.background.run();
        self.drain_remote();
        let result = self.submit_and_reap();
        drop(_owner);
        self.inner.turning.store(false, Ordering::Release);
        result
    }

    /// Runs `f` as this hosted ring's driver, for set-up that only the
    /// driving thread may do (registering a buffer ring): on the thread that
    /// is turning already, at once; elsewhere once no turn is in progress
    /// (yielding the thread meanwhile: a turn never blocks), holding off
    /// turns until `f` returns. Not for hot paths.
    pub(crate) fn while_driving<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.is_owner_thread() || !self.inner.hosted {
            return f(); // a runtime's ring: only its own thread can do this
        }
        // Acquire/Release: as in `turn_hosted`, whose flag this takes.
        while self.inner.turning.swap(true, Ordering::Acquire) {
            std::thread::yield_now();
        }
        let owner = OwnerGuard::enter(self.inner.id);
        let result = f();
        // What `f` queued (a disarmed receive's cancel) goes in now: no
        // signal would bring the host back for it.
        if let Err(err) = self.submit_and_reap() {
            tracing::warn!(%err, "io_uring_enter after a set-up call failed; the next turn retries");
        }
        drop(owner);
        self.inner.turning.store(false, Ordering::Release);
        result
    }

    /// A hosted ring, as its driver: submits what is queued and reaps, until
    /// no SQE is left queued. Reaping may queue SQEs of its own (the cancel
    /// of a receive past its cap, an orphan's cancel, a close's follow-up);
    /// they go in before the driver lets go, since nothing else would bring
    /// the host back for them (no completion, no remote work: no signal).
    fn submit_and_reap(&self) -> io::Result<()> {
        loop {
            if self.with(|st| !st.ring.submission().is_empty()) {
                self.enter(false, None)?;
            }
            self.reap();
            if self.with(|st| st.ring.submission().is_empty()) {
                return Ok(());
            }
        }
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

    /// The descriptor a hosted ring's host watches: the ring's own, readable
    /// while completions wait to be reaped (or the kernel holds an overflow
    /// backlog, which the reap flushes).
    pub(crate) fn notify_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: `ring_fd` is the descriptor of the ring `self.inner` owns;
        // it is closed only when `Inner` drops, which the borrow of `self`
        // rules out for the returned lifetime.
        unsafe { BorrowedFd::borrow_raw(self.inner.ring_fd) }
    }

    /// One `io_uring_enter`: submits every queued SQE, processes
    /// completions, and with `wait` waits for one (at most `timeout`).
    /// Timeouts, signals and "reap first" pushback are not errors: the
    /// caller reaps and the scheduler goes on.
    pub(super) fn enter(&self, wait: bool, timeout: Option<std::time::Duration>) -> io::Result<()> {
        Counters::bump(&self.inner.counters.enters);
        let res = self.with(|st| {
            let queued = st.ring.submission().len() as u32;
            st.enter.enter(queued, wait, timeout)
        });
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
}
