//! `STATX` by path, relative to the working directory (Linux 5.6; following
//! a final symlink or not); on readiness backends and rings without the
//! opcode, `statx(2)` (Linux) or `fstatat(2)` on the blocking pool.

use super::statx::RawStat;
use super::{syscall_retry, Completion, Operation, Plan};
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;
use std::mem::MaybeUninit;

pub(crate) struct StatxAt {
    path: CString,
    /// `AT_SYMLINK_NOFOLLOW`, or 0.
    flags: i32,
    #[cfg(target_os = "linux")]
    buf: Box<MaybeUninit<libc::statx>>,
    #[cfg(not(target_os = "linux"))]
    buf: Box<MaybeUninit<libc::stat>>,
}

impl StatxAt {
    pub(crate) fn new(path: CString, follow: bool) -> Self {
        StatxAt {
            path,
            flags: if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW },
            buf: Box::new(MaybeUninit::uninit()),
        }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::Statx::CODE;
    #[cfg(not(uring))]
    pub(crate) const CODE: u8 = 0;
}

// SAFETY: the SQE and the syscall point at `path`'s heap bytes and at `buf`,
// a box: heap memory `self` owns, staying put when `self` moves; no
// descriptor (AT_FDCWD).
unsafe impl Operation for StatxAt {
    type Output = io::Result<RawStat>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        opcode::Statx::new(
            types::Fd(libc::AT_FDCWD),
            self.path.as_ptr(),
            self.buf.as_mut_ptr().cast(),
        )
        .flags(self.flags)
        .mask(super::statx::MASK)
        .build()
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (path, flags, buf) = (self.path.as_ptr(), self.flags, self.buf.as_mut_ptr());
        #[cfg(target_os = "linux")]
        // SAFETY: `path` is NUL-terminated and `buf` valid for a whole `statx`, both owned by `self`.
        let call = || unsafe { libc::statx(libc::AT_FDCWD, path, flags, super::statx::MASK, buf) as isize };
        #[cfg(not(target_os = "linux"))]
        // SAFETY: `path` is NUL-terminated and `buf` valid for a whole `stat`, both owned by `self`.
        let call = || unsafe { libc::fstatat(libc::AT_FDCWD, path, buf, flags) as isize };
        syscall_retry(call)
    }

    fn complete(self, c: Completion) -> io::Result<RawStat> {
        c.io_result()?;
        // SAFETY: a successful statx/fstatat filled the whole struct.
        let st = unsafe { self.buf.assume_init_read() };
        #[cfg(target_os = "linux")]
        return Ok(super::statx::from_statx(&st));
        #[cfg(not(target_os = "linux"))]
        return Ok(super::statx::from_stat(&st));
    }
}
