//! `StreamShared`: the completions of one multishot operation, queued by the
//! driver (each CQE flagged `IORING_CQE_F_MORE`, then the last one) and taken
//! by its stream on whatever thread polls it. A stream that is dropped may
//! first close its queue and deal with what is in it
//! ([`StreamShared::close_with`]):
//! from then on the driver hands later completions to the operation's
//! orphan handler instead, so each completion goes to exactly one of them.

use crate::op::Completion;
use crate::sync::Mutex;
use atomic_waker::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// See the module docs.
#[derive(Default)]
pub(crate) struct StreamShared {
    queue: Mutex<Queue>,
    /// The last CQE is in `queue` (or was taken).
    done: AtomicBool,
    waker: AtomicWaker,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Completion>,
    /// The stream let go ([`StreamShared::close_with`]): nothing more is queued.
    closed: bool,
}

impl StreamShared {
    /// The driver's side: one more completion (`last`: the final one).
    /// Refused (handed back) once the stream closed its queue.
    pub(crate) fn push(&self, c: Completion, last: bool) -> Result<(), Completion> {
        {
            let mut queue = self.queue.lock();
            if queue.closed {
                return Err(c);
            }
            queue.items.push_back(c);
        }
        if last {
            // Release (with the mutex): a poller that sees `done` and an
            // empty queue took everything.
            self.done.store(true, Ordering::Release);
        }
        self.waker.wake();
        Ok(())
    }

    /// The next completion, `None` once the stream ended and all were
    /// taken, else registers `cx`'s waker.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Completion>> {
        if let Some(ready) = self.try_next() {
            return Poll::Ready(ready);
        }
        self.waker.register(cx.waker());
        match self.try_next() {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }

    fn try_next(&self) -> Option<Option<Completion>> {
        let mut queue = self.queue.lock();
        if let Some(c) = queue.items.pop_front() {
            return Some(Some(c));
        }
        // Acquire: pairs with the Release in `push`.
        self.done.load(Ordering::Acquire).then_some(None)
    }

    /// Everything queued and not taken (the stream was dropped).
    pub(crate) fn drain(&self) -> VecDeque<Completion> {
        std::mem::take(&mut self.queue.lock().items)
    }

    /// The stream's side, as it is dropped: runs `f` on everything queued
    /// and refuses what comes later (the driver gives it to the orphan
    /// handler). Under the queue's lock, so whatever `f` does with the
    /// queued completions happens before the handler sees a later one.
    pub(crate) fn close_with<R>(&self, f: impl FnOnce(VecDeque<Completion>) -> R) -> R {
        let mut queue = self.queue.lock();
        queue.closed = true;
        f(std::mem::take(&mut queue.items))
    }

    /// Whether the last completion arrived.
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}
