//! The simulator as a backend: `Driver` is what `crate::driver::Driver::Sim`
//! holds, and `SimOp` is how an operation runs on it.
//!
//! An operation on a simulated socket calls its own `Operation::simulate`,
//! which moves data in the network inside `poll` (like a non-blocking
//! syscall: a dropped operation has done nothing). An operation on a real
//! descriptor (a file, a pipe) runs its real syscall inline on the
//! simulation's thread, so files stay real and runs stay deterministic; one
//! that would have to wait for a real descriptor's readiness fails with
//! `EOPNOTSUPP`, as nothing in virtual time could wake it.
//!
//! The turn runs the network events due now; when the runtime is idle it
//! moves virtual time to the next event or timer, whichever comes first.

use super::net::Net;
use super::socket::Socket;
use crate::error::Error;
use crate::op::background::Background;
use crate::op::{Completion, Operation, Plan};
use crate::ring::Stats;
use crate::runtime::park::{Unparker, Wait};
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Instant;

struct Inner {
    net: Arc<Net>,
    unparker: Arc<Unparker>,
    /// Remainders of dropped `write_all`s, polled on each turn.
    background: Background,
    shut_down: AtomicBool,
    /// What a host executor would watch; a simulation is never hosted, but
    /// the backend interface asks for one.
    notify: OwnedFd,
    started: AtomicU64,
    completed: AtomicU64,
    turns: AtomicU64,
}

/// Handle to one runtime's simulated backend.
#[derive(Clone)]
pub(crate) struct Driver {
    inner: Arc<Inner>,
}

/// A [`Driver`] that does not keep the backend alive.
#[derive(Clone)]
pub(crate) struct WeakDriver {
    inner: Weak<Inner>,
}

impl WeakDriver {
    pub(crate) fn upgrade(&self) -> Option<Driver> {
        self.inner.upgrade().map(|inner| Driver { inner })
    }
}

thread_local! {
    /// The network the next `Backend::Sim` runtime built on this thread
    /// uses (set by [`super::Sim`]); without one, a fresh network.
    static NEXT_NET: std::cell::RefCell<Option<Arc<Net>>> = const { std::cell::RefCell::new(None) };
}

/// Hands `net` to the next simulated runtime built on this thread.
pub(crate) fn set_next_net(net: Arc<Net>) {
    NEXT_NET.with(|n| *n.borrow_mut() = Some(net));
}

/// The network of the current runtime, if it is simulated.
pub(crate) fn current_net() -> Option<Arc<Net>> {
    crate::runtime::context::with_core(|core| match &core.driver {
        crate::driver::Driver::Sim(d) => Some(d.inner.net.clone()),
        _ => None,
    })
    .flatten()
}

/// The virtual time, if the current runtime is simulated.
pub(crate) fn now() -> Option<Instant> {
    crate::runtime::context::with_core(|core| match &core.driver {
        crate::driver::Driver::Sim(d) => Some(d.inner.net.now()),
        _ => None,
    })
    .flatten()
}

impl Driver {
    /// A simulated backend on the network [`set_next_net`] gave, or on a
    /// fresh one (seed `RINGIO_SIM_SEED`, one host, 127.0.0.1).
    pub(crate) fn new(hosted: bool) -> io::Result<Driver> {
        if hosted {
            return Err(Error::Unsupported("the simulated backend cannot be hosted by another executor".into()).into());
        }
        let net = match NEXT_NET.with(|n| n.borrow_mut().take()) {
            Some(net) => net,
            None => {
                let net = Arc::new(Net::new(super::seed_from_env(0)?, Default::default()));
                net.with(|st| st.add_host(std::net::Ipv4Addr::LOCALHOST));
                net
            }
        };
        // Nothing ever blocks in the kernel here, so there is nothing to
        // interrupt.
        let unparker = Arc::new(Unparker::new(Box::new(|| {})));
        let notify = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        Ok(Driver {
            inner: Arc::new(Inner {
                net,
                background: Background::new(unparker.clone()),
                unparker,
                shut_down: AtomicBool::new(false),
                notify,
                started: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                turns: AtomicU64::new(0),
            }),
        })
    }

    pub(crate) fn downgrade(&self) -> WeakDriver {
        WeakDriver {
            inner: Arc::downgrade(&self.inner),
        }
    }

    pub(crate) fn unparker(&self) -> &Arc<Unparker> {
        &self.inner.unparker
    }

    /// The simulated socket a descriptor being adopted stands for.
    pub(crate) fn adopt(&self, raw: RawFd) -> Option<Socket> {
        self.inner.net.adopt(raw).map(|id| Socket {
            id,
            net: self.inner.net.clone(),
        })
    }

    pub(crate) fn submit<T: Operation>(&self, data: T) -> SimOp<T> {
        self.inner.started.fetch_add(1, Relaxed);
        SimOp {
            driver: self.clone(),
            data: Some(Box::new(data)),
        }
    }

    pub(crate) fn spawn_background(&self, task: crate::op::background::Task) {
        if !self.inner.shut_down.load(SeqCst) {
            self.inner.background.spawn(task);
        }
    }

    pub(crate) fn has_background_work(&self) -> bool {
        self.inner.background.has_ready()
    }

    /// One turn: run what is due; if the runtime is idle (`wait` is not
    /// `No`), move time to the next event or the runtime's next timer.
    ///
    /// # Panics
    ///
    /// When every task waits and nothing is scheduled: the simulation is
    /// deadlocked and would otherwise hang; or when virtual time passes the
    /// limit (`Sim::time_limit`). The message names the seed.
    pub(crate) fn turn(&self, wait: Wait) -> io::Result<()> {
        self.inner.turns.fetch_add(1, Relaxed);
        self.inner.background.run();
        let net = &self.inner.net;
        if net.run_due() {
            return Ok(());
        }
        match wait {
            Wait::No => {}
            Wait::For(d) => {
                let limit = net.now() + d;
                net.advance(Some(limit));
                net.run_due();
            }
            Wait::Forever => {
                if !net.advance(None) {
                    let seed = net.seed();
                    panic!(
                        "ringio::sim: deadlock: every task waits and no event or timer is pending \
                         (seed {seed}; replay with RINGIO_SIM_SEED={seed})"
                    );
                }
                net.run_due();
            }
        }
        if net.past_limit() {
            let seed = net.seed();
            panic!(
                "ringio::sim: the virtual time limit passed: tasks keep waking but the run never ends \
                 (seed {seed}; replay with RINGIO_SIM_SEED={seed})"
            );
        }
        Ok(())
    }

    pub(crate) fn turn_hosted(&self) -> io::Result<()> {
        self.turn(Wait::No)
    }

    pub(crate) fn park_hosted(&self, waker: &std::task::Waker) -> bool {
        self.inner.unparker.set_waker(waker);
        !self.has_background_work()
    }

    pub(crate) fn notify_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.notify.as_fd()
    }

    pub(crate) fn shutdown(&self) {
        self.inner.shut_down.store(true, SeqCst);
        self.inner.background.clear();
    }

    pub(crate) fn stats(&self) -> Stats {
        let submitted = self.inner.started.load(Relaxed);
        let completed = self.inner.completed.load(Relaxed);
        Stats {
            submitted,
            completed,
            in_flight: submitted.saturating_sub(completed),
            enters: self.inner.turns.load(Relaxed),
            ..Stats::default()
        }
    }
}

/// An operation on the simulated backend (see the module docs).
pub(crate) struct SimOp<T: Operation> {
    driver: Driver,
    /// `None` once completed.
    data: Option<Box<T>>,
}

impl<T: Operation> SimOp<T> {
    fn finish(&mut self, c: Completion) -> Poll<T::Output> {
        let data = self.data.take().expect("SimOp polled after completion");
        self.driver.inner.completed.fetch_add(1, Relaxed);
        let c = c.explained(data.fd());
        Poll::Ready(data.complete(c))
    }
}

impl<T: Operation> Future for SimOp<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        if this.driver.inner.shut_down.load(SeqCst) {
            return this.finish(Completion::refused(Error::RuntimeShutDown));
        }
        let data = this.data.as_mut().expect("SimOp polled after completion");
        let socket = data.fd().and_then(|fd| fd.sim_socket());
        let c = match socket {
            // Close began: the operation ends as close cancelled it.
            Some(_) if data.fd().is_some_and(|fd| fd.is_closed()) => Completion::cancelled(),
            Some(socket) => match data.simulate(&socket, cx) {
                Poll::Ready(c) => c,
                Poll::Pending => return Poll::Pending,
            },
            None => match data.plan() {
                Plan::Immediate | Plan::Blocking => data.syscall().unwrap_or(Completion { result: 0, flags: 0 }),
                Plan::Nonblocking(_) | Plan::Wait(_) => data.syscall().unwrap_or(Completion::errno(libc::EOPNOTSUPP)),
            },
        };
        this.finish(c)
    }
}

impl<T: Operation> Drop for SimOp<T> {
    fn drop(&mut self) {
        if let Some(mut data) = self.data.take() {
            // Never completed: whatever it holds for its reader goes back.
            data.on_orphan_cqe(&Completion::cancelled());
            self.driver.inner.completed.fetch_add(1, Relaxed);
        }
    }
}
