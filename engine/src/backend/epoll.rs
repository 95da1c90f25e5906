//! The epoll backend (Linux): `EPOLLONESHOT` registrations re-armed with
//! `EPOLL_CTL_MOD` to the union of the directions still armed, and an eventfd
//! for wakeups.
//!
//! One-shot mode gives the semantics the readiness driver relies on: `arm` is
//! level-checked (a descriptor already ready fires at once), one event per
//! arming, and a delivered direction is never re-armed by us. Because a
//! one-shot registration disarms *both* directions when either fires, the
//! direction that was armed but not delivered is re-armed right away (the same
//! bookkeeping Go's event-ports poller does).

use super::{Event, Poller};
use crate::fd::Interest;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::event::{eventfd, EventfdFlags};
use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::time::Duration;

/// Event data of the eventfd in the epoll set.
const NOTIFY_KEY: u64 = u64::MAX;

/// Event data carries both the driver's key (high half) and the descriptor
/// (low half), so an event finds its bookkeeping without a search.
fn data(key: usize, fd: RawFd) -> EventData {
    EventData::new_u64(((key as u64) << 32) | u64::from(fd as u32))
}

pub(crate) struct Epoll {
    epoll: OwnedFd,
    eventfd: OwnedFd,
    /// Armed directions per descriptor.
    armed: Mutex<HashMap<RawFd, Interest>>,
}

fn flags(interest: Interest) -> EventFlags {
    let mut f = EventFlags::ONESHOT | EventFlags::RDHUP;
    if interest.is_readable() {
        f |= EventFlags::IN;
    }
    if interest.is_writable() {
        f |= EventFlags::OUT;
    }
    f
}

fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the readiness driver calls the poller only with descriptors that
    // a live fd-mutex reference keeps open (it deletes them before closing),
    // and the borrow does not outlive the call.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

impl Epoll {
    fn armed(&self) -> std::sync::MutexGuard<'_, HashMap<RawFd, Interest>> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Poller for Epoll {
    fn new() -> io::Result<Self> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let eventfd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &epoll,
            &eventfd,
            EventData::new_u64(NOTIFY_KEY),
            EventFlags::IN | EventFlags::ET,
        )?;
        Ok(Epoll {
            epoll,
            eventfd,
            armed: Mutex::new(HashMap::new()),
        })
    }

    fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        epoll::add(&self.epoll, borrow(fd), data(key, fd), EventFlags::ONESHOT)?;
        self.armed().insert(fd, Interest::NONE);
        Ok(())
    }

    fn arm(&self, fd: RawFd, key: usize, interest: Interest) -> io::Result<()> {
        let mut armed = self.armed();
        let entry = armed.entry(fd).or_insert(Interest::NONE);
        *entry = *entry | interest;
        Ok(epoll::modify(&self.epoll, borrow(fd), data(key, fd), flags(*entry))?)
    }

    fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.armed().remove(&fd);
        Ok(epoll::delete(&self.epoll, borrow(fd))?)
    }

    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        // On the stack: a wait per scheduler turn must not allocate.
        let mut buf = [MaybeUninit::<epoll::Event>::uninit(); 256];
        let ts = timeout.map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        let fired = match epoll::wait(&self.epoll, &mut buf[..], ts.as_ref()) {
            Ok((fired, _)) => fired,
            Err(rustix::io::Errno::INTR) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut armed = self.armed();
        for ev in fired.iter() {
            let data = ev.data.u64();
            if data == NOTIFY_KEY {
                let mut b = [0u8; 8];
                let _ = rustix::io::read(&self.eventfd, &mut b);
                continue;
            }
            let got = ev.flags;
            let broken = got.intersects(EventFlags::ERR | EventFlags::HUP);
            let fired = Interest::new(
                broken || got.intersects(EventFlags::IN | EventFlags::RDHUP),
                broken || got.contains(EventFlags::OUT),
            );
            let (key, fd) = ((data >> 32) as usize, data as u32 as RawFd);
            let Some(armed_now) = armed.get_mut(&fd) else { continue }; // deleted meanwhile
            let delivered = fired.intersection(*armed_now);
            // One-shot disarmed everything: re-arm what was armed but not delivered.
            *armed_now = armed_now.difference(delivered);
            if !armed_now.is_empty() {
                epoll::modify(&self.epoll, borrow(fd), self::data(key, fd), flags(*armed_now))?;
            }
            if !delivered.is_empty() {
                events.push(Event { key, ready: delivered });
            }
        }
        Ok(())
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    fn notify(&self) -> io::Result<()> {
        match rustix::io::write(&self.eventfd, &1u64.to_ne_bytes()) {
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}
