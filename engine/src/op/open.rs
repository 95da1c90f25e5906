//! `OPENAT` relative to the working directory; the new descriptor is always
//! `O_CLOEXEC`. On readiness backends, `openat` on the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

pub(crate) struct OpenAt {
    path: CString,
    flags: i32,
    mode: u32,
}

impl OpenAt {
    pub(crate) fn new(path: CString, flags: i32, mode: u32) -> Self {
        OpenAt {
            path,
            flags: flags | libc::O_CLOEXEC,
            mode,
        }
    }
}

// SAFETY: the SQE and the syscall point at `path`'s heap bytes, owned by `self`.
unsafe impl Operation for OpenAt {
    type Output = io::Result<OwnedFd>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .mode(self.mode)
            .build()
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (path, flags, mode) = (self.path.as_ptr(), self.flags, self.mode as libc::c_uint);
        // SAFETY: `path` is a NUL-terminated string owned by `self`.
        syscall_retry(|| unsafe { libc::openat(libc::AT_FDCWD, path, flags, mode) as isize })
    }

    fn complete(self, c: Completion) -> io::Result<OwnedFd> {
        let fd = c.io_result()? as i32;
        // SAFETY: the kernel just opened `fd` for us; nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn on_orphan_cqe(&mut self, c: &Completion) {
        close_orphan(c);
    }
}

/// Closes a descriptor the kernel created for a future that is gone.
pub(crate) fn close_orphan(c: &Completion) {
    if c.result >= 0 {
        // SAFETY: the CQE's result is a descriptor created for this request;
        // its future was dropped, so nothing else knows the number.
        drop(unsafe { OwnedFd::from_raw_fd(c.result) });
    }
}
