//! `IORING_OP_MKDIRAT` (Linux 5.15), relative to the working directory; on
//! readiness backends and rings without the opcode, `mkdirat(2)` on the
//! blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct MkDirAt {
    path: CString,
    mode: u32,
}

impl MkDirAt {
    pub(crate) fn new(path: CString, mode: u32) -> Self {
        MkDirAt { path, mode }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::MkDirAt::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: the SQE and the syscall point at `path`'s heap bytes, owned by `self`.
unsafe impl Operation for MkDirAt {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        opcode::MkDirAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (path, mode) = (self.path.as_ptr(), self.mode as libc::mode_t);
        // SAFETY: `path` is a NUL-terminated string owned by `self`.
        syscall_retry(|| unsafe { libc::mkdirat(libc::AT_FDCWD, path, mode) } as isize)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
