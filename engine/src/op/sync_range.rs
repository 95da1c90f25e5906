//! `IORING_OP_SYNC_FILE_RANGE` (Linux 5.2): start or wait for write-out of a
//! byte range; on readiness backends (and rings without the opcode),
//! `sync_file_range(2)` on the blocking pool. Not a durability barrier: it
//! flushes no metadata and no device cache (use `fdatasync` for that).

use super::{syscall_retry, Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
#[cfg(uring)]
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct SyncFileRange {
    fd: OpLease,
    offset: u64,
    /// At most `u32::MAX` when submitted as an SQE (the caller checks).
    len: u64,
    flags: u32,
}

impl SyncFileRange {
    pub(crate) fn new(fd: OpLease, offset: u64, len: u64, flags: u32) -> Self {
        SyncFileRange { fd, offset, len, flags }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::SyncFileRange::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: no pointers; `fd` keeps the descriptor open.
unsafe impl Operation for SyncFileRange {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let e = opcode::SyncFileRange::new(target.raw(), self.len.min(u64::from(u32::MAX)) as u32)
            .offset(self.offset)
            .flags(self.flags);
        target.apply(e.build())
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, flags) = (self.fd.raw(), self.flags);
        let (offset, len) = (self.offset as libc::off64_t, self.len as libc::off64_t);
        // SAFETY: a plain syscall on a descriptor `self.fd` keeps open.
        syscall_retry(|| unsafe { libc::sync_file_range(fd, offset, len, flags) } as isize)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
