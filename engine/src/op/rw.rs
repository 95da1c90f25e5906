//! Positional `READ` / `WRITE` (files) into and from one owned buffer; on
//! readiness backends, `pread`/`pwrite` on the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan, Target};
use crate::buf::{IoBuf, IoBufMut};
use crate::driver::Driver;
use crate::error::BufResult;
use crate::fd::shared::FdHold;
#[cfg(uring)]
use io_uring::{opcode, squeue};

pub(crate) struct Read<B> {
    fd: FdHold,
    target: Target,
    buf: B,
    offset: u64,
}

impl<B: IoBufMut> Read<B> {
    pub(crate) fn new(fd: FdHold, buf: B, offset: u64, driver: &Driver) -> Self {
        Read {
            target: fd.target(driver),
            fd,
            buf,
            offset,
        }
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable memory (`IoBufMut`),
// owned by `self`; `fd` keeps the descriptor open.
unsafe impl<B: IoBufMut> Operation for Read<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let ptr = self.buf.stable_mut_ptr();
        let len = self.buf.bytes_total().min(u32::MAX as usize) as u32;
        self.target.apply(
            opcode::Read::new(self.target.raw(), ptr, len)
                .offset(self.offset)
                .build(),
        )
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, ptr, len) = (self.fd.raw(), self.buf.stable_mut_ptr(), self.buf.bytes_total());
        // SAFETY: `ptr` is valid for writes of `len` bytes (IoBufMut) and owned
        // by `self` for the duration of the call; `fd` is held open.
        syscall_retry(|| unsafe { libc::pread(fd, ptr.cast(), len, self.offset as libc::off_t) })
    }

    fn fd(&self) -> Option<&FdHold> {
        Some(&self.fd)
    }

    fn complete(self: Box<Self>, c: Completion) -> BufResult<usize, B> {
        let mut buf = self.buf;
        let res = c.io_result().map(|n| {
            // SAFETY: the kernel initialized `n` bytes at the start of the buffer.
            unsafe { buf.set_init(n as usize) };
            n as usize
        });
        (res, buf)
    }
}

pub(crate) struct Write<B> {
    fd: FdHold,
    target: Target,
    buf: B,
    offset: u64,
}

impl<B: IoBuf> Write<B> {
    pub(crate) fn new(fd: FdHold, buf: B, offset: u64, driver: &Driver) -> Self {
        Write {
            target: fd.target(driver),
            fd,
            buf,
            offset,
        }
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable, initialized
// memory, owned by `self`; `fd` keeps the descriptor open.
unsafe impl<B: IoBuf> Operation for Write<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        self.target.apply(
            opcode::Write::new(self.target.raw(), self.buf.stable_ptr(), len)
                .offset(self.offset)
                .build(),
        )
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, ptr, len) = (self.fd.raw(), self.buf.stable_ptr(), self.buf.bytes_init());
        // SAFETY: `ptr` is valid for reads of `len` initialized bytes, owned by
        // `self` for the call; `fd` is held open.
        syscall_retry(|| unsafe { libc::pwrite(fd, ptr.cast(), len, self.offset as libc::off_t) })
    }

    fn fd(&self) -> Option<&FdHold> {
        Some(&self.fd)
    }

    fn complete(self: Box<Self>, c: Completion) -> BufResult<usize, B> {
        (c.io_result().map(|n| n as usize), self.buf)
    }
}
