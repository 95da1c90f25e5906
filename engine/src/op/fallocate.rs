//! `IORING_OP_FALLOCATE` (Linux 5.6): allocate, punch or zero a byte range of
//! a file; on readiness backends (and rings without the opcode),
//! `fallocate(2)` on the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
#[cfg(uring)]
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Fallocate {
    fd: OpLease,
    offset: u64,
    len: u64,
    mode: i32,
}

impl Fallocate {
    pub(crate) fn new(fd: OpLease, offset: u64, len: u64, mode: i32) -> Self {
        Fallocate { fd, offset, len, mode }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::Fallocate::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: no pointers; `fd` keeps the descriptor open.
unsafe impl Operation for Fallocate {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let e = opcode::Fallocate::new(target.raw(), self.len)
            .offset(self.offset)
            .mode(self.mode);
        target.apply(e.build())
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, mode) = (self.fd.raw(), self.mode);
        let (offset, len) = (self.offset as libc::off_t, self.len as libc::off_t);
        // SAFETY: a plain syscall on a descriptor `self.fd` keeps open.
        syscall_retry(|| unsafe { libc::fallocate(fd, mode, offset, len) } as isize)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
