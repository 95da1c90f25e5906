//! `IORING_OP_SYMLINKAT` (Linux 5.15): a symbolic link at a path relative to
//! the working directory; on readiness backends and rings without the opcode,
//! `symlinkat(2)` on the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct SymlinkAt {
    target: CString,
    link: CString,
}

impl SymlinkAt {
    pub(crate) fn new(target: CString, link: CString) -> Self {
        SymlinkAt { target, link }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::SymlinkAt::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: the SQE and the syscall point at the heap bytes of `target` and
// `link`, owned by `self`.
unsafe impl Operation for SymlinkAt {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        opcode::SymlinkAt::new(types::Fd(libc::AT_FDCWD), self.target.as_ptr(), self.link.as_ptr()).build()
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (target, link) = (self.target.as_ptr(), self.link.as_ptr());
        // SAFETY: both paths are NUL-terminated strings owned by `self`.
        syscall_retry(|| unsafe { libc::symlinkat(target, libc::AT_FDCWD, link) } as isize)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
