//! Multishot `RECV` with buffer select (Linux 6.0): one CQE per chunk of
//! received bytes, each in a buffer the kernel picked from a
//! [`BufRing`](crate::buf::BufRing) group, until the kernel ends it (end of
//! stream, an error, the group ran dry, a cancel).
//!
//! Its data lives in the driver for the operation's whole life. It counts
//! what its stream has not taken yet and asks to be cancelled when that
//! reaches the stream's cap, so one slow reader cannot take the whole group.
//! Completions nobody takes (the stream was dropped) have their bytes kept on
//! the descriptor's rescue queue for the next read, and their buffers are
//! given back when the data is dropped, outside the driver's state.

use super::{Completion, Operation, Plan};
use crate::buf::{BufRingBuf, Pool};
use crate::fd::descriptor::{Descriptor, OpLease};
use crate::fd::rescue::Rescued;
use crate::fd::Interest;
use io_uring::{cqueue, opcode, squeue};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) struct RecvMultiOp {
    /// The stream's read lock: receives stay in order while armed. Goes at
    /// the last CQE.
    fd: Option<OpLease>,
    /// The descriptor, for the rescue queue once `fd` is gone.
    stream: Descriptor,
    pool: Arc<Pool>,
    /// Buffers queued for the stream and not taken yet (the stream
    /// decrements as it takes them).
    unread: Arc<AtomicUsize>,
    cap: usize,
    /// The cancel for the cap was asked for.
    stopping: bool,
    /// Buffers of completions nobody took, given back when this drops.
    spent: Vec<BufRingBuf>,
}

impl RecvMultiOp {
    pub(crate) fn new(fd: OpLease, pool: Arc<Pool>, unread: Arc<AtomicUsize>, cap: usize) -> Self {
        RecvMultiOp {
            stream: fd.shared().clone(),
            fd: Some(fd),
            pool,
            unread,
            cap: cap.max(1),
            stopping: false,
            spent: Vec::new(),
        }
    }
}

/// The buffer a completion of `pool`'s group names, with its bytes.
///
/// # Safety
///
/// `c` is a reaped completion of a receive that selected from `pool`'s
/// group, and this is the only time its buffer is taken.
pub(crate) unsafe fn buffer_of(pool: &Arc<Pool>, c: &Completion) -> Option<BufRingBuf> {
    let bid = cqueue::buffer_select(c.flags)?;
    let len = c.result.max(0) as usize;
    // SAFETY: the kernel picked buffer `bid` for this completion and wrote
    // `len` bytes into it; the caller takes it once.
    Some(unsafe { BufRingBuf::from_group(pool.clone(), bid, len) })
}

/// What a receive completion nobody will take leaves for the next read:
/// its bytes, or an error the kernel reports once. A dry group or a cancel
/// says nothing about the stream.
pub(crate) fn rescue(stream: &Descriptor, c: &Completion, buf: Option<&BufRingBuf>) {
    if let Some(buf) = buf {
        stream.rescue().push_bytes(buf);
    }
    if let Some(errno) = c.lasting_errno().filter(|&e| e != libc::ENOBUFS) {
        stream.rescue().push(Rescued::Error(errno));
    }
}

// SAFETY: no pointers (the kernel picks buffers from the group, whose memory
// the pool in `self` keeps alive); `fd` keeps the socket open until the last
// CQE.
unsafe impl Operation for RecvMultiOp {
    type Output = ();

    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.as_ref().map_or(super::Target::fd(-1), OpLease::target);
        target.apply(opcode::RecvMulti::new(target.raw(), self.pool.group()).build())
    }

    fn plan(&self) -> Plan {
        Plan::Nonblocking(Interest::READABLE)
    }

    fn syscall(&mut self) -> Option<Completion> {
        // Readiness backends receive with a plain loop (`net::recv_multi`).
        Some(Completion::errno(libc::EOPNOTSUPP))
    }

    fn fd(&self) -> Option<&OpLease> {
        self.fd.as_ref()
    }

    fn take_fd(&mut self) -> Option<OpLease> {
        self.fd.take()
    }

    fn complete(self, _c: Completion) {}

    fn on_multishot_cqe(&mut self, c: &Completion) -> bool {
        if cqueue::buffer_select(c.flags).is_none() {
            return false;
        }
        self.pool.picked();
        // Relaxed: a count, read by nobody for ordering.
        let unread = self.unread.fetch_add(1, Ordering::Relaxed) + 1;
        if unread >= self.cap && !self.stopping {
            self.stopping = true;
            return true;
        }
        false
    }

    fn on_orphan_cqe(&mut self, c: &Completion) {
        // SAFETY: a completion of this receive, handed to us alone.
        let buf = unsafe { buffer_of(&self.pool, c) };
        rescue(&self.stream, c, buf.as_ref());
        // Kept, not dropped: giving it back wakes waiters, which must not
        // happen while the driver's state is borrowed.
        self.spent.extend(buf);
    }
}
