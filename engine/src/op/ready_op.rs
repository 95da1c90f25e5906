//! The readiness side of an operation: `ReadyOp<T>` runs the operation's
//! own syscall, non-blocking and retried on readiness (sockets), or on the
//! blocking pool (files), keeping the fd-mutex reference the whole time.

use super::{Completion, Operation, Plan};
use crate::backend::pool::{self, Slot};
use crate::backend::readiness;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub(crate) struct ReadyOp<T: Operation> {
    driver: readiness::Driver,
    state: State<T>,
}

enum State<T: Operation> {
    Idle(Box<T>),
    Pooled(Arc<Slot<T>>),
    Done,
}

impl<T: Operation> ReadyOp<T> {
    pub(crate) fn new(driver: readiness::Driver, data: Box<T>) -> Self {
        driver.op_started();
        ReadyOp {
            driver,
            state: State::Idle(data),
        }
    }

    fn finish(&mut self, data: Box<T>, c: Completion) -> Poll<T::Output> {
        self.state = State::Done;
        self.driver.op_completed();
        Poll::Ready(data.complete(c))
    }

    fn poll_nonblocking(&mut self, interest: crate::backend::Interest, cx: &mut Context<'_>) -> Poll<T::Output> {
        let State::Idle(data) = &mut self.state else {
            unreachable!("nonblocking op is always Idle")
        };
        let driver = crate::driver::Driver::Ready(self.driver.clone());
        let source = data.fd().and_then(|f| f.source(&driver).cloned());
        loop {
            if source.as_ref().is_some_and(|s| s.is_cancelled()) {
                let State::Idle(data) = std::mem::replace(&mut self.state, State::Done) else {
                    unreachable!()
                };
                return self.finish(
                    data,
                    Completion {
                        result: -libc::ECANCELED,
                        flags: 0,
                    },
                );
            }
            if let Some(c) = data.syscall() {
                let State::Idle(data) = std::mem::replace(&mut self.state, State::Done) else {
                    unreachable!()
                };
                return self.finish(data, c);
            }
            let Some(source) = &source else {
                // Not registered with this driver: nothing can wake us.
                let State::Idle(data) = std::mem::replace(&mut self.state, State::Done) else {
                    unreachable!()
                };
                return self.finish(
                    data,
                    Completion {
                        result: -libc::EWOULDBLOCK,
                        flags: 0,
                    },
                );
            };
            if source.poll_ready(interest, cx).is_ready() {
                continue; // readiness arrived since the attempt: try again
            }
            if let Err(err) = self.driver.arm(source, interest) {
                let State::Idle(data) = std::mem::replace(&mut self.state, State::Done) else {
                    unreachable!()
                };
                return self.finish(data, Completion::failed(&err));
            }
            return Poll::Pending;
        }
    }
}

impl<T: Operation> Future for ReadyOp<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.state, State::Done) {
            State::Idle(mut data) => match data.plan() {
                Plan::Immediate => {
                    let c = data.syscall().unwrap_or(Completion { result: 0, flags: 0 });
                    this.finish(data, c)
                }
                Plan::Nonblocking(interest) => {
                    this.state = State::Idle(data);
                    this.poll_nonblocking(interest, cx)
                }
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
            },
            State::Pooled(slot) => match slot.poll_result(cx) {
                Poll::Ready((data, c)) => this.finish(data, c),
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
            // A pooled job still owns the data (and its fd reference) until
            // the syscall returns; the slot drops it then.
            State::Pooled(_) | State::Idle(_) => self.driver.op_abandoned(),
            State::Done => {}
        }
    }
}
