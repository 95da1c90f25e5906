//! A descriptor's zero-copy budget: how many `SEND_ZC` operations may be in
//! the kernel on one stream at once, each pinning its buffer until the
//! kernel's notification that it let go of the pages.
//!
//! A `write_all_zc` holds the stream's write lock only until its send's
//! result (its bytes are in the socket, in order); its buffer stays with the
//! kernel until the notification, which on TCP comes once the peer has
//! acknowledged the data. Without a bound, dropped `write_all_zc`s would
//! leave one pinned buffer per send behind a slow peer. With it, the writer
//! that holds the lock waits for a [`ZcPermit`] before it pushes its send,
//! so at most [`MAX_IN_FLIGHT`] zero-copy sends per stream are pending, and
//! the lock it holds queues every later write behind it: no byte is
//! reordered.
//!
//! Only the write-lock holder asks for a permit, so at most one task waits;
//! the waiter list is a list only so that a waiter whose future was dropped
//! and replaced cannot lose a wake.
//!
//! Zero-copy sends are io_uring's: readiness-only targets keep the type (a
//! `Send` has one shape everywhere) and never make a permit.
#![cfg_attr(not(uring), allow(dead_code))]

use crate::sync::Mutex;
use std::future::poll_fn;
use std::task::{Context, Poll, Waker};

/// Zero-copy sends a stream may have in the kernel at once (sent, their
/// notification not reaped yet). Eight sends of a socket buffer's worth
/// keep a loopback or LAN link busy while the notifications trail the
/// acknowledgements, and bound what a slow peer can make a writer pin.
pub(crate) const MAX_IN_FLIGHT: usize = 8;

/// See the module docs.
pub(crate) struct ZcBudget {
    state: Mutex<Budget>,
}

impl Default for ZcBudget {
    fn default() -> Self {
        ZcBudget {
            state: Mutex::new(Budget::default()),
        }
    }
}

#[derive(Default)]
struct Budget {
    in_flight: usize,
    waiters: Vec<Waker>,
}

/// One zero-copy send's place in its stream's budget; dropping it (with the
/// operation's data, when its notification is reaped) frees the place.
pub(crate) struct ZcPermit {
    fd: super::descriptor::Descriptor,
}

impl ZcBudget {
    /// A permit if fewer than [`MAX_IN_FLIGHT`] are out.
    fn try_acquire(&self) -> bool {
        let mut st = self.state.lock();
        if st.in_flight < MAX_IN_FLIGHT {
            st.in_flight += 1;
            return true;
        }
        false
    }

    fn poll_acquire(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.state.lock();
        if st.in_flight < MAX_IN_FLIGHT {
            st.in_flight += 1;
            return Poll::Ready(());
        }
        if !st.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            st.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }

    fn release(&self) {
        let waiters = {
            let mut st = self.state.lock();
            st.in_flight -= 1;
            std::mem::take(&mut st.waiters)
        };
        // Woken outside the lock: a waker may run its task right here.
        waiters.into_iter().for_each(Waker::wake);
    }

    /// Sends pending now (for tests and stats).
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.state.lock().in_flight
    }
}

impl ZcPermit {
    /// A permit for one more zero-copy send on `fd`, if one is free now.
    pub(crate) fn try_new(fd: &super::descriptor::Descriptor) -> Option<ZcPermit> {
        fd.zc_budget().try_acquire().then(|| ZcPermit { fd: fd.clone() })
    }

    /// Waits for a permit for one more zero-copy send on `fd`. It always
    /// comes: every permit out belongs to an operation the kernel returns
    /// (a close cancels them).
    pub(crate) async fn new(fd: &super::descriptor::Descriptor) -> ZcPermit {
        poll_fn(|cx| fd.zc_budget().poll_acquire(cx)).await;
        ZcPermit { fd: fd.clone() }
    }
}

impl Drop for ZcPermit {
    fn drop(&mut self) {
        self.fd.zc_budget().release();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn the_budget_bounds_and_wakes_its_waiter() {
        let budget = ZcBudget::default();
        for _ in 0..MAX_IN_FLIGHT {
            assert!(budget.try_acquire());
        }
        assert!(!budget.try_acquire(), "one past the bound");
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(budget.poll_acquire(&mut cx).is_pending());
        assert!(
            budget.poll_acquire(&mut cx).is_pending(),
            "the same waker registers once"
        );
        budget.release();
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(budget.poll_acquire(&mut cx).is_ready());
        assert_eq!(budget.in_flight(), MAX_IN_FLIGHT);
    }
}
