//! The futures of ring operations: `RingOp<T>` (single-shot) and
//! `MultiOp<T>` (multishot). A `RingOp` holds its operation's data inline
//! (no allocation) and a ticket for its slot; dropped before it took its
//! completion, it hands the data to the driver, which keeps it until the
//! kernel is done (see [`super::lifecycle`]).

use super::driver::Driver;
use super::lifecycle::Ticket;
use super::stream::StreamShared;
use crate::op::{Completion, Operation};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A submitted single-shot operation; awaiting it yields `T::Output`.
#[must_use = "an operation is cancelled when its future is dropped"]
pub(crate) struct RingOp<T: Operation> {
    driver: Driver,
    state: State,
    /// `None` once the output was produced, or the data went to the driver.
    data: Option<T>,
    /// Linked to a `LINK_TIMEOUT`: a cancel nobody else explains is its.
    timed: bool,
}

enum State {
    /// In the kernel (or queued for the owner to push).
    InFlight(Ticket),
    /// Refused before it reached the kernel.
    Refused(Completion),
}

impl<T: Operation> RingOp<T> {
    pub(super) fn new(driver: Driver, ticket: Ticket, data: T) -> Self {
        RingOp {
            driver,
            state: State::InFlight(ticket),
            data: Some(data),
            timed: false,
        }
    }

    /// Marks the operation as bounded by a link timeout.
    pub(super) fn timed(mut self, timed: bool) -> Self {
        self.timed = timed;
        self
    }

    pub(super) fn refused(driver: Driver, data: T, c: Completion) -> Self {
        RingOp {
            driver,
            state: State::Refused(c),
            data: Some(data),
            timed: false,
        }
    }

    fn finish(&mut self, c: Completion) -> T::Output {
        let data = self.data.take().expect("RingOp polled after completion");
        // A close explains a cancel first (`Error::Closed`); one left
        // unexplained on a timed operation is its deadline's.
        let mut c = c.explained(data.fd());
        if self.timed && c.is_cancelled() {
            c = Completion::errno(libc::ETIMEDOUT);
        }
        data.complete(c)
    }

    /// Lets the operation run to completion without its future: it is not
    /// cancelled, and its data (and descriptor reference) is freed when the
    /// kernel is done. For operations whose effect must not be cut short by
    /// a drop (`write_all`).
    pub(crate) fn detach(mut self) {
        if let (State::InFlight(ticket), Some(data)) = (&self.state, self.data.take()) {
            self.driver.orphan(*ticket, data, false);
        }
    }
}

impl<T: Operation> Future for RingOp<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        let ticket = match this.state {
            State::Refused(c) => return Poll::Ready(this.finish(c)),
            State::InFlight(ticket) => ticket,
        };
        let slot = this.driver.slot(ticket.index);
        if !this.driver.is_owner_thread() {
            slot.mark_foreign();
        }
        match slot.poll(ticket, cx) {
            Poll::Ready(c) => {
                this.driver.release(ticket);
                Poll::Ready(this.finish(c))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: Operation> Drop for RingOp<T> {
    fn drop(&mut self) {
        if let (State::InFlight(ticket), Some(data)) = (&self.state, self.data.take()) {
            self.driver.orphan(*ticket, data, true);
        }
    }
}

/// A submitted multishot operation: each CQE flagged `IORING_CQE_F_MORE` is
/// one item; the stream ends with the CQE that lacks the flag. The
/// operation's data lives in the driver; this only takes the completions.
#[must_use = "a multishot operation is cancelled when dropped"]
pub(crate) struct MultiOp<T: Operation> {
    driver: Driver,
    /// `None` when refused before it reached the kernel.
    ticket: Option<Ticket>,
    stream: Arc<StreamShared>,
    _data: PhantomData<fn() -> T>,
}

impl<T: Operation> MultiOp<T> {
    pub(super) fn new(driver: Driver, ticket: Ticket, stream: Arc<StreamShared>) -> Self {
        MultiOp {
            driver,
            ticket: Some(ticket),
            stream,
            _data: PhantomData,
        }
    }

    pub(super) fn refused(driver: Driver, stream: Arc<StreamShared>) -> Self {
        MultiOp {
            driver,
            ticket: None,
            stream,
            _data: PhantomData,
        }
    }

    /// Next completion, or `None` once the kernel ended the stream.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Completion>> {
        if let Some(ticket) = self.ticket {
            if !self.driver.is_owner_thread() {
                self.driver.slot(ticket.index).mark_foreign();
            }
        }
        self.stream.poll_next(cx)
    }

    /// Runs `f` on every completion queued and not yet taken, and hands
    /// later ones to the operation's orphan handler (after `f` returned):
    /// for a stream that deals with what it received itself, on its own
    /// thread, before it is dropped (the kernel may still be running the
    /// operation; dropping cancels it).
    pub(crate) fn close_with<R>(&mut self, f: impl FnOnce(std::collections::VecDeque<Completion>) -> R) -> R {
        self.stream.close_with(f)
    }
}

impl<T: Operation> Drop for MultiOp<T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.driver.drop_stream(ticket, self.stream.clone());
        }
    }
}
