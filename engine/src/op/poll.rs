//! `IORING_OP_POLL_ADD` (single-shot): wait until a descriptor is ready for
//! reading or writing, without moving any data. On readiness backends it is
//! one of two waits:
//! * a socket's readiness wait ([`PollReady::new`]) is answered by the
//!   poller alone ([`Plan::Wait`]): the readiness the source keeps, or an arm,
//!   with no `poll(2)` of its own. As with tokio's readiness, the report may
//!   be stale, and it stays until the socket's own non-blocking calls (or
//!   `try_io`) show it blocked (`readiness::source`);
//! * a descriptor's level wait ([`PollReady::level`]: `Fd::poll`, and the
//!   waits after a `tee` or `splice` that said "would block", whose
//!   `EAGAIN` the source never sees) checks the level with `poll(2)` each
//!   time ([`Plan::Nonblocking`]), and waits for the poller while it is not
//!   ready.
//!
//! This is how poll-style APIs (`poll_read_ready`, the tokio compat layer) get
//! readiness out of a ring: the data then moves with a non-blocking syscall
//! straight between the caller's buffer and the socket, so a dropped future
//! never strands bytes in a buffer the caller cannot see.

use super::{Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::{opcode, squeue};
use std::io;

/// `POLLRDHUP` (the peer shut down its writing half) where the platform has
/// it; elsewhere such a peer shows as `POLLIN` with a read of 0, which wakes
/// a reader just the same.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "illumos"
))]
const RDHUP: libc::c_short = libc::POLLRDHUP;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "illumos"
)))]
const RDHUP: libc::c_short = 0;

/// Waits for `interest` on a descriptor; yields the directions that are ready
/// (errors and hang-ups count as both, so the caller's next syscall sees them).
pub(crate) struct PollReady {
    fd: OpLease,
    interest: Interest,
    /// Whether readiness backends check the level (see the module docs).
    level: bool,
}

impl PollReady {
    /// A socket's readiness wait: on readiness backends, the readiness its
    /// source keeps.
    pub(crate) fn new(fd: OpLease, interest: Interest) -> Self {
        PollReady {
            fd,
            interest,
            level: false,
        }
    }

    /// A wait for the descriptor's level: on readiness backends, confirmed
    /// with `poll(2)`.
    pub(crate) fn level(fd: OpLease, interest: Interest) -> Self {
        PollReady {
            fd,
            interest,
            level: true,
        }
    }

    fn events(&self) -> libc::c_short {
        let mut events = 0;
        if self.interest.is_readable() {
            events |= libc::POLLIN | RDHUP;
        }
        if self.interest.is_writable() {
            events |= libc::POLLOUT;
        }
        events as libc::c_short
    }
}

/// The `poll(2)` mask that reports `ready` (what [`ready_from`] reads back).
pub(crate) fn mask_of(ready: Interest) -> i32 {
    let mut mask = 0;
    if ready.is_readable() {
        mask |= libc::POLLIN;
    }
    if ready.is_writable() {
        mask |= libc::POLLOUT;
    }
    i32::from(mask)
}

/// The directions a `poll` result mask reports.
fn ready_from(mask: i32) -> Interest {
    let mask = mask as libc::c_short;
    let failed = mask & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0;
    Interest::new(
        failed || mask & (libc::POLLIN | RDHUP | libc::POLLPRI) != 0,
        failed || mask & libc::POLLOUT != 0,
    )
}

// SAFETY: the SQE carries no pointers; `fd` keeps the descriptor open until
// the CQE is reaped.
unsafe impl Operation for PollReady {
    type Output = io::Result<Interest>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let events = self.events() as u16 as u32;
        target.apply(opcode::PollAdd::new(target.raw(), events).build())
    }

    fn plan(&self) -> Plan {
        if self.level {
            Plan::Nonblocking(self.interest)
        } else {
            Plan::Wait(self.interest)
        }
    }

    fn syscall(&mut self) -> Option<Completion> {
        let mut pfd = libc::pollfd {
            fd: self.fd.raw(),
            events: self.events(),
            revents: 0,
        };
        // SAFETY: `pfd` is a valid, exclusively borrowed array of one entry;
        // `self.fd` keeps the descriptor open during the call.
        let n = super::syscall_retry(|| unsafe { libc::poll(&mut pfd, 1, 0) } as isize)?;
        match n.result {
            0 => None, // not ready: wait for the poller
            r if r < 0 => Some(n),
            _ => Some(Completion {
                result: i32::from(pfd.revents),
                flags: 0,
            }),
        }
    }

    #[cfg(feature = "sim")]
    fn simulate(
        &mut self,
        socket: &crate::sim::Socket,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Completion> {
        crate::sim::ops::poll_ready(socket, self.interest, cx)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<Interest> {
        let mask = c.io_result()?;
        Ok(ready_from(mask as i32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_hangups_wake_both_directions() {
        let ready = ready_from(libc::POLLHUP as i32);
        assert!(ready.is_readable() && ready.is_writable());
        let ready = ready_from(libc::POLLOUT as i32);
        assert!(!ready.is_readable() && ready.is_writable());
        let ready = ready_from((libc::POLLIN | RDHUP) as i32);
        assert!(ready.is_readable() && !ready.is_writable());
    }

    #[test]
    fn a_poller_report_reads_back_as_itself() {
        for ready in [
            Interest::READABLE,
            Interest::WRITABLE,
            Interest::READABLE | Interest::WRITABLE,
        ] {
            assert_eq!(ready_from(mask_of(ready)), ready);
        }
    }
}
