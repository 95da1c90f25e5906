//! The readiness backends' contract: what epoll, kqueue and event ports each
//! provide to the readiness driver, one backend per file.
//!
//! Semantics every backend implements (they are what make the driver's
//! bookkeeping identical across platforms):
//! * `add` starts watching a descriptor under a key;
//! * the driver keeps what was reported on the descriptor's source until an
//!   attempt shows the direction blocked (`EAGAIN`, `readiness::source`), and
//!   only then `arm`s it. From that arm on, the backend delivers an event for
//!   the direction once the descriptor is ready for it. The one-shot
//!   backends (kqueue, event ports) arm a filter that checks the level at
//!   arm time and is spent by its event, so nothing can spin; epoll registers
//!   both directions edge-triggered at `add`, reports every wakeup of the
//!   descriptor, and makes `arm` free;
//! * events may be spurious, or name more than was armed: the driver's next
//!   attempt finds out with one `EAGAIN`;
//! * `notify` wakes a thread blocked in `wait`, from any thread, without spinning.
//!
//! Every backend has the same shape: its file holds a `Core<S>`, the bookkeeping
//! that implements [`Poller`], generic over a small private trait of the
//! platform's system calls (`EpollSys`, `KqueueSys`, `PortSys`), and the rustix
//! implementation of that trait; the platform's poller is the core over it
//! (`epoll::Epoll`, `kqueue::Kqueue`, `port::EventPort`). Beside each file, a
//! folder of the same name holds a model of the platform (`model.rs`) and the
//! core's tests against it (`tests.rs`), so every backend's logic is tested on
//! any platform.

#[cfg(any(epoll, test))]
pub(crate) mod epoll;
#[cfg(any(kqueue, test))]
pub(crate) mod kqueue;
#[cfg(any(evport, test))]
pub(crate) mod port;

use crate::fd::Interest;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

/// One readiness event: the key given to `add`, the directions that are
/// ready (errors and hang-ups count as both, so waiters retry and see them),
/// and those that are ready for good (the peer shut down or hung up: reads
/// see the end of the stream, writes an error, however often they try).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    pub key: usize,
    pub ready: Interest,
    /// A subset of `ready`. The driver never clears these on a short read
    /// or `EAGAIN`: an edge-triggered poller reports the end of a stream
    /// once, and a read that emptied the socket just before it must not
    /// forget it.
    pub closed: Interest,
}

impl Event {
    /// An event of `key` for `ready`, none of it for good (the one-shot
    /// backends, whose arms check the level, need not say).
    #[cfg(any(kqueue, evport, test))]
    pub(crate) fn new(key: usize, ready: Interest) -> Event {
        Event {
            key,
            ready,
            closed: Interest::NONE,
        }
    }
}

/// A readiness backend. Every method may be called from any thread except
/// `wait`, which only the runtime thread calls.
pub(crate) trait Poller: Send + Sync + Sized + 'static {
    /// Creates the backend's kernel object (epoll fd, kqueue, port).
    fn new() -> io::Result<Self>;
    /// Starts watching `fd` under `key`.
    fn add(&self, fd: RawFd, key: usize) -> io::Result<()>;
    /// Arms `interest` on `fd`, which an attempt found blocked (see the
    /// module docs for the exact semantics).
    fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()>;
    /// Stops watching `fd`; called before the descriptor is closed.
    fn delete(&self, fd: RawFd) -> io::Result<()>;
    /// Waits up to `timeout` (`None`: forever) and appends events to `events`.
    /// A `notify` makes it return (possibly with no events).
    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()>;
    /// Wakes `wait` from any thread.
    fn notify(&self) -> io::Result<()>;
    /// The backend's own descriptor (epoll fd, kqueue, port): readable while
    /// events are pending, so another event loop can host this one.
    fn as_fd(&self) -> BorrowedFd<'_>;
}

/// Every backend's `wait` delivers up to at least this many events per call,
/// so a call that returns fewer has drained what was pending.
pub(crate) const MIN_WAIT_BATCH: usize = 128;

/// The descriptor the platform models of the tests lend for [`Poller::as_fd`]:
/// they have no kernel object, so an inert one (`/dev/null`) stands in. No
/// test polls it.
#[cfg(test)]
fn stand_in_fd() -> BorrowedFd<'static> {
    use std::os::fd::{AsFd, OwnedFd};
    use std::sync::OnceLock;

    static STAND_IN: OnceLock<OwnedFd> = OnceLock::new();
    STAND_IN
        .get_or_init(|| std::fs::File::open("/dev/null").expect("open /dev/null").into())
        .as_fd()
}
