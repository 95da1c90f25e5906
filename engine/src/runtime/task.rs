//! Local tasks: their storage on the runtime thread, the thread-safe header
//! their wakers point to, and `JoinHandle`.
//!
//! A task's future is `!Send` and never leaves its runtime thread: it lives in
//! the thread's `LocalTasks` slab. Its waker is an `Arc<TaskHeader>`, which is
//! `Send + Sync` and may be woken from any thread: waking pushes the header onto
//! the scheduler's lock-free run queue and unparks the runtime thread.

use super::Scheduler;
use crate::sync::{Mutex, MutexGuard};
use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Slab key reserved for the future given to `block_on`.
pub(crate) const MAIN_KEY: usize = usize::MAX;

/// What a waker points to.
pub(crate) struct TaskHeader {
    pub key: usize,
    /// True while the header sits in the run queue (dedups wakes).
    pub scheduled: AtomicBool,
    pub aborted: AtomicBool,
    sched: Arc<Scheduler>,
}

impl TaskHeader {
    pub(crate) fn new(key: usize, sched: Arc<Scheduler>) -> Arc<TaskHeader> {
        Arc::new(TaskHeader {
            key,
            scheduled: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            sched,
        })
    }
}

impl Wake for TaskHeader {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // AcqRel: the executor's `store(false)` before polling happens-before a
        // wake that must re-queue; a wake that sees `true` is covered by the
        // pending poll.
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.sched.schedule(self);
        }
    }
}

/// Why a task produced no value: it was cancelled, or it panicked.
///
/// `Send + Sync`, so it converts into `io::Error` (`io::Error::other(e)`).
pub struct JoinError(Repr);

enum Repr {
    Cancelled,
    /// The payload sits behind a mutex only to make the error `Sync`.
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError(Repr::Cancelled)
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError(Repr::Panic(Mutex::new(payload)))
    }

    /// True if the task was aborted or its runtime shut down first.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new().unwrap().block_on(async {
    ///     let h = ringio::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.0, Repr::Cancelled)
    }

    /// True if the task panicked.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new().unwrap().block_on(async {
    ///     let h = ringio::spawn(async { panic!("boom") });
    ///     assert!(h.await.unwrap_err().is_panic());
    /// });
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.0, Repr::Panic(_))
    }

    /// The panic payload, to resume unwinding with `std::panic::resume_unwind`.
    ///
    /// # Errors
    ///
    /// Gives the error back if the task was cancelled rather than panicking.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.0 {
            Repr::Panic(p) => Ok(p.into_inner()),
            Repr::Cancelled => Err(self),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(_) => f.write_str("JoinError::Panic(..)"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panic(_) => f.write_str("task panicked"),
        }
    }
}

impl std::error::Error for JoinError {}

struct JoinState<T> {
    result: Option<Result<T, JoinError>>,
    waker: Option<Waker>,
    taken: bool,
}

struct JoinShared<T> {
    state: Mutex<JoinState<T>>,
}

impl<T> JoinShared<T> {
    fn lock(&self) -> MutexGuard<'_, JoinState<T>> {
        self.state.lock()
    }

    fn finish(&self, result: Result<T, JoinError>) {
        let waker = {
            let mut st = self.lock();
            st.result = Some(result);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Awaits the output of a spawned task; dropping it detaches the task.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new().unwrap().block_on(async {
///     let handle = ringio::spawn(async { 6 * 7 });
///     assert_eq!(handle.await.unwrap(), 42);
/// });
/// ```
pub struct JoinHandle<T> {
    shared: Arc<JoinShared<T>>,
    header: Arc<TaskHeader>,
}

impl<T> JoinHandle<T> {
    /// Cancels the task: it is dropped at its next scheduling point and the
    /// handle yields a cancelled [`JoinError`] (unless it already finished).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new().unwrap().block_on(async {
    ///     let h = ringio::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        self.header.aborted.store(true, Ordering::Release);
        self.header.wake_by_ref();
    }

    /// True once the task has finished (with a value, a panic or cancellation).
    pub fn is_finished(&self) -> bool {
        let st = self.shared.lock();
        st.result.is_some() || st.taken
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.shared.lock();
        if let Some(result) = st.result.take() {
            st.taken = true;
            return Poll::Ready(result);
        }
        assert!(!st.taken, "JoinHandle polled after completion");
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A task as the executor sees it, output type erased.
trait AnyTask {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()>;
    fn fail(&self, err: JoinError);
}

struct Task<F: Future> {
    future: Pin<Box<F>>,
    join: Arc<JoinShared<F::Output>>,
}

impl<F: Future> AnyTask for Task<F> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.future.as_mut().poll(cx).map(|out| self.join.finish(Ok(out)))
    }

    fn fail(&self, err: JoinError) {
        self.join.finish(Err(err));
    }
}

struct Slot {
    header: Arc<TaskHeader>,
    /// `None` while the task is being polled.
    task: Option<Box<dyn AnyTask>>,
}

/// The runtime thread's tasks.
#[derive(Default)]
pub(crate) struct LocalTasks {
    slots: RefCell<slab::Slab<Slot>>,
}

impl LocalTasks {
    pub(crate) fn spawn<F>(&self, sched: &Arc<Scheduler>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let join = Arc::new(JoinShared {
            state: Mutex::new(JoinState {
                result: None,
                waker: None,
                taken: false,
            }),
        });
        let mut slots = self.slots.borrow_mut();
        let entry = slots.vacant_entry();
        let header = TaskHeader::new(entry.key(), sched.clone());
        let task = Task {
            future: Box::pin(future),
            join: join.clone(),
        };
        entry.insert(Slot {
            header: header.clone(),
            task: Some(Box::new(task)),
        });
        drop(slots);
        header.wake_by_ref();
        JoinHandle { shared: join, header }
    }

    /// Polls the task `header` names, if it is still alive. Returns false for a
    /// stale header (the task finished and its key was reused).
    pub(crate) fn run(&self, header: &Arc<TaskHeader>) -> bool {
        let mut task = {
            let mut slots = self.slots.borrow_mut();
            match slots.get_mut(header.key) {
                Some(slot) if Arc::ptr_eq(&slot.header, header) => match slot.task.take() {
                    Some(task) => task,
                    None => return false,
                },
                _ => return false,
            }
        };
        // Cleared before polling so a wake during the poll re-queues the task.
        header.scheduled.store(false, Ordering::Release);
        let done = if header.aborted.load(Ordering::Acquire) {
            task.fail(JoinError::cancelled());
            true
        } else {
            let waker = Waker::from(header.clone());
            let mut cx = Context::from_waker(&waker);
            match catch_unwind(AssertUnwindSafe(|| task.poll(&mut cx))) {
                Ok(Poll::Ready(())) => true,
                Ok(Poll::Pending) => false,
                Err(payload) => {
                    tracing::debug!("task panicked");
                    task.fail(JoinError::panic(payload));
                    true
                }
            }
        };
        let mut slots = self.slots.borrow_mut();
        if done {
            slots.remove(header.key);
            drop(slots);
            drop(task);
        } else {
            slots[header.key].task = Some(task);
        }
        true
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len()
    }

    /// Drops every task (runtime shutdown); their handles see `Cancelled`.
    pub(crate) fn drop_all(&self) {
        loop {
            // Take them out first: dropping a task may spawn or drop others.
            let taken: Vec<Slot> = self.slots.borrow_mut().drain().collect();
            if taken.is_empty() {
                return;
            }
            for slot in taken {
                if let Some(task) = slot.task {
                    task.fail(JoinError::cancelled());
                    drop(task);
                }
            }
        }
    }
}
