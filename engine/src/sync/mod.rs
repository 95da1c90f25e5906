//! Synchronization primitives, and the one place that chooses between `std`
//! and `loom` (under `cfg(loom)`), so that the loom models check the very code
//! that ships.
//!
//! [`sema`] and [`event`] are the waker-based primitives that the fd mutex (a
//! port of Go's `internal/poll/fd_mutex.go`) and its callers park on;
//! [`wake_list`] wakes a waiter list outside its lock without allocating.

pub(crate) mod event;
pub(crate) mod sema;
pub(crate) mod wake_list;

#[cfg(loom)]
use loom::sync as imp;
#[cfg(not(loom))]
use std::sync as imp;

use std::sync::PoisonError;

// The whole facade is exported to the crate; not every build uses every item.
#[allow(unused_imports)]
pub(crate) use imp::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[allow(unused_imports)]
pub(crate) use imp::{Arc, MutexGuard};

/// `std`'s or `loom`'s mutex, with a `lock` that ignores poisoning.
///
/// Ignoring poisoning gives both backends one signature. The critical
/// sections guarded by it are expected to panic only on a broken invariant,
/// which a poisoned lock could not repair anyway.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(imp::Mutex<T>);

impl<T> Mutex<T> {
    /// Creates an unlocked mutex holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Self(imp::Mutex::new(value))
    }

    /// Blocks until the lock is held, even if a previous holder panicked.
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value, even if a holder panicked.
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Helpers shared by the unit, stress and loom tests of this crate.
#[cfg(test)]
pub(crate) mod test_util {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    #[cfg(not(loom))]
    type Parker = std::thread::Thread;
    #[cfg(loom)]
    type Parker = loom::sync::Notify;

    /// Wakes the thread blocked in [`block_on`].
    struct Unpark(Parker);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            #[cfg(not(loom))]
            self.0.unpark();
            #[cfg(loom)]
            self.0.notify();
        }
    }

    /// Drives `fut` to completion on the current thread, parking it between
    /// polls (`std::thread::park`, or a `loom::sync::Notify` in loom models,
    /// which is what `loom::future::block_on` does).
    pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
        block_on_with(fut, || {})
    }

    /// [`block_on`], running `queued` once, right after the first poll that
    /// returns `Pending` (so a model can tell others that `fut` is waiting).
    pub(crate) fn block_on_with<F: Future>(fut: F, queued: impl FnOnce()) -> F::Output {
        let mut queued = Some(queued);
        #[cfg(not(loom))]
        let unpark = Arc::new(Unpark(std::thread::current()));
        #[cfg(loom)]
        let unpark = Arc::new(Unpark(loom::sync::Notify::new()));
        let waker = Waker::from(Arc::clone(&unpark));
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(fut);
        loop {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
            if let Some(queued) = queued.take() {
                queued();
            }
            #[cfg(not(loom))]
            std::thread::park();
            #[cfg(loom)]
            unpark.0.wait();
        }
    }

    /// Polls `fut` once with a waker that does nothing, then drops it: a
    /// future cancelled mid-wait, unless it was ready at once.
    pub(crate) fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
        pin!(fut).as_mut().poll(&mut Context::from_waker(Waker::noop()))
    }

    /// Checks a loom model, exhaustively or within a preemption bound
    /// (`LOOM_MAX_PREEMPTIONS` overrides either, and a nonempty
    /// `RINGIO_LOOM_UNBOUNDED` makes every model exhaustive), and reports how
    /// many executions it explored.
    #[cfg(loom)]
    pub(crate) fn check(name: &str, preemptions: Option<usize>, model: impl Fn() + Sync + Send + 'static) {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

        let mut builder = loom::model::Builder::new();
        if std::env::var_os("RINGIO_LOOM_UNBOUNDED").is_some_and(|v| !v.is_empty()) {
            builder.preemption_bound = None;
        } else if builder.preemption_bound.is_none() {
            builder.preemption_bound = preemptions;
        }
        let executions = Arc::new(AtomicUsize::new(0));
        builder.check({
            let executions = Arc::clone(&executions);
            move || {
                executions.fetch_add(1, Relaxed);
                model();
            }
        });
        println!("loom: {name}: {} executions", executions.load(Relaxed));
    }

    /// Runs `f` on its own thread and panics if it takes longer than `limit`,
    /// so that a lost wakeup fails the test instead of hanging it.
    #[cfg(not(loom))]
    pub(crate) fn with_timeout(limit: std::time::Duration, f: impl FnOnce() + Send + 'static) {
        let (done, finished) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            f();
            // The receiver only hangs up after a timeout, and then we panic anyway.
            let _ = done.send(());
        });
        match finished.recv_timeout(limit) {
            Ok(()) => worker.join().expect("test thread panicked"),
            // A panicked worker drops `done` without sending: surface its panic.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::panic::resume_unwind(worker.join().expect_err("sender dropped early"))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("no progress within {limit:?}: lost wakeup?")
            }
        }
    }

    /// A waker that counts its wake-ups.
    #[cfg(not(loom))]
    #[derive(Default)]
    pub(crate) struct CountingWaker(std::sync::atomic::AtomicUsize);

    #[cfg(not(loom))]
    impl CountingWaker {
        /// A new counter and a waker that bumps it.
        pub(crate) fn new() -> (Arc<Self>, Waker) {
            let counter = Arc::new(Self::default());
            let waker = Waker::from(Arc::clone(&counter));
            (counter, waker)
        }

        /// How many times the waker has been woken.
        pub(crate) fn count(&self) -> usize {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[cfg(not(loom))]
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
