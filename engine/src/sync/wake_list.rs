//! `WakeList`: wakers taken out of a waiter list under its lock and woken
//! after the lock is released, without allocating. It holds a batch of
//! [`CAPACITY`]; a caller with more waiters wakes a batch, locks again and
//! takes the next (tokio's `WakeList` works the same way).
//!
//! Waking outside the lock matters because a woken task may run at once, on
//! this thread (a waker that polls inline) or another, and register again.

use std::task::Waker;

/// How many wakers one batch holds: more than a descriptor's waiters almost
/// always are, few enough to live on the stack.
const CAPACITY: usize = 16;

/// A batch of wakers to wake once the lock that guarded them is released.
pub(crate) struct WakeList {
    wakers: [Option<Waker>; CAPACITY],
    len: usize,
}

impl WakeList {
    /// An empty batch.
    pub(crate) fn new() -> WakeList {
        WakeList {
            wakers: [const { None }; CAPACITY],
            len: 0,
        }
    }

    /// Moves wakers from the front of `from` (first registered, first woken)
    /// until the batch is full. Returns whether `from` still holds some.
    /// `from` keeps its capacity, so registering again does not allocate.
    pub(crate) fn take_from(&mut self, from: &mut Vec<Waker>) -> bool {
        let n = from.len().min(CAPACITY - self.len);
        for waker in from.drain(..n) {
            self.wakers[self.len] = Some(waker);
            self.len += 1;
        }
        !from.is_empty()
    }

    /// Wakes every waker in the batch and empties it.
    pub(crate) fn wake_all(&mut self) {
        self.wakers[..self.len]
            .iter_mut()
            .filter_map(Option::take)
            .for_each(Waker::wake);
        self.len = 0;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::{Arc, Mutex};
    use std::task::Wake;

    /// A waker that records its number in a shared log when woken.
    struct Logged(usize, Arc<Mutex<Vec<usize>>>);

    impl Wake for Logged {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    #[test]
    fn wakes_in_registration_order_in_batches() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let total = CAPACITY * 2 + 3;
        let mut waiters: Vec<Waker> = (0..total)
            .map(|i| Waker::from(Arc::new(Logged(i, log.clone()))))
            .collect();
        let capacity = waiters.capacity();
        let mut batches = 0;
        loop {
            let mut list = WakeList::new();
            let more = list.take_from(&mut waiters);
            list.wake_all();
            batches += 1;
            if !more {
                break;
            }
        }
        assert_eq!(batches, 3);
        assert_eq!(*log.lock().unwrap(), (0..total).collect::<Vec<_>>());
        assert!(waiters.is_empty());
        assert_eq!(waiters.capacity(), capacity, "the waiter list keeps its allocation");
    }

    #[test]
    fn two_lists_share_one_batch() {
        let woken = Arc::new(AtomicUsize::new(0));
        struct Count(Arc<AtomicUsize>);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Relaxed);
            }
        }
        let make = |n| -> Vec<Waker> { (0..n).map(|_| Waker::from(Arc::new(Count(woken.clone())))).collect() };
        let (mut readers, mut writers) = (make(CAPACITY - 2), make(5));
        let mut list = WakeList::new();
        assert!(!list.take_from(&mut readers));
        assert!(list.take_from(&mut writers), "the batch fills after two writers");
        assert_eq!(writers.len(), 3);
        list.wake_all();
        assert_eq!(woken.load(Relaxed), CAPACITY);
        list.wake_all();
        assert_eq!(woken.load(Relaxed), CAPACITY, "an emptied batch wakes nothing");
    }
}
