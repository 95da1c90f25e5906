//! `IORING_OP_OPENAT2` (Linux 5.6): open relative to a directory descriptor
//! (or the working directory) with `RESOLVE_*` path-resolution rules; the new
//! descriptor is always `O_CLOEXEC`. On readiness backends and rings without
//! the opcode, `openat2(2)` on the blocking pool.

use super::open::close_orphan;
use super::{syscall_retry, Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

pub(crate) struct OpenAt2 {
    /// The directory `path` is resolved from (`None`: the working directory).
    /// OPENAT2 takes no fixed files, so the SQE names its plain number, which
    /// this reference keeps open.
    dir: Option<OpLease>,
    path: CString,
    how: libc::open_how,
    #[cfg(uring)]
    /// Boxed: the SQE points at it, and the operation may move.
    ring_how: Box<types::OpenHow>,
}

impl OpenAt2 {
    pub(crate) fn new(dir: Option<OpLease>, path: CString, flags: i32, mode: u32, resolve: u64) -> Self {
        let flags = (flags | libc::O_CLOEXEC) as u64;
        // `mode` must be 0 unless the open may create a file (EINVAL otherwise).
        let creates = flags & (libc::O_CREAT | libc::O_TMPFILE) as u64 != 0;
        let mode = if creates { u64::from(mode) } else { 0 };
        // SAFETY: `open_how` is plain integers; all-zero is a valid value.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = flags;
        how.mode = mode;
        how.resolve = resolve;
        OpenAt2 {
            dir,
            path,
            how,
            #[cfg(uring)]
            ring_how: Box::new(types::OpenHow::new().flags(flags).mode(mode).resolve(resolve)),
        }
    }

    fn dirfd(&self) -> i32 {
        self.dir.as_ref().map_or(libc::AT_FDCWD, |d| d.raw())
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::OpenAt2::CODE;
}

// SAFETY: the SQE points at `path`'s heap bytes and at `ring_how`'s box (heap
// memory `self` owns, staying put when `self` moves), the syscall at `path`
// and `how` during the call; `dir` keeps the directory open.
unsafe impl Operation for OpenAt2 {
    type Output = io::Result<OwnedFd>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        opcode::OpenAt2::new(types::Fd(self.dirfd()), self.path.as_ptr(), &*self.ring_how).build()
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (dir, path) = (self.dirfd(), self.path.as_ptr());
        let how: *mut libc::open_how = &mut self.how;
        let size = std::mem::size_of::<libc::open_how>();
        // SAFETY: `path` is NUL-terminated and `how` a whole `open_how`, both
        // owned by `self`; `dir` is held open (or AT_FDCWD).
        syscall_retry(|| unsafe { libc::syscall(libc::SYS_openat2, dir, path, how, size) } as isize)
    }

    fn fd(&self) -> Option<&OpLease> {
        self.dir.as_ref()
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
