//! A one-shot event: set once, and every waiter, present or future, is
//! released. Used alongside the fd mutex (a port of Go's
//! `internal/poll/fd_mutex.go`), e.g. to wait for a descriptor's destruction.

use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::{AtomicBool, Mutex, Ordering};

/// A one-shot event: [`set`](Self::set) once, and every
/// [`wait`](Self::wait) completes.
#[derive(Debug)]
pub(crate) struct Event {
    /// Whether `set` has been called; never cleared.
    set: AtomicBool,
    /// The wakers of pending waits. Drained by the first `set`, after which
    /// nothing is ever inserted again, so a key is never reused under a
    /// waiter that still holds it.
    waiters: Mutex<Slab<Waker>>,
}

impl Event {
    /// Creates an event that is not set.
    pub(crate) fn new() -> Self {
        Self {
            set: AtomicBool::new(false),
            waiters: Mutex::new(Slab::new()),
        }
    }

    /// Sets the event and wakes every waiter. Idempotent: a repeated call
    /// returns at once, possibly before the first one has woken everyone.
    pub(crate) fn set(&self) {
        // Release: pairs with the Acquire in `is_set`, so whoever sees the
        // event set also sees everything done before `set`.
        if self.set.swap(true, Ordering::Release) {
            return;
        }
        // The flag is raised before this lock is taken, so a waiter that
        // takes the lock after us sees it, and one that took it before us
        // left its waker here.
        let waiters = mem::take(&mut *self.waiters.lock());
        for (_, waker) in waiters {
            waker.wake();
        }
    }

    /// Whether the event has been set.
    pub(crate) fn is_set(&self) -> bool {
        // Acquire: pairs with the Release in `set`.
        self.set.load(Ordering::Acquire)
    }

    /// Returns a future that completes once the event is set (at once if it
    /// already is). Dropping it mid-wait just unregisters it.
    pub(crate) fn wait(&self) -> EventWait<'_> {
        EventWait { event: self, key: None }
    }
}

/// The future returned by [`Event::wait`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub(crate) struct EventWait<'a> {
    /// The event waited for.
    event: &'a Event,
    /// Our waker's key in `event.waiters`, once registered.
    key: Option<usize>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let event = self.event;
        if event.is_set() {
            return Poll::Ready(());
        }
        let mut waiters = event.waiters.lock();
        // Checked again under the lock: see `Event::set`.
        if event.is_set() {
            return Poll::Ready(());
        }
        let stale = match self.key {
            Some(key) if waiters[key].will_wake(cx.waker()) => None,
            Some(key) => Some(mem::replace(&mut waiters[key], cx.waker().clone())),
            None => {
                self.key = Some(waiters.insert(cx.waker().clone()));
                None
            }
        };
        // Wakers are dropped (and woken) outside the lock: either can run
        // arbitrary code.
        drop(waiters);
        drop(stale);
        Poll::Pending
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            // `None` if `set` has drained the waiters already.
            let waker = self.event.waiters.lock().try_remove(key);
            drop(waker);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::task::{Context, Poll, Waker};
    use std::thread;

    use super::*;
    use crate::sync::test_util::{block_on, poll_once, CountingWaker};

    fn poll_with(wait: &mut EventWait<'_>, waker: &Waker) -> Poll<()> {
        Pin::new(wait).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn is_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Event>();
        send::<EventWait<'static>>();
    }

    #[test]
    fn wait_after_set_is_ready_at_once() {
        let event = Event::new();
        assert!(!event.is_set());
        assert!(poll_once(event.wait()).is_pending());
        event.set();
        event.set();
        assert!(event.is_set());
        assert_eq!(poll_once(event.wait()), Poll::Ready(()));
        assert!(event.waiters.lock().is_empty());
    }

    #[test]
    fn set_wakes_every_waiter_once() {
        let event = Event::new();
        let counters: Vec<_> = (0..3).map(|_| CountingWaker::new()).collect();
        let mut waits: Vec<_> = counters.iter().map(|_| event.wait()).collect();
        for (wait, (_, waker)) in waits.iter_mut().zip(&counters) {
            assert!(poll_with(wait, waker).is_pending());
            // A second poll with the same waker must not register it twice.
            assert!(poll_with(wait, waker).is_pending());
        }
        event.set();
        event.set();
        for (wait, (wakes, waker)) in waits.iter_mut().zip(&counters) {
            assert_eq!(wakes.count(), 1);
            assert!(poll_with(wait, waker).is_ready());
        }
    }

    #[test]
    fn repoll_replaces_waker() {
        let event = Event::new();
        let (old_wakes, old_waker) = CountingWaker::new();
        let (new_wakes, new_waker) = CountingWaker::new();
        let mut wait = event.wait();
        assert!(poll_with(&mut wait, &old_waker).is_pending());
        assert!(poll_with(&mut wait, &new_waker).is_pending());
        event.set();
        assert_eq!((old_wakes.count(), new_wakes.count()), (0, 1));
    }

    #[test]
    fn dropped_wait_unregisters() {
        let event = Event::new();
        let mut kept = event.wait();
        assert!(poll_with(&mut kept, Waker::noop()).is_pending());
        assert!(poll_once(event.wait()).is_pending());
        assert_eq!(event.waiters.lock().len(), 1);
        drop(kept);
        assert!(event.waiters.lock().is_empty());
    }

    #[test]
    fn set_from_another_thread_releases_blocked_waiters() {
        let event = Event::new();
        thread::scope(|s| {
            let waiters: Vec<_> = (0..4).map(|_| s.spawn(|| block_on(event.wait()))).collect();
            s.spawn(|| event.set());
            for waiter in waiters {
                waiter.join().unwrap();
            }
        });
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;
    use crate::sync::test_util::{block_on, check, poll_once};

    /// (d) `set` racing a blocked waiter and a cancelled one: the blocked
    /// waiter completes, and sees what the setter wrote before `set`.
    #[test]
    fn set_vs_wait() {
        check("set_vs_wait", None, || {
            let event = Arc::new(Event::new());
            let data = Arc::new(AtomicUsize::new(0));
            let setter = thread::spawn({
                let (event, data) = (Arc::clone(&event), Arc::clone(&data));
                move || {
                    data.store(1, Ordering::Relaxed);
                    event.set();
                }
            });
            let canceller = thread::spawn({
                let event = Arc::clone(&event);
                move || {
                    let _ = poll_once(event.wait());
                }
            });
            block_on(event.wait());
            assert!(event.is_set());
            // Relaxed on purpose: only `set`/`wait` may order this.
            assert_eq!(data.load(Ordering::Relaxed), 1);
            setter.join().unwrap();
            canceller.join().unwrap();
            assert!(event.waiters.lock().is_empty());
        });
    }
}
