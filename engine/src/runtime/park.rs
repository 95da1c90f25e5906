//! `Unparker`: wakes whoever drives a backend when another thread hands it
//! work. For a runtime thread blocked in the kernel (in `io_uring_enter` or
//! the poller's wait) that is the backend's own wakeup (an eventfd the ring
//! keeps a read armed on; the poller's `notify`); for a reactor hosted by
//! another executor it is the waker of the host's driving task. It only does
//! so when the driver really is parked, so the common wake (from the driver's
//! own thread, while it is busy) costs two atomics.

use crate::sync::Mutex;
use std::sync::atomic::{
    fence, AtomicBool,
    Ordering::{Relaxed, SeqCst},
};
use std::task::Waker;

pub(crate) struct Unparker {
    parked: AtomicBool,
    notify: Notify,
}

enum Notify {
    /// Interrupt a thread blocked in the kernel.
    Kernel(Box<dyn Fn() + Send + Sync>),
    /// Wake the host executor's task that drives a hosted reactor.
    Task(Mutex<Option<Waker>>),
}

impl Unparker {
    /// For a driver whose owner blocks in the kernel; `notify` interrupts it.
    pub(crate) fn new(notify: Box<dyn Fn() + Send + Sync>) -> Unparker {
        Unparker {
            parked: AtomicBool::new(false),
            notify: Notify::Kernel(notify),
        }
    }

    /// For a hosted driver: unparking wakes the waker given to [`Unparker::set_waker`].
    pub(crate) fn for_task() -> Unparker {
        Unparker {
            parked: AtomicBool::new(false),
            notify: Notify::Task(Mutex::new(None)),
        }
    }

    /// Hosted drivers: the task to wake on the next unpark.
    pub(crate) fn set_waker(&self, waker: &Waker) {
        if let Notify::Task(slot) = &self.notify {
            let mut slot = slot.lock();
            match &*slot {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
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

    /// [`Unparker::unpark`] from the owner's own thread: it set `parked`
    /// itself, so a plain load sees it, and there is nothing to order.
    pub(crate) fn unpark_local(&self) {
        if self.parked.load(Relaxed) && self.parked.swap(false, SeqCst) {
            self.notify();
        }
    }

    /// Wakes the owner if it is parked. Call after publishing the work.
    pub(crate) fn unpark(&self) {
        fence(SeqCst);
        if self.parked.load(SeqCst) && self.parked.swap(false, SeqCst) {
            self.notify();
        }
    }

    fn notify(&self) {
        match &self.notify {
            Notify::Kernel(notify) => notify(),
            Notify::Task(slot) => {
                let waker = slot.lock().take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        }
    }
}

/// How long a driver's turn may wait in the kernel for something to happen
/// (a completion, an event, or an unpark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Not at all: submit, collect what is ready, return.
    No,
    /// Until something happens.
    Forever,
    /// Until something happens, or this long.
    For(std::time::Duration),
}
