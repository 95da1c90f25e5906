//! `IORING_OP_WAITID` (Linux 6.7) on a pidfd: wait until the process has
//! exited, without reaping it (`WNOWAIT`). On readiness backends, the same
//! wait: `waitid(P_PIDFD, WEXITED | WNOWAIT | WNOHANG)`, retried when the
//! pidfd turns readable (it does once the process has exited).
//!
//! Reaping is left to the caller, as a synchronous `waitid(WNOHANG)` in the
//! same poll that returns the status: a wait dropped after the kernel
//! answered (a `select!` that picked another branch) has reaped nothing, so
//! the exit status is never lost.

use super::{Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::{opcode, squeue};
use rustix::process::{WaitId as Id, WaitIdOptions};

/// Waits for the exit of the process a pidfd refers to.
pub(crate) struct WaitId {
    /// Keeps the pidfd number open: the kernel resolves it when it issues
    /// the request (`P_PIDFD` takes a plain descriptor, never a fixed slot).
    fd: OpLease,
}

impl WaitId {
    pub(crate) fn new(fd: OpLease) -> Self {
        WaitId { fd }
    }

    /// Whether the kernel has `IORING_OP_WAITID`, asked once per process
    /// (every ring of a process runs on the same kernel).
    #[cfg(uring)]
    pub(crate) fn supported(ring: &crate::ring::Driver) -> bool {
        static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if let Some(known) = SUPPORTED.get() {
            return *known;
        }
        match ring.probe(opcode::WaitId::CODE) {
            Ok(yes) => {
                if !yes {
                    tracing::debug!("IORING_OP_WAITID unavailable (Linux 6.7); pidfds wait on readiness");
                }
                *SUPPORTED.get_or_init(|| yes)
            }
            Err(err) => {
                tracing::debug!(%err, "io_uring opcode probe failed; pidfds wait on readiness");
                false
            }
        }
    }
}

// SAFETY: the SQE carries no pointers (no `siginfo_t`: the status is read by
// the caller's own `waitid` when it reaps); `fd` keeps the pidfd number open
// until the CQE is reaped.
unsafe impl Operation for WaitId {
    type Output = std::io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let options = (WaitIdOptions::EXITED | WaitIdOptions::NOWAIT).bits() as libc::c_int;
        opcode::WaitId::new(libc::P_PIDFD, self.fd.raw() as libc::id_t, options).build()
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::READABLE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
        match rustix::process::waitid(Id::PidFd(self.fd.borrow()), options) {
            Ok(Some(_)) => Some(Completion { result: 0, flags: 0 }),
            Ok(None) => None, // still running: wait for the pidfd to turn readable
            Err(e) => Some(Completion::failed(&e.into())),
        }
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> std::io::Result<()> {
        c.io_result().map(drop)
    }
}
