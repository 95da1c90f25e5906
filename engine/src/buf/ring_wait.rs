//! `Waiters`: the receives waiting for a buffer of a dry group, in FIFO
//! order. Each buffer that comes back wakes one of them (a buffer serves
//! one receive; waking them all would have every waiter re-arm for it). A
//! waiter woken but dropped before it took its turn passes the wake on, so
//! no buffer sits unused while others wait.
//!
//! Only receives that have data pending wait here (`recv_multi` waits for
//! readability first), so the one woken will use the buffer.

use crate::sync::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

/// See the module docs.
#[derive(Default)]
pub(crate) struct Waiters {
    queue: Mutex<Queue>,
    /// `queue` may be non-empty: lets a buffer's return skip the lock.
    any: AtomicBool,
}

#[derive(Default)]
struct Queue {
    next_id: u64,
    entries: VecDeque<(u64, Waker)>,
}

/// One waiter's place: `None` until it first waits.
#[derive(Default)]
pub(crate) struct Place(Option<u64>);

impl Waiters {
    /// Ready when `available()` says a buffer is there; else queues (or
    /// keeps) `place` with `cx`'s waker.
    pub(crate) fn poll(&self, place: &mut Place, available: impl Fn() -> bool, cx: &mut Context<'_>) -> Poll<()> {
        if available() {
            self.leave(place);
            return Poll::Ready(());
        }
        {
            let mut queue = self.queue.lock();
            let id = *place.0.get_or_insert_with(|| {
                queue.next_id += 1;
                queue.next_id
            });
            match queue.entries.iter_mut().find(|(i, _)| *i == id) {
                Some((_, waker)) => waker.clone_from(cx.waker()),
                None => queue.entries.push_back((id, cx.waker().clone())),
            }
            // SeqCst, with the check below and the pair in `notify_one`'s
            // caller (its increment of the count, then this flag): either
            // we see the buffer, or the returner sees us queued.
            self.any.store(true, Ordering::SeqCst);
        }
        if available() {
            self.leave(place);
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Wakes the longest waiter (a buffer came back).
    pub(crate) fn notify_one(&self) {
        // SeqCst: see `poll`.
        if !self.any.load(Ordering::SeqCst) {
            return;
        }
        let woken = {
            let mut queue = self.queue.lock();
            let woken = queue.entries.pop_front();
            if queue.entries.is_empty() {
                self.any.store(false, Ordering::Relaxed);
            }
            woken
        };
        if let Some((_, waker)) = woken {
            waker.wake();
        }
    }

    /// `place` stops waiting. Returns whether it had been woken (taken off
    /// the queue by `notify_one`) without having taken its turn yet.
    fn leave(&self, place: &mut Place) -> bool {
        let Some(id) = place.0.take() else {
            return false;
        };
        let mut queue = self.queue.lock();
        match queue.entries.iter().position(|(i, _)| *i == id) {
            Some(at) => {
                queue.entries.remove(at);
                false
            }
            None => true,
        }
    }

    /// A waiter goes away (its future was dropped): if it had been woken
    /// and `available()` still holds, the wake goes to the next one.
    pub(crate) fn cancel(&self, place: &mut Place, available: impl Fn() -> bool) {
        if self.leave(place) && available() {
            self.notify_one();
        }
    }
}
