//! Operations: the `Op<T>` future, the lifecycle each in-flight operation goes
//! through in the driver's slab, and one small file per kind of operation.
//!
//! An operation's data (`T`: its buffers, iovecs, socket addresses, paths and the
//! fd-mutex reference that keeps its descriptor open) lives in one `Box<T>` from
//! the moment its SQE is built until its last CQE is reaped. If the future is
//! dropped first, the same box moves into the slab ([`Lifecycle::Ignored`]) and
//! an async cancel is submitted; the box is freed only when the kernel reports
//! it is done with the memory.

mod lifecycle;
mod target;

pub(crate) mod accept;
pub(crate) mod connect;
pub(crate) mod fsync;
pub(crate) mod msg;
pub(crate) mod nop;
pub(crate) mod open;
pub(crate) mod rw;
pub(crate) mod rwv;
pub(crate) mod sendrecv;
pub(crate) mod statx;

pub(crate) use lifecycle::{Completion, Lifecycle, Orphan};
pub(crate) use target::Target;

use crate::ring::Driver;
use io_uring::squeue;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The driver-facing side of one kind of operation.
///
/// # Safety
///
/// Every pointer in the SQE that [`Operation::entry`] returns must point into
/// memory owned by `self` (the driver keeps `self` boxed at a fixed address
/// until the operation's last CQE is reaped, even if its future is dropped) or
/// into memory valid for `'static`. Its descriptor must be kept open by an
/// fd-mutex reference that `self` holds.
pub(crate) unsafe trait Operation: Send + 'static {
    /// What awaiting the operation yields.
    type Output;

    /// Builds the SQE; `user_data` is set by the driver.
    fn entry(&mut self) -> squeue::Entry;

    /// Turns the (last) completion into the output, handing buffers back.
    fn complete(self: Box<Self>, completion: Completion) -> Self::Output;

    /// A completion arrived after the future was dropped: release what the
    /// kernel created for nobody (an accepted or opened descriptor).
    fn on_orphan_cqe(&mut self, _completion: &Completion) {}
}

/// A submitted single-shot operation; awaiting it yields `T::Output`.
#[must_use = "an operation is cancelled when its future is dropped"]
pub(crate) struct Op<T: Operation> {
    driver: Driver,
    index: usize,
    data: Option<Box<T>>,
}

impl<T: Operation> Op<T> {
    pub(crate) fn new(driver: Driver, index: usize, data: Box<T>) -> Self {
        Op {
            driver,
            index,
            data: Some(data),
        }
    }
}

impl<T: Operation> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        match this.driver.poll_op(this.index, cx) {
            Poll::Ready(completion) => {
                let data = this.data.take().expect("Op polled after completion");
                Poll::Ready(data.complete(completion))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: Operation> Drop for Op<T> {
    fn drop(&mut self) {
        if let Some(data) = self.data.take() {
            self.driver.abandon(self.index, data);
        }
    }
}

/// A submitted multishot operation: each CQE flagged `IORING_CQE_F_MORE` is one
/// item; the stream ends with the CQE that lacks the flag.
#[must_use = "a multishot operation is cancelled when dropped"]
pub(crate) struct MultiOp<T: Operation> {
    driver: Driver,
    index: usize,
    data: Option<Box<T>>,
    finished: bool,
}

impl<T: Operation> MultiOp<T> {
    pub(crate) fn new(driver: Driver, index: usize, data: Box<T>) -> Self {
        MultiOp {
            driver,
            index,
            data: Some(data),
            finished: false,
        }
    }

    /// Next completion, or `None` once the kernel ended the stream.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Completion>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let polled = self.driver.poll_stream(self.index, cx);
        if let Poll::Ready(None) = polled {
            self.finished = true;
        }
        polled
    }
}

impl<T: Operation> Drop for MultiOp<T> {
    fn drop(&mut self) {
        if let Some(data) = self.data.take() {
            if self.finished {
                self.driver.release_finished(self.index);
            } else {
                self.driver.abandon(self.index, data);
            }
        }
    }
}

/// Submits `data` on the calling thread's driver.
pub(crate) fn submit<T: Operation>(data: T) -> io::Result<Op<T>> {
    Ok(Driver::current()?.submit(data))
}
