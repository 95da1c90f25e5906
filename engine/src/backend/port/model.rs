//! A model of event ports, to run the core against on any platform: descriptors whose `poll(2)`
//! bits the tests set, one event per association (queued when the descriptor is ready, at
//! `port_associate` or later, and never again), dissociation when an event is queued, a queue of
//! events that `port_getn` drains, and user events from `port_send`. Hooks make the next call
//! fail or be interrupted, or run code between `port_getn` and the core's processing.

use super::*;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Locks the model's kernel state; a panicking test thread must not hide
/// the others' results behind a poisoned lock.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
use std::time::Instant;

/// `poll(2)` bits, as `port_getn` reports them.
pub(super) const IN: i32 = libc::POLLIN as i32;
pub(super) const OUT: i32 = libc::POLLOUT as i32;
pub(super) const HUP: i32 = libc::POLLHUP as i32;
pub(super) const ERR: i32 = libc::POLLERR as i32;

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
                origin: Origin::Fd,
                object: fd as usize,
                events: revents,
                user: assoc.user,
            });
        }
    }

    /// Drops the queued, not yet retrieved event of `fd`.
    fn unqueue(&mut self, fd: RawFd) {
        self.queue
            .retain(|event| !(event.origin == Origin::Fd && event.object == fd as usize));
    }
}

/// A model of one event port and the descriptors associated with it.
#[derive(Default)]
pub(super) struct Model {
    kernel: Mutex<Kernel>,
    changed: Condvar,
}

impl Model {
    pub(super) fn new() -> Arc<Model> {
        Arc::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Kernel) -> T) -> T {
        let result = f(&mut lock(&self.kernel));
        self.changed.notify_all();
        result
    }

    /// Opens descriptor `fd`, not ready for anything.
    pub(super) fn open(&self, fd: RawFd) {
        self.with(|k| k.fds.insert(fd, FakeFd::default()));
    }

    /// Closes `fd`: the kernel dissociates it and drops its queued event.
    pub(super) fn close(&self, fd: RawFd) {
        self.with(|k| {
            k.fds.remove(&fd);
            k.unqueue(fd);
        });
    }

    /// Sets the poll bits `fd` is ready for, firing its association if that matches.
    pub(super) fn set_ready(&self, fd: RawFd, bits: i32) {
        self.with(|k| {
            k.fds.get_mut(&fd).expect("open descriptor").ready = bits;
            k.fire_if_ready(fd);
        });
    }

    /// The mask and user value of the association of `fd` that can still fire.
    pub(super) fn live_association(&self, fd: RawFd) -> Option<(i32, usize)> {
        self.with(|k| {
            k.fds
                .get(&fd)?
                .assoc
                .as_ref()
                .filter(|a| !a.fired)
                .map(|a| (a.mask, a.user))
        })
    }

    pub(super) fn associates(&self) -> usize {
        self.with(|k| k.associates)
    }

    pub(super) fn sends(&self) -> usize {
        self.with(|k| k.sends)
    }

    pub(super) fn user_events_retrieved(&self) -> usize {
        self.with(|k| k.user_events_retrieved)
    }

    pub(super) fn queued(&self) -> usize {
        self.with(|k| k.queue.len())
    }

    pub(super) fn blocked_in_getn(&self) -> usize {
        self.with(|k| k.blocked_in_getn)
    }

    /// Queues an arbitrary event, as if the kernel had posted it.
    pub(super) fn inject(&self, event: RawEvent) {
        self.with(|k| k.queue.push_back(event));
    }

    pub(super) fn fail_next_associate(&self, errno: i32) {
        self.with(|k| k.fail_next_associate = Some(errno));
    }

    pub(super) fn interrupt_next_getn(&self) {
        self.with(|k| k.interrupt_next_getn = true);
    }

    pub(super) fn after_next_getn(&self, hook: impl FnOnce() + Send + 'static) {
        self.with(|k| k.after_next_getn = Some(Box::new(hook)));
    }
}

impl PortSys for Arc<Model> {
    fn open() -> io::Result<Self> {
        Ok(Model::new())
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        crate::backend::stand_in_fd()
    }

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
            match event.origin {
                Origin::Fd => {
                    let assoc = k
                        .fds
                        .get_mut(&(event.object as RawFd))
                        .and_then(|file| file.assoc.as_mut());
                    if let Some(assoc) = assoc {
                        assoc.queued = false;
                    }
                }
                Origin::User => k.user_events_retrieved += 1,
                Origin::Other => {}
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
                origin: Origin::User,
                object: 0,
                events: 0,
                user: 0,
            });
        });
        Ok(())
    }
}
