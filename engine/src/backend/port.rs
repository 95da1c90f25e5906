//! The event-ports readiness backend (illumos and Solaris).
//!
//! This file owns everything between the readiness driver's [`Poller`] calls and the port: the
//! per-descriptor record of which directions are armed, the `port_associate` calls that keep the
//! kernel's association equal to that record, the translation of port events into [`Event`]s, and
//! the wakeup of a blocked `port_getn`.
//!
//! The design follows the Go runtime's `netpoll_solaris.go`:
//!
//! * `add` associates the descriptor with an **empty** event set, so a bad descriptor fails at
//!   once and the port knows the descriptor before any I/O is attempted;
//! * `arm` associates the union of the armed directions. `port_associate` polls the descriptor
//!   itself, so readiness that arrived before the arm is queued at once (level-checked);
//! * the port dissociates a descriptor when it queues its event: one event per association. After
//!   each event the backend re-associates only the armed directions that event did **not**
//!   deliver. Re-associating a delivered direction would spin, since ports are level-triggered and
//!   the descriptor is still ready; forgetting the undelivered ones would lose their wakeup. A
//!   delivered direction is associated again only by the driver's next `arm`;
//! * `POLLHUP` and `POLLERR` make both directions ready, so waiters retry and see the condition.
//!
//! # Stale events
//!
//! Go serializes arming and event processing with the `pollDesc` lock, because by the time the
//! loop re-associates, the descriptor may have been closed and reopened. Here one mutex covers the
//! bookkeeping and every `port_associate`/`port_dissociate`, and `wait` processes its batch under
//! it. That is not enough on its own: an event that `port_getn` has already returned may describe
//! an association that was replaced before the lock was taken (`arm` re-associated, or the driver
//! deleted, closed, reopened the same number and re-added it, perhaps under the same key). So each
//! `port_associate` carries a fresh token as its user value, and an event is acted on only if its
//! token is the one its descriptor's registration last associated. Anything else, including
//! events for deleted descriptors, is dropped without touching the kernel; the association that
//! replaced it is live and reports for itself.
//!
//! # Wakeups
//!
//! `notify` queues a `PORT_SOURCE_USER` event with `port_send` rather than using Go's
//! `port_alert`. An alert puts the whole port in alert mode: every `port_getn` returns only the
//! alert until a second `port_alert` clears it, so descriptor events are held back for a round
//! and the waiter pays an extra system call (rustix does not wrap `port_alert` either). A user
//! event is retrieved alongside descriptor events. An atomic flag keeps at most one user event
//! outstanding, so a burst of `notify` calls costs one `port_send` and cannot make `wait` spin.
//!
//! # Layout
//!
//! The logic lives in [`Core`], generic over [`PortSys`] (the four port system calls), so that it
//! is unit-tested on any platform against a model of event-port semantics (see the tests). Only
//! [`RustixPort`] and [`EventPort`] are specific to illumos and Solaris.

use std::collections::HashMap;
use std::io;
use std::mem;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::Event;
#[cfg(evport)]
use super::Poller;
use crate::fd::Interest;

/// The port system calls the core needs, so tests can substitute a model of the kernel.
trait PortSys: Send + Sync {
    /// `port_associate(PORT_SOURCE_FD)`: (re-)associates `fd` with the directions in `interest`
    /// (an empty set is allowed), replacing any earlier association of `fd` and discarding its
    /// queued, not yet retrieved event. Events carry `user`.
    fn associate(&self, fd: RawFd, interest: Interest, user: usize) -> io::Result<()>;
    /// `port_dissociate(PORT_SOURCE_FD)`: fails with `ENOENT` if no association is active
    /// (for instance because its event was already retrieved).
    fn dissociate(&self, fd: RawFd) -> io::Result<()>;
    /// `port_getn`: waits up to `timeout` (`None`: forever) for at least one event and appends
    /// the retrieved events to `out`. A timeout is `Ok` with nothing appended; an interrupting
    /// signal is an error of kind [`io::ErrorKind::Interrupted`], with nothing appended.
    fn getn(&self, out: &mut Vec<RawEvent>, timeout: Option<Duration>) -> io::Result<()>;
    /// `port_send`: queues one user event, waking a blocked `getn`.
    fn send(&self) -> io::Result<()>;
}

/// Where a retrieved event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `PORT_SOURCE_FD`: an associated descriptor became ready.
    Fd,
    /// `PORT_SOURCE_USER`: a `port_send`, that is a `notify`.
    User,
    /// Anything else; this backend never asks for other sources, so such events are ignored.
    Other,
}

/// One event retrieved by `port_getn`, reduced to the fields the core reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawEvent {
    /// The event's source.
    source: Source,
    /// `portev_object`: the descriptor, for [`Source::Fd`].
    object: usize,
    /// `portev_events`: the `poll(2)` bits that fired, for [`Source::Fd`].
    events: i32,
    /// `portev_user`: the association's token, for [`Source::Fd`].
    user: usize,
}

/// The directions a port event makes ready. Errors and hang-ups ready both directions, so the
/// waiters retry their I/O and see the condition. (`POLLNVAL` is never reported for an
/// association, but treating it like an error costs nothing.)
fn ready_from(events: i32) -> Interest {
    let has = |bit: libc::c_short| events & i32::from(bit) != 0;
    let failed = has(libc::POLLERR) || has(libc::POLLHUP) || has(libc::POLLNVAL);
    Interest::new(failed || has(libc::POLLIN), failed || has(libc::POLLOUT))
}

/// The `ENOENT` that `epoll_ctl` would return for a descriptor that is not registered, so the
/// driver sees the same error from every backend.
fn not_registered() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}

/// Locks `mutex`, ignoring poisoning: the bookkeeping is written only after the system call it
/// records has succeeded, so a panic elsewhere cannot leave it describing a half-done change.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Advances `last` and returns the next association token. Tokens only have to differ from those
/// of associations whose events may still be in flight; on 64-bit targets they never wrap, and on
/// 32-bit targets a stale event would have to outlive four billion associations.
fn next_token(last: &mut usize) -> usize {
    *last = last.wrapping_add(1);
    *last
}

/// What the backend knows about one registered descriptor.
#[derive(Debug)]
struct Registration {
    /// The driver's key, reported in this descriptor's events.
    key: usize,
    /// Directions armed and not yet delivered. Whenever this is non-empty the kernel holds an
    /// association for exactly these directions carrying `token`, or has already returned its
    /// event to a `wait` that has yet to process it.
    armed: Interest,
    /// The user value of the latest successful `port_associate`.
    token: usize,
    /// Armed directions whose association a failed `port_associate` destroyed; the next `wait`
    /// reports them ready so their waiters retry and see the error instead of hanging.
    stranded: Interest,
}

/// The bookkeeping, behind [`Core::state`].
#[derive(Debug, Default)]
struct State {
    /// Registered descriptors. Keyed by descriptor because that is what `delete` and port events
    /// name; the key and token inside tell registrations of a reused number apart.
    regs: HashMap<RawFd, Registration>,
    /// The last token handed out by [`next_token`].
    last_token: usize,
    /// Descriptors that may have `stranded` directions to report.
    stranded: Vec<RawFd>,
}

/// The backend's logic over any [`PortSys`]: bookkeeping, re-association and wakeups.
struct Core<S> {
    /// The port's system calls.
    sys: S,
    /// The bookkeeping. Held across every `associate`/`dissociate` so that they and the
    /// processing of events happen in one order, but never across the blocking `getn`: `arm`,
    /// `delete` and `notify` may be called from other threads while the runtime thread waits.
    state: Mutex<State>,
    /// The buffer `getn` fills. Only the runtime thread calls `wait`, so this lock is never
    /// contended; it just lets `wait` reuse one allocation through `&self`.
    batch: Mutex<Vec<RawEvent>>,
    /// Whether a user event is queued or retrieved but not yet processed. At most one is.
    notified: AtomicBool,
}

impl<S: PortSys> Core<S> {
    /// Wraps `sys` with no descriptors registered.
    fn new(sys: S) -> Self {
        Self {
            sys,
            state: Mutex::default(),
            batch: Mutex::default(),
            notified: AtomicBool::new(false),
        }
    }

    /// Registers `fd` under `key` and associates it with no directions (Go's `netpollopen`).
    fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        let mut state = lock(&self.state);
        if state.regs.contains_key(&fd) {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        let token = next_token(&mut state.last_token);
        self.sys.associate(fd, Interest::NONE, token)?;
        state.regs.insert(
            fd,
            Registration {
                key,
                armed: Interest::NONE,
                token,
                stranded: Interest::NONE,
            },
        );
        Ok(())
    }

    /// Adds `interest` to the armed directions of `fd` (Go's `netpollarm`).
    fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        let mut state = lock(&self.state);
        let State {
            regs,
            last_token,
            stranded,
        } = &mut *state;
        let reg = match regs.get_mut(&fd) {
            Some(reg) if reg.key == key => reg,
            _ => return Err(not_registered()),
        };
        let armed = reg.armed | interest;
        if armed == reg.armed {
            // Already associated for these directions, or their event is on its way to `wait`.
            return Ok(());
        }
        let token = next_token(last_token);
        match self.sys.associate(fd, armed, token) {
            Ok(()) => {
                reg.armed = armed;
                reg.token = token;
                Ok(())
            }
            Err(err) => {
                // A failed re-association removes the descriptor's whole association, so the
                // directions armed before this call would never fire: report them from `wait`.
                if !reg.armed.is_empty() {
                    tracing::warn!(fd, %err, "port_associate failed; reporting the armed directions as ready");
                    if reg.stranded.is_empty() {
                        stranded.push(fd);
                    }
                    reg.stranded = reg.stranded | reg.armed;
                    reg.armed = Interest::NONE;
                    if let Err(wake_err) = self.notify() {
                        tracing::warn!(%wake_err, "could not wake the runtime thread");
                    }
                }
                Err(err)
            }
        }
    }

    /// Forgets `fd` and dissociates it (Go's `netpollclose`). The driver calls this before it
    /// closes `fd`; from here on, events already retrieved for `fd` are ignored.
    fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut state = lock(&self.state);
        if state.regs.remove(&fd).is_none() {
            return Err(not_registered());
        }
        match self.sys.dissociate(fd) {
            // The last association was consumed by its event and nothing was re-armed since.
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            result => result,
        }
    }

    /// Waits for events and appends one [`Event`] per key with newly ready armed directions
    /// (Go's `netpoll`).
    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        let mut batch = lock(&self.batch);
        batch.clear();
        loop {
            match self.sys.getn(&mut batch, timeout) {
                Ok(()) => break,
                // As in Go: a signal ends a timed wait, so the caller recomputes its deadline,
                // while an untimed wait simply blocks again.
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                    if timeout.is_some() {
                        return Ok(());
                    }
                }
                Err(err) => return Err(err),
            }
        }
        let mut state = lock(&self.state);
        for raw in batch.drain(..) {
            match raw.source {
                Source::Fd => self.process(&mut state, raw, events),
                Source::User => {
                    // Clearing the flag lets the next `notify` send again. Acquire pairs with the
                    // Release swap in `notify`: as a read-modify-write, this swap reads the latest
                    // `true`, so the writes of every `notify` that skipped its `port_send` because
                    // the flag was set happen before whatever the caller checks after `wait`.
                    self.notified.swap(false, Ordering::Acquire);
                }
                Source::Other => tracing::debug!(?raw, "ignored an event from an unexpected source"),
            }
        }
        for fd in mem::take(&mut state.stranded) {
            if let Some(reg) = state.regs.get_mut(&fd) {
                let ready = mem::replace(&mut reg.stranded, Interest::NONE);
                if !ready.is_empty() {
                    events.push(Event { key: reg.key, ready });
                }
            }
        }
        Ok(())
    }

    /// Handles one descriptor event (Go's event loop body plus `netpollupdate`).
    fn process(&self, state: &mut State, raw: RawEvent, events: &mut Vec<Event>) {
        let State { regs, last_token, .. } = state;
        let Some((fd, reg)) = RawFd::try_from(raw.object)
            .ok()
            .and_then(|fd| regs.get_mut(&fd).map(|reg| (fd, reg)))
        else {
            tracing::trace!(object = raw.object, "dropped an event for a deleted descriptor");
            return;
        };
        if reg.token != raw.user {
            tracing::trace!(fd, "dropped an event from a replaced association");
            return;
        }
        // This event consumed the association. Bits naming no direction (never expected) still
        // did, so then report every armed direction rather than strand or re-arm them.
        let fired = ready_from(raw.events);
        let mut ready = if fired.is_empty() {
            reg.armed
        } else {
            fired.intersection(reg.armed)
        };
        let rest = reg.armed.difference(ready);
        reg.armed = rest;
        if !rest.is_empty() {
            let token = next_token(last_token);
            match self.sys.associate(fd, rest, token) {
                Ok(()) => reg.token = token,
                Err(err) => {
                    tracing::warn!(fd, %err, "port_associate failed; reporting the armed directions as ready");
                    ready = ready | rest;
                    reg.armed = Interest::NONE;
                }
            }
        }
        if !ready.is_empty() {
            events.push(Event { key: reg.key, ready });
        }
    }

    /// Makes the current or next `wait` return (Go's `netpollBreak`).
    fn notify(&self) -> io::Result<()> {
        // Release publishes the caller's writes to the `wait` whose Acquire swap clears the flag.
        if self.notified.swap(true, Ordering::Release) {
            // A user event is queued, or retrieved and not yet processed: that `wait` returns.
            return Ok(());
        }
        self.sys
            .send()
            .inspect_err(|_| self.notified.store(false, Ordering::Relaxed))
    }
}

/// How many events one `port_getn` retrieves at most (Go uses the same batch).
#[cfg(evport)]
const BATCH: libc::c_uint = 128;

/// The longest single `port_getn` timeout, as in Go: an arbitrary cap (about 11.5 days) that any
/// `time_t` holds. A longer wait returns early with no events, which the `Poller` contract allows.
#[cfg(evport)]
const MAX_TIMEOUT: Duration = Duration::from_secs(1_000_000);

/// A blank batch entry. Its source (0) is not a real one, so an entry the kernel did not fill
/// would be ignored rather than misread.
#[cfg(evport)]
const BLANK: libc::port_event = libc::port_event {
    portev_events: 0,
    portev_source: 0,
    portev_pad: 0,
    portev_object: 0,
    portev_user: std::ptr::null_mut(),
};

/// The real port, on rustix (and libc for `port_getn`, see [`RustixPort::getn`]).
#[cfg(evport)]
struct RustixPort {
    /// The port's descriptor.
    port: std::os::fd::OwnedFd,
}

#[cfg(evport)]
impl RustixPort {
    /// Creates a port that is closed on `exec`.
    fn create() -> io::Result<Self> {
        use rustix::io::{fcntl_getfd, fcntl_setfd, FdFlags};

        let port = rustix::event::port::create()?;
        fcntl_setfd(&port, fcntl_getfd(&port)? | FdFlags::CLOEXEC)?;
        Ok(Self { port })
    }
}

#[cfg(evport)]
impl PortSys for RustixPort {
    fn associate(&self, fd: RawFd, interest: Interest, user: usize) -> io::Result<()> {
        use rustix::event::port::{associate_fd, PollFlags};

        let mut flags = PollFlags::empty();
        flags.set(PollFlags::IN, interest.is_readable());
        flags.set(PollFlags::OUT, interest.is_writable());
        // SAFETY: `associate_fd` requires `fd` to stay valid while it is associated; the `Poller`
        // contract has the driver call `delete`, which dissociates, before it closes `fd`. The
        // user value is a token that is compared, never dereferenced.
        unsafe { associate_fd(&self.port, fd, flags, std::ptr::without_provenance_mut(user)) }?;
        Ok(())
    }

    fn dissociate(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: `dissociate_fd` requires `fd` to have been associated with this port; the core
        // calls this only from `delete`, for a registered descriptor, which `add` associated.
        unsafe { rustix::event::port::dissociate_fd(&self.port, fd) }?;
        Ok(())
    }

    /// Calls `port_getn` through libc rather than rustix: `port_getn(3C)` may fail with `ETIME`
    /// *and* return events, which rustix reports as a bare error, losing events whose
    /// associations the kernel has already consumed. Go treats that case as success; so do we.
    fn getn(&self, out: &mut Vec<RawEvent>, timeout: Option<Duration>) -> io::Result<()> {
        use std::os::fd::AsRawFd;

        let mut list = [BLANK; BATCH as usize];
        let mut timespec = timeout.map(|timeout| {
            let timeout = timeout.min(MAX_TIMEOUT);
            libc::timespec {
                tv_sec: timeout.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
            }
        });
        let timeout = timespec.as_mut().map_or(std::ptr::null_mut(), std::ptr::from_mut);
        // In: block until at least one event. Out: how many events were written to `list`.
        let mut nget: libc::c_uint = 1;
        // SAFETY: `list` is a writable array of `BATCH` events, and `max` says so; `nget` and the
        // timespec (or null, to block indefinitely) are live locals the kernel uses only during
        // the call.
        let res = unsafe { libc::port_getn(self.port.as_raw_fd(), list.as_mut_ptr(), BATCH, &mut nget, timeout) };
        if res < 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::ETIME) if nget > 0 => {}
                Some(libc::ETIME) => return Ok(()),
                _ => return Err(err),
            }
        }
        let count = usize::try_from(nget).map_or(list.len(), |n| n.min(list.len()));
        out.extend(list[..count].iter().map(|event| RawEvent {
            source: match i32::from(event.portev_source) {
                libc::PORT_SOURCE_FD => Source::Fd,
                libc::PORT_SOURCE_USER => Source::User,
                _ => Source::Other,
            },
            object: event.portev_object,
            events: event.portev_events,
            user: event.portev_user.addr(),
        }));
        Ok(())
    }

    fn send(&self) -> io::Result<()> {
        rustix::event::port::send(&self.port, 0, std::ptr::null_mut())?;
        Ok(())
    }
}

/// The event-ports [`Poller`]: [`Core`] over a real port.
#[cfg(evport)]
pub(crate) struct EventPort {
    /// The logic, over the real system calls.
    core: Core<RustixPort>,
}

#[cfg(evport)]
impl Poller for EventPort {
    fn new() -> io::Result<Self> {
        Ok(Self {
            core: Core::new(RustixPort::create()?),
        })
    }

    fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        self.core.add(fd, key)
    }

    fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        self.core.arm(fd, key, interest)
    }

    fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.core.delete(fd)
    }

    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        self.core.wait(events, timeout)
    }

    fn notify(&self) -> io::Result<()> {
        self.core.notify()
    }

    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.core.sys.port)
    }
}

#[cfg(test)]
mod tests {
    //! The core against a model of event ports. Each scenario also runs against `Naive`, a
    //! plain implementation with one deliberate mistake, and must fail there: that shows the
    //! scenario can catch the mistake, not just that the core passes it.

    use super::*;
    use std::collections::VecDeque;
    use std::error::Error;
    use std::sync::{Arc, Condvar};
    use std::thread;
    use std::time::Instant;

    const IN: i32 = libc::POLLIN as i32;
    const OUT: i32 = libc::POLLOUT as i32;
    const HUP: i32 = libc::POLLHUP as i32;
    const ERR: i32 = libc::POLLERR as i32;
    const READ: Interest = Interest::READABLE;
    const WRITE: Interest = Interest::WRITABLE;
    const BOTH: Interest = Interest::new(true, true);

    /// How long the model lets an untimed `getn` block before failing the test.
    const NOTHING_ENDS_IT: Duration = Duration::from_secs(10);

    /// Code run inside `getn` after it dequeues, as if on another thread meanwhile.
    type Hook = Box<dyn FnOnce() + Send>;

    /// A model descriptor.
    #[derive(Default)]
    struct FakeFd {
        /// Poll bits the descriptor is ready for; the test sets them.
        ready: i32,
        /// Its association with the port, if any.
        assoc: Option<Assoc>,
    }

    /// A model association.
    struct Assoc {
        /// `POLLIN`/`POLLOUT` asked for.
        mask: i32,
        /// The user value events carry.
        user: usize,
        /// Its one event was queued (the kernel clears `PORT_KEV_VALID`): it never fires again.
        fired: bool,
        /// Its event is queued and not yet retrieved.
        queued: bool,
    }

    /// The model kernel's state.
    #[derive(Default)]
    struct Kernel {
        fds: HashMap<RawFd, FakeFd>,
        queue: VecDeque<RawEvent>,
        associates: usize,
        sends: usize,
        user_events_retrieved: usize,
        blocked_in_getn: usize,
        fail_next_associate: Option<i32>,
        interrupt_next_getn: bool,
        after_next_getn: Option<Hook>,
    }

    impl Kernel {
        /// Queues the association's event if the descriptor is ready for it, as both
        /// `port_associate` (level check) and a later wakeup do. `POLLHUP`/`POLLERR` always fire.
        fn fire_if_ready(&mut self, fd: RawFd) {
            let Some(file) = self.fds.get_mut(&fd) else { return };
            let Some(assoc) = file.assoc.as_mut() else { return };
            let revents = file.ready & (assoc.mask | HUP | ERR);
            if !assoc.fired && revents != 0 {
                assoc.fired = true;
                assoc.queued = true;
                self.queue.push_back(RawEvent {
                    source: Source::Fd,
                    object: fd as usize,
                    events: revents,
                    user: assoc.user,
                });
            }
        }

        /// Drops the queued, not yet retrieved event of `fd`.
        fn unqueue(&mut self, fd: RawFd) {
            self.queue
                .retain(|event| !(event.source == Source::Fd && event.object == fd as usize));
        }
    }

    /// A model of one event port and the descriptors associated with it.
    #[derive(Default)]
    struct Model {
        kernel: Mutex<Kernel>,
        changed: Condvar,
    }

    impl Model {
        fn new() -> Arc<Model> {
            Arc::default()
        }

        fn with<T>(&self, f: impl FnOnce(&mut Kernel) -> T) -> T {
            let result = f(&mut lock(&self.kernel));
            self.changed.notify_all();
            result
        }

        /// Opens descriptor `fd`, not ready for anything.
        fn open(&self, fd: RawFd) {
            self.with(|k| k.fds.insert(fd, FakeFd::default()));
        }

        /// Closes `fd`: the kernel dissociates it and drops its queued event.
        fn close(&self, fd: RawFd) {
            self.with(|k| {
                k.fds.remove(&fd);
                k.unqueue(fd);
            });
        }

        /// Sets the poll bits `fd` is ready for, firing its association if that matches.
        fn set_ready(&self, fd: RawFd, bits: i32) {
            self.with(|k| {
                k.fds.get_mut(&fd).expect("open descriptor").ready = bits;
                k.fire_if_ready(fd);
            });
        }

        /// The mask and user value of the association of `fd` that can still fire.
        fn live_association(&self, fd: RawFd) -> Option<(i32, usize)> {
            self.with(|k| {
                k.fds
                    .get(&fd)?
                    .assoc
                    .as_ref()
                    .filter(|a| !a.fired)
                    .map(|a| (a.mask, a.user))
            })
        }

        fn associates(&self) -> usize {
            self.with(|k| k.associates)
        }

        fn sends(&self) -> usize {
            self.with(|k| k.sends)
        }

        fn user_events_retrieved(&self) -> usize {
            self.with(|k| k.user_events_retrieved)
        }

        fn queued(&self) -> usize {
            self.with(|k| k.queue.len())
        }

        fn blocked_in_getn(&self) -> usize {
            self.with(|k| k.blocked_in_getn)
        }

        /// Queues an arbitrary event, as if the kernel had posted it.
        fn inject(&self, event: RawEvent) {
            self.with(|k| k.queue.push_back(event));
        }

        fn fail_next_associate(&self, errno: i32) {
            self.with(|k| k.fail_next_associate = Some(errno));
        }

        fn interrupt_next_getn(&self) {
            self.with(|k| k.interrupt_next_getn = true);
        }

        fn after_next_getn(&self, hook: impl FnOnce() + Send + 'static) {
            self.with(|k| k.after_next_getn = Some(Box::new(hook)));
        }
    }

    impl PortSys for Arc<Model> {
        fn associate(&self, fd: RawFd, interest: Interest, user: usize) -> io::Result<()> {
            self.with(|k| {
                k.associates += 1;
                if let Some(errno) = k.fail_next_associate.take() {
                    // Like `port_associate_fd`'s error path: the old association goes too.
                    if let Some(file) = k.fds.get_mut(&fd) {
                        file.assoc = None;
                    }
                    k.unqueue(fd);
                    return Err(io::Error::from_raw_os_error(errno));
                }
                let Some(file) = k.fds.get_mut(&fd) else {
                    return Err(io::Error::from_raw_os_error(libc::EBADF));
                };
                let mut mask = 0;
                if interest.is_readable() {
                    mask |= IN;
                }
                if interest.is_writable() {
                    mask |= OUT;
                }
                file.assoc = Some(Assoc {
                    mask,
                    user,
                    fired: false,
                    queued: false,
                });
                k.unqueue(fd);
                k.fire_if_ready(fd);
                Ok(())
            })
        }

        fn dissociate(&self, fd: RawFd) -> io::Result<()> {
            self.with(|k| {
                let Some(file) = k.fds.get_mut(&fd) else {
                    return Err(io::Error::from_raw_os_error(libc::EBADF));
                };
                let assoc = file.assoc.take().ok_or_else(not_registered)?;
                k.unqueue(fd);
                if assoc.fired && !assoc.queued {
                    return Err(not_registered());
                }
                Ok(())
            })
        }

        fn getn(&self, out: &mut Vec<RawEvent>, timeout: Option<Duration>) -> io::Result<()> {
            // An untimed wait that nothing ends would hang the test run: fail it instead.
            let deadline = Instant::now() + timeout.unwrap_or(NOTHING_ENDS_IT);
            let mut k = lock(&self.kernel);
            if mem::take(&mut k.interrupt_next_getn) {
                return Err(io::Error::from_raw_os_error(libc::EINTR));
            }
            while k.queue.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    assert!(timeout.is_some(), "an untimed getn blocked for {NOTHING_ENDS_IT:?}");
                    break;
                }
                k.blocked_in_getn += 1;
                k = self
                    .changed
                    .wait_timeout(k, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                k.blocked_in_getn -= 1;
            }
            let retrieved: Vec<RawEvent> = k.queue.drain(..).collect();
            for event in &retrieved {
                match event.source {
                    Source::Fd => {
                        let assoc = k
                            .fds
                            .get_mut(&(event.object as RawFd))
                            .and_then(|file| file.assoc.as_mut());
                        if let Some(assoc) = assoc {
                            assoc.queued = false;
                        }
                    }
                    Source::User => k.user_events_retrieved += 1,
                    Source::Other => {}
                }
            }
            out.extend(retrieved);
            let hook = k.after_next_getn.take();
            drop(k);
            if let Some(hook) = hook {
                hook();
            }
            Ok(())
        }

        fn send(&self) -> io::Result<()> {
            self.with(|k| {
                k.sends += 1;
                k.queue.push_back(RawEvent {
                    source: Source::User,
                    object: 0,
                    events: 0,
                    user: 0,
                });
            });
            Ok(())
        }
    }

    /// The `Poller` operations, so one scenario can drive the core and `Naive`.
    trait Backend: Send + Sync {
        fn add(&self, fd: RawFd, key: usize) -> io::Result<()>;
        fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()>;
        fn delete(&self, fd: RawFd) -> io::Result<()>;
        fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()>;
        fn notify(&self) -> io::Result<()>;
    }

    impl<S: PortSys> Backend for Core<S> {
        fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
            Core::add(self, fd, key)
        }
        fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
            Core::arm(self, fd, key, interest)
        }
        fn delete(&self, fd: RawFd) -> io::Result<()> {
            Core::delete(self, fd)
        }
        fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
            Core::wait(self, events, timeout)
        }
        fn notify(&self) -> io::Result<()> {
            Core::notify(self)
        }
    }

    /// One deliberate mistake for `Naive`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Bug {
        /// After an event, re-associates every armed direction, the delivered one included.
        RearmDelivered,
        /// After an event, disarms the delivered direction but re-associates nothing.
        ForgetUndelivered,
        /// `arm` records the directions but trusts the `add`-time association to report them.
        ArmWithoutAssociate,
        /// Every `notify` sends a user event.
        NoNotifyDedupe,
    }

    /// The straightforward design (the key as user value, events checked against the key
    /// registered for their descriptor) plus at most one `Bug`.
    struct Naive {
        sys: Arc<Model>,
        bug: Option<Bug>,
        regs: Mutex<HashMap<RawFd, (usize, Interest)>>,
        notified: AtomicBool,
    }

    impl Naive {
        fn new(sys: &Arc<Model>, bug: Option<Bug>) -> Self {
            Self {
                sys: Arc::clone(sys),
                bug,
                regs: Mutex::default(),
                notified: AtomicBool::new(false),
            }
        }
    }

    impl Backend for Naive {
        fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
            self.sys.associate(fd, Interest::NONE, key)?;
            lock(&self.regs).insert(fd, (key, Interest::NONE));
            Ok(())
        }

        fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
            let mut regs = lock(&self.regs);
            let (_, armed) = regs.get_mut(&fd).ok_or_else(not_registered)?;
            let union = *armed | interest;
            if union != *armed && self.bug != Some(Bug::ArmWithoutAssociate) {
                self.sys.associate(fd, union, key)?;
            }
            *armed = union;
            Ok(())
        }

        fn delete(&self, fd: RawFd) -> io::Result<()> {
            lock(&self.regs).remove(&fd);
            self.sys.dissociate(fd).or_else(|err| {
                if err.raw_os_error() == Some(libc::ENOENT) {
                    Ok(())
                } else {
                    Err(err)
                }
            })
        }

        fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
            let mut batch = Vec::new();
            self.sys.getn(&mut batch, timeout)?;
            let mut regs = lock(&self.regs);
            for raw in batch {
                match raw.source {
                    Source::Fd => {
                        let fd = raw.object as RawFd;
                        let Some((key, armed)) = regs.get_mut(&fd) else {
                            continue;
                        };
                        if *key != raw.user {
                            continue;
                        }
                        let ready = ready_from(raw.events).intersection(*armed);
                        let rest = if self.bug == Some(Bug::RearmDelivered) {
                            *armed
                        } else {
                            armed.difference(ready)
                        };
                        *armed = rest;
                        if !rest.is_empty() && self.bug != Some(Bug::ForgetUndelivered) {
                            self.sys.associate(fd, rest, *key)?;
                        }
                        if !ready.is_empty() {
                            events.push(Event { key: *key, ready });
                        }
                    }
                    Source::User => self.notified.store(false, Ordering::SeqCst),
                    Source::Other => {}
                }
            }
            Ok(())
        }

        fn notify(&self) -> io::Result<()> {
            if self.bug == Some(Bug::NoNotifyDedupe) || !self.notified.swap(true, Ordering::SeqCst) {
                self.sys.send()?;
            }
            Ok(())
        }
    }

    type Verdict = Result<(), Box<dyn Error>>;
    type Scenario = fn(&Arc<dyn Backend>, &Arc<Model>) -> Verdict;

    fn ensure(ok: bool, what: impl Into<Box<dyn Error>>) -> Verdict {
        if ok {
            Ok(())
        } else {
            Err(what.into())
        }
    }

    /// Waits without blocking.
    fn wait_now(backend: &Arc<dyn Backend>) -> io::Result<Vec<Event>> {
        let mut events = Vec::new();
        backend.wait(&mut events, Some(Duration::ZERO))?;
        Ok(events)
    }

    fn event(key: usize, ready: Interest) -> Event {
        Event { key, ready }
    }

    /// Runs `scenario` against the core, where it must pass, and against `Naive` with `bug`,
    /// where it must fail.
    fn passes_and_catches(scenario: Scenario, bug: Option<Bug>) {
        let model = Model::new();
        let core: Arc<dyn Backend> = Arc::new(Core::new(Arc::clone(&model)));
        if let Err(err) = scenario(&core, &model) {
            panic!("the core failed: {err}");
        }
        let model = Model::new();
        let naive: Arc<dyn Backend> = Arc::new(Naive::new(&model, bug));
        match scenario(&naive, &model) {
            Ok(()) => panic!("the scenario did not catch the naive backend with {bug:?}"),
            Err(err) => eprintln!("caught the naive backend with {bug:?}: {err}"),
        }
    }

    /// (1) Arming READ on a readable descriptor yields one event; since nobody re-arms, later
    /// waits see nothing although the descriptor stays readable (level-triggered).
    fn one_event_per_arm(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
        m.open(3);
        m.set_ready(3, IN);
        b.add(3, 30)?;
        b.arm(3, 30, READ)?;
        let events = wait_now(b)?;
        ensure(events == [event(30, READ)], format!("first wait returned {events:?}"))?;
        for round in 0..3 {
            let events = wait_now(b)?;
            ensure(
                events.is_empty(),
                format!("wait {round} after delivery returned {events:?}: spinning"),
            )?;
        }
        ensure(
            m.associates() == 2,
            format!("{} port_associate calls, expected 2 (add, arm)", m.associates()),
        )?;
        ensure(m.live_association(3).is_none(), "READ was re-associated after delivery")
    }

    #[test]
    fn delivered_direction_is_not_rearmed() {
        passes_and_catches(one_event_per_arm, Some(Bug::RearmDelivered));
    }

    /// (2) With READ and WRITE armed and only READ ready, READ is delivered and WRITE stays
    /// armed, so it is delivered once the descriptor becomes writable.
    fn undelivered_direction_stays_armed(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
        m.open(4);
        m.set_ready(4, IN);
        b.add(4, 40)?;
        b.arm(4, 40, BOTH)?;
        let events = wait_now(b)?;
        ensure(events == [event(40, READ)], format!("first wait returned {events:?}"))?;
        let events = wait_now(b)?;
        ensure(events.is_empty(), format!("second wait returned {events:?}"))?;
        m.set_ready(4, IN | OUT);
        let events = wait_now(b)?;
        ensure(
            events == [event(40, WRITE)],
            format!("the WRITE wakeup was lost: wait returned {events:?}"),
        )?;
        let events = wait_now(b)?;
        ensure(
            events.is_empty(),
            format!("wait after both deliveries returned {events:?}"),
        )
    }

    #[test]
    fn undelivered_direction_is_reassociated() {
        passes_and_catches(undelivered_direction_stays_armed, Some(Bug::ForgetUndelivered));
    }

    /// (3) Readiness that arrives while nothing is armed is reported by the next arm.
    fn readiness_before_arm(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
        m.open(5);
        b.add(5, 50)?;
        m.set_ready(5, IN | OUT);
        let events = wait_now(b)?;
        ensure(
            events.is_empty(),
            format!("nothing armed, yet wait returned {events:?}"),
        )?;
        b.arm(5, 50, WRITE)?;
        let events = wait_now(b)?;
        ensure(
            events == [event(50, WRITE)],
            format!("readiness before arm was lost: {events:?}"),
        )?;
        b.arm(5, 50, READ)?;
        let events = wait_now(b)?;
        ensure(
            events == [event(50, READ)],
            format!("readiness before the second arm was lost: {events:?}"),
        )
    }

    #[test]
    fn readiness_before_arm_is_not_lost() {
        passes_and_catches(readiness_before_arm, Some(Bug::ArmWithoutAssociate));
    }

    /// (4) An event that `port_getn` returned before `delete` is ignored, including when the
    /// descriptor number and the key are reused by a new registration before it is processed.
    fn stale_events_are_ignored(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
        // Deleted and gone.
        m.open(6);
        m.set_ready(6, IN);
        b.add(6, 60)?;
        b.arm(6, 60, READ)?;
        let (b2, m2) = (Arc::clone(b), Arc::clone(m));
        m.after_next_getn(move || {
            b2.delete(6).expect("delete");
            m2.close(6);
        });
        let events = wait_now(b)?;
        ensure(
            events.is_empty(),
            format!("an event for a deleted descriptor was reported: {events:?}"),
        )?;

        // Deleted, closed, reopened with the same number and re-added under the same key, with
        // READ armed but not ready: the old READ event must not be reported to the new one.
        m.open(7);
        m.set_ready(7, IN);
        b.add(7, 70)?;
        b.arm(7, 70, READ)?;
        let (b2, m2) = (Arc::clone(b), Arc::clone(m));
        m.after_next_getn(move || {
            b2.delete(7).expect("delete");
            m2.close(7);
            m2.open(7);
            b2.add(7, 70).expect("add");
            b2.arm(7, 70, READ).expect("arm");
        });
        let events = wait_now(b)?;
        ensure(
            events.is_empty(),
            format!("a stale event reached the reused descriptor: {events:?}"),
        )?;
        ensure(
            m.live_association(7).map(|(mask, _)| mask) == Some(IN),
            "the new READ arm was lost",
        )?;
        m.set_ready(7, IN);
        let events = wait_now(b)?;
        ensure(
            events == [event(70, READ)],
            format!("the new descriptor's READ was not reported: {events:?}"),
        )
    }

    #[test]
    fn stale_event_after_delete_is_ignored() {
        // Even without an injected bug, checking events by key alone fails the reuse case.
        passes_and_catches(stale_events_are_ignored, None);
    }

    /// (5) `notify` wakes a blocked `wait`, is not reported as a descriptor event, and a burst
    /// of notifies leaves no backlog that would make later waits return at once.
    fn notify_wakes_without_spinning(b: &Arc<dyn Backend>, m: &Arc<Model>) -> Verdict {
        // A descriptor under key 0, armed and not ready: a wakeup must not look like its event.
        m.open(8);
        b.add(8, 0)?;
        b.arm(8, 0, READ)?;

        for _ in 0..5 {
            b.notify()?;
        }
        ensure(m.sends() == 1, format!("5 notifies made {} port_send calls", m.sends()))?;
        let events = wait_now(b)?;
        ensure(events.is_empty(), format!("notify was reported as {events:?}"))?;
        ensure(
            m.queued() == 0,
            format!("{} events left queued: the next waits would spin", m.queued()),
        )?;

        let waiter = {
            let b = Arc::clone(b);
            thread::spawn(move || {
                let (mut events, start) = (Vec::new(), Instant::now());
                b.wait(&mut events, Some(Duration::from_secs(10)))
                    .map(|()| (events, start.elapsed()))
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while m.blocked_in_getn() == 0 {
            ensure(Instant::now() < deadline, "the waiter never blocked")?;
            thread::sleep(Duration::from_millis(1));
        }
        b.notify()?;
        let (events, waited) = waiter.join().expect("waiter panicked")?;
        ensure(events.is_empty(), format!("notify was reported as {events:?}"))?;
        ensure(
            waited < Duration::from_secs(5),
            format!("notify did not wake the waiter ({waited:?})"),
        )?;
        ensure(
            m.user_events_retrieved() == 2,
            format!("{} user events retrieved", m.user_events_retrieved()),
        )?;
        ensure(m.sends() == 2, format!("{} port_send calls, expected 2", m.sends()))
    }

    #[test]
    fn notify_wakes_wait_without_spinning() {
        passes_and_catches(notify_wakes_without_spinning, Some(Bug::NoNotifyDedupe));
    }

    fn core() -> (Arc<Model>, Core<Arc<Model>>) {
        let model = Model::new();
        let core = Core::new(Arc::clone(&model));
        (model, core)
    }

    fn wait_core(core: &Core<Arc<Model>>, timeout: Option<Duration>) -> Vec<Event> {
        let mut events = Vec::new();
        core.wait(&mut events, timeout).expect("wait");
        events
    }

    #[test]
    fn hangup_readies_every_armed_direction_once() {
        let (m, core) = core();
        m.open(3);
        core.add(3, 30).unwrap();
        core.arm(3, 30, READ).unwrap();
        m.set_ready(3, HUP);
        assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, READ)]);

        core.arm(3, 30, BOTH).unwrap();
        assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, BOTH)]);
        assert_eq!(m.live_association(3), None, "nothing is left to re-associate");
        assert_eq!(wait_core(&core, Some(Duration::ZERO)), []);
    }

    #[test]
    fn interrupted_wait_blocks_again_only_when_untimed() {
        let (m, core) = core();
        m.open(3);
        core.add(3, 30).unwrap();
        core.arm(3, 30, READ).unwrap();
        m.set_ready(3, IN);
        m.interrupt_next_getn();
        assert_eq!(
            wait_core(&core, Some(Duration::from_secs(1))),
            [],
            "a timed wait returns on EINTR"
        );
        m.interrupt_next_getn();
        assert_eq!(
            wait_core(&core, None),
            [event(30, READ)],
            "an untimed wait retries after EINTR"
        );
    }

    #[test]
    fn failed_arm_reports_directions_it_unarmed() {
        let (m, core) = core();
        m.open(3);
        core.add(3, 30).unwrap();
        core.arm(3, 30, READ).unwrap();
        m.fail_next_associate(libc::ENOMEM);
        let err = core.arm(3, 30, WRITE).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOMEM));
        // The failure dissociated the descriptor, so READ's waiter would hang: it is woken instead.
        assert_eq!(m.sends(), 1);
        assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, READ)]);
        assert_eq!(wait_core(&core, Some(Duration::ZERO)), []);
        core.arm(3, 30, READ).unwrap();
        assert_eq!(m.live_association(3).map(|(mask, _)| mask), Some(IN));
    }

    #[test]
    fn failed_reassociation_reports_the_rest_as_ready() {
        let (m, core) = core();
        m.open(3);
        core.add(3, 30).unwrap();
        core.arm(3, 30, BOTH).unwrap();
        m.fail_next_associate(libc::ENOMEM);
        m.set_ready(3, IN);
        assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, BOTH)]);
        assert_eq!(wait_core(&core, Some(Duration::ZERO)), []);
    }

    #[test]
    fn bookkeeping_errors_match_epoll() {
        let (m, core) = core();
        m.open(3);
        core.add(3, 30).unwrap();
        assert_eq!(core.add(3, 31).unwrap_err().raw_os_error(), Some(libc::EEXIST));
        assert_eq!(
            core.arm(3, 31, READ).unwrap_err().raw_os_error(),
            Some(libc::ENOENT),
            "wrong key"
        );
        assert_eq!(core.arm(4, 30, READ).unwrap_err().raw_os_error(), Some(libc::ENOENT));
        assert_eq!(core.delete(4).unwrap_err().raw_os_error(), Some(libc::ENOENT));
        assert_eq!(m.associates(), 1, "rejected calls make no system call");
        assert_eq!(
            core.add(5, 50).unwrap_err().raw_os_error(),
            Some(libc::EBADF),
            "not open"
        );
        assert_eq!(
            core.arm(5, 50, READ).unwrap_err().raw_os_error(),
            Some(libc::ENOENT),
            "failed add left no entry"
        );
    }

    #[test]
    fn delete_after_delivery_succeeds() {
        let (m, core) = core();
        m.open(3);
        m.set_ready(3, IN);
        core.add(3, 30).unwrap();
        core.arm(3, 30, READ).unwrap();
        assert_eq!(wait_core(&core, Some(Duration::ZERO)), [event(30, READ)]);
        // The association was consumed, so port_dissociate fails with ENOENT: not an error here.
        core.delete(3).unwrap();
        core.add(3, 31).unwrap();
    }

    #[test]
    fn other_sources_are_ignored() {
        let (m, core) = core();
        m.open(3);
        core.add(3, 30).unwrap();
        core.arm(3, 30, READ).unwrap();
        m.inject(RawEvent {
            source: Source::Other,
            object: 3,
            events: IN,
            user: 0,
        });
        assert_eq!(wait_core(&core, Some(Duration::ZERO)), []);
        assert_eq!(
            m.live_association(3).map(|(mask, _)| mask),
            Some(IN),
            "READ stays armed"
        );
    }
}
