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
//! is unit-tested on any platform against a model of event-port semantics (`port/model.rs`, with
//! the tests in `port/tests.rs`). [`Core`] is the [`Poller`]; [`EventPort`] is the core over
//! [`RustixPort`], the real port, which alone is specific to illumos and Solaris (`backend/mod.rs`
//! includes this file under `cfg(any(evport, test))`).

use crate::sync::Mutex;
use std::collections::HashMap;
use std::io;
use std::mem;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Event, Poller};
use crate::fd::Interest;

/// The event-ports [`Poller`]: [`Core`] over a real port.
#[cfg(evport)]
pub(crate) type EventPort = Core<RustixPort>;

/// The port system calls the core needs, so tests can substitute a model of the kernel.
trait PortSys: Send + Sync + Sized + 'static {
    /// `port_create`: a new port, closed on `exec`.
    ///
    /// # Errors
    ///
    /// A system call failed (out of descriptors or memory).
    fn open() -> io::Result<Self>;
    /// The port's descriptor.
    fn as_fd(&self) -> BorrowedFd<'_>;
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

/// Where a retrieved event came from (`portev_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
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
    /// Where the event came from.
    origin: Origin,
    /// `portev_object`: the descriptor, for [`Origin::Fd`].
    object: usize,
    /// `portev_events`: the `poll(2)` bits that fired, for [`Origin::Fd`].
    events: i32,
    /// `portev_user`: the association's token, for [`Origin::Fd`].
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

/// The backend's logic over any [`PortSys`]: bookkeeping, re-association and wakeups. This is
/// the [`Poller`]; [`EventPort`] is this over the real port.
pub(crate) struct Core<S> {
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

impl<S> Core<S> {
    /// Wraps `sys` with no descriptors registered.
    fn with_sys(sys: S) -> Self {
        Self {
            sys,
            state: Mutex::default(),
            batch: Mutex::default(),
            notified: AtomicBool::new(false),
        }
    }
}

impl<S: PortSys> Poller for Core<S> {
    fn new() -> io::Result<Self> {
        Ok(Core::with_sys(S::open()?))
    }

    /// Registers `fd` under `key` and associates it with no directions (Go's `netpollopen`).
    fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        let mut state = self.state.lock();
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
        let mut state = self.state.lock();
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
        let mut state = self.state.lock();
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
        let mut batch = self.batch.lock();
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
        let mut state = self.state.lock();
        for raw in batch.drain(..) {
            match raw.origin {
                Origin::Fd => process(&self.sys, &mut state, raw, events),
                Origin::User => {
                    // Clearing the flag lets the next `notify` send again. Acquire pairs with the
                    // Release swap in `notify`: as a read-modify-write, this swap reads the latest
                    // `true`, so the writes of every `notify` that skipped its `port_send` because
                    // the flag was set happen before whatever the caller checks after `wait`.
                    self.notified.swap(false, Ordering::Acquire);
                }
                Origin::Other => tracing::debug!(?raw, "ignored an event from an unexpected source"),
            }
        }
        for fd in mem::take(&mut state.stranded) {
            if let Some(reg) = state.regs.get_mut(&fd) {
                let ready = mem::replace(&mut reg.stranded, Interest::NONE);
                if !ready.is_empty() {
                    events.push(Event::new(reg.key, ready));
                }
            }
        }
        Ok(())
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

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sys.as_fd()
    }
}

/// Handles one descriptor event (Go's event loop body plus `netpollupdate`).
fn process(sys: &impl PortSys, state: &mut State, raw: RawEvent, events: &mut Vec<Event>) {
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
        match sys.associate(fd, rest, token) {
            Ok(()) => reg.token = token,
            Err(err) => {
                tracing::warn!(fd, %err, "port_associate failed; reporting the armed directions as ready");
                ready = ready | rest;
                reg.armed = Interest::NONE;
            }
        }
    }
    if !ready.is_empty() {
        events.push(Event::new(reg.key, ready));
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
pub(crate) struct RustixPort {
    /// The port's descriptor.
    port: std::os::fd::OwnedFd,
}

#[cfg(evport)]
impl PortSys for RustixPort {
    fn open() -> io::Result<Self> {
        use rustix::io::{fcntl_getfd, fcntl_setfd, FdFlags};

        let port = rustix::event::port::create()?;
        fcntl_setfd(&port, fcntl_getfd(&port)? | FdFlags::CLOEXEC)?;
        Ok(Self { port })
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.port)
    }

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
            origin: match i32::from(event.portev_source) {
                libc::PORT_SOURCE_FD => Origin::Fd,
                libc::PORT_SOURCE_USER => Origin::User,
                _ => Origin::Other,
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

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
