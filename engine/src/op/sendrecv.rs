//! `SEND` / `RECV` on a connected socket; on readiness backends, non-blocking
//! `send`/`recv` retried on readiness. Sends never raise SIGPIPE: a peer that
//! reset the connection yields `EPIPE`/`ECONNRESET` (`MSG_NOSIGNAL`, or
//! `SO_NOSIGPIPE` set at socket creation on Apple platforms).

use super::{syscall_retry, Completion, Operation, Plan, Target};
use crate::backend::Interest;
use crate::buf::{IoBuf, IoBufMut};
use crate::driver::Driver;
use crate::error::BufResult;
use crate::fd::shared::FdHold;
#[cfg(uring)]
use io_uring::{opcode, squeue};

/// Flags for every send.
#[cfg(not(target_vendor = "apple"))]
pub(crate) const NOSIGNAL: i32 = libc::MSG_NOSIGNAL;
/// Flags for every send (Apple: `SO_NOSIGPIPE` is set on the socket instead).
#[cfg(target_vendor = "apple")]
pub(crate) const NOSIGNAL: i32 = 0;

pub(crate) struct Recv<B> {
    fd: FdHold,
    target: Target,
    buf: B,
}

impl<B: IoBufMut> Recv<B> {
    pub(crate) fn new(fd: FdHold, buf: B, driver: &Driver) -> Self {
        Recv {
            target: fd.target(driver),
            fd,
            buf,
        }
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable memory, owned by
// `self`; `fd` keeps the socket open.
unsafe impl<B: IoBufMut> Operation for Recv<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_total().min(u32::MAX as usize) as u32;
        self.target
            .apply(opcode::Recv::new(self.target.raw(), self.buf.stable_mut_ptr(), len).build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::READ)
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, ptr, len) = (self.fd.raw(), self.buf.stable_mut_ptr(), self.buf.bytes_total());
        // SAFETY: `ptr` is valid for writes of `len` bytes, owned by `self`.
        syscall_retry(|| unsafe { libc::recv(fd, ptr.cast(), len, 0) })
    }

    fn fd(&self) -> Option<&FdHold> {
        Some(&self.fd)
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
    fd: FdHold,
    target: Target,
    buf: B,
}

impl<B: IoBuf> Send<B> {
    pub(crate) fn new(fd: FdHold, buf: B, driver: &Driver) -> Self {
        Send {
            target: fd.target(driver),
            fd,
            buf,
        }
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable, initialized
// memory, owned by `self`; `fd` keeps the socket open.
unsafe impl<B: IoBuf> Operation for Send<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        let e = opcode::Send::new(self.target.raw(), self.buf.stable_ptr(), len).flags(NOSIGNAL);
        self.target.apply(e.build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::WRITE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, ptr, len) = (self.fd.raw(), self.buf.stable_ptr(), self.buf.bytes_init());
        // SAFETY: `ptr` is valid for reads of `len` initialized bytes, owned by `self`.
        syscall_retry(|| unsafe { libc::send(fd, ptr.cast(), len, NOSIGNAL) })
    }

    fn fd(&self) -> Option<&FdHold> {
        Some(&self.fd)
    }

    fn complete(self: Box<Self>, c: Completion) -> BufResult<usize, B> {
        (c.io_result().map(|n| n as usize), self.buf)
    }
}
