//! Operations: the [`Operation`] trait, one small file per kind of
//! operation, and the `Op<T>` future that runs one on whichever backend.
//!
//! An operation's data (`T`: its buffers, iovecs, socket addresses, paths and
//! the fd-mutex reference that keeps its descriptor open) lives inline in its
//! future, and every pointer its SQE carries points into heap memory the data
//! owns. So the data may move (into the driver, when the future is dropped
//! before the kernel is done with it) while the kernel uses that memory; the
//! driver frees it only once the last CQE is reaped.

pub(crate) mod background;
mod completion;
mod target;

pub(crate) mod accept;
pub(crate) mod connect;
#[cfg(target_os = "linux")]
pub(crate) mod fadvise;
#[cfg(target_os = "linux")]
pub(crate) mod fallocate;
pub(crate) mod fsync;
pub(crate) mod ftruncate;
pub(crate) mod link;
pub(crate) mod mkdir;
pub(crate) mod msg;
pub(crate) mod nop;
pub(crate) mod open;
#[cfg(target_os = "linux")]
pub(crate) mod openat2;
pub(crate) mod poll;
#[cfg(uring)]
pub(crate) mod recv_multi;
pub(crate) mod rename;
pub(crate) mod rw;
pub(crate) mod rwv;
pub(crate) mod sendrecv;
#[cfg(target_os = "linux")]
pub(crate) mod splice;
pub(crate) mod statx;
pub(crate) mod statx_at;
pub(crate) mod symlink;
#[cfg(target_os = "linux")]
pub(crate) mod sync_range;
#[cfg(target_os = "linux")]
pub(crate) mod tee;
pub(crate) mod unlink;
#[cfg(target_os = "linux")]
pub(crate) mod waitid;

pub(crate) use completion::Completion;
#[cfg(uring)]
pub(crate) use completion::Orphan;
pub(crate) use target::Target;

use crate::fd::descriptor::OpLease;
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::squeue;
use std::io;

/// The driver-facing side of one kind of operation.
///
/// # Safety
///
/// Every pointer in the SQE that [`Operation::entry`] returns must point into
/// heap memory owned by `self` that stays where it is when `self` is moved
/// (a `Vec`'s or `Box`'s allocation, never a field of `self` itself), or
/// into memory valid for `'static`: the driver moves the operation (out of
/// its future into its own keeping, when the future is dropped first) while
/// the kernel may still use that memory, and frees it only after the last
/// CQE. Its descriptor must be kept open by an fd-mutex reference that
/// `self` holds.
pub(crate) unsafe trait Operation: Send + Unpin + 'static {
    /// What awaiting the operation yields.
    type Output;

    /// Builds the SQE; `user_data` is set by the driver. The descriptor is
    /// named as [`OpLease::target`] says: its fixed slot, once registered.
    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry;

    /// How a readiness backend runs it: a non-blocking syscall retried when
    /// the descriptor is ready for `Interest`, or a blocking one on the pool.
    fn plan(&self) -> Plan;

    /// Readiness backends: performs the operation with a system call. `None`
    /// means "would block" (only for [`Plan::Nonblocking`]).
    fn syscall(&mut self) -> Option<Completion>;

    /// The simulated backend: performs the operation on `socket`, the
    /// simulated socket its descriptor stands for, moving data only inside
    /// this call (as a non-blocking syscall would); `Pending` registers
    /// `cx` with the simulator. Operations that never name a socket keep
    /// this default.
    #[cfg(feature = "sim")]
    fn simulate(
        &mut self,
        socket: &crate::sim::Socket,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Completion> {
        let _ = (socket, cx);
        std::task::Poll::Ready(Completion::errno(libc::EOPNOTSUPP))
    }

    /// The descriptor reference the operation holds, if any.
    fn fd(&self) -> Option<&OpLease> {
        None
    }

    /// Gives up the descriptor reference once the kernel is done with the
    /// descriptor, for operations whose data outlives their last completion
    /// in the driver (multishot streams). Single-shot operations keep theirs
    /// until their future takes the result.
    fn take_fd(&mut self) -> Option<OpLease> {
        None
    }

    /// An operation with two completions (`SEND_ZC`: its result, then the
    /// notification that ends it) whose future is gone got its result: the
    /// stream lock it holds only until then can go (the driver drops what
    /// this returns once its state is no longer borrowed). Runs on the
    /// ring's owner thread with that state borrowed: take nothing that
    /// waits or wakes.
    fn release_lock(&mut self) -> Option<OpLease> {
        None
    }

    /// Turns the (last) completion into the output, handing buffers back.
    fn complete(self, completion: Completion) -> Self::Output
    where
        Self: Sized;

    /// The operation's future was dropped: `completion` is what the kernel
    /// (or, for an operation that never ran, the engine: `ECANCELED`) made of
    /// it. Release what the kernel created for nobody (an opened
    /// descriptor), or keep what a reader must not lose on the descriptor's
    /// rescue queue (received bytes, a datagram, an accepted connection).
    fn on_orphan_cqe(&mut self, _completion: &Completion) {}

    /// A multishot operation: the driver reaped one of its CQEs (the last
    /// one too), before it is queued for the stream or handed to
    /// [`Operation::on_orphan_cqe`]. Runs on the ring's owner thread with
    /// the driver's state borrowed, so it must only count: wake nothing,
    /// drop nothing that reaches the driver. `true` asks the driver to
    /// cancel the operation (its reader fell too far behind; meaningless
    /// for the last CQE).
    fn on_multishot_cqe(&mut self, _completion: &Completion) -> bool {
        false
    }
}

/// How a readiness backend executes an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Done at once, no syscall needed beyond `syscall` itself.
    Immediate,
    /// Non-blocking syscall; on `EAGAIN` wait until ready for this interest.
    Nonblocking(Interest),
    /// Only a wait for this interest: the poller's report completes it (as
    /// a `poll(2)` mask), with no syscall of its own. The arm is
    /// level-checked (`backend` module), so readiness that came before the
    /// wait is reported all the same; `syscall` is the check used where the
    /// descriptor is not registered with the driver.
    Wait(Interest),
    /// A syscall that may block (files): run it on the blocking pool.
    Blocking,
}

/// Maps a libc return value (`-1` + `errno` on failure) to a completion;
/// `None` for `EAGAIN`. `EINTR` is retried by calling `call` again.
pub(crate) fn syscall_retry(mut call: impl FnMut() -> isize) -> Option<Completion> {
    loop {
        let ret = call();
        if ret >= 0 {
            return Some(Completion {
                result: ret.min(i32::MAX as isize) as i32,
                flags: 0,
            });
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(e) if e == libc::EAGAIN || e == libc::EWOULDBLOCK => return None,
            _ => return Some(Completion::failed(&err)),
        }
    }
}
