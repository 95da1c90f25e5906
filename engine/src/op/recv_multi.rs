//! Multishot `RECV` with buffer select (Linux 6.0): one CQE per chunk of
//! received bytes, in buffers the kernel picked from a
//! [`BufRing`](crate::buf::BufRing) group, until the kernel ends it (end of
//! stream, an error, the group ran dry, a cancel). Where the group says so,
//! it is a bundle (`IORING_RECVSEND_BUNDLE`, Linux 6.10): a CQE's bytes may
//! fill several buffers.
//!
//! Its data lives in the driver for the operation's whole life. As each CQE
//! is reaped (owner thread, in order), it turns the buffers the CQE hands
//! over into [`BufRingBuf`]s on the stream's `Received` queue, so a bundle
//! is split in one place and the queue's length is the count of buffers the
//! stream has not taken; at the stream's cap it asks to be cancelled, so one
//! slow reader cannot take the whole group. When nobody will take them (the
//! stream was dropped), their bytes are kept on the descriptor's rescue
//! queue for the next read, and the buffers are given back when the data is
//! dropped, outside the driver's state.

use super::{Completion, Operation, Plan};
use crate::buf::{BufRingBuf, Pool};
use crate::fd::descriptor::{Descriptor, OpLease};
use crate::fd::rescue::Rescued;
use crate::fd::Interest;
use crate::sync::Mutex;
use io_uring::{cqueue, opcode, squeue};
use std::collections::VecDeque;
use std::sync::Arc;

/// Buffers received for one `recv_multi` stream and not taken yet, in
/// order; shared by the stream and each receive it arms.
pub(crate) type Received = Mutex<VecDeque<BufRingBuf>>;

pub(crate) struct RecvMultiOp {
    /// The stream's read lock: receives stay in order while armed. Goes at
    /// the last CQE.
    fd: Option<OpLease>,
    /// The descriptor, for the rescue queue once `fd` is gone.
    stream: Descriptor,
    pool: Arc<Pool>,
    received: Arc<Received>,
    cap: usize,
    /// The cancel for the cap was asked for.
    stopping: bool,
    /// Buffers of completions nobody took, given back when this drops.
    spent: Vec<BufRingBuf>,
}

impl RecvMultiOp {
    pub(crate) fn new(fd: OpLease, pool: Arc<Pool>, received: Arc<Received>, cap: usize) -> Self {
        RecvMultiOp {
            stream: fd.shared().clone(),
            fd: Some(fd),
            pool,
            received,
            cap: cap.max(1),
            stopping: false,
            spent: Vec::new(),
        }
    }
}

/// Moves the bytes of `bufs`, in order, to `stream`'s rescue queue (the
/// next read gets them first), and hands the buffers back to the caller.
pub(crate) fn rescue_bytes(stream: &Descriptor, bufs: VecDeque<BufRingBuf>) -> Vec<BufRingBuf> {
    for buf in &bufs {
        stream.rescue().push_bytes(buf);
    }
    bufs.into()
}

/// What a receive completion nobody will take says about the stream, for
/// the next read: an error the kernel reports once. A dry group or a cancel
/// says nothing.
pub(crate) fn rescue_error(stream: &Descriptor, c: &Completion) {
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
        let (fd, group) = (target.raw(), self.pool.group());
        // `take_received` splits what this asks for (the group's choice).
        let entry = if self.pool.bundles() {
            opcode::RecvMultiBundle::new(fd, group).build()
        } else {
            opcode::RecvMulti::new(fd, group).build()
        };
        target.apply(entry)
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
        let mut received = self.received.lock();
        // SAFETY: a CQE of this receive, which selected from the pool's
        // group as a bundle exactly if the pool says so (`entry`), reaped
        // now on the owner thread, in order, and seen here once.
        let taken = unsafe { self.pool.take_received(c, &mut received) };
        if taken > 0 && c.result > 0 {
            self.pool.counters().recv_cqe();
        }
        if !cqueue::more(c.flags) {
            // The last CQE: the stream's read lock goes once this returns.
            // If the stream will arm again (the group ran dry, the cap
            // stopped it, the kernel ended it), what it has not taken is
            // older than anything a read could receive from now on: it goes
            // to the rescue queue first, whole, where any read takes it
            // first and the stream takes it back as it arms. (After end of
            // stream or an error nothing newer can arrive; the stream hands
            // out its queue, then the end.)
            let rearms = c.result != 0 && c.lasting_errno().is_none_or(|e| e == libc::ENOBUFS);
            if rearms && !received.is_empty() {
                let (bytes, empty): (Vec<_>, Vec<_>) = received.drain(..).partition(|b| !b.is_empty());
                self.stream.rescue().push_buffers(bytes);
                self.spent.extend(empty);
            }
            return false;
        }
        if received.len() >= self.cap && !self.stopping {
            self.stopping = true;
            return true;
        }
        false
    }

    fn on_orphan_cqe(&mut self, c: &Completion) {
        // The stream is gone (it closed its queue first, rescuing what it
        // had): what is received now is this CQE's, taken as it was reaped.
        let left = std::mem::take(&mut *self.received.lock());
        // Kept, not dropped: giving buffers back wakes waiters, which must
        // not happen while the driver's state is borrowed. (Buffers this
        // CQE handed to the rescue queue whole, for a stream that is gone,
        // become bytes too: nobody takes them back.)
        self.spent.extend(rescue_bytes(&self.stream, left));
        self.spent.extend(self.stream.rescue().detach_buffers());
        rescue_error(&self.stream, c);
    }
}
