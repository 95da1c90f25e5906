//! The readiness side of an operation: `ReadyOp<T>` runs the operation's
//! own syscall, non-blocking and retried on readiness (sockets), or on the
//! blocking pool (files), keeping the fd-mutex reference the whole time.
//!
//! A non-blocking syscall moves data only inside `poll`, so a `ReadyOp`
//! dropped while it waits has done nothing; one dropped while its job runs
//! on the pool leaves the job's result to the operation's orphan handler.
//!
//! A deadline set by `OpTimeout::timeout` when the operation was created
//! bounds its readiness wait with the runtime's timers (what a ring does
//! with a linked timeout); a job on the pool runs to its end.

use super::pool::{self, Slot};
use super::{Driver, Source};
use crate::fd::Interest;
use crate::op::{Completion, Operation, Plan};
use crate::time::Sleep;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

pub(crate) struct ReadyOp<T: Operation> {
    driver: Driver,
    state: State<T>,
    /// The deadline of the future that created it, and the timer that
    /// wakes its wait then (armed while it waits).
    deadline: Option<Instant>,
    timer: Option<Sleep>,
}

enum State<T: Operation> {
    Idle(Box<T>),
    Pooled(Arc<Slot<T>>),
    Done,
}

impl<T: Operation> ReadyOp<T> {
    pub(crate) fn new(driver: Driver, data: Box<T>) -> Self {
        driver.op_started();
        ReadyOp {
            driver,
            state: State::Idle(data),
            deadline: crate::time::deadline::current(),
            timer: None,
        }
    }

    fn finish(&mut self, data: T, c: Completion) -> Poll<T::Output> {
        self.state = State::Done;
        self.driver.op_completed();
        let c = c.explained(data.fd());
        Poll::Ready(data.complete(c))
    }

    /// Runs the syscall until it stops saying "would block", waiting for
    /// `interest` on the descriptor's poller registration in between. Each
    /// attempt notes the source's tick first, so that its "would block"
    /// clears the readiness only if no report came while it ran.
    fn poll_nonblocking(&mut self, mut data: Box<T>, interest: Interest, cx: &mut Context<'_>) -> Poll<T::Output> {
        let _driver = crate::driver::Driver::Ready(self.driver.clone());
        let source: Option<Arc<Source>> = data.fd().and_then(|f| f.source().cloned());
        loop {
            let attempt = match &source {
                Some(source) => match source.attempt() {
                    Some(attempt) => Some(attempt),
                    None => return self.finish(*data, Completion::cancelled()),
                },
                None => None,
            };
            if let Some(c) = data.syscall() {
                return self.finish(*data, c);
            }
            let (Some(source), Some(attempt)) = (&source, attempt) else {
                // Not registered with this driver: nothing can wake us.
                return self.finish(*data, Completion::errno(libc::EWOULDBLOCK));
            };
            // Clears the readiness, checks for a cancel and registers the
            // waker under one lock, so neither a report nor a close can slip
            // in between and go unseen.
            match source.blocked(interest, attempt, cx) {
                Poll::Ready(_) => continue, // a report since the attempt, or cancelled
                Poll::Pending => return self.park(data, source, interest, cx),
            }
        }
    }

    /// Waits for `interest` on the poller alone: readiness the source holds
    /// completes the wait at once (and stays for the next waiter), and
    /// otherwise the wait arms the poller (no `poll(2)` per wait: on a
    /// hosted stream that waits after each drained read, it was three calls
    /// per request).
    fn poll_wait(&mut self, data: Box<T>, interest: Interest, cx: &mut Context<'_>) -> Poll<T::Output> {
        let Some(source) = data.fd().and_then(|f| f.source().cloned()) else {
            // Not registered with this driver: the syscall is the check.
            return self.poll_nonblocking(data, interest, cx);
        };
        // One lock: a cancel (close started) is seen here as an empty report.
        match source.poll_ready(interest, cx) {
            Poll::Ready(hit) if hit.is_empty() => self.finish(*data, Completion::cancelled()),
            Poll::Ready(hit) => {
                let mask = crate::op::poll::mask_of(hit);
                self.finish(*data, Completion { result: mask, flags: 0 })
            }
            Poll::Pending => self.park(data, &source, interest, cx),
        }
    }

    /// The waker is registered on `source` for `interest`: unless the
    /// deadline has passed, arms the poller and keeps `data` for the
    /// wake-up.
    fn park(&mut self, data: Box<T>, source: &Source, interest: Interest, cx: &mut Context<'_>) -> Poll<T::Output> {
        if let Some(deadline) = self.deadline {
            if self.deadline_passed(deadline, cx) {
                return self.finish(*data, Completion::errno(libc::ETIMEDOUT));
            }
        }
        if let Err(err) = self.driver.arm(source, interest) {
            return self.finish(*data, Completion::failed(&err));
        }
        self.state = State::Idle(data);
        Poll::Pending
    }
}

impl<T: Operation> ReadyOp<T> {
    /// Whether `deadline` passed; if not, makes sure the runtime's timers
    /// wake this wait then (where there are timers: not on a host's loop).
    fn deadline_passed(&mut self, deadline: Instant, cx: &mut Context<'_>) -> bool {
        if Instant::now() >= deadline {
            return true;
        }
        if self.timer.is_none() && crate::runtime::context::timers().is_some() {
            self.timer = Some(crate::time::sleep_until(deadline));
        }
        match self.timer.as_mut() {
            Some(timer) => Pin::new(timer).poll(cx).is_ready(),
            None => false,
        }
    }
}

impl<T: Operation> Future for ReadyOp<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.state, State::Done) {
            State::Idle(mut data) => {
                if let Err(refusal) = this.driver.accepts() {
                    // The home runtime is idle or gone: nothing would wake us.
                    return this.finish(*data, Completion::refused(refusal));
                }
                match data.plan() {
                    Plan::Immediate => {
                        let c = data.syscall().unwrap_or(Completion { result: 0, flags: 0 });
                        this.finish(*data, c)
                    }
                    Plan::Nonblocking(interest) => this.poll_nonblocking(data, interest, cx),
                    Plan::Wait(interest) => this.poll_wait(data, interest, cx),
                    Plan::Blocking => match pool::submit(data, cx) {
                        Ok(slot) => {
                            this.state = State::Pooled(slot);
                            Poll::Pending
                        }
                        Err(data) => {
                            // The pool's queue is full; we are woken when it has room.
                            this.state = State::Idle(data);
                            Poll::Pending
                        }
                    },
                }
            }
            State::Pooled(slot) => match slot.poll_result(cx) {
                Poll::Ready((data, c)) => this.finish(*data, c),
                Poll::Pending => {
                    this.state = State::Pooled(slot);
                    Poll::Pending
                }
            },
            State::Done => panic!("ReadyOp polled after completion"),
        }
    }
}

impl<T: Operation> Drop for ReadyOp<T> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            // Never ran to completion: whatever it holds for its reader (a
            // read-side prefix) goes back.
            State::Idle(mut data) => {
                data.on_orphan_cqe(&Completion::cancelled());
                self.driver.op_orphaned();
            }
            // A pooled job still owns the data (and its fd reference) until
            // the syscall returns; the slot hands its result to the orphan
            // handler then.
            State::Pooled(_) => self.driver.op_orphaned(),
            State::Done => {}
        }
    }
}
