//! `IORING_OP_UNLINKAT` (Linux 5.11), relative to the working directory: a
//! file, or with `AT_REMOVEDIR` an empty directory; on readiness backends and
//! rings without the opcode, `unlinkat(2)` on the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct UnlinkAt {
    path: CString,
    flags: i32,
}

impl UnlinkAt {
    /// Removes a file, or with `dir` an empty directory.
    pub(crate) fn new(path: CString, dir: bool) -> Self {
        UnlinkAt {
            path,
            flags: if dir { libc::AT_REMOVEDIR } else { 0 },
        }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::UnlinkAt::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: the SQE and the syscall point at `path`'s heap bytes, owned by `self`.
unsafe impl Operation for UnlinkAt {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        opcode::UnlinkAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .build()
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (path, flags) = (self.path.as_ptr(), self.flags);
        // SAFETY: `path` is a NUL-terminated string owned by `self`.
        syscall_retry(|| unsafe { libc::unlinkat(libc::AT_FDCWD, path, flags) } as isize)
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
