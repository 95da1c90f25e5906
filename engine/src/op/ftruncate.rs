//! `IORING_OP_FTRUNCATE` (Linux 6.9): set a file's length; on readiness
//! backends and on rings whose kernel lacks the opcode, `ftruncate(2)` on the
//! blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
#[cfg(uring)]
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Ftruncate {
    fd: OpLease,
    len: u64,
}

impl Ftruncate {
    pub(crate) fn new(fd: OpLease, len: u64) -> Self {
        Ftruncate { fd, len }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::Ftruncate::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: no pointers; `fd` keeps the descriptor open.
unsafe impl Operation for Ftruncate {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        target.apply(opcode::Ftruncate::new(target.raw(), self.len).build())
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, len) = (self.fd.raw(), self.len as libc::off_t);
        // SAFETY: a plain syscall on a descriptor `self.fd` keeps open.
        syscall_retry(|| unsafe { libc::ftruncate(fd, len) } as isize)
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
