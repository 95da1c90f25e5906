//! Vectored positional `READV` / `WRITEV` over a `Vec` of owned buffers; on
//! readiness backends, `preadv`/`pwritev` (or a loop where the platform has
//! none) on the blocking pool.

use super::{syscall_retry, Completion, Operation, Plan};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::descriptor::OpLease;
#[cfg(uring)]
use io_uring::{opcode, squeue};

pub(crate) struct Readv<B> {
    fd: OpLease,
    bufs: Vec<B>,
    iovecs: Vec<libc::iovec>,
    offset: u64,
}

impl<B: IoBufMut> Readv<B> {
    pub(crate) fn new(fd: OpLease, mut bufs: Vec<B>, offset: u64) -> Self {
        let iovecs = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.stable_mut_ptr().cast(),
                iov_len: b.bytes_total(),
            })
            .collect();
        Readv {
            fd,
            bufs,
            iovecs,
            offset,
        }
    }
}

// SAFETY: the raw pointers inside `iovecs` point into `bufs`, which `self`
// owns and which are `Send`; moving `self` to another thread moves them along.
unsafe impl<B: Send> Send for Readv<B> {}

// SAFETY: as for `Readv`.
unsafe impl<B: Send> Send for Writev<B> {}

// SAFETY: the SQE and the syscall point at `iovecs` (heap, never resized after
// `new`), whose entries point at the stable memory of `bufs`; all owned by `self`.
unsafe impl<B: IoBufMut> Operation for Readv<B> {
    type Output = BufResult<usize, Vec<B>>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let e = opcode::Readv::new(target.raw(), self.iovecs.as_ptr(), self.iovecs.len() as u32);
        target.apply(e.offset(self.offset).build())
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let fd = self.fd.raw();
        vectored(&self.iovecs, self.offset, |iov, n, off| {
            // SAFETY: the iovecs describe writable memory owned by `self`.
            unsafe { libc::preadv(fd, iov, n, off) }
        })
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> BufResult<usize, Vec<B>> {
        let mut bufs = self.bufs;
        let res = c.io_result().map(|n| {
            let mut left = n as usize;
            for b in bufs.iter_mut() {
                let filled = left.min(b.bytes_total());
                // SAFETY: the kernel filled the iovecs in order; `filled` bytes of this one.
                unsafe { b.set_init(filled) };
                left -= filled;
            }
            n as usize
        });
        (res, bufs)
    }
}

pub(crate) struct Writev<B> {
    fd: OpLease,
    bufs: Vec<B>,
    iovecs: Vec<libc::iovec>,
    offset: u64,
}

impl<B: IoBuf> Writev<B> {
    pub(crate) fn new(fd: OpLease, bufs: Vec<B>, offset: u64) -> Self {
        let iovecs = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.stable_ptr() as *mut _,
                iov_len: b.bytes_init(),
            })
            .collect();
        Writev {
            fd,
            bufs,
            iovecs,
            offset,
        }
    }
}

// SAFETY: as for `Readv`; the kernel only reads through these iovecs.
unsafe impl<B: IoBuf> Operation for Writev<B> {
    type Output = BufResult<usize, Vec<B>>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let e = opcode::Writev::new(target.raw(), self.iovecs.as_ptr(), self.iovecs.len() as u32);
        target.apply(e.offset(self.offset).build())
    }

    fn plan(&self) -> Plan {
        Plan::Blocking
    }

    fn syscall(&mut self) -> Option<Completion> {
        let fd = self.fd.raw();
        vectored(&self.iovecs, self.offset, |iov, n, off| {
            // SAFETY: the iovecs describe initialized memory owned by `self`.
            unsafe { libc::pwritev(fd, iov, n, off) }
        })
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> BufResult<usize, Vec<B>> {
        (c.io_result().map(|n| n as usize), self.bufs)
    }
}

/// Runs one positional vectored call over all of `iovecs`.
fn vectored(
    iovecs: &[libc::iovec],
    offset: u64,
    call: impl Fn(*const libc::iovec, libc::c_int, libc::off_t) -> isize,
) -> Option<Completion> {
    let n = iovecs.len().min(libc::c_int::MAX as usize) as libc::c_int;
    syscall_retry(|| call(iovecs.as_ptr(), n, offset as libc::off_t))
}
