//! The owner's turn: run background tasks and work other threads posted,
//! submit everything queued with one `io_uring_enter` (waiting in it if the
//! scheduler has nothing to run), then reap. A hosted ring's turn is the
//! same, never waits, and may run on any thread, one at a time.

use super::driver::Driver;
use super::owner::OwnerGuard;
use super::stats::Counters;
use crate::error::Error;
use crate::runtime::park::Wait;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::task::Waker;

/// Enters one hosted turn may make for deferred work before it hands the
/// rest back to the host (see `submit_and_reap`).
const HOSTED_ENTERS: usize = 16;

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

    /// One turn of a hosted ring, on whichever thread the host runs it
    /// (a pinned ring: on the thread of its first turn, which enables it;
    /// elsewhere [`Error::PinnedElsewhere`]): push what other threads
    /// queued, submit, and reap. Never waits for the kernel. A turn or set-up call
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
        if let Err(err) = self.pin_here(true) {
            drop(_owner);
            self.inner.turning.store(false, Ordering::Release);
            return Err(err);
        }
        self.inner.unparker.park_end();
        // Nothing to consume first: a plain ring's descriptor stops being
        // readable as the reap empties the CQ, and a CQE posted after that
        // wakes the host; a pinned ring's eventfd is drained in
        // `submit_and_reap`, after the enter whose own CQEs signal it.
        //
        // A ring with a poller reaps again if the poller's wait reported the
        // ring's own descriptor. That epoll is what the host watches, and it
        // holds the ring's descriptor edge-triggered: a CQE posted between
        // the reap and the wait makes an edge that the wait takes, and
        // without a second reap the CQE would sit in the CQ with nothing
        // left to announce it. A CQE posted after the wait makes an edge
        // the host sees. (The second reap reads the CQ's shared memory; it
        // enters only if reaping queued SQEs.)
        self.inner.background.run();
        self.drain_remote();
        let result = self.submit_and_reap().and_then(|()| {
            #[cfg(all(test, not(loom)))]
            tests::between_steps(self);
            if self.turn_poller()? {
                self.submit_and_reap()?;
            }
            Ok(())
        });
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
        self.drive_taken(f)
    }

    /// [`Driver::while_driving`] on a hosted ring if no turn is in progress
    /// (else `None`, and `f` is not run): for a call that has somewhere
    /// else to go when the ring is busy.
    pub(crate) fn try_while_driving<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        debug_assert!(self.inner.hosted && !self.is_owner_thread());
        // Acquire/Release: as in `turn_hosted`, whose flag this takes.
        if self.inner.turning.swap(true, Ordering::Acquire) {
            return None;
        }
        Some(self.drive_taken(f))
    }

    /// Runs `f` as the driver of a hosted ring whose turn flag the caller
    /// took, submits what it queued, and gives the flag back.
    fn drive_taken<R>(&self, f: impl FnOnce() -> R) -> R {
        let owner = OwnerGuard::enter(self.inner.id);
        let here = self.pin_here(false);
        let result = f();
        // What `f` queued (a disarmed receive's cancel) goes in now: no
        // signal would bring the host back for it. A pinned ring this
        // thread may not enter (not enabled yet, or pinned to another)
        // signals its own eventfd instead, so that its thread turns.
        if here.is_ok() {
            if let Err(err) = self.submit_and_reap() {
                tracing::warn!(%err, "io_uring_enter after a set-up call failed; the next turn retries");
            }
        } else if self.with(|st| !st.ring.submission().is_empty()) {
            self.signal_pinned_host();
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
    ///
    /// A pinned ring also enters while the kernel holds deferred work for
    /// it (`IORING_SQ_TASKRUN`): an enter runs a bounded batch of it (20
    /// items on Linux 6.18) and leaves the flag set for the rest, without
    /// signalling the eventfd again. After [`HOSTED_ENTERS`] enters the
    /// turn signals the eventfd itself and lets the host's other tasks run.
    fn submit_and_reap(&self) -> io::Result<()> {
        let pinned = self.inner.pinned;
        let pending = |st: &mut super::state::OwnerState| {
            let sq = st.ring.submission();
            !sq.is_empty() || (pinned && sq.taskrun())
        };
        for round in 1.. {
            // Whether the kernel had deferred work queued: what signals a
            // pinned ring's eventfd (as CQEs do on any ring).
            let drains = self.inner.drains_signal;
            let deferred = drains && self.with(|st| st.ring.submission().taskrun());
            if self.with(pending) {
                if pinned {
                    // The CQEs this enter posts are reaped below: they need
                    // no signal, which would only wake the host to find
                    // nothing (an edge-triggered host is woken by every
                    // signal, drained or not). Work that others queue
                    // meanwhile sets `IORING_SQ_TASKRUN` before it tries
                    // to signal, and `pending` sees that flag after the
                    // fence below: either the kernel saw the signal
                    // enabled again, or this loop sees the flag.
                    self.with(|st| st.ring.completion().disable_eventfd());
                }
                let entered = self.enter(false, None);
                if pinned {
                    self.with(|st| st.ring.completion().enable_eventfd());
                    std::sync::atomic::fence(Ordering::SeqCst);
                }
                entered?;
            }
            if drains && (deferred || self.with(|st| !st.ring.completion().is_empty())) {
                // After the enter (the CQEs it posted signalled the eventfd,
                // and the reap below takes them) and before the reap (a CQE
                // posted after this read signals again). Work the kernel
                // queued after the enter has set `IORING_SQ_TASKRUN` before
                // signalling, so `pending` sees it even if this read took
                // its signal. A round with no deferred work and no CQE
                // waiting has had no signal to take (the enter that only
                // submitted, the driving task's second look): it reads
                // nothing, which spares an empty `read` per wake-up. An
                // edge-triggered host is woken by each signal whatever the
                // counter holds, so for it nothing is read at all.
                let mut counter = [0u8; 8];
                let _ = rustix::io::read(&*self.inner.wake_fd, &mut counter);
            }
            self.reap();
            if !self.with(pending) {
                break;
            }
            // A plain ring's queued SQEs are bounded by the SQ: finish them.
            // Deferred work may keep coming: hand it back to the host.
            if pinned && round == HOSTED_ENTERS {
                self.signal_pinned_host();
                break;
            }
        }
        Ok(())
    }

    /// A pinned ring's own thread must turn it (work is queued that only it
    /// can submit or run): makes the descriptor its host watches readable.
    fn signal_pinned_host(&self) {
        debug_assert!(self.inner.pinned);
        if let Err(err) = rustix::io::write(&*self.inner.wake_fd, &1u64.to_ne_bytes()) {
            // EAGAIN: the counter is saturated (2^64 - 2 signals, which no
            // edge-triggered host that never drains it will live to see),
            // so the host has a signal anyway.
            if err != rustix::io::Errno::AGAIN {
                tracing::error!(%err, "eventfd write failed");
            }
        }
    }

    /// For a pinned ring: `Ok` on the thread it is pinned to; a ring not
    /// enabled yet is enabled (`IORING_REGISTER_ENABLE_RINGS`) and pinned to
    /// this thread if `enable`, so that this thread becomes its only
    /// submitter. Any other ring: `Ok`. Called with the ring held (a turn,
    /// a set-up call, or shutdown), so two threads cannot both enable it.
    pub(super) fn pin_here(&self, enable: bool) -> io::Result<()> {
        if !self.inner.pinned {
            return Ok(());
        }
        let me = std::thread::current().id();
        match self.inner.pinned_to.get() {
            Some(&thread) if thread == me => Ok(()),
            Some(_) => Err(Error::PinnedElsewhere.into()),
            None if !enable => Err(Error::PinnedElsewhere.into()),
            None => {
                self.with(|st| st.ring.submitter().register_enable_rings())?;
                let _ = self.inner.pinned_to.set(me);
                tracing::debug!(id = self.inner.id, thread = ?me, "pinned hosted ring enabled");
                Ok(())
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

    /// The descriptor a hosted ring's host watches: its poller's epoll,
    /// readable while one of its sockets has an event or the ring's own
    /// descriptor does; without a poller the ring's own, readable while
    /// completions wait to be reaped (or the kernel holds an overflow
    /// backlog, which the reap flushes); a pinned ring's eventfd, which the
    /// kernel signals when it queues work for the ring's thread, and the
    /// turn drains.
    pub(crate) fn notify_fd(&self) -> BorrowedFd<'_> {
        if let Some(poller) = self.poller() {
            return poller.notify_fd();
        }
        // SAFETY: `notify_fd` is the ring's or `wake_fd`'s descriptor, both
        // owned by `self.inner` and closed only when it drops, which the
        // borrow of `self` rules out for the returned lifetime.
        unsafe { BorrowedFd::borrow_raw(self.inner.notify_fd) }
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

#[cfg(all(test, not(loom)))]
pub(super) mod tests {
    use super::Driver;
    use crate::driver::Driver as AnyDriver;
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use std::cell::Cell;

    thread_local! {
        /// Runs in a hosted turn between its reap and its poller's wait, on
        /// the turning thread.
        static BETWEEN_STEPS: Cell<Option<fn(&Driver)>> = const { Cell::new(None) };
    }

    pub(in crate::ring) fn between_steps(driver: &Driver) {
        if let Some(f) = BETWEEN_STEPS.get() {
            f(driver);
        }
    }

    /// Posts a CQE now: a `NOP` (with the user data the reap ignores),
    /// submitted and completed inline by one enter, without a reap.
    fn post_a_cqe(driver: &Driver) {
        let nop = io_uring::opcode::Nop::new()
            .build()
            .user_data(super::super::driver::CANCEL_TOKEN);
        // SAFETY: a `NOP` points at no memory.
        driver
            .with(|st| unsafe { st.ring.submission().push(&nop) })
            .expect("room in the SQ");
        driver.enter(false, None).expect("io_uring_enter");
    }

    /// A CQE that the kernel posts while a hosted turn is between its reap
    /// and its poller's wait is either reaped by that turn or leaves the
    /// host's descriptor readable. (Before the turn reaped again after such
    /// a wait, it lost the CQE: the wait took the edge the CQE made on the
    /// ring's descriptor, and nothing announced it again.)
    #[test]
    fn a_cqe_posted_mid_turn_is_reaped_or_announced() {
        let reactor = crate::Builder::new().build_reactor().expect("reactor");
        let AnyDriver::Ring(ring) = reactor.driver() else {
            return; // no io_uring here
        };
        assert!(ring.poller().is_some(), "an unpinned hosted ring has a poller");
        for round in 0..100 {
            BETWEEN_STEPS.set(Some(post_a_cqe));
            ring.turn_hosted().expect("turn");
            BETWEEN_STEPS.set(None);
            // Looked at as the driver (which reaps only after `f`).
            let (waiting, announced) = ring.while_driving(|| {
                let waiting = ring.with(|st| st.ring.completion().len());
                let host_fd = ring.notify_fd();
                let mut fds = [PollFd::new(&host_fd, PollFlags::IN)];
                let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
                (waiting, poll(&mut fds, Some(&zero)).expect("poll") == 1)
            });
            assert!(
                waiting == 0 || announced,
                "round {round}: {waiting} CQE(s) left in the CQ and the host's descriptor not readable"
            );
            // Whatever is left, the next turn takes.
            ring.turn_hosted().expect("turn");
        }
    }
}
