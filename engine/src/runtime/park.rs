//! `Unparker`: wakes a runtime thread that is blocked in the kernel, through an
//! eventfd the driver keeps a read armed on. Only writes when the thread really
//! is parked, so the common wake (from the runtime's own thread, while it is
//! busy) costs two atomics and no syscall.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};

pub(crate) struct Unparker {
    eventfd: OwnedFd,
    parked: AtomicBool,
}

impl Unparker {
    pub(crate) fn new() -> io::Result<Unparker> {
        use rustix::event::{eventfd, EventfdFlags};
        let eventfd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Unparker {
            eventfd,
            parked: AtomicBool::new(false),
        })
    }

    /// Called by the owner before it re-checks for work and blocks.
    pub(crate) fn park_begin(&self) {
        // SeqCst store + fence pairs with the fence in `unpark` (Dekker): either
        // the owner's re-check sees the waker's queue push, or the waker sees
        // `parked == true` and writes the eventfd.
        self.parked.store(true, SeqCst);
        fence(SeqCst);
    }

    /// Called by the owner after it woke up (or decided not to sleep).
    pub(crate) fn park_end(&self) {
        self.parked.store(false, SeqCst);
    }

    /// Wakes the owner if it is parked. Call after publishing the work.
    pub(crate) fn unpark(&self) {
        fence(SeqCst);
        if self.parked.load(SeqCst) && self.parked.swap(false, SeqCst) {
            if let Err(err) = rustix::io::write(&self.eventfd, &1u64.to_ne_bytes()) {
                // EAGAIN: the counter is saturated, so a wakeup is pending anyway.
                if err != rustix::io::Errno::AGAIN {
                    tracing::error!(%err, "eventfd write failed");
                }
            }
        }
    }
}

impl AsRawFd for Unparker {
    fn as_raw_fd(&self) -> RawFd {
        self.eventfd.as_raw_fd()
    }
}
