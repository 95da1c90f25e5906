//! A model of epoll, to run the core against on any platform. It keeps the interest list and the
//! ready list, and follows the rules of Linux's `fs/eventpoll.c` that the core relies on:
//!
//! * `EPOLL_CTL_ADD` adds `EPOLLERR | EPOLLHUP` to the mask asked for, then polls the descriptor
//!   and queues the registration if it is ready for the mask (`ep_insert`);
//! * a wakeup of a descriptor (the peer sent, drained, shut down or closed: not the descriptor's
//!   own reads and writes, which wake the peer) queues each registration asking for one of the
//!   bits it is ready for (`ep_poll_callback`), whether or not its readiness changed;
//! * a registration is on the ready list at most once, and a failed `epoll_ctl` changes nothing;
//! * `epoll_wait` takes registrations off the ready list in order and polls each again
//!   (`ep_send_events`): one no longer ready is dropped; one that is ready is reported with the
//!   bits it is ready for and, edge-triggered, stays off the list until the next wakeup;
//! * `EPOLL_CTL_DEL` and closing the descriptor remove the registration and its queued event;
//! * the wakeup, an edge-triggered eventfd, is one more entry of the ready list, queued by each
//!   `wake` that finds it off the list.
//!
//! Registrations are edge-triggered only, as the core makes them: `ctl` refuses others, which
//! the model would report as if they were.
//!
//! An untimed `wait` blocks on a condition variable until something is reported, and fails the
//! test if nothing is for [`HANG`].

use super::{EpollSys, Fired, Mask};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long an untimed `wait` may block before the test calls it a lost wakeup.
pub(super) const HANG: Duration = Duration::from_secs(10);

/// Most events one model `wait` reports, as the real backend's.
const BATCH: usize = 256;

/// Code run inside `wait` after it has taken its events, as if on another thread meanwhile.
type Hook = Box<dyn FnOnce() + Send>;

/// One registration of the interest list.
#[derive(Debug, Clone, Copy)]
struct Registration {
    /// Its mask, `EPOLLERR | EPOLLHUP` included.
    events: Mask,
    /// Its event data.
    data: u64,
}

/// An entry of the ready list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A descriptor's registration.
    Fd(RawFd),
    /// The wakeup's eventfd.
    Wakeup,
}

/// The model kernel's state.
#[derive(Default)]
struct Kernel {
    /// Open descriptors and the bits each is ready for (`IN`, `OUT`, `RDHUP`, `ERR`, `HUP`).
    fds: HashMap<RawFd, Mask>,
    /// The interest list.
    regs: HashMap<RawFd, Registration>,
    /// The ready list.
    ready: VecDeque<Entry>,
    /// Wakeups reported by `wait`.
    wakeups: usize,
    /// `wait`s blocked right now.
    blocked: usize,
    /// The error the next `epoll_ctl` fails with, changing nothing.
    fail_next_ctl: Option<i32>,
    /// Run by the next `wait` after it has taken its events.
    after_next_wait: Option<Hook>,
}

impl Kernel {
    /// The bits of `fd`'s registration that `fd` is ready for now.
    fn revents(&self, fd: RawFd) -> Mask {
        match (self.fds.get(&fd), self.regs.get(&fd)) {
            (Some(&ready), Some(reg)) => ready & reg.events & !Mask::ET,
            _ => Mask::empty(),
        }
    }

    /// Puts `entry` on the ready list unless it is there.
    fn queue(&mut self, entry: Entry) {
        if !self.ready.contains(&entry) {
            self.ready.push_back(entry);
        }
    }

    /// Queues `fd`'s registration if `fd` is ready for it (the callback of a wakeup, and the
    /// poll of `EPOLL_CTL_ADD`).
    fn poll(&mut self, fd: RawFd) {
        if !self.revents(fd).is_empty() {
            self.queue(Entry::Fd(fd));
        }
    }

    /// `epoll_ctl` with `op` (`ADD` or `DEL`); `mask` and `data` for the first.
    fn ctl(&mut self, op: Op, fd: RawFd, mask: Mask, data: u64) -> io::Result<()> {
        let fail = |errno| Err(io::Error::from_raw_os_error(errno));
        if let Some(errno) = self.fail_next_ctl.take() {
            return fail(errno);
        }
        if !self.fds.contains_key(&fd) {
            return fail(libc::EBADF);
        }
        match (op, self.regs.contains_key(&fd)) {
            (Op::Add, true) => return fail(libc::EEXIST),
            (Op::Del, false) => return fail(libc::ENOENT),
            _ => {}
        }
        if op == Op::Del {
            self.regs.remove(&fd);
            self.ready.retain(|&entry| entry != Entry::Fd(fd));
            return Ok(());
        }
        assert!(
            mask.contains(Mask::ET),
            "the model has edge-triggered registrations only"
        );
        let events = mask | Mask::ERR | Mask::HUP;
        self.regs.insert(fd, Registration { events, data });
        self.poll(fd);
        Ok(())
    }

    /// Takes up to [`BATCH`] events off the ready list (`ep_send_events`).
    fn harvest(&mut self) -> Vec<Fired> {
        let mut fired = Vec::new();
        while fired.len() < BATCH {
            let Some(entry) = self.ready.pop_front() else { break };
            let fd = match entry {
                Entry::Wakeup => {
                    self.wakeups += 1;
                    fired.push(Fired::Wakeup);
                    continue;
                }
                Entry::Fd(fd) => fd,
            };
            let mask = self.revents(fd);
            let Some(reg) = self.regs.get(&fd) else { continue };
            if !mask.is_empty() {
                fired.push(Fired::Fd { data: reg.data, mask });
            }
        }
        fired
    }
}

/// An `epoll_ctl` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `EPOLL_CTL_ADD`.
    Add,
    /// `EPOLL_CTL_DEL`.
    Del,
}

/// A model of one epoll instance, its wakeup, and the descriptors the tests open in it.
pub(super) struct Model {
    /// The kernel's state.
    kernel: Mutex<Kernel>,
    /// Signalled whenever the state changes, for blocked `wait`s.
    changed: Condvar,
}

impl Model {
    /// An epoll instance with nothing registered and no descriptor open.
    pub(super) fn new() -> Arc<Model> {
        Arc::new(Model {
            kernel: Mutex::default(),
            changed: Condvar::new(),
        })
    }

    /// Locks the state.
    fn kernel(&self) -> MutexGuard<'_, Kernel> {
        self.kernel.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state under the lock and wakes blocked `wait`s.
    fn update<R>(&self, f: impl FnOnce(&mut Kernel) -> R) -> R {
        let result = f(&mut self.kernel());
        self.changed.notify_all();
        result
    }

    /// Opens `fd`, ready for the bits in `ready`.
    pub(super) fn open(&self, fd: RawFd, ready: Mask) {
        self.update(|k| k.fds.insert(fd, ready));
    }

    /// A wakeup of the open `fd` that changes the bits it is ready for with `f`: queues its
    /// registration if it asks for one of them.
    pub(super) fn wake_up(&self, fd: RawFd, f: impl FnOnce(&mut Mask)) {
        self.update(|k| {
            f(k.fds.get_mut(&fd).expect("descriptor not open in the model"));
            k.poll(fd);
        });
    }

    /// Changes the bits the open `fd` is ready for with `f`, without a wakeup (its own reads
    /// and writes).
    pub(super) fn quietly(&self, fd: RawFd, f: impl FnOnce(&mut Mask)) {
        self.update(|k| f(k.fds.get_mut(&fd).expect("descriptor not open in the model")));
    }

    /// Closes `fd`: its registration and queued event go with it.
    pub(super) fn close(&self, fd: RawFd) {
        self.update(|k| {
            k.fds.remove(&fd);
            k.regs.remove(&fd);
            k.ready.retain(|&entry| entry != Entry::Fd(fd));
        });
    }

    /// The mask and data of `fd`'s registration.
    pub(super) fn registration(&self, fd: RawFd) -> Option<(Mask, u64)> {
        let k = self.kernel();
        k.regs.get(&fd).map(|reg| (reg.events, reg.data))
    }

    /// Entries on the ready list.
    pub(super) fn queued(&self) -> usize {
        self.kernel().ready.len()
    }

    /// Wakeups reported so far.
    pub(super) fn wakeups(&self) -> usize {
        self.kernel().wakeups
    }

    /// Makes the next `epoll_ctl` fail with `errno`.
    pub(super) fn fail_next_ctl(&self, errno: i32) {
        self.update(|k| k.fail_next_ctl = Some(errno));
    }

    /// Runs `hook` in the next `wait`, after it has taken its events and before it returns them.
    pub(super) fn after_next_wait(&self, hook: impl FnOnce() + Send + 'static) {
        self.update(|k| k.after_next_wait = Some(Box::new(hook)));
    }

    /// Returns once a `wait` on another thread is blocked in the model.
    pub(super) fn until_blocked(&self) {
        let deadline = Instant::now() + HANG;
        let mut k = self.kernel();
        while k.blocked == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the waiter never blocked");
            k = self
                .changed
                .wait_timeout(k, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl EpollSys for Arc<Model> {
    fn open() -> io::Result<Self> {
        Ok(Model::new())
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        crate::backend::stand_in_fd()
    }

    fn add(&self, fd: RawFd, mask: Mask, data: u64) -> io::Result<()> {
        self.update(|k| k.ctl(Op::Add, fd, mask, data))
    }

    fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.update(|k| k.ctl(Op::Del, fd, Mask::empty(), 0))
    }

    fn wait(&self, timeout: Option<Duration>, on_fired: impl FnMut(Fired)) -> io::Result<()> {
        let deadline = Instant::now() + timeout.unwrap_or(HANG);
        let mut k = self.kernel();
        let fired = loop {
            let fired = k.harvest();
            let left = deadline.saturating_duration_since(Instant::now());
            if !fired.is_empty() || left.is_zero() {
                assert!(
                    !fired.is_empty() || timeout.is_some(),
                    "an untimed epoll_wait blocked for {HANG:?}"
                );
                break fired;
            }
            // Counted under the lock that `wait_timeout` releases atomically: whoever sees the
            // count sees us waiting.
            k.blocked += 1;
            self.changed.notify_all();
            k = self
                .changed
                .wait_timeout(k, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            k.blocked -= 1;
        };
        let hook = k.after_next_wait.take();
        drop(k);
        if let Some(hook) = hook {
            hook();
        }
        fired.into_iter().for_each(on_fired);
        Ok(())
    }

    fn wake(&self) -> io::Result<()> {
        self.update(|k| k.queue(Entry::Wakeup));
        Ok(())
    }
}
