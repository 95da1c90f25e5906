//! A FIFO counting semaphore whose waiters are futures: the waker-based
//! stand-in for Go's `runtime_Semacquire`/`runtime_Semrelease` that the fd
//! mutex (a port of Go's `internal/poll/fd_mutex.go`) parks its waiters on.
//!
//! Unlike a goroutine, a waiter can be cancelled, by dropping its future. The
//! owner of the semaphore counts its waiters elsewhere (the fd mutex does so in
//! its state word), and whoever uncounts a waiter releases exactly one permit
//! for it, without knowing which registration it will reach. So every
//! registration must consume exactly one permit, dropped or not: a dropped
//! waiter stays queued, marked abandoned, and the permit that reaches it is
//! *orphaned*. What to do with an orphaned permit is the owner's decision,
//! made through [`Forward`].

use std::collections::VecDeque;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::Mutex;

/// Decides the fate of an orphaned permit: one handed to a waiter whose future
/// was dropped before it could use it.
pub(crate) trait Forward {
    /// Takes ownership of an orphaned permit. Returns `true` if the permit must
    /// be released again (the implementor has accounted for one more wake-up),
    /// `false` to discard it.
    fn forward(&self) -> bool;
}

impl<F: Fn() -> bool> Forward for F {
    fn forward(&self) -> bool {
        self()
    }
}

/// A FIFO counting semaphore whose waiters are futures; see the module docs.
#[derive(Debug)]
pub(crate) struct Sema {
    /// All state, under one short-held lock. Wakers are never woken or
    /// dropped under it: either can run arbitrary code, even code that
    /// re-enters this semaphore.
    inner: Mutex<Inner>,
}

/// The state of a [`Sema`].
#[derive(Debug, Default)]
struct Inner {
    /// Permits released while nobody was queued; nonzero only while the
    /// queue is empty.
    permits: usize,
    /// The registrations, allocated by the first one that has to queue and
    /// kept from then on: most descriptors never have a waiter, and every
    /// idle connection holds two of these semaphores.
    waiters: Option<Box<Waiters>>,
}

/// The registrations of a [`Sema`] that had to queue.
#[derive(Debug, Default)]
struct Waiters {
    /// Keys into `nodes` of the registrations still owed a permit, oldest
    /// first.
    queue: VecDeque<usize>,
    /// Every registration that has not consumed its permit yet.
    nodes: Slab<Node>,
}

impl Inner {
    /// The registrations, which exist once anything was queued: a key is
    /// only ever handed out by [`Inner::waiters_mut`].
    fn queued(&mut self) -> &mut Waiters {
        self.waiters
            .as_deref_mut()
            .expect("a registration key exists only once the queue does")
    }

    fn waiters_mut(&mut self) -> &mut Waiters {
        self.waiters.get_or_insert_with(Box::default)
    }
}

/// One registration for a permit.
#[derive(Debug)]
enum Node {
    /// Queued; holds the waker of the last poll, if any.
    Waiting(Option<Waker>),
    /// Dequeued with a permit that its future has not taken yet.
    Granted,
    /// Queued, but its future is gone: the permit it gets is orphaned.
    Abandoned,
}

impl Sema {
    /// Creates a semaphore with no permits and no waiters.
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Releases one permit: to the oldest queued registration, waking it, or
    /// stored for the next [`acquire`](Self::acquire) if nobody is queued.
    ///
    /// A permit that reaches an abandoned registration is passed to `fwd`,
    /// and released again for as long as `fwd` asks for it.
    pub(crate) fn release(&self, fwd: &impl Forward) {
        loop {
            let mut inner = self.inner.lock();
            let Some(key) = inner.waiters.as_deref_mut().and_then(|w| w.queue.pop_front()) else {
                inner.permits += 1;
                return;
            };
            match mem::replace(&mut inner.queued().nodes[key], Node::Granted) {
                Node::Waiting(waker) => {
                    drop(inner);
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                    return;
                }
                Node::Abandoned => {
                    inner.queued().nodes.remove(key);
                }
                Node::Granted => unreachable!("a granted registration is never queued"),
            }
            drop(inner);
            if !fwd.forward() {
                return;
            }
        }
    }

    /// Registers for one permit, immediately, and returns the future that
    /// completes once the permit is in hand.
    ///
    /// Registering eagerly (not on first poll) is what makes "one
    /// registration, one permit" hold even for a future that is never
    /// polled. If the future is dropped before it completes, whatever permit
    /// it holds or will get is orphaned and goes to `fwd`.
    pub(crate) fn acquire<F: Forward>(&self, fwd: F) -> Acquire<'_, F> {
        let mut inner = self.inner.lock();
        let slot = if inner.permits > 0 {
            inner.permits -= 1;
            Slot::Permit
        } else {
            let waiters = inner.waiters_mut();
            let key = waiters.nodes.insert(Node::Waiting(None));
            waiters.queue.push_back(key);
            Slot::Queued(key)
        };
        Acquire { sema: self, slot, fwd }
    }

    /// Whether no permit is stored and no registration is outstanding, as
    /// must be the case once every waiter has finished.
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        let inner = self.inner.lock();
        inner.permits == 0
            && inner
                .waiters
                .as_deref()
                .is_none_or(|w| w.queue.is_empty() && w.nodes.is_empty())
    }
}

/// The future returned by [`Sema::acquire`]: completes once it holds its
/// permit, which the caller then consumes by simply going on.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Acquire<'a, F: Forward> {
    /// The semaphore registered with.
    sema: &'a Sema,
    /// Where the registration stands.
    slot: Slot,
    /// Where the permit goes if this future is dropped before completing.
    fwd: F,
}

/// Where an [`Acquire`] stands.
#[derive(Debug)]
enum Slot {
    /// Holds a permit (taken from the stored ones) not yet returned by `poll`.
    Permit,
    /// Registered under this key.
    Queued(usize),
    /// Completed; or being dropped.
    Done,
}

impl<F: Forward + Unpin> Future for Acquire<'_, F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let key = match self.slot {
            Slot::Permit => {
                self.slot = Slot::Done;
                return Poll::Ready(());
            }
            Slot::Queued(key) => key,
            Slot::Done => panic!("`Acquire` polled after completion"),
        };
        let sema = self.sema;
        let mut inner = sema.inner.lock();
        let waiters = inner.queued();
        let stale = match &mut waiters.nodes[key] {
            Node::Waiting(waker) => match waker {
                Some(waker) if waker.will_wake(cx.waker()) => None,
                _ => waker.replace(cx.waker().clone()),
            },
            Node::Granted => {
                waiters.nodes.remove(key);
                drop(inner);
                self.slot = Slot::Done;
                return Poll::Ready(());
            }
            Node::Abandoned => unreachable!("only a dropped `Acquire` abandons its registration"),
        };
        drop(inner);
        drop(stale);
        Poll::Pending
    }
}

impl<F: Forward> Drop for Acquire<'_, F> {
    fn drop(&mut self) {
        let orphaned = match mem::replace(&mut self.slot, Slot::Done) {
            Slot::Done => false,
            // The permit taken at registration is ours to pass on.
            Slot::Permit => true,
            Slot::Queued(key) => {
                let mut inner = self.sema.inner.lock();
                let waiters = inner.queued();
                match mem::replace(&mut waiters.nodes[key], Node::Abandoned) {
                    // Not granted yet. Our permit may already be on its way
                    // (its releaser uncounted *a* waiter, and permits are not
                    // addressed), so we cannot withdraw: stay queued, and let
                    // `release` forward the permit that reaches us.
                    Node::Waiting(waker) => {
                        drop(inner);
                        drop(waker);
                        false
                    }
                    // Granted but not taken: the permit is ours to pass on.
                    Node::Granted => {
                        waiters.nodes.remove(key);
                        true
                    }
                    Node::Abandoned => unreachable!("an `Acquire` is dropped only once"),
                }
            }
        };
        if orphaned && self.fwd.forward() {
            self.sema.release(&self.fwd);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::cell::Cell;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::sync::test_util::{poll_once, CountingWaker};

    /// Polls `fut` once with `waker`.
    fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(waker))
    }

    fn discard() -> bool {
        false
    }

    #[test]
    fn stored_permit_is_taken_at_once() {
        let sema = Sema::new();
        sema.release(&discard);
        assert_eq!(poll_once(sema.acquire(discard)), Poll::Ready(()));
        assert!(sema.is_idle());
    }

    #[test]
    fn release_wakes_oldest_waiter_first() {
        let sema = Sema::new();
        let (first_wakes, first_waker) = CountingWaker::new();
        let (second_wakes, second_waker) = CountingWaker::new();
        let mut first = sema.acquire(discard);
        let mut second = sema.acquire(discard);
        assert!(poll_with(&mut first, &first_waker).is_pending());
        assert!(poll_with(&mut second, &second_waker).is_pending());

        sema.release(&discard);
        assert_eq!((first_wakes.count(), second_wakes.count()), (1, 0));
        assert!(poll_with(&mut second, &second_waker).is_pending());
        assert!(poll_with(&mut first, &first_waker).is_ready());

        sema.release(&discard);
        assert_eq!(second_wakes.count(), 1);
        assert!(poll_with(&mut second, &second_waker).is_ready());
        drop((first, second));
        assert!(sema.is_idle());
    }

    #[test]
    fn waker_is_replaced_on_repoll() {
        let sema = Sema::new();
        let (old_wakes, old_waker) = CountingWaker::new();
        let (new_wakes, new_waker) = CountingWaker::new();
        let mut acquire = sema.acquire(discard);
        assert!(poll_with(&mut acquire, &old_waker).is_pending());
        assert!(poll_with(&mut acquire, &new_waker).is_pending());
        sema.release(&discard);
        assert_eq!((old_wakes.count(), new_wakes.count()), (0, 1));
        assert!(poll_with(&mut acquire, &new_waker).is_ready());
    }

    #[test]
    fn registration_without_poll_is_queued() {
        let sema = Sema::new();
        let mut acquire = sema.acquire(discard);
        sema.release(&discard);
        assert!(poll_with(&mut acquire, Waker::noop()).is_ready());
        drop(acquire);
        assert!(sema.is_idle());
    }

    #[test]
    fn abandoned_waiter_orphans_its_permit() {
        let sema = Sema::new();
        let forwarded = Cell::new(0);
        let count = || {
            forwarded.set(forwarded.get() + 1);
            false
        };
        let abandoned = sema.acquire(count);
        let mut live = sema.acquire(count);
        drop(abandoned);
        assert_eq!(forwarded.get(), 0, "nothing to forward before a release");

        // The first permit goes to the abandoned registration (FIFO) and is
        // forwarded, not given to the live one.
        sema.release(&count);
        assert_eq!(forwarded.get(), 1);
        assert!(poll_with(&mut live, Waker::noop()).is_pending());

        sema.release(&count);
        assert!(poll_with(&mut live, Waker::noop()).is_ready());
        drop(live);
        assert!(sema.is_idle());
    }

    #[test]
    fn forward_can_release_again() {
        let sema = Sema::new();
        let (wakes, waker) = CountingWaker::new();
        let budget = Cell::new(1);
        let forward_once = || budget.replace(0) == 1;
        drop(sema.acquire(forward_once));
        let mut live = sema.acquire(forward_once);
        assert!(poll_with(&mut live, &waker).is_pending());

        sema.release(&forward_once);
        assert_eq!(wakes.count(), 1, "the forwarded permit reaches the next waiter");
        assert!(poll_with(&mut live, &waker).is_ready());
    }

    #[test]
    fn granted_but_dropped_waiter_forwards() {
        let sema = Sema::new();
        let forwarded = Cell::new(0);
        let count = || {
            forwarded.set(forwarded.get() + 1);
            false
        };
        let mut granted = sema.acquire(count);
        assert!(poll_with(&mut granted, Waker::noop()).is_pending());
        sema.release(&count);
        assert_eq!(forwarded.get(), 0);
        drop(granted);
        assert_eq!(forwarded.get(), 1);
        assert!(sema.is_idle());
    }

    #[test]
    fn stored_permit_dropped_unpolled_forwards() {
        let sema = Sema::new();
        let forwarded = Cell::new(0);
        let count = || {
            forwarded.set(forwarded.get() + 1);
            false
        };
        sema.release(&count);
        drop(sema.acquire(count));
        assert_eq!(forwarded.get(), 1);
        assert!(sema.is_idle());
    }

    #[test]
    fn no_queue_is_allocated_until_a_waiter_queues() {
        let sema = Sema::new();
        sema.release(&discard);
        let mut taken = sema.acquire(discard);
        assert!(poll_with(&mut taken, Waker::noop()).is_ready());
        assert!(sema.inner.lock().waiters.is_none(), "a stored permit needs no queue");
        let mut queued = sema.acquire(discard);
        assert!(sema.inner.lock().waiters.is_some());
        sema.release(&discard);
        assert!(poll_with(&mut queued, Waker::noop()).is_ready());
        drop((taken, queued));
        assert!(sema.is_idle());
    }

    #[test]
    fn completed_acquire_forwards_nothing() {
        let sema = Sema::new();
        let forwarded = Cell::new(0);
        let count = || {
            forwarded.set(forwarded.get() + 1);
            false
        };
        sema.release(&count);
        let mut acquire = sema.acquire(count);
        assert!(poll_with(&mut acquire, Waker::noop()).is_ready());
        drop(acquire);
        assert_eq!(forwarded.get(), 0);
    }
}
