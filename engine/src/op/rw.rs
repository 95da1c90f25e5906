//! `READ` / `WRITE` into and from one owned buffer: positional (files; on
//! readiness backends `pread`/`pwrite` on the blocking pool), or at the file
//! position (offset -1: pipes, character devices, eventfds; on readiness
//! backends `read`/`write`, non-blocking and retried on readiness, or on the
//! pool for regular files).

use super::{syscall_retry, Completion, Operation, Plan};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::descriptor::OpLease;
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::{opcode, squeue};

/// The offset that means "at the file position, advancing it" (`-1` to io_uring).
const CURSOR: u64 = u64::MAX;

/// How a readiness backend runs an operation at the file position: on the
/// pool for regular files (never "not ready", may block on the disk), else
/// non-blocking and retried when the descriptor is ready.
fn cursor_plan(pollable: bool, interest: Interest) -> Plan {
    if pollable {
        Plan::Nonblocking(interest)
    } else {
        Plan::Blocking
    }
}

pub(crate) struct Read<B> {
    fd: OpLease,
    buf: B,
    offset: u64,
    plan: Plan,
}

impl<B: IoBufMut> Read<B> {
    pub(crate) fn new(fd: OpLease, buf: B, offset: u64) -> Self {
        Read {
            fd,
            buf,
            offset,
            plan: Plan::Blocking,
        }
    }

    /// A read at the file position; `pollable` descriptors (anything but a
    /// regular file or block device) wait for readiness on readiness backends.
    pub(crate) fn at_cursor(fd: OpLease, buf: B, pollable: bool) -> Self {
        Read {
            fd,
            buf,
            offset: CURSOR,
            plan: cursor_plan(pollable, Interest::READABLE),
        }
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable memory (`IoBufMut`),
// owned by `self`; `fd` keeps the descriptor open.
unsafe impl<B: IoBufMut> Operation for Read<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let ptr = self.buf.stable_mut_ptr();
        let len = self.buf.bytes_total().min(u32::MAX as usize) as u32;
        target.apply(opcode::Read::new(target.raw(), ptr, len).offset(self.offset).build())
    }

    fn plan(&self) -> Plan {
        self.plan
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, ptr, len) = (self.fd.raw(), self.buf.stable_mut_ptr(), self.buf.bytes_total());
        if self.offset == CURSOR {
            // SAFETY: as below, without an offset.
            return syscall_retry(|| unsafe { libc::read(fd, ptr.cast(), len) });
        }
        // SAFETY: `ptr` is valid for writes of `len` bytes (IoBufMut) and owned
        // by `self` for the duration of the call; `fd` is held open.
        syscall_retry(|| unsafe { libc::pread(fd, ptr.cast(), len, self.offset as libc::off_t) })
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> BufResult<usize, B> {
        let mut buf = self.buf;
        let res = c.io_result().map(|n| {
            // SAFETY: the kernel initialized `n` bytes at the start of the buffer.
            unsafe { buf.set_init(n as usize) };
            n as usize
        });
        (res, buf)
    }

    /// A read at the file position of a pipe or other stream consumed its
    /// bytes: keep them for the next read. (A positional read consumes
    /// nothing; reading again gets the same bytes.)
    fn on_orphan_cqe(&mut self, c: &Completion) {
        if self.offset != CURSOR || c.result <= 0 {
            return;
        }
        // SAFETY: the kernel wrote `c.result` bytes at the start of the buffer.
        let bytes = unsafe { crate::buf::written(&self.buf, c.result as usize) };
        self.fd.rescue().push_bytes(bytes);
    }
}

pub(crate) struct Write<B> {
    fd: OpLease,
    buf: B,
    offset: u64,
    plan: Plan,
}

impl<B: IoBuf> Write<B> {
    pub(crate) fn new(fd: OpLease, buf: B, offset: u64) -> Self {
        Write {
            fd,
            buf,
            offset,
            plan: Plan::Blocking,
        }
    }

    /// A write at the file position; see [`Read::at_cursor`].
    pub(crate) fn at_cursor(fd: OpLease, buf: B, pollable: bool) -> Self {
        Write {
            fd,
            buf,
            offset: CURSOR,
            plan: cursor_plan(pollable, Interest::WRITABLE),
        }
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable, initialized
// memory, owned by `self`; `fd` keeps the descriptor open.
unsafe impl<B: IoBuf> Operation for Write<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        target.apply(
            opcode::Write::new(target.raw(), self.buf.stable_ptr(), len)
                .offset(self.offset)
                .build(),
        )
    }

    fn plan(&self) -> Plan {
        self.plan
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, ptr, len) = (self.fd.raw(), self.buf.stable_ptr(), self.buf.bytes_init());
        if self.offset == CURSOR {
            // SAFETY: as below, without an offset.
            return syscall_retry(|| unsafe { libc::write(fd, ptr.cast(), len) });
        }
        // SAFETY: `ptr` is valid for reads of `len` initialized bytes, owned by
        // `self` for the call; `fd` is held open.
        syscall_retry(|| unsafe { libc::pwrite(fd, ptr.cast(), len, self.offset as libc::off_t) })
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> BufResult<usize, B> {
        (c.io_result().map(|n| n as usize), self.buf)
    }
}
