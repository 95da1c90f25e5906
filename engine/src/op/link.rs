//! `IORING_OP_LINKAT` (Linux 5.15): a hard link, relative to the working
//! directory, not following a final symlink in the source (as `link(2)` on
//! Linux); on readiness backends and rings without the opcode, `linkat(2)` on
//! the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct LinkAt {
    original: CString,
    link: CString,
}

impl LinkAt {
    pub(crate) fn new(original: CString, link: CString) -> Self {
        LinkAt { original, link }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::LinkAt::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: the SQE and the syscall point at the heap bytes of `original` and
// `link`, owned by `self`.
unsafe impl Operation for LinkAt {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::LinkAt::new(cwd, self.original.as_ptr(), cwd, self.link.as_ptr()).build()
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (original, link, cwd) = (self.original.as_ptr(), self.link.as_ptr(), libc::AT_FDCWD);
        // SAFETY: both paths are NUL-terminated strings owned by `self`.
        syscall_retry(|| unsafe { libc::linkat(cwd, original, cwd, link, 0) } as isize)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
