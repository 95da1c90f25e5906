//! `StreamShared`: the completions of one multishot operation, queued by the
//! driver (each CQE flagged `IORING_CQE_F_MORE`, then the last one) and taken
//! by its stream on whatever thread polls it.

use crate::op::Completion;
use crate::sync::Mutex;
use atomic_waker::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// See the module docs.
#[derive(Default)]
pub(crate) struct StreamShared {
    queue: Mutex<VecDeque<Completion>>,
    /// The last CQE is in `queue` (or was taken).
    done: AtomicBool,
    waker: AtomicWaker,
}

impl StreamShared {
    /// The driver's side: one more completion (`last`: the final one).
    pub(crate) fn push(&self, c: Completion, last: bool) {
        self.queue.lock().push_back(c);
        if last {
            // Release (with the mutex): a poller that sees `done` and an
            // empty queue took everything.
            self.done.store(true, Ordering::Release);
        }
        self.waker.wake();
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
        if let Some(c) = queue.pop_front() {
            return Some(Some(c));
        }
        // Acquire: pairs with the Release in `push`.
        self.done.load(Ordering::Acquire).then_some(None)
    }

    /// Everything queued and not taken (the stream was dropped).
    pub(crate) fn drain(&self) -> VecDeque<Completion> {
        std::mem::take(&mut *self.queue.lock())
    }

    /// Whether the last completion arrived.
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}
