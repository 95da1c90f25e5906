//! `Background`: operations that must finish although their future was
//! dropped, run by the driver they belong to.
//!
//! A `write_all` dropped half way must not leave an unknown prefix on the
//! wire: once polled, it sends every byte. When its future is dropped before
//! that, the rest of it becomes a task here, polled on each turn of the
//! descriptor's home driver (a runtime's or a hosted reactor's, so it runs
//! wherever the descriptor lives, with or without a ringio executor). The
//! task keeps the stream's write lock, so later writes queue behind it.
//!
//! Tasks are few and short-lived (they exist only on the drop path), so the
//! table is a mutex-guarded slab; wakers post the task's index to a
//! lock-free queue and unpark the driver.

use crate::runtime::park::Unparker;
use crate::sync::Mutex;
use crossbeam_queue::SegQueue;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Wake, Waker};

/// A detached remainder of an operation.
pub(crate) type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The background tasks of one driver.
pub(crate) struct Background {
    shared: Arc<Shared>,
}

struct Shared {
    /// `None` while the task is being polled (or after it finished).
    tasks: Mutex<slab::Slab<Option<Task>>>,
    /// Indices of tasks whose wakers fired.
    ready: SegQueue<usize>,
    unparker: Arc<Unparker>,
}

/// Wakes one background task: posts its index and unparks the driver.
struct TaskWaker {
    index: usize,
    shared: Weak<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade() {
            shared.ready.push(self.index);
            shared.unparker.unpark();
        }
    }
}

impl Background {
    pub(crate) fn new(unparker: Arc<Unparker>) -> Background {
        Background {
            shared: Arc::new(Shared {
                tasks: Mutex::new(slab::Slab::new()),
                ready: SegQueue::new(),
                unparker,
            }),
        }
    }

    /// Adds `task`; it is first polled on the driver's next turn.
    pub(crate) fn spawn(&self, task: Task) {
        let index = self.shared.tasks.lock().insert(Some(task));
        self.shared.ready.push(index);
        self.shared.unparker.unpark();
    }

    /// True when a task waits to be polled.
    pub(crate) fn has_ready(&self) -> bool {
        !self.shared.ready.is_empty()
    }

    /// Polls every task that was woken. Called by the driving thread on
    /// each turn, with no driver lock held (tasks submit operations).
    pub(crate) fn run(&self) {
        if self.shared.ready.is_empty() {
            return;
        }
        // Bounded by what is queued now: a task that wakes itself runs on
        // the next turn, not in a loop here.
        for _ in 0..self.shared.ready.len() {
            let Some(index) = self.shared.ready.pop() else { break };
            // A stale index (the task finished) finds nothing and is skipped;
            // a reused one polls its new task once more than needed, which
            // futures tolerate.
            let Some(mut task) = self.shared.tasks.lock().get_mut(index).and_then(Option::take) else {
                continue;
            };
            let waker = Waker::from(Arc::new(TaskWaker {
                index,
                shared: Arc::downgrade(&self.shared),
            }));
            let done = task.as_mut().poll(&mut Context::from_waker(&waker)).is_ready();
            let mut tasks = self.shared.tasks.lock();
            if done {
                tasks.remove(index);
            } else if let Some(slot) = tasks.get_mut(index) {
                *slot = Some(task);
            }
        }
    }

    /// Drops every task (the driver shuts down): their operations are
    /// cancelled like any dropped operation.
    pub(crate) fn clear(&self) {
        let tasks = std::mem::take(&mut *self.shared.tasks.lock());
        while self.shared.ready.pop().is_some() {}
        drop(tasks);
    }
}
