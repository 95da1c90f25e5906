//! `IORING_OP_RENAMEAT` (Linux 5.11), relative to the working directory, with
//! `renameat2` flags (`RENAME_NOREPLACE`, `RENAME_EXCHANGE`); on readiness
//! backends and rings without the opcode, `renameat2(2)` (Linux) or
//! `renameat(2)` (elsewhere, flags 0 only) on the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct RenameAt {
    from: CString,
    to: CString,
    flags: u32,
}

impl RenameAt {
    pub(crate) fn new(from: CString, to: CString, flags: u32) -> Self {
        RenameAt { from, to, flags }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::RenameAt::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: the SQE and the syscall point at the heap bytes of `from` and `to`,
// owned by `self`.
unsafe impl Operation for RenameAt {
    type Output = io::Result<()>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::RenameAt::new(cwd, self.from.as_ptr(), cwd, self.to.as_ptr())
            .flags(self.flags)
            .build()
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (from, to, flags) = (self.from.as_ptr(), self.to.as_ptr(), self.flags);
        let cwd = libc::AT_FDCWD;
        #[cfg(target_os = "linux")]
        // SAFETY: both paths are NUL-terminated strings owned by `self`.
        return syscall_retry(|| unsafe { libc::syscall(libc::SYS_renameat2, cwd, from, cwd, to, flags) } as isize);
        #[cfg(not(target_os = "linux"))]
        {
            if flags != 0 {
                return Some(Completion::failed(&io::Error::from_raw_os_error(libc::EINVAL)));
            }
            // SAFETY: both paths are NUL-terminated strings owned by `self`.
            syscall_retry(|| unsafe { libc::renameat(cwd, from, cwd, to) } as isize)
        }
    }

    fn complete(self, c: Completion) -> io::Result<()> {
        c.io_result().map(drop)
    }
}
