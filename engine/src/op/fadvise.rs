//! `IORING_OP_FADVISE` (Linux 5.6): tell the kernel how a byte range will be
//! read; on readiness backends (and rings without the opcode),
//! `posix_fadvise(2)` on the blocking pool.

use super::{Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
#[cfg(uring)]
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Fadvise {
    fd: OpLease,
    offset: u64,
    len: u64,
    advice: i32,
}

impl Fadvise {
    pub(crate) fn new(fd: OpLease, offset: u64, len: u64, advice: i32) -> Self {
        Fadvise {
            fd,
            offset,
            len,
            advice,
        }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::Fadvise::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: no pointers; `fd` keeps the descriptor open.
unsafe impl Operation for Fadvise {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let e = opcode::Fadvise::new(target.raw(), self.len as libc::off_t, self.advice).offset(self.offset);
        target.apply(e.build())
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (offset, len) = (self.offset as libc::off_t, self.len as libc::off_t);
        // SAFETY: a plain syscall on a descriptor `self.fd` keeps open.
        // posix_fadvise returns the error number instead of setting errno.
        let err = unsafe { libc::posix_fadvise(self.fd.raw(), offset, len, self.advice) };
        Some(Completion { result: -err, flags: 0 })
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
