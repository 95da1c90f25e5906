//! A hosted ring's poller: where the readiness waits of its sockets go
//! (`poll_read_ready`, a compat stream's read after `WouldBlock`), instead
//! of a `POLL_ADD` per wait on the ring.
//!
//! Why: a ring that is not pinned to one thread runs the completion of a
//! `POLL_ADD` as task work, which the kernel delivers by interrupting the
//! thread (`TWA_SIGNAL`): a rescheduling IPI per wake-up while the host is
//! busy, and on a VM an exit. At saturation that cost a third of compat's
//! requests per second (docs/performance.md, run 4). An edge-triggered epoll
//! registration per socket, as the readiness backend makes, costs neither
//! an interrupt nor a system call per wait; operations (accept, connect,
//! files, zero-copy sends, receives into buffer rings) stay on the ring.
//!
//! How: the poller is a hosted readiness driver ([`readiness::Driver`])
//! whose epoll holds the ring's own descriptor too, so the host watches one
//! descriptor, the poller's: it is readable while a socket has an event or
//! a CQE waits. A socket joins the poller on its first wait
//! ([`Descriptor::ready_source`]; most sockets of a ring never wait) and
//! leaves it before its descriptor closes. From then on it follows the
//! readiness model of `readiness::source`, exactly as on the epoll backend.
//!
//! Pinned rings have no poller: their task work waits for the turn
//! (`DEFER_TASKRUN`), so a `POLL_ADD` interrupts nothing.
//!
//! [`Descriptor::ready_source`]: crate::fd::descriptor::Descriptor::ready_source

use super::driver::Driver;
use crate::readiness::{self, Source};
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

/// The poller of a hosted ring.
pub(super) struct Waits {
    poller: readiness::Driver,
    /// The ring's own descriptor as a source of the poller: its tick tells
    /// a turn whether the poller's wait reported it.
    ring: Arc<Source>,
}

impl Waits {
    /// A poller for a hosted ring whose descriptor is `ring_fd`, which joins
    /// it as a source nobody waits on: its events make the poller's
    /// descriptor readable, and a turn whose wait takes one reaps again. It
    /// stays registered until the poller's epoll closes, with the ring.
    pub(super) fn new(ring_fd: RawFd) -> io::Result<Waits> {
        let poller = readiness::Driver::new(true)?;
        let ring = poller.register(ring_fd)?;
        Ok(Waits { poller, ring })
    }
}

impl Driver {
    /// The poller this ring's readiness waits go through, if it has one.
    pub(crate) fn poller(&self) -> Option<&readiness::Driver> {
        self.inner.waits.as_ref().map(|w| &w.poller)
    }

    /// Delivers the poller's events (without blocking): sources are marked
    /// ready and their waiters woken. Part of every hosted turn, after the
    /// ring's own submit and reap. `true` if the ring's own descriptor was
    /// among the events (the turn must reap again: see `turn_hosted`).
    pub(super) fn turn_poller(&self) -> io::Result<bool> {
        let Some(waits) = &self.inner.waits else {
            return Ok(false);
        };
        let before = waits.ring.attempt();
        waits.poller.turn_hosted()?;
        Ok(waits.ring.attempt() != before)
    }

    /// The ring shuts down: waits on its poller end with
    /// [`crate::Error::RuntimeShutDown`].
    pub(super) fn shutdown_poller(&self) {
        if let Some(waits) = &self.inner.waits {
            waits.poller.shutdown();
        }
    }
}
