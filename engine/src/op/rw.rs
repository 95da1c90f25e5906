//! Positional `READ` / `WRITE` (files) into and from one owned buffer.

use super::{Completion, Operation, Target};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::shared::FdHold;
use crate::ring::Driver;
use io_uring::{opcode, squeue};

pub(crate) struct Read<B> {
    _fd: FdHold,
    target: Target,
    buf: B,
    offset: u64,
}

impl<B: IoBufMut> Read<B> {
    pub(crate) fn new(fd: FdHold, buf: B, offset: u64, driver: &Driver) -> Self {
        Read {
            target: fd.target(driver),
            _fd: fd,
            buf,
            offset,
        }
    }
}

// SAFETY: the SQE points at `buf`'s stable memory (`IoBufMut`), owned by `self`;
// `_fd` keeps the descriptor open.
unsafe impl<B: IoBufMut> Operation for Read<B> {
    type Output = BufResult<usize, B>;

    fn entry(&mut self) -> squeue::Entry {
        let ptr = self.buf.stable_mut_ptr();
        let len = self.buf.bytes_total().min(u32::MAX as usize) as u32;
        self.target.apply(
            opcode::Read::new(self.target.raw(), ptr, len)
                .offset(self.offset)
                .build(),
        )
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
    _fd: FdHold,
    target: Target,
    buf: B,
    offset: u64,
}

impl<B: IoBuf> Write<B> {
    pub(crate) fn new(fd: FdHold, buf: B, offset: u64, driver: &Driver) -> Self {
        Write {
            target: fd.target(driver),
            _fd: fd,
            buf,
            offset,
        }
    }
}

// SAFETY: the SQE points at `buf`'s stable, initialized memory, owned by
// `self`; `_fd` keeps the descriptor open.
unsafe impl<B: IoBuf> Operation for Write<B> {
    type Output = BufResult<usize, B>;

    fn entry(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        self.target.apply(
            opcode::Write::new(self.target.raw(), self.buf.stable_ptr(), len)
                .offset(self.offset)
                .build(),
        )
    }

    fn complete(self: Box<Self>, c: Completion) -> BufResult<usize, B> {
        (c.io_result().map(|n| n as usize), self.buf)
    }
}
