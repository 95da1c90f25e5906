//! `FSYNC`, with or without `IORING_FSYNC_DATASYNC`; on readiness backends,
//! `fsync`/`fdatasync` on the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
#[cfg(uring)]
use io_uring::{opcode, squeue, types::FsyncFlags};
use std::io;

pub(crate) struct Fsync {
    fd: OpLease,
    data_only: bool,
}

impl Fsync {
    pub(crate) fn new(fd: OpLease, data_only: bool) -> Self {
        Fsync { fd, data_only }
    }
}

// SAFETY: no pointers; `fd` keeps the descriptor open.
unsafe impl Operation for Fsync {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let flags = if self.data_only {
            FsyncFlags::DATASYNC
        } else {
            FsyncFlags::empty()
        };
        target.apply(opcode::Fsync::new(target.raw()).flags(flags).build())
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let fd = self.fd.raw();
        let data_only = self.data_only;
        // SAFETY: plain syscalls on a descriptor `self.fd` keeps open.
        syscall_retry(|| unsafe { (if data_only { datasync(fd) } else { libc::fsync(fd) }) as isize })
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}

/// `fdatasync`, or `fsync` where the platform has no separate data sync.
///
/// # Safety
///
/// `fd` must be open.
unsafe fn datasync(fd: libc::c_int) -> libc::c_int {
    #[cfg(not(target_vendor = "apple"))]
    // SAFETY: forwarded from the caller.
    return unsafe { libc::fdatasync(fd) };
    #[cfg(target_vendor = "apple")]
    // SAFETY: forwarded from the caller.
    return unsafe { libc::fsync(fd) };
}
