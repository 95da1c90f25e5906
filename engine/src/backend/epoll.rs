//! The epoll readiness backend (Linux).
//!
//! This file owns everything between the readiness driver's [`Poller`] calls and the epoll
//! instance: the per-descriptor record of registrations, the `epoll_ctl` calls that make them,
//! the translation of epoll events into [`Event`]s, and the wakeup of a blocked `epoll_wait`.
//!
//! # Why edge-triggered
//!
//! `add` registers the descriptor once, for both directions, `EPOLLET`: the kernel then queues
//! an event at the registration (if the descriptor is ready then) and at every wakeup of the
//! descriptor after it (data arrived, room freed, the peer shut down or hung up), and never
//! reports a descriptor merely for staying ready. That is mio's registration, and tokio's:
//!
//! * `arm` makes no system call. The contract's "an event once the descriptor is ready" holds
//!   because the driver arms only a direction that an attempt saw blocked (`EAGAIN`) after the
//!   last event that reported it (`readiness::source` keeps readiness until then): any
//!   readiness after that attempt is a wakeup after it, whose event is queued, or delivered
//!   already and marked on the source;
//! * nothing is re-armed after an event, so nothing can spin, and a hung-up descriptor
//!   (`EPOLLHUP` and `EPOLLERR` are reported whatever the mask) is reported once per wakeup;
//! * `EPOLLRDHUP` (the peer shut down its writing half) makes reading ready for good: readers
//!   see it as the end of the stream, and a read that emptied the socket just before must not
//!   clear it, since no wakeup will report it again (`Event::closed`); `EPOLLHUP` makes both
//!   directions ready for good, `EPOLLERR` both ready (waiters retry and see the condition);
//! * the events may be spurious (a wakeup reports every direction the descriptor is ready for,
//!   wanted or not); the driver's attempts sort that out with one `EAGAIN`.
//!
//! The one-shot registration this backend used before (`EPOLLONESHOT`, re-armed with
//! `EPOLL_CTL_MOD` at every wait) kept the kernel as the only record of readiness, but cost an
//! `epoll_ctl` per wait: on a loopback echo, one system call in five.
//!
//! # Stale events
//!
//! `epoll_wait` returns its events before the core takes its lock to process them, and by then
//! the driver may have deleted the descriptor, closed it, and added a new one under the same
//! number. So every `EPOLL_CTL_ADD` carries a fresh token in its event data, next to the
//! descriptor, and an event is acted on only if its token is the one its descriptor's
//! registration was added with. Anything else is dropped: the registration that replaced it
//! reports for itself.
//!
//! # Wakeups
//!
//! `notify` writes to an eventfd registered edge-triggered, so each write that finds no wakeup
//! pending queues one event, and writes before the next wait coalesce into it. The counter is
//! never read back: an edge-triggered registration does not report a descriptor that merely
//! stays readable, so a read per wakeup would buy nothing. (The counter saturates after 2^64 - 2
//! writes; a write then fails with `EAGAIN`, and is retried after reading the counter to zero.)
//!
//! # Layout
//!
//! The logic lives in [`Core`], generic over [`EpollSys`] (the `epoll_ctl` and `epoll_wait`
//! calls and the wakeup), so that it is unit-tested on any platform against a model of epoll
//! (`epoll/model.rs`, tests in `epoll/tests.rs`). [`Core`] is the [`Poller`]; [`Epoll`] is the
//! core over [`RustixEpoll`], the real epoll, which alone is Linux-only (`backend/mod.rs`
//! includes this file under `cfg(any(epoll, test))`).

use super::{Event, Poller};
use crate::fd::Interest;
use crate::sync::Mutex;
#[cfg(epoll)]
use rustix::event::epoll::{self, EventData, EventFlags};
#[cfg(epoll)]
use rustix::event::{eventfd, EventfdFlags};
#[cfg(epoll)]
use rustix::io::Errno;
use std::io;
#[cfg(epoll)]
use std::mem::MaybeUninit;
#[cfg(epoll)]
use std::os::fd::{AsFd, OwnedFd};
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;

/// The epoll [`Poller`]: [`Core`] over a real epoll instance.
#[cfg(epoll)]
pub(crate) type Epoll = Core<RustixEpoll>;

bitflags::bitflags! {
    /// An epoll event mask: the `EPOLL*` bits the core asks for and reads, with the values of
    /// `<sys/epoll.h>`, so the rustix layer converts them by value (a test checks them).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Mask: u32 {
        /// `EPOLLIN`: data to read, or the end of the stream.
        const IN = 0x001;
        /// `EPOLLOUT`: room to write.
        const OUT = 0x004;
        /// `EPOLLERR`: an error is pending; always reported, whatever the mask asks for.
        const ERR = 0x008;
        /// `EPOLLHUP`: hung up; always reported, whatever the mask asks for.
        const HUP = 0x010;
        /// `EPOLLRDHUP`: the peer shut down its writing half.
        const RDHUP = 0x2000;
        /// `EPOLLET`: report wakeups of the descriptor, not its state.
        const ET = 1 << 31;
    }
}

impl Mask {
    /// Every registration's mask: both directions, the peer's shutdown, edge-triggered.
    const REGISTERED: Mask = Mask::IN.union(Mask::OUT).union(Mask::RDHUP).union(Mask::ET);

    /// The directions this reported mask makes ready for good: reading once the peer shut
    /// down its writing half or hung up, writing once it hung up (a reset included). An error
    /// alone (`EPOLLERR`: on a UDP socket, an ICMP error that one receive reports) is not.
    fn closed(self) -> Interest {
        Interest::new(self.intersects(Mask::RDHUP | Mask::HUP), self.contains(Mask::HUP))
    }

    /// The directions this reported mask makes ready. Errors and hang-ups ready both, so the
    /// waiters retry their I/O and see the condition.
    fn ready(self) -> Interest {
        let failed = self.intersects(Mask::ERR | Mask::HUP);
        Interest::new(
            failed || self.intersects(Mask::IN | Mask::RDHUP),
            failed || self.contains(Mask::OUT),
        )
    }
}

/// An event `epoll_wait` reported, reduced to what the core reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fired {
    /// A registered descriptor's event.
    Fd {
        /// The registration's event data: see [`pack`].
        data: u64,
        /// The bits that fired.
        mask: Mask,
    },
    /// The wakeup fired: some thread called `notify`.
    Wakeup,
}

/// The event data of a registration: its token in the high half, the descriptor in the low half,
/// so that an event finds its registration without a search and can tell whether it is stale.
/// No registration packs to `u64::MAX`, which would need descriptor -1; the wakeup uses it.
fn pack(token: u32, fd: RawFd) -> u64 {
    (u64::from(token) << 32) | u64::from(fd as u32)
}

/// The (token, descriptor) that [`pack`] packed.
fn unpack(data: u64) -> (u32, RawFd) {
    ((data >> 32) as u32, data as u32 as RawFd)
}

/// The epoll system calls the core needs, so tests can substitute a model of the kernel.
trait EpollSys: Send + Sync + Sized + 'static {
    /// `epoll_create1` and the wakeup: a new epoll instance with only the wakeup registered.
    ///
    /// # Errors
    ///
    /// A system call failed (out of descriptors or memory).
    fn open() -> io::Result<Self>;

    /// The epoll instance's descriptor.
    fn as_fd(&self) -> BorrowedFd<'_>;

    /// `epoll_ctl(EPOLL_CTL_ADD)`: registers `fd` for `mask`, with `data` as its event data, and
    /// queues its event at once if `fd` is ready for `mask`.
    ///
    /// # Errors
    ///
    /// As `epoll_ctl`'s: `EEXIST` if `fd` is registered, `EBADF` if it is not open.
    fn add(&self, fd: RawFd, mask: Mask, data: u64) -> io::Result<()>;

    /// `epoll_ctl(EPOLL_CTL_DEL)`: removes `fd`'s registration and any event of it not yet
    /// reported.
    ///
    /// # Errors
    ///
    /// As `epoll_ctl`'s: `ENOENT` if `fd` is not registered.
    fn delete(&self, fd: RawFd) -> io::Result<()>;

    /// `epoll_wait`: waits up to `timeout` (`None`: forever, zero: don't block) for events, then
    /// passes each to `on_fired`. A timeout or a signal returns with none.
    ///
    /// # Errors
    ///
    /// `epoll_wait` failed for a reason other than a signal.
    fn wait(&self, timeout: Option<Duration>, on_fired: impl FnMut(Fired)) -> io::Result<()>;

    /// Makes the wakeup fire, ending a `wait` blocked in another thread (or the next one).
    /// Wakes before the wakeup is reported coalesce into one [`Fired::Wakeup`].
    ///
    /// # Errors
    ///
    /// The wakeup could not be written.
    fn wake(&self) -> io::Result<()>;
}

/// What the core knows about one registered descriptor.
#[derive(Debug, Clone, Copy)]
struct Registration {
    /// The driver's key, reported in this descriptor's events.
    key: usize,
    /// The token of its `EPOLL_CTL_ADD`, in the data of each of its events.
    token: u32,
}

/// The bookkeeping, behind [`Core::state`].
#[derive(Debug, Default)]
struct State {
    /// Registrations, indexed by descriptor. The kernel hands out the lowest free number, so the
    /// numbers are small and dense, and a table indexed by them is the cheapest map: no hashing
    /// on the hot path, and it grows only to the highest number ever registered (libuv keeps its
    /// watchers the same way).
    regs: Vec<Option<Registration>>,
    /// The last token handed out by [`next_token`].
    last_token: u32,
}

/// The registration of `fd` in `regs`, if it has one.
fn registration(regs: &mut [Option<Registration>], fd: RawFd) -> Option<&mut Registration> {
    regs.get_mut(usize::try_from(fd).ok()?)?.as_mut()
}

/// Advances `last` and returns the next token. Tokens only have to differ from those of
/// registrations whose events may still be on their way to the core, which are at most one
/// wait's batch: a stale event would have to outlive four billion registrations to be taken for
/// a live one.
fn next_token(last: &mut u32) -> u32 {
    *last = last.wrapping_add(1);
    *last
}

/// The `ENOENT` that `epoll_ctl` returns for a descriptor that is not registered.
fn not_registered() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}

/// The backend's logic over any [`EpollSys`]: bookkeeping, stale events and wakeups. This is the
/// [`Poller`]; [`Epoll`] is this over the real epoll.
pub(crate) struct Core<S> {
    /// The system calls.
    sys: S,
    /// The bookkeeping. Held across every `epoll_ctl` so that they and the processing of events
    /// happen in one order, but never across the blocking `epoll_wait`: `add`, `delete` and
    /// `notify` may be called from other threads while the runtime thread waits. Its lock ignores
    /// poisoning: the bookkeeping is written only after the system call it records has
    /// succeeded, so a panic elsewhere cannot leave it describing a half-done change.
    state: Mutex<State>,
}

impl<S> Core<S> {
    /// Wraps `sys`, with no descriptors registered.
    fn with_sys(sys: S) -> Self {
        Core {
            sys,
            state: Mutex::new(State::default()),
        }
    }
}

impl<S: EpollSys> Poller for Core<S> {
    fn new() -> io::Result<Self> {
        Ok(Core::with_sys(S::open()?))
    }

    /// Registers `fd` for both directions, edge-triggered (see the module docs).
    fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        let index = usize::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        let mut state = self.state.lock();
        let State { regs, last_token } = &mut *state;
        if registration(regs, fd).is_some() {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        let token = next_token(last_token);
        self.sys.add(fd, Mask::REGISTERED, pack(token, fd))?;
        if regs.len() <= index {
            regs.resize(index + 1, None);
        }
        regs[index] = Some(Registration { key, token });
        Ok(())
    }

    /// Nothing to do: the registration reports every wakeup (see the module docs).
    fn arm(&self, _fd: RawFd, _key: usize, _interest: Interest) -> io::Result<()> {
        Ok(())
    }

    /// Forgets `fd` and removes its registration. The driver calls this before it closes `fd`;
    /// from here on, events already reported for `fd` are ignored.
    fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut state = self.state.lock();
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|index| state.regs.get_mut(index))
            .filter(|slot| slot.is_some())
            .ok_or_else(not_registered)?;
        *slot = None;
        self.sys.delete(fd)
    }

    /// Waits, then processes the batch under one lock, taken once the kernel has returned.
    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        let mut state = None;
        self.sys.wait(timeout, |fired| match fired {
            Fired::Fd { data, mask } => {
                let state = state.get_or_insert_with(|| self.state.lock());
                process(state, data, mask, events);
            }
            Fired::Wakeup => tracing::trace!("epoll woken by notify"),
        })
    }

    fn notify(&self) -> io::Result<()> {
        self.sys.wake()
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sys.as_fd()
    }
}

/// Handles one descriptor event: reports it under its registration's key, unless it belongs to a
/// registration that has since been deleted or replaced.
fn process(state: &mut State, data: u64, mask: Mask, events: &mut Vec<Event>) {
    let (token, fd) = unpack(data);
    let Some(reg) = registration(&mut state.regs, fd).filter(|reg| reg.token == token) else {
        tracing::trace!(fd, token, "dropped an event of a replaced or deleted registration");
        return;
    };
    let ready = mask.ready();
    if !ready.is_empty() {
        events.push(Event {
            key: reg.key,
            ready,
            closed: mask.closed(),
        });
    }
}

/// Event data of the wakeup's registration; no descriptor's [`pack`]s to it.
#[cfg(epoll)]
const WAKEUP: u64 = u64::MAX;

/// Most events one `epoll_wait` reports; the rest stay queued for the next.
#[cfg(epoll)]
const WAIT_BATCH: usize = 256;
#[cfg(epoll)]
const _: () = assert!(WAIT_BATCH >= super::MIN_WAIT_BATCH);

/// The real epoll, on rustix.
#[cfg(epoll)]
pub(crate) struct RustixEpoll {
    /// The epoll instance.
    epoll: OwnedFd,
    /// The wakeup: an eventfd registered edge-triggered under [`WAKEUP`].
    eventfd: OwnedFd,
}

/// `fd` as the borrowed descriptor rustix takes.
#[cfg(epoll)]
fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the core passes only descriptors the readiness driver gave it, which a live
    // fd-mutex reference keeps open (the driver deletes them before closing them), and the
    // borrow ends with the `epoll_ctl` call it is made for.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// The rustix flags of `mask` (the same bits, see [`Mask`]).
#[cfg(epoll)]
fn flags(mask: Mask) -> EventFlags {
    EventFlags::from_bits_retain(mask.bits())
}

#[cfg(epoll)]
impl EpollSys for RustixEpoll {
    fn open() -> io::Result<Self> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let eventfd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &epoll,
            &eventfd,
            EventData::new_u64(WAKEUP),
            EventFlags::IN | EventFlags::ET,
        )?;
        Ok(RustixEpoll { epoll, eventfd })
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    fn add(&self, fd: RawFd, mask: Mask, data: u64) -> io::Result<()> {
        Ok(epoll::add(
            &self.epoll,
            borrow(fd),
            EventData::new_u64(data),
            flags(mask),
        )?)
    }

    fn delete(&self, fd: RawFd) -> io::Result<()> {
        Ok(epoll::delete(&self.epoll, borrow(fd))?)
    }

    fn wait(&self, timeout: Option<Duration>, mut on_fired: impl FnMut(Fired)) -> io::Result<()> {
        // On the stack: a wait per scheduler turn must not allocate.
        let mut buf = [MaybeUninit::<epoll::Event>::uninit(); WAIT_BATCH];
        let timeout = timeout.map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        let fired = match epoll::wait(&self.epoll, &mut buf[..], timeout.as_ref()) {
            Ok((fired, _)) => fired,
            // A signal ended the wait early: a spurious wakeup, which is allowed.
            Err(Errno::INTR) => return Ok(()),
            Err(errno) => return Err(errno.into()),
        };
        for event in fired.iter() {
            // Copied out: the kernel's `epoll_event` is packed on x86-64.
            let (data, flags) = (event.data.u64(), event.flags);
            on_fired(if data == WAKEUP {
                Fired::Wakeup
            } else {
                Fired::Fd {
                    data,
                    mask: Mask::from_bits_retain(flags.bits()),
                }
            });
        }
        Ok(())
    }

    fn wake(&self) -> io::Result<()> {
        loop {
            match rustix::io::write(&self.eventfd, &1u64.to_ne_bytes()) {
                Ok(_) => return Ok(()),
                Err(Errno::INTR) => {}
                // The counter is at its maximum (see the module docs): zero it and write again.
                Err(Errno::AGAIN) => match rustix::io::read(&self.eventfd, &mut [0u8; 8]) {
                    Ok(_) | Err(Errno::AGAIN | Errno::INTR) => {}
                    Err(errno) => return Err(errno.into()),
                },
                Err(errno) => return Err(errno.into()),
            }
        }
    }
}
