//! The thread-local "current runtime": what `ringio::spawn`, operations and
//! timers find when called from inside `block_on`.

use super::task::LocalTasks;
use super::Scheduler;
use crate::driver::Driver;
use crate::time::timers::Timers;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Everything one runtime thread owns.
pub(crate) struct Core {
    pub driver: Driver,
    pub sched: Arc<Scheduler>,
    pub tasks: LocalTasks,
    pub timers: Arc<Timers>,
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
