//! `SEND` / `RECV` on a connected socket. Sends carry `MSG_NOSIGNAL`: a peer
//! that reset the connection yields `EPIPE`/`ECONNRESET`, never a SIGPIPE.

use super::{Completion, Operation, Target};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::shared::FdHold;
use crate::ring::Driver;
use io_uring::{opcode, squeue};

pub(crate) struct Recv<B> {
    _fd: FdHold,
    target: Target,
    buf: B,
}

impl<B: IoBufMut> Recv<B> {
    pub(crate) fn new(fd: FdHold, buf: B, driver: &Driver) -> Self {
        Recv {
            target: fd.target(driver),
            _fd: fd,
            buf,
        }
    }
}

// SAFETY: the SQE points at `buf`'s stable memory, owned by `self`; `_fd`
// keeps the socket open.
unsafe impl<B: IoBufMut> Operation for Recv<B> {
    type Output = BufResult<usize, B>;

    fn entry(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_total().min(u32::MAX as usize) as u32;
        self.target
            .apply(opcode::Recv::new(self.target.raw(), self.buf.stable_mut_ptr(), len).build())
    }

    fn complete(self: Box<Self>, c: Completion) -> BufResult<usize, B> {
        let mut buf = self.buf;
        let res = c.io_result().map(|n| {
            // SAFETY: the kernel initialized `n` bytes.
            unsafe { buf.set_init(n as usize) };
            n as usize
        });
        (res, buf)
    }
}

pub(crate) struct Send<B> {
    _fd: FdHold,
    target: Target,
    buf: B,
}

impl<B: IoBuf> Send<B> {
    pub(crate) fn new(fd: FdHold, buf: B, driver: &Driver) -> Self {
        Send {
            target: fd.target(driver),
            _fd: fd,
            buf,
        }
    }
}

// SAFETY: the SQE points at `buf`'s stable, initialized memory, owned by
// `self`; `_fd` keeps the socket open.
unsafe impl<B: IoBuf> Operation for Send<B> {
    type Output = BufResult<usize, B>;

    fn entry(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        let e = opcode::Send::new(self.target.raw(), self.buf.stable_ptr(), len).flags(libc::MSG_NOSIGNAL);
        self.target.apply(e.build())
    }

    fn complete(self: Box<Self>, c: Completion) -> BufResult<usize, B> {
        (c.io_result().map(|n| n as usize), self.buf)
    }
}
