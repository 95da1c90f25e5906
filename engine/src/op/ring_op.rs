//! The io_uring side of an operation: `RingOp<T>` (single-shot) and
//! `MultiOp<T>` (multishot) futures over a slab entry of the ring driver.

use super::{Completion, Operation};
use crate::ring;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

type Driver = ring::Driver;

/// A submitted single-shot operation; awaiting it yields `T::Output`.
#[must_use = "an operation is cancelled when its future is dropped"]
pub(crate) struct RingOp<T: Operation> {
    driver: Driver,
    index: usize,
    data: Option<Box<T>>,
}

impl<T: Operation> RingOp<T> {
    pub(crate) fn new(driver: Driver, index: usize, data: Box<T>) -> Self {
        RingOp {
            driver,
            index,
            data: Some(data),
        }
    }
}

impl<T: Operation> Future for RingOp<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        match this.driver.poll_op(this.index, cx) {
            Poll::Ready(completion) => {
                let data = this.data.take().expect("RingOp polled after completion");
                let completion = completion.explained(data.fd());
                Poll::Ready(data.complete(completion))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: Operation> RingOp<T> {
    /// Lets the operation run to completion without its future: it is not
    /// cancelled, and its data (and descriptor reference) is freed when the
    /// kernel is done. For operations whose effect must not be cut short by
    /// a drop (`write_all`).
    pub(crate) fn detach(mut self) {
        if let Some(data) = self.data.take() {
            self.driver.detach(self.index, data);
        }
    }
}

impl<T: Operation> Drop for RingOp<T> {
    fn drop(&mut self) {
        if let Some(data) = self.data.take() {
            self.driver.abandon(self.index, data);
        }
    }
}

/// A submitted multishot operation: each CQE flagged `IORING_CQE_F_MORE` is one
/// item; the stream ends with the CQE that lacks the flag. The operation's
/// data lives in the driver (see `Lifecycle::Streaming`); this only takes the
/// completions.
#[must_use = "a multishot operation is cancelled when dropped"]
pub(crate) struct MultiOp<T: Operation> {
    driver: Driver,
    index: usize,
    finished: bool,
    _data: PhantomData<fn() -> T>,
}

impl<T: Operation> MultiOp<T> {
    pub(crate) fn new(driver: Driver, index: usize) -> Self {
        MultiOp {
            driver,
            index,
            finished: false,
            _data: PhantomData,
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
        // A stream that returned `None` already left the slab.
        if !self.finished {
            self.driver.abandon_stream(self.index);
        }
    }
}
