//! A model of kqueue, to run the core against on any platform: one knote
//! per (descriptor, filter), attached with `EV_ADD` (which evaluates the filter at once)
//! and deleted when delivered (`EV_ONESHOT`); fake descriptors whose
//! readiness the tests set; a user event with `EV_CLEAR`. A model
//! `collect` without a timeout blocks on a condition variable until
//! something fires, and fails the test if nothing does for [`HANG`].

use super::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// How long a model `collect` without a timeout may block before the
/// test calls it a lost wakeup.
pub(super) const HANG: Duration = Duration::from_secs(5);

/// The state of a fake descriptor.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FakeFd {
    /// Data to read (or EOF).
    pub(super) readable: bool,
    /// Room to write.
    pub(super) writable: bool,
    /// A pipe whose read end is closed: write knotes already attached
    /// fire (`EV_EOF`), new ones are refused with `EPIPE` (FreeBSD's
    /// `tests/sys/kern/pipe/pipe_kqueue_test.c` checks both).
    pub(super) reader_gone: bool,
}

/// The model kernel's state.
#[derive(Debug, Default)]
struct Kernel {
    /// Open descriptors.
    fds: HashMap<RawFd, FakeFd>,
    /// Knotes by (descriptor, filter), with their udata; all one-shot,
    /// the only kind the backend makes.
    knotes: BTreeMap<(RawFd, Filter), usize>,
    /// The user event (`EV_ADD | EV_CLEAR`) was triggered and not yet
    /// delivered.
    wake_triggered: bool,
    /// Wakeups delivered so far.
    wakeups: usize,
    /// Every change applied, in order.
    log: Vec<Change>,
    /// `collect`s blocked waiting for a change right now.
    blocked: usize,
}

impl Kernel {
    /// Whether `fd` is ready for `filter`'s knote to fire.
    fn is_ready(&self, fd: RawFd, filter: Filter) -> bool {
        let state = self.fds.get(&fd).copied().unwrap_or_default();
        match filter {
            Filter::Read => state.readable,
            Filter::Write => state.writable || state.reader_gone,
        }
    }

    /// Applies one change and returns its receipt's error.
    fn apply(&mut self, change: Change) -> Option<Errno> {
        self.log.push(change);
        let Some(state) = self.fds.get(&change.fd) else {
            return Some(Errno::BADF);
        };
        match change.op {
            ChangeOp::ArmOnce { .. } if change.filter == Filter::Write && state.reader_gone => Some(Errno::PIPE),
            ChangeOp::ArmOnce { key } => {
                self.knotes.insert((change.fd, change.filter), key);
                None
            }
            ChangeOp::Delete => self
                .knotes
                .remove(&(change.fd, change.filter))
                .is_none()
                .then_some(Errno::NOENT),
        }
    }

    /// Delivers what is ready: level-checked knotes, deleted as they fire
    /// (`EV_ONESHOT`), then the user event, reset as it fires (`EV_CLEAR`).
    fn scan(&mut self) -> Vec<Fired> {
        let ready: Vec<(RawFd, Filter)> = self
            .knotes
            .keys()
            .copied()
            .filter(|&(fd, filter)| self.is_ready(fd, filter))
            .collect();
        let mut fired: Vec<Fired> = ready
            .into_iter()
            .filter_map(|knote| self.knotes.remove(&knote).map(|key| Fired::Fd { key, filter: knote.1 }))
            .collect();
        if std::mem::take(&mut self.wake_triggered) {
            self.wakeups += 1;
            fired.push(Fired::Wakeup);
        }
        fired
    }
}

/// A model kqueue shared by the backend and the test.
#[derive(Default)]
pub(super) struct Model {
    /// The kernel's state.
    kernel: Mutex<Kernel>,
    /// Signalled whenever the state changes, for blocked `collect`s.
    changed: Condvar,
}

impl Model {
    /// Locks the state.
    fn kernel(&self) -> MutexGuard<'_, Kernel> {
        self.kernel.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state under the lock and wakes blocked `collect`s.
    fn update<R>(&self, f: impl FnOnce(&mut Kernel) -> R) -> R {
        let result = f(&mut self.kernel());
        self.changed.notify_all();
        result
    }

    /// Opens `fd` in state `state`.
    pub(super) fn open(&self, fd: RawFd, state: FakeFd) {
        self.update(|k| k.fds.insert(fd, state));
    }

    /// Changes the state of the open `fd`.
    pub(super) fn set(&self, fd: RawFd, f: impl FnOnce(&mut FakeFd)) {
        self.update(|k| f(k.fds.get_mut(&fd).expect("fd not open in the model")));
    }

    /// The knotes attached now.
    pub(super) fn knotes(&self) -> Vec<(RawFd, Filter)> {
        self.kernel().knotes.keys().copied().collect()
    }

    /// Returns once a `collect` on another thread is blocked in the model.
    pub(super) fn until_blocked(&self) {
        let deadline = Instant::now() + HANG;
        let mut kernel = self.kernel();
        while kernel.blocked == 0 {
            let now = Instant::now();
            assert!(now < deadline, "the waiter never blocked");
            kernel = self
                .changed
                .wait_timeout(kernel, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Wakeups delivered so far.
    pub(super) fn wakeups(&self) -> usize {
        self.kernel().wakeups
    }

    /// Every change applied so far.
    pub(super) fn log(&self) -> Vec<Change> {
        self.kernel().log.clone()
    }
}

impl KqueueSys for Model {
    fn open() -> io::Result<Model> {
        Ok(Model::default())
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        crate::backend::stand_in_fd()
    }

    fn apply(&self, list: &ChangeList) -> io::Result<Receipts> {
        let mut receipts: Receipts = [None; MAX_CHANGES];
        self.update(|k| {
            for (receipt, change) in receipts.iter_mut().zip(list.as_slice()) {
                *receipt = k.apply(*change);
            }
        });
        Ok(receipts)
    }

    fn collect(&self, timeout: Option<Duration>, on_fired: impl FnMut(Fired)) -> io::Result<()> {
        let deadline = Instant::now() + timeout.unwrap_or(HANG);
        let mut kernel = self.kernel();
        loop {
            let fired = kernel.scan();
            let now = Instant::now();
            if !fired.is_empty() || now >= deadline {
                assert!(
                    !fired.is_empty() || timeout.is_some(),
                    "kevent without a timeout blocked {HANG:?}"
                );
                drop(kernel);
                fired.into_iter().for_each(on_fired);
                return Ok(());
            }
            // Counted under the lock that `wait_timeout` releases
            // atomically: whoever sees the count sees us waiting.
            kernel.blocked += 1;
            self.changed.notify_all();
            kernel = self
                .changed
                .wait_timeout(kernel, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            kernel.blocked -= 1;
        }
    }

    fn trigger(&self) -> io::Result<()> {
        self.update(|k| k.wake_triggered = true);
        Ok(())
    }
}
