//! `Unparker`: wakes a runtime thread blocked in the kernel (in
//! `io_uring_enter` or the poller's wait), through the backend's own wakeup
//! (an eventfd the ring keeps a read armed on; the poller's `notify`). It only
//! calls into the kernel when the thread really is parked, so the common wake
//! (from the runtime's own thread, while it is busy) costs two atomics.

use std::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};

pub(crate) struct Unparker {
    parked: AtomicBool,
    notify: Box<dyn Fn() + Send + Sync>,
}

impl Unparker {
    pub(crate) fn new(notify: Box<dyn Fn() + Send + Sync>) -> Unparker {
        Unparker {
            parked: AtomicBool::new(false),
            notify,
        }
    }

    /// Called by the owner before it re-checks for work and blocks.
    pub(crate) fn park_begin(&self) {
        // SeqCst store + fence pairs with the fence in `unpark` (Dekker): either
        // the owner's re-check sees the waker's queue push, or the waker sees
        // `parked == true` and notifies.
        self.parked.store(true, SeqCst);
        fence(SeqCst);
    }

    /// Called by the owner after it woke up (or decided not to sleep).
    pub(crate) fn park_end(&self) {
        self.parked.store(false, SeqCst);
    }

    /// Wakes the owner if it is parked. Call after publishing the work.
    pub(crate) fn unpark(&self) {
        fence(SeqCst);
        if self.parked.load(SeqCst) && self.parked.swap(false, SeqCst) {
            (self.notify)();
        }
    }
}
