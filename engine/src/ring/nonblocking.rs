//! `RingReadyOp<T>`: the readiness model on a ring, for operations whose
//! future must have done nothing if it is dropped (writes and sends, by
//! tokio's rule). The operation's own non-blocking system call runs inside
//! `poll`; only when it would block does the future wait, on a single-shot
//! `POLL_ADD`, and then try again. Dropping the future mid-wait cancels the
//! poll, which moves no data.
//!
//! A ring `SEND` cannot give that guarantee: once submitted it may complete
//! after its future is gone, having sent bytes nobody is told about.

use super::driver::Driver;
use super::op::RingOp;
use crate::fd::Interest;
use crate::op::poll::PollReady;
use crate::op::{Completion, Operation};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A non-blocking syscall retried on ring readiness; see the module docs.
#[must_use = "an operation does nothing unless polled"]
pub(crate) struct RingReadyOp<T: Operation> {
    driver: Driver,
    data: Option<T>,
    interest: Interest,
    wait: Option<RingOp<PollReady>>,
}

impl<T: Operation> RingReadyOp<T> {
    pub(crate) fn new(driver: Driver, data: T, interest: Interest) -> Self {
        RingReadyOp {
            driver,
            data: Some(data),
            interest,
            wait: None,
        }
    }

    fn finish(&mut self, c: Completion) -> Poll<T::Output> {
        let data = self.data.take().expect("RingReadyOp polled after completion");
        let c = c.explained(data.fd());
        Poll::Ready(data.complete(c))
    }
}

impl<T: Operation> Future for RingReadyOp<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        if this.wait.is_none() {
            if let Err(refusal) = this.driver.accepts() {
                // The home runtime is idle or gone, as a ring submission
                // would be told.
                return this.finish(Completion::refused(refusal));
            }
        }
        loop {
            if let Some(wait) = &mut this.wait {
                match Pin::new(wait).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        this.wait = None;
                        return this.finish(Completion::failed(&e));
                    }
                    Poll::Ready(Ok(_)) => this.wait = None,
                }
            }
            let data = this.data.as_mut().expect("RingReadyOp polled after completion");
            if let Some(c) = data.syscall() {
                return this.finish(c);
            }
            // Would block: wait for readiness on a reference of our own (the
            // operation's may be a lock, which the poll must not share).
            let reference = data.fd().map(|fd| fd.shared().incref());
            let fd = match reference {
                Some(Ok(r)) => r,
                Some(Err(e)) => return this.finish(Completion::failed(&e)),
                None => return this.finish(Completion::errno(libc::EWOULDBLOCK)),
            };
            this.wait = Some(this.driver.submit(PollReady::new(fd.into(), this.interest)));
        }
    }
}

impl<T: Operation> Drop for RingReadyOp<T> {
    fn drop(&mut self) {
        // Nothing ran that is not reported; an operation holding something
        // for its reader (a read-side prefix) gets to put it back.
        if let Some(mut data) = self.data.take() {
            data.on_orphan_cqe(&Completion::cancelled());
        }
    }
}
