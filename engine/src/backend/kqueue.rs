//! The kqueue backend (macOS and the other Apple systems, FreeBSD, NetBSD,
//! OpenBSD, DragonFly): one `EV_ONESHOT` knote per armed direction, and a user
//! event (`EVFILT_USER`) for wakeups, or a self-pipe on the systems where
//! rustix has no user events (NetBSD, OpenBSD).
//!
//! # Why `EV_ONESHOT`
//!
//! kqueue keeps one knote per (descriptor, filter), so the two directions are
//! independent: arming WRITE never touches an armed READ, and nothing needs
//! re-associating after a delivery (unlike epoll and event ports). Each armed
//! direction is an `EV_ADD | EV_ONESHOT` knote with the driver's key as udata:
//! * attaching a knote evaluates its filter, so a descriptor that is already
//!   ready fires at once: the arm is level-checked, and readiness that arrived
//!   before it is not lost;
//! * the kernel deletes a one-shot knote as it delivers it, so a delivered
//!   direction is disarmed by construction and nothing can spin;
//! * arming a direction again before its pending event is collected updates
//!   that knote, which then fires once for both arms.
//!
//! `EV_DISPATCH` (disable on delivery, `EV_ENABLE` to arm again) would save a
//! knote allocation per arm, but whether enabling re-evaluates the filter (the
//! level check the contract relies on) has differed between kernels, and
//! disabled knotes would linger until `delete`. One-shot knotes are cheap and
//! behave the same on every kqueue.
//!
//! # Layout
//!
//! The bookkeeping ([`Core`]: which changes `arm` and `delete` make, how their
//! receipts are judged, how fired knotes become [`Event`]s, swallowing the
//! wakeup) is written against a small trait, [`KqueueSys`], so that it
//! compiles and is unit-tested on any platform against a model of kqueue
//! (`kqueue/model.rs`, with the tests in `kqueue/tests.rs`). [`Core`] is the
//! [`Poller`]; [`Kqueue`] is the core over `sys::Kevent`, the rustix
//! implementation of the trait, which alone is `cfg(kqueue)`
//! (`backend/mod.rs` includes this file under `cfg(any(kqueue, test))`).

use super::{Event, Poller};
use crate::fd::Interest;
use crate::sync::{Mutex, MutexGuard};
use rustix::io::Errno;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

/// The kqueue [`Poller`]: [`Core`] over the real kqueue.
#[cfg(kqueue)]
pub(crate) type Kqueue = Core<sys::Kevent>;

/// A kqueue filter this backend arms: one per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Filter {
    /// `EVFILT_READ`.
    Read,
    /// `EVFILT_WRITE`.
    Write,
}

impl Filter {
    /// Both filters, in the order change lists name them.
    const ALL: [Filter; 2] = [Filter::Read, Filter::Write];

    /// The event saying that `key` is ready for this filter's direction.
    fn event(self, key: usize) -> Event {
        let ready = match self {
            Filter::Read => Interest::READABLE,
            Filter::Write => Interest::WRITABLE,
        };
        Event::new(key, ready)
    }

    /// Whether `interest` includes this filter's direction.
    fn is_in(self, interest: Interest) -> bool {
        match self {
            Filter::Read => interest.is_readable(),
            Filter::Write => interest.is_writable(),
        }
    }
}

/// What a change does to the knote of one (descriptor, filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeOp {
    /// `EV_ADD | EV_ONESHOT` with udata `key`: attach a knote (or update the
    /// existing one) that fires once when the direction is ready, checked at
    /// once.
    ArmOnce {
        /// The driver's key, returned as the fired event's udata.
        key: usize,
    },
    /// `EV_DELETE`: remove the knote; `ENOENT` if there is none.
    Delete,
}

/// One entry of a `kevent` change list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    /// The descriptor (the knote's ident).
    fd: RawFd,
    /// The knote's filter.
    filter: Filter,
    /// What to do to the knote.
    op: ChangeOp,
}

/// Most changes in one list: one per filter.
const MAX_CHANGES: usize = Filter::ALL.len();

/// The change list for one descriptor: the same operation on each direction
/// of an interest, READ first. Held inline so that arming does not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChangeList {
    /// `changes[..len]` is the list; entries past `len` are unused copies,
    /// kept valid so that the whole array can be converted at once.
    changes: [Change; MAX_CHANGES],
    /// Number of changes in the list.
    len: usize,
}

impl ChangeList {
    /// `op` on each direction of `interest` on `fd` (empty if `interest` is).
    fn new(fd: RawFd, interest: Interest, op: ChangeOp) -> ChangeList {
        let unused = Change {
            fd,
            filter: Filter::Read,
            op,
        };
        let mut list = ChangeList {
            changes: [unused; MAX_CHANGES],
            len: 0,
        };
        for filter in Filter::ALL {
            if filter.is_in(interest) {
                list.changes[list.len] = Change { fd, filter, op };
                list.len += 1;
            }
        }
        list
    }

    /// The changes in the list.
    fn as_slice(&self) -> &[Change] {
        &self.changes[..self.len]
    }
}

/// The outcome of each change of a [`ChangeList`], by position: `None` if the
/// kernel accepted it, else the error its receipt carried.
type Receipts = [Option<Errno>; MAX_CHANGES];

/// A knote the kernel delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fired {
    /// A descriptor's knote fired: it is ready for the filter's direction, or
    /// hung up or failed (`EV_EOF`, `EV_ERROR`), which the retried call sees.
    Fd {
        /// The knote's udata: the key given to `arm`.
        key: usize,
        /// The knote's filter.
        filter: Filter,
    },
    /// The wakeup source fired: some thread called `notify`.
    Wakeup,
}

/// The kernel side of the backend: the seam between the bookkeeping in
/// [`Core`] and the syscalls, so that the bookkeeping can run against a model.
trait KqueueSys: Send + Sync + Sized + 'static {
    /// Creates a close-on-exec kqueue with the wakeup source registered.
    ///
    /// # Errors
    ///
    /// A system call failed (out of descriptors or memory).
    fn open() -> io::Result<Self>;

    /// The kqueue's descriptor.
    fn as_fd(&self) -> BorrowedFd<'_>;

    /// Applies `changes` in one `kevent` call with `EV_RECEIPT`, neither
    /// blocking nor collecting pending events, and returns each change's
    /// outcome.
    ///
    /// # Errors
    ///
    /// The call itself failed, so no change was judged.
    fn apply(&self, changes: &ChangeList) -> io::Result<Receipts>;

    /// Waits up to `timeout` (`None`: forever, zero: don't block) for knotes
    /// to fire and passes each to `on_fired`. Returning with none (timeout,
    /// signal) is allowed.
    ///
    /// # Errors
    ///
    /// `kevent` failed for a reason other than a signal.
    fn collect(&self, timeout: Option<Duration>, on_fired: impl FnMut(Fired)) -> io::Result<()>;

    /// Makes the wakeup source fire, ending a `collect` blocked in another
    /// thread (or the next one). Triggers that come before the wakeup is
    /// collected coalesce into one [`Fired::Wakeup`].
    ///
    /// # Errors
    ///
    /// The wakeup source could not be triggered.
    fn trigger(&self) -> io::Result<()>;
}

/// The backend's bookkeeping over a [`KqueueSys`]. This is the [`Poller`];
/// [`Kqueue`] is this over the real kqueue.
pub(crate) struct Core<S> {
    /// The kernel side.
    sys: S,
    /// Directions whose arm the kernel refused with `EPIPE`, to report ready
    /// at the next `wait`, with their descriptor so that `delete` can drop
    /// them. macOS and FreeBSD refuse a write knote on a pipe whose other end
    /// is closed: the write would fail at once, so the direction is ready
    /// (the retried write sees `EPIPE`), but no knote will ever say so.
    broken: Mutex<Vec<(RawFd, Event)>>,
}

impl<S> Core<S> {
    /// Wraps the kernel side `sys`.
    fn with_sys(sys: S) -> Core<S> {
        Core {
            sys,
            broken: Mutex::new(Vec::new()),
        }
    }

    /// Locks the list of refused directions (a panic while holding it cannot
    /// leave it inconsistent, so poisoning is ignored).
    fn broken(&self) -> MutexGuard<'_, Vec<(RawFd, Event)>> {
        self.broken.lock()
    }
}

impl<S: KqueueSys> Poller for Core<S> {
    fn new() -> io::Result<Self> {
        Ok(Core::with_sys(S::open()?))
    }

    /// Starts watching `fd`. kqueue has no per-descriptor registration (knotes
    /// are per direction and made by `arm`), so this only rejects what can
    /// never be a descriptor, as `epoll_ctl` would.
    fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        if fd < 0 {
            return Err(Errno::BADF.into());
        }
        tracing::trace!(fd, key, "kqueue add");
        Ok(())
    }

    /// Arms each direction of `interest` as a one-shot knote.
    fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        let changes = ChangeList::new(fd, interest, ChangeOp::ArmOnce { key });
        if changes.len == 0 {
            return Ok(());
        }
        let receipts = self.sys.apply(&changes)?;
        let mut refused = false;
        for (change, receipt) in changes.as_slice().iter().zip(receipts) {
            match receipt {
                None => {}
                Some(Errno::PIPE) => {
                    tracing::trace!(fd, key, filter = ?change.filter, "kqueue arm refused with EPIPE: reporting ready");
                    self.broken().push((fd, change.filter.event(key)));
                    refused = true;
                }
                Some(errno) => return Err(errno.into()),
            }
        }
        if refused {
            // No knote will fire for it, so end a wait that may already block.
            self.sys.trigger()?;
        }
        Ok(())
    }

    /// Removes both knotes of `fd` and any refused direction still to report.
    fn delete(&self, fd: RawFd) -> io::Result<()> {
        let changes = ChangeList::new(fd, Interest::READABLE | Interest::WRITABLE, ChangeOp::Delete);
        let receipts = self.sys.apply(&changes);
        self.broken().retain(|&(broken_fd, _)| broken_fd != fd);
        for receipt in receipts?.into_iter().take(changes.len) {
            match receipt {
                // ENOENT: never armed, or delivered (one-shot knotes are gone).
                None | Some(Errno::NOENT) => {}
                Some(errno) => return Err(errno.into()),
            }
        }
        Ok(())
    }

    /// Waits up to `timeout` and appends one event per fired knote to
    /// `events`, after the refused directions; the wakeup only ends the wait.
    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = {
            let mut broken = self.broken();
            if broken.is_empty() {
                timeout
            } else {
                events.extend(broken.drain(..).map(|(_, event)| event));
                // Events in hand: collect what else is ready, but don't block.
                Some(Duration::ZERO)
            }
        };
        self.sys.collect(timeout, |fired| match fired {
            Fired::Fd { key, filter } => events.push(filter.event(key)),
            Fired::Wakeup => tracing::trace!("kqueue woken by notify"),
        })
    }

    /// Wakes `wait` from any thread.
    fn notify(&self) -> io::Result<()> {
        self.sys.trigger()
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sys.as_fd()
    }
}

/// The real kqueue, on rustix.
#[cfg(kqueue)]
mod sys {
    use super::{Change, ChangeList, ChangeOp, Filter, Fired, KqueueSys, Receipts, MAX_CHANGES};
    use rustix::event::kqueue::{self, EventFilter, EventFlags};
    use rustix::io::{Errno, FdFlags};
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
    use std::ptr;
    use std::time::Duration;
    use wake::Wake;

    /// Most events one `wait` collects; the rest stay queued for the next.
    const WAIT_BATCH: usize = 128;

    /// A kqueue and its wakeup source.
    pub(crate) struct Kevent {
        /// The kqueue. Declared first so that it is closed before the wakeup
        /// pipe it watches (see [`kevent`]).
        kq: OwnedFd,
        /// The wakeup source, registered in `kq`.
        wake: Wake,
    }

    impl KqueueSys for Kevent {
        fn open() -> io::Result<Kevent> {
            let kq = kqueue::kqueue()?;
            // `kqueue()` has no close-on-exec flag on every system; set it now.
            rustix::io::fcntl_setfd(&kq, FdFlags::CLOEXEC)?;
            let wake = Wake::new()?;
            wake.register(kq.as_fd())?;
            Ok(Kevent { kq, wake })
        }

        fn as_fd(&self) -> BorrowedFd<'_> {
            self.kq.as_fd()
        }

        fn apply(&self, list: &ChangeList) -> io::Result<Receipts> {
            let kevents = list.changes.map(to_kevent);
            let mut slots = [MaybeUninit::uninit(); MAX_CHANGES];
            let receipts = submit(self.kq.as_fd(), &kevents[..list.len], &mut slots[..list.len])?;
            let mut outcome: Receipts = [None; MAX_CHANGES];
            for receipt in receipts.iter() {
                // A receipt names its knote: match on that, not on the order.
                let change = list
                    .as_slice()
                    .iter()
                    .position(|change| knote_of(receipt) == Some((change.fd, change.filter)));
                match change {
                    Some(index) => outcome[index] = receipt_error(receipt),
                    None => tracing::warn!("kqueue: ignoring a receipt for a change not made"),
                }
            }
            Ok(outcome)
        }

        fn collect(&self, timeout: Option<Duration>, mut on_fired: impl FnMut(Fired)) -> io::Result<()> {
            let mut buf = [MaybeUninit::uninit(); WAIT_BATCH];
            let fired = match kevent(self.kq.as_fd(), &[], &mut buf, timeout) {
                Ok(fired) => fired,
                // A signal ended the wait early: a spurious wakeup, which is allowed.
                Err(Errno::INTR) => return Ok(()),
                Err(errno) => return Err(errno.into()),
            };
            tracing::trace!(count = fired.len(), "kqueue events");
            for event in fired.iter() {
                if self.wake.take(event) {
                    on_fired(Fired::Wakeup);
                    continue;
                }
                // `EV_EOF` and `EV_ERROR` need no case of their own: they come
                // on the knote of the direction they concern, which is then
                // ready (the retried call sees the hang-up or the error).
                match knote_of(event) {
                    Some((_, filter)) => on_fired(Fired::Fd {
                        key: event.udata().addr(),
                        filter,
                    }),
                    None => tracing::debug!("kqueue: ignoring an event of a filter never armed"),
                }
            }
            Ok(())
        }

        fn trigger(&self) -> io::Result<()> {
            self.wake.trigger(self.kq.as_fd())
        }
    }

    /// The kevent of `change`, with `EV_RECEIPT` so that it reports its
    /// outcome (see [`submit`]).
    fn to_kevent(change: Change) -> kqueue::Event {
        let filter = match change.filter {
            Filter::Read => EventFilter::Read(change.fd),
            Filter::Write => EventFilter::Write(change.fd),
        };
        let (flags, key) = match change.op {
            ChangeOp::ArmOnce { key } => (EventFlags::ADD | EventFlags::ONESHOT, key),
            ChangeOp::Delete => (EventFlags::DELETE, 0),
        };
        kqueue::Event::new(filter, flags | EventFlags::RECEIPT, ptr::without_provenance_mut(key))
    }

    /// The (descriptor, filter) of a read or write knote's event.
    fn knote_of(event: &kqueue::Event) -> Option<(RawFd, Filter)> {
        match event.filter() {
            EventFilter::Read(fd) => Some((fd, Filter::Read)),
            EventFilter::Write(fd) => Some((fd, Filter::Write)),
            _ => None,
        }
    }

    /// The error a receipt carries, if any.
    fn receipt_error(receipt: &kqueue::Event) -> Option<Errno> {
        if !receipt.flags().contains(EventFlags::ERROR) {
            // Not a receipt but a pending event, which `submit` rules out.
            tracing::warn!("kqueue: an event where a receipt was expected");
            return None;
        }
        // errno values fit in an `i32`.
        (receipt.data() != 0).then(|| Errno::from_raw_os_error(receipt.data() as i32))
    }

    /// Applies `changes`, each of which must carry `EV_RECEIPT`, and returns
    /// their receipts (`EV_ERROR` set, `data` the errno or 0).
    ///
    /// `receipts` has exactly one slot per change, so the kernel fills them
    /// all with receipts and returns without dequeuing a pending event (which
    /// would be lost here); the zero timeout means it never blocks either.
    fn submit<'a>(
        kq: BorrowedFd<'_>,
        changes: &[kqueue::Event],
        receipts: &'a mut [MaybeUninit<kqueue::Event>],
    ) -> io::Result<&'a mut [kqueue::Event]> {
        debug_assert_eq!(changes.len(), receipts.len());
        Ok(kevent(kq, changes, receipts, Some(Duration::ZERO))?)
    }

    /// Applies `change` alone and fails if the kernel refused it.
    fn submit_one(kq: BorrowedFd<'_>, change: kqueue::Event) -> io::Result<()> {
        let mut slot = [MaybeUninit::uninit()];
        match submit(kq, &[change], &mut slot)?.first().and_then(receipt_error) {
            None => Ok(()),
            Some(errno) => Err(errno.into()),
        }
    }

    /// `kevent(2)`: applies `changes`, then collects up to `out.len()` fired
    /// events into `out`, waiting up to `timeout` (`None`: forever) for some.
    fn kevent<'a>(
        kq: BorrowedFd<'_>,
        changes: &[kqueue::Event],
        out: &'a mut [MaybeUninit<kqueue::Event>],
        timeout: Option<Duration>,
    ) -> rustix::io::Result<&'a mut [kqueue::Event]> {
        // SAFETY: `kevent` is unsafe because the kernel keeps knotes for the
        // descriptors a change list names and rustix cannot see that those stay
        // valid. The descriptors named here are the ones the readiness driver
        // `add`s, which it keeps open until after `delete` has removed their
        // knotes (the `Poller` contract; closing a descriptor also drops its
        // knotes, so none outlives it), and the wakeup pipe's read end, which
        // `Kevent` owns and closes only after the kqueue. User events name no
        // descriptor. `out` is uninitialized memory that rustix only writes.
        let (fired, _) = unsafe { kqueue::kevent(kq, changes, out, timeout)? };
        Ok(fired)
    }

    /// Wakeups by `EVFILT_USER`.
    #[cfg(any(target_vendor = "apple", target_os = "freebsd", target_os = "dragonfly"))]
    mod wake {
        use super::submit_one;
        use rustix::event::kqueue::{self, EventFilter, EventFlags, UserDefinedFlags, UserFlags};
        use std::io;
        use std::os::fd::BorrowedFd;
        use std::ptr;

        /// Ident of the wakeup's user event (user events have their own
        /// namespace, so any value does).
        const IDENT: isize = 0;

        /// The user event `IDENT`, registered with `EV_CLEAR`: any number of
        /// triggers before it is collected make one event, and collecting it
        /// resets it, so it needs no draining.
        pub(super) struct Wake;

        impl Wake {
            /// A wakeup source to register.
            pub(super) fn new() -> io::Result<Wake> {
                Ok(Wake)
            }

            /// Adds the user event to `kq`.
            pub(super) fn register(&self, kq: BorrowedFd<'_>) -> io::Result<()> {
                submit_one(kq, user_event(EventFlags::ADD | EventFlags::CLEAR, UserFlags::empty()))
            }

            /// Fires the user event.
            pub(super) fn trigger(&self, kq: BorrowedFd<'_>) -> io::Result<()> {
                submit_one(kq, user_event(EventFlags::empty(), UserFlags::TRIGGER))
            }

            /// Whether `event` is the wakeup.
            pub(super) fn take(&self, event: &kqueue::Event) -> bool {
                matches!(event.filter(), EventFilter::User { .. })
            }
        }

        /// A change to the user event `IDENT`, with a receipt.
        fn user_event(flags: EventFlags, user: UserFlags) -> kqueue::Event {
            let filter = EventFilter::User {
                ident: IDENT,
                flags: user,
                user_flags: UserDefinedFlags::new(0),
            };
            kqueue::Event::new(filter, flags | EventFlags::RECEIPT, ptr::null_mut())
        }
    }

    /// Wakeups by a self-pipe, where rustix has no `EVFILT_USER`: rustix 1.1
    /// exposes it only for Apple systems, FreeBSD and DragonFly, although
    /// NetBSD 10 (and, per the libc crate, OpenBSD) have it too.
    #[cfg(not(any(target_vendor = "apple", target_os = "freebsd", target_os = "dragonfly")))]
    mod wake {
        use super::submit_one;
        use rustix::event::kqueue::{self, EventFilter, EventFlags};
        use rustix::io::Errno;
        use rustix::pipe::{pipe_with, PipeFlags};
        use std::io;
        use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
        use std::ptr;

        /// A non-blocking pipe whose read end is a level-triggered read knote:
        /// `trigger` writes a byte and `take` drains them all, so triggers
        /// before a wait coalesce and a full pipe loses nothing (it is already
        /// readable).
        pub(super) struct Wake {
            /// The read end, watched by the kqueue.
            read: OwnedFd,
            /// The write end.
            write: OwnedFd,
        }

        impl Wake {
            /// A new pipe to register.
            pub(super) fn new() -> io::Result<Wake> {
                let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
                Ok(Wake { read, write })
            }

            /// Adds the read end's knote to `kq`.
            pub(super) fn register(&self, kq: BorrowedFd<'_>) -> io::Result<()> {
                let change = kqueue::Event::new(
                    EventFilter::Read(self.read.as_raw_fd()),
                    EventFlags::ADD | EventFlags::RECEIPT,
                    ptr::null_mut(),
                );
                submit_one(kq, change)
            }

            /// Writes a byte, unless the pipe is full (then it is readable).
            pub(super) fn trigger(&self, _kq: BorrowedFd<'_>) -> io::Result<()> {
                loop {
                    match rustix::io::write(&self.write, &[1]) {
                        Ok(_) | Err(Errno::AGAIN) => return Ok(()),
                        Err(Errno::INTR) => {}
                        Err(errno) => return Err(errno.into()),
                    }
                }
            }

            /// Whether `event` is the wakeup; if so, drains the pipe so that
            /// the level-triggered knote stops firing.
            pub(super) fn take(&self, event: &kqueue::Event) -> bool {
                if !matches!(event.filter(), EventFilter::Read(fd) if fd == self.read.as_raw_fd()) {
                    return false;
                }
                let mut buf = [0u8; 64];
                loop {
                    match rustix::io::read(&self.read, &mut buf) {
                        Ok(n) if n > 0 => {}
                        Err(Errno::INTR) => {}
                        // Empty (AGAIN), or nothing more to read at all.
                        _ => return true,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
