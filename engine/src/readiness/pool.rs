//! The bounded blocking pool that runs file operations for the readiness
//! backends: a fixed set of threads and a queue with backpressure (a full
//! queue makes the submitting future wait, never fails it).
//!
//! A job owns its operation's data — buffers and the fd-mutex reference —
//! until the syscall returns, so `close` waits for it exactly as it waits for
//! an io_uring operation, and a dropped future never frees memory a running
//! syscall uses.

use crate::op::{Completion, Operation};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

/// Worker threads.
const THREADS: usize = 4;
/// Jobs queued before submitters have to wait.
const CAPACITY: usize = 1024;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    space_waiters: Vec<Waker>,
    started: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState {
            jobs: VecDeque::new(),
            space_waiters: Vec::new(),
            started: false,
        }),
        work: Condvar::new(),
    })
}

fn worker(pool: &'static Pool) {
    loop {
        let (job, waiters) = {
            let mut st = lock(&pool.state);
            while st.jobs.is_empty() {
                st = pool.work.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            let job = st.jobs.pop_front().expect("checked non-empty");
            (job, std::mem::take(&mut st.space_waiters))
        };
        waiters.into_iter().for_each(Waker::wake);
        job();
    }
}

/// Where a pooled operation's data and result meet its future again.
pub(crate) struct Slot<T: Operation> {
    state: Mutex<SlotState<T>>,
}

struct SlotState<T> {
    data: Option<Box<T>>,
    result: Option<Completion>,
    waker: Option<Waker>,
}

impl<T: Operation> Slot<T> {
    /// The data and completion once the job ran.
    pub(crate) fn poll_result(&self, cx: &mut Context<'_>) -> Poll<(Box<T>, Completion)> {
        let mut st = lock(&self.state);
        if let Some(c) = st.result.take() {
            let data = st.data.take().expect("data returned with the result");
            return Poll::Ready((data, c));
        }
        st.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T: Operation> Drop for Slot<T> {
    fn drop(&mut self) {
        // The future went away after the syscall ran: release what it created
        // for nobody (an opened descriptor).
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if let (Some(data), Some(c)) = (st.data.as_mut(), st.result.as_ref()) {
            data.on_orphan_cqe(c);
        }
    }
}

/// Queues `data`'s blocking syscall. `Err(data)` when the queue is full: the
/// caller is woken once there is room.
pub(crate) fn submit<T: Operation>(data: Box<T>, cx: &mut Context<'_>) -> Result<Arc<Slot<T>>, Box<T>> {
    let pool = pool();
    let mut st = lock(&pool.state);
    if st.jobs.len() >= CAPACITY {
        st.space_waiters.push(cx.waker().clone());
        return Err(data);
    }
    // The submitter's waker is in the slot from the start: the job may finish
    // before the future is polled again.
    let waker = Some(cx.waker().clone());
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState {
            data: Some(data),
            result: None,
            waker,
        }),
    });
    let job_slot = slot.clone();
    st.jobs.push_back(Box::new(move || {
        let mut data = lock(&job_slot.state).data.take().expect("job runs once");
        let c = data.syscall().unwrap_or(Completion {
            result: -libc::EAGAIN,
            flags: 0,
        });
        let waker = {
            let mut st = lock(&job_slot.state);
            st.data = Some(data);
            st.result = Some(c);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }));
    if !st.started {
        st.started = true;
        for i in 0..THREADS {
            let spawned = std::thread::Builder::new()
                .name(format!("ringio-blocking-{i}"))
                .spawn(move || worker(pool));
            if let Err(err) = spawned {
                tracing::error!(%err, "could not start a blocking-pool thread");
            }
        }
    }
    drop(st);
    pool.work.notify_one();
    Ok(slot)
}
