//! The thread-per-core runtime: one ring, one task queue and one timer queue per
//! thread; `block_on` runs the scheduler loop (poll ready tasks, fire timers,
//! submit once, wait in the kernel only when nothing is runnable).
//!
//! Tasks spawned with [`spawn`] stay on the thread that spawned them, so they
//! may be `!Send`; their wakers are `Send` and work from any thread. To use
//! every core, start one runtime per core with [`spawn_per_core`] and share the
//! load with `SO_REUSEPORT`.

mod builder;
pub(crate) mod context;
pub(crate) mod park;
mod per_core;
pub(crate) mod task;

pub use builder::Builder;
pub use per_core::{spawn_per_core, PerCore};
pub use task::{JoinError, JoinHandle};

use crate::driver::{Backend, Driver};
use crate::ring::SetupMode;
use crate::time::timers::Timers;
use context::Core;
use crossbeam_queue::SegQueue;
use park::{Unparker, Wait};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;
use task::{TaskHeader, MAIN_KEY};

/// Tasks polled per scheduler turn before the driver gets a turn.
const TASK_BUDGET: usize = 128;

/// The run queue of tasks woken from other threads. (Wakes on the
/// runtime's own thread go to the core's local queue: no atomics, no
/// allocation; see [`context::schedule_local`].)
pub(crate) struct Scheduler {
    queue: SegQueue<Arc<TaskHeader>>,
    /// Entries in `queue`, so the runtime's loop checks it with one load.
    queued: AtomicUsize,
    unparker: Arc<Unparker>,
}

impl Scheduler {
    fn schedule(self: &Arc<Self>, header: &Arc<TaskHeader>) {
        if context::schedule_local(self, header) {
            return;
        }
        self.queue.push(header.clone());
        // Release: the runtime thread that sees the count sees the entry.
        self.queued.fetch_add(1, Ordering::Release);
        self.unparker.unpark();
    }

    /// A task other threads woke, if any.
    pub(crate) fn pop_remote(&self) -> Option<Arc<TaskHeader>> {
        // Acquire: pairs with the Release in `schedule`.
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let header = self.queue.pop()?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Some(header)
    }

    /// Whether other threads woke tasks that did not run yet.
    pub(crate) fn has_remote(&self) -> bool {
        // Acquire: as in `pop_remote`.
        self.queued.load(Ordering::Acquire) > 0
    }
}

/// A single-threaded ringio runtime: an io_uring, a local task executor and timers.
///
/// A `Runtime` belongs to the thread that created it (the ring is set up with
/// `IORING_SETUP_SINGLE_ISSUER`), so it is `!Send`. Dropping it drops every task,
/// cancels every operation still in the kernel and waits for their completions
/// before freeing any buffer the kernel might still write.
///
/// # Examples
///
/// ```no_run
/// let rt = ringio::Runtime::new()?;
/// let n = rt.block_on(async {
///     ringio::time::sleep(std::time::Duration::from_millis(1)).await;
///     1 + 1
/// });
/// assert_eq!(n, 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    core: Rc<Core>,
}

impl Runtime {
    /// A runtime with default settings (see [`Builder`]).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Unsupported`] (as `io::Error` of kind `Unsupported`) when
    /// io_uring is unavailable; any error from creating the eventfd.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A builder to configure ring size, fixed-file slots and setup flags.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let rt = ringio::Runtime::builder().entries(1024).fixed_files(4096).build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    fn from_builder(b: &Builder) -> io::Result<Runtime> {
        let driver = Driver::new(&b.ring_config(), b.forced_backend())?;
        let unparker = driver.unparker().clone();
        let sched = Arc::new(Scheduler {
            queue: SegQueue::new(),
            queued: AtomicUsize::new(0),
            unparker,
        });
        let core = Rc::new(Core {
            driver,
            sched,
            local: Default::default(),
            tasks: Default::default(),
            timers: Arc::new(Timers::default()),
        });
        Ok(Runtime { core })
    }

    /// Runs `future` to completion on this thread, driving every spawned task,
    /// timer and I/O operation meanwhile.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let rt = ringio::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(async { 7 }), 7);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter(&self.core);
        let _driving = Driving::start(&self.core.driver);
        let core = &self.core;
        let main = TaskHeader::new(MAIN_KEY, core.sched.clone());
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let mut main_ready = true;
        loop {
            if main_ready {
                main_ready = false;
                main.scheduled.store(false, Ordering::Release);
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    return out;
                }
            }
            for _ in 0..TASK_BUDGET {
                let Some(header) = core.next_task() else {
                    break;
                };
                if Arc::ptr_eq(&header, &main) {
                    main_ready = true;
                } else if header.key != MAIN_KEY {
                    core.tasks.run(&header);
                }
            }
            // Time is read only when some timer is armed.
            let now = core.timers.fire();
            let runnable = main_ready || core.has_tasks();
            let result = if runnable {
                core.driver.turn(Wait::No)
            } else {
                core.sched.unparker.park_begin();
                let idle = !core.has_tasks() && !core.driver.has_remote_work();
                let wait = match core.timers.next_deadline() {
                    _ if !idle => Wait::No,
                    Some(deadline) => Wait::For(deadline.saturating_duration_since(now.unwrap_or_else(Instant::now))),
                    None => Wait::Forever,
                };
                let r = core.driver.turn(wait);
                core.sched.unparker.park_end();
                r
            };
            if let Err(err) = result {
                tracing::error!(%err, "io_uring_enter failed");
            }
        }
    }

    /// Spawns a task on this runtime; it runs while `block_on` runs.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let rt = ringio::Runtime::new().unwrap();
    /// let h = rt.spawn(async { "done" });
    /// assert_eq!(rt.block_on(h).unwrap(), "done");
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // A simulated host's task spawns tasks of the same host.
        #[cfg(feature = "sim")]
        let future = crate::sim::host::Tagged::inherit(future);
        self.core.tasks.spawn(&self.core.sched, future)
    }

    /// Driver counters: submissions, completions, fixed-table use, overflows.
    pub fn stats(&self) -> crate::Stats {
        self.core.driver.stats()
    }

    /// The io_uring setup flags this runtime's ring got (`None` on a
    /// readiness backend).
    pub fn setup_mode(&self) -> Option<SetupMode> {
        self.core.driver.setup_mode()
    }

    /// The backend this runtime uses.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let rt = ringio::Runtime::builder().backend(ringio::Backend::Epoll).build()?;
    /// assert_eq!(rt.backend(), ringio::Backend::Epoll);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn backend(&self) -> Backend {
        self.core.driver.backend()
    }

    /// Number of live tasks.
    pub fn task_count(&self) -> usize {
        self.core.tasks.len()
    }
}

/// While it lives, the runtime's thread drives its driver (it is inside
/// `block_on`): other threads' operations on its descriptors are served.
/// Dropping it (also when `block_on` unwinds) ends that.
struct Driving<'a>(&'a Driver);

impl<'a> Driving<'a> {
    fn start(driver: &'a Driver) -> Driving<'a> {
        driver.set_driving(true);
        Driving(driver)
    }
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        self.0.set_driving(false);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _enter = context::enter(&self.core);
        // Stop taking work first: the tasks dropped next abandon their
        // operations, which shutdown then cancels all at once.
        self.core.driver.begin_shutdown();
        self.core.tasks.drop_all();
        self.core.driver.shutdown();
        // Break header -> scheduler -> queue -> header cycles.
        while self.core.sched.queue.pop().is_some() {}
        self.core.local.borrow_mut().clear();
        self.core.timers.clear();
    }
}

/// Spawns a `!Send` task on the current thread's runtime.
///
/// # Panics
///
/// If called outside a ringio runtime (like `tokio::task::spawn_local`).
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new().unwrap().block_on(async {
///     let h = ringio::spawn(async { 1 });
///     assert_eq!(h.await.unwrap(), 1);
/// });
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    // A simulated host's task spawns tasks of the same host.
    #[cfg(feature = "sim")]
    let future = crate::sim::host::Tagged::inherit(future);
    context::with_core(|core| core.tasks.spawn(&core.sched, future))
        .expect("ringio::spawn called outside of a ringio runtime")
}

/// Counters of the current thread's driver, if this thread runs a runtime.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new().unwrap().block_on(async {
///     assert!(ringio::runtime::stats().is_some());
/// });
/// ```
pub fn stats() -> Option<crate::Stats> {
    context::with_core(|core| core.driver.stats())
}

/// The backend of the current thread's runtime, if this thread runs one.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new().unwrap().block_on(async {
///     println!("{}", ringio::runtime::backend().unwrap());
/// });
/// ```
pub fn backend() -> Option<Backend> {
    context::with_core(|core| core.driver.backend())
}

/// Yields once to the scheduler, letting other tasks and the driver run.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new().unwrap().block_on(ringio::runtime::yield_now());
/// ```
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}
