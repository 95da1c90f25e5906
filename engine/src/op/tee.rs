//! `IORING_OP_TEE` (Linux 5.8): duplicates up to `len` bytes from the head
//! of one pipe onto the tail of another without consuming them, as
//! `tee(2)`. Always non-blocking (`SPLICE_F_NONBLOCK`: the kernel runs a
//! tee on an io-wq worker, which must not sleep on a pipe): an empty source
//! or a full destination is `EAGAIN`, which the caller waits out
//! ([`crate::fd::Fd::tee`]). Where the ring lacks the opcode, and on
//! readiness backends, the same `tee(2)` runs inside `poll`.

use super::{syscall_retry, Completion, Operation, Plan};
use crate::fd::descriptor::OpLease;
#[cfg(uring)]
use io_uring::{opcode, squeue, types};
use std::io;

pub(crate) struct Tee {
    /// The source pipe's read end, under its read lock: what a tee sees is
    /// the head of the pipe between two reads.
    src: OpLease,
    /// The destination pipe's write end, under its write lock: a tee's
    /// bytes land between two writes, never inside one. Named by number
    /// (the lease keeps it open): its fixed slot, if any, may belong to
    /// another ring than the one this runs on.
    dst: OpLease,
    len: u32,
}

impl Tee {
    pub(crate) fn new(src: OpLease, dst: OpLease, len: u32) -> Self {
        Tee { src, dst, len }
    }

    #[cfg(uring)]
    pub(crate) const CODE: u8 = opcode::Tee::CODE;
}

/// `SPLICE_F_NONBLOCK`: never sleep on either pipe.
const FLAGS: u32 = libc::SPLICE_F_NONBLOCK;

// SAFETY: no memory pointers; the two leases in `self` (kept by the driver
// until the last CQE, if the future is dropped) keep both descriptors open.
unsafe impl Operation for Tee {
    type Output = io::Result<usize>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let src = self.src.target();
        let dst = types::Fd(self.dst.raw());
        let e = if src.is_fixed() {
            opcode::Tee::new(types::Fixed(src.raw().0 as u32), dst, self.len)
        } else {
            opcode::Tee::new(src.raw(), dst, self.len)
        };
        e.flags(FLAGS).build()
    }

    /// Run inside `poll`: "would block" comes back as `EAGAIN`, since it may
    /// mean either pipe, which only the caller can wait for.
    fn plan(&self) -> Plan {
        Plan::Immediate
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (src, dst) = (self.src.raw(), self.dst.raw());
        // SAFETY: both descriptors are held open by the leases in `self`; no
        // memory is passed.
        let c = syscall_retry(|| unsafe { libc::tee(src, dst, self.len as usize, FLAGS) });
        Some(c.unwrap_or(Completion {
            result: -libc::EAGAIN,
            flags: 0,
        }))
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.src)
    }

    fn complete(self, c: Completion) -> io::Result<usize> {
        c.io_result().map(|n| n as usize)
    }
}
