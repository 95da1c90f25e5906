//! The thread-local "current runtime": what `ringio::spawn`, operations and
//! timers find when called from inside `block_on`.

use super::task::{LocalTasks, TaskHeader};
use super::Scheduler;
use crate::driver::Driver;
use crate::time::timers::Timers;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

/// Everything one runtime thread owns.
pub(crate) struct Core {
    pub driver: Driver,
    pub sched: Arc<Scheduler>,
    /// Tasks woken on this thread, in order.
    pub local: RefCell<VecDeque<Arc<TaskHeader>>>,
    pub tasks: LocalTasks,
    pub timers: Arc<Timers>,
}

impl Core {
    /// The next woken task: this thread's wakes first, then other threads'.
    pub(crate) fn next_task(&self) -> Option<Arc<TaskHeader>> {
        let local = self.local.borrow_mut().pop_front();
        local.or_else(|| self.sched.pop_remote())
    }

    /// Whether a woken task waits to run.
    pub(crate) fn has_tasks(&self) -> bool {
        !self.local.borrow().is_empty() || self.sched.has_remote()
    }
}

/// Queues `header` on the calling thread's runtime if that is the runtime
/// `sched` belongs to (the common wake: a completion reaped on the runtime's
/// own thread). `false` if not: the caller uses the shared queue.
pub(crate) fn schedule_local(sched: &Arc<Scheduler>, header: &Arc<TaskHeader>) -> bool {
    CURRENT.with(|c| match &*c.borrow() {
        Some(core) if Arc::ptr_eq(&core.sched, sched) => {
            core.local.borrow_mut().push_back(header.clone());
            // Woken from inside the driver's turn, before it waits in the
            // kernel (a background task's wake): it must not wait.
            sched.unparker.unpark_local();
            true
        }
        _ => false,
    })
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
    /// A hosted reactor's driver (see [`crate::reactor`]); consulted when no
    /// runtime is current.
    static HOSTED: RefCell<Option<Driver>> = const { RefCell::new(None) };
}

/// Sets the thread's hosted driver, returning the previous one.
pub(crate) fn enter_hosted(driver: Option<Driver>) -> Option<Driver> {
    HOSTED.with(|h| std::mem::replace(&mut *h.borrow_mut(), driver))
}

/// Makes `core` current until the guard drops (restoring what was there).
pub(crate) fn enter(core: &Rc<Core>) -> EnterGuard {
    let prev = CURRENT.with(|c| c.borrow_mut().replace(core.clone()));
    EnterGuard {
        _owner: Driver::enter_owner(Some(&core.driver)),
        prev,
    }
}

pub(crate) struct EnterGuard {
    // Dropped first: the thread stops driving before the previous core is back.
    _owner: crate::driver::OwnerToken,
    prev: Option<Rc<Core>>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

/// Runs `f` with the current core, if any.
pub(crate) fn with_core<R>(f: impl FnOnce(&Rc<Core>) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow().as_ref().map(f))
}

pub(crate) fn driver() -> Option<Driver> {
    with_core(|core| core.driver.clone()).or_else(|| HOSTED.with(|h| h.borrow().clone()))
}

pub(crate) fn timers() -> Option<Arc<Timers>> {
    with_core(|core| core.timers.clone())
}
