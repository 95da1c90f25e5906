//! The backend seam: `Driver` is the io_uring driver or the readiness driver
//! (epoll, kqueue or event ports), chosen when a runtime starts. Everything
//! above it (operations, handles, the runtime) goes through this one type.

pub(crate) mod fallback;

use crate::error::Error;
use crate::fd::Interest;
use crate::op::Operation;
use crate::readiness;
use crate::readiness::ReadyOp;
#[cfg(uring)]
use crate::ring;
use crate::ring::{RingConfig, Stats};
use crate::runtime::park::{Unparker, Wait};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A submitted operation on whichever backend its descriptor's driver uses.
#[must_use = "an operation is cancelled when its future is dropped"]
pub(crate) enum Op<T: Operation> {
    #[cfg(uring)]
    Ring(ring::RingOp<T>),
    /// On a ring, but run the readiness way (see [`ring::RingReadyOp`]).
    #[cfg(uring)]
    RingReady(ring::RingReadyOp<T>),
    Ready(ReadyOp<T>),
    #[cfg(feature = "sim")]
    Sim(crate::sim::SimOp<T>),
}

impl<T: Operation> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        match self.get_mut() {
            #[cfg(uring)]
            Op::Ring(op) => Pin::new(op).poll(cx),
            #[cfg(uring)]
            Op::RingReady(op) => Pin::new(op).poll(cx),
            Op::Ready(op) => Pin::new(op).poll(cx),
            #[cfg(feature = "sim")]
            Op::Sim(op) => Pin::new(op).poll(cx),
        }
    }
}

/// Marks the calling thread as the one that drives a driver, until dropped.
pub(crate) struct OwnerToken {
    #[cfg(uring)]
    _ring: ring::OwnerGuard,
    _ready: readiness::OwnerGuard,
}

/// The kernel interface a runtime uses.
///
/// Chosen at run time: io_uring where the kernel allows it, else the
/// platform's readiness API. Force one with [`crate::Builder::backend`] or the
/// environment variable `RINGIO_BACKEND=uring|epoll|kqueue|port` (and `sim`
/// with the `sim` feature).
///
/// # Examples
///
/// ```no_run
/// let rt = ringio::Runtime::new()?;
/// println!("running on {}", rt.backend());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Linux io_uring (completion based; fixed files; files without threads).
    IoUring,
    /// Linux epoll (readiness; files on a thread pool).
    Epoll,
    /// BSD/macOS kqueue (readiness; files on a thread pool).
    Kqueue,
    /// illumos/Solaris event ports (readiness; files on a thread pool).
    EventPorts,
    /// The deterministic simulated network on a virtual clock (cargo
    /// feature `sim`; see [`crate::sim`]). Files stay real.
    #[cfg(feature = "sim")]
    Sim,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::IoUring => "io_uring",
            Backend::Epoll => "epoll",
            Backend::Kqueue => "kqueue",
            Backend::EventPorts => "event ports",
            #[cfg(feature = "sim")]
            Backend::Sim => "sim",
        })
    }
}

impl Backend {
    /// The readiness backend of this platform.
    pub(crate) const NATIVE_READINESS: Backend = if cfg!(epoll) {
        Backend::Epoll
    } else if cfg!(kqueue) {
        Backend::Kqueue
    } else {
        Backend::EventPorts
    };

    fn from_env() -> io::Result<Option<Backend>> {
        let Ok(value) = std::env::var("RINGIO_BACKEND") else {
            return Ok(None);
        };
        match value.as_str() {
            "" | "auto" => Ok(None),
            "uring" | "io_uring" => Ok(Some(Backend::IoUring)),
            "epoll" => Ok(Some(Backend::Epoll)),
            "kqueue" => Ok(Some(Backend::Kqueue)),
            "port" | "ports" | "evport" => Ok(Some(Backend::EventPorts)),
            #[cfg(feature = "sim")]
            "sim" => Ok(Some(Backend::Sim)),
            #[cfg(not(feature = "sim"))]
            "sim" => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "RINGIO_BACKEND=sim: ringio was built without its `sim` feature",
            )),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("RINGIO_BACKEND={other}: expected uring, epoll, kqueue, port or auto"),
            )),
        }
    }
}

/// A runtime's driver, whichever backend it is.
#[derive(Clone)]
pub(crate) enum Driver {
    #[cfg(uring)]
    Ring(ring::Driver),
    Ready(readiness::Driver),
    #[cfg(feature = "sim")]
    Sim(crate::sim::Driver),
}

/// A [`Driver`] that does not keep the backend alive.
#[derive(Clone)]
pub(crate) enum WeakDriver {
    #[cfg(uring)]
    Ring(ring::WeakDriver),
    Ready(readiness::WeakDriver),
    #[cfg(feature = "sim")]
    Sim(crate::sim::WeakDriver),
}

impl WeakDriver {
    pub(crate) fn upgrade(&self) -> Option<Driver> {
        match self {
            #[cfg(uring)]
            WeakDriver::Ring(d) => d.upgrade().map(Driver::Ring),
            WeakDriver::Ready(d) => d.upgrade().map(Driver::Ready),
            #[cfg(feature = "sim")]
            WeakDriver::Sim(d) => d.upgrade().map(Driver::Sim),
        }
    }
}

impl Driver {
    /// A handle that lets the backend (its ring or poller and their
    /// descriptors) go once every strong handle is gone.
    pub(crate) fn downgrade(&self) -> WeakDriver {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => WeakDriver::Ring(d.downgrade()),
            Driver::Ready(d) => WeakDriver::Ready(d.downgrade()),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => WeakDriver::Sim(d.downgrade()),
        }
    }

    /// Picks and builds the backend: the forced one (builder, then
    /// `RINGIO_BACKEND`), else io_uring with a fallback to readiness.
    pub(crate) fn new(config: &RingConfig, forced: Option<Backend>) -> io::Result<Driver> {
        let forced = match forced {
            Some(b) => Some(b),
            None => Backend::from_env()?,
        };
        match forced {
            Some(Backend::IoUring) => Self::uring(config),
            #[cfg(feature = "sim")]
            Some(Backend::Sim) => Ok(Driver::Sim(crate::sim::Driver::new(config.hosted)?)),
            Some(b) if b == Backend::NATIVE_READINESS => Ok(Driver::Ready(readiness::Driver::new(config.hosted)?)),
            Some(b) => Err(Error::Unsupported(format!("the {b} backend does not exist on this platform")).into()),
            None => match Self::uring(config) {
                Ok(d) => {
                    log_choice(Backend::IoUring, "available");
                    Ok(d)
                }
                // Out of descriptors or memory: epoll would not be better off,
                // and a runtime silently on the fallback for good is worse
                // than the error.
                Err(err) if err.kind() != io::ErrorKind::Unsupported => Err(err),
                Err(err) => {
                    let d = Driver::Ready(readiness::Driver::new(config.hosted)?);
                    log_choice(Backend::NATIVE_READINESS, &err.to_string());
                    Ok(d)
                }
            },
        }
    }

    #[cfg(uring)]
    fn uring(config: &RingConfig) -> io::Result<Driver> {
        Ok(Driver::Ring(ring::Driver::new(config)?))
    }

    #[cfg(not(uring))]
    fn uring(_: &RingConfig) -> io::Result<Driver> {
        Err(Error::Unsupported("io_uring exists only on Linux".into()).into())
    }

    /// The driver of the calling thread's runtime.
    pub(crate) fn current() -> io::Result<Driver> {
        crate::runtime::context::driver().ok_or_else(|| Error::NoRuntime.into())
    }

    /// Where `buf` sits in this driver's registered-buffer table: `None` on a
    /// readiness backend, or if its pool is registered with another ring.
    pub(crate) fn registered_index(&self, buf: &crate::buf::FixedBuf) -> Option<u16> {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => buf.index_on(d.id()),
            Driver::Ready(_) => {
                let _ = buf;
                None
            }
            #[cfg(feature = "sim")]
            Driver::Sim(_) => None,
        }
    }

    /// Whether sends may use `IORING_OP_SEND_ZC` here (Linux 6.0 rings).
    pub(crate) fn has_send_zc(&self) -> bool {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => fallback::ring_has(d, io_uring::opcode::SendZc::CODE),
            Driver::Ready(_) => false,
            #[cfg(feature = "sim")]
            Driver::Sim(_) => false,
        }
    }

    /// Receive bundles and incremental buffer rings, where this driver's
    /// kernel has them (io_uring only).
    pub(crate) fn recv_features(&self) -> crate::ring::RecvFeatures {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.recv_features(),
            _ => crate::ring::RecvFeatures::default(),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(uring)]
            Driver::Ring(_) => Backend::IoUring,
            Driver::Ready(_) => Backend::NATIVE_READINESS,
            #[cfg(feature = "sim")]
            Driver::Sim(_) => Backend::Sim,
        }
    }

    pub(crate) fn unparker(&self) -> &Arc<Unparker> {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.unparker(),
            Driver::Ready(d) => d.unparker(),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.unparker(),
        }
    }

    pub(crate) fn submit<T: Operation>(&self, data: T) -> Op<T> {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => Op::Ring(d.submit(data)),
            Driver::Ready(d) => d.submit(data),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => Op::Sim(d.submit(data)),
        }
    }

    /// Submits `data` to run the readiness way on every backend: its own
    /// non-blocking syscall inside `poll`, and a wait for `interest` when it
    /// would block. A future dropped at any point has done nothing beyond
    /// what it returned (tokio's rule for writes and sends).
    pub(crate) fn submit_nonblocking<T: Operation>(&self, data: T, interest: Interest) -> Op<T> {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => Op::RingReady(ring::RingReadyOp::new(d.clone(), data, interest)),
            Driver::Ready(d) => {
                let _ = interest; // the operation's `plan` says it
                d.submit(data)
            }
            #[cfg(feature = "sim")]
            Driver::Sim(d) => Op::Sim(d.submit(data)),
        }
    }

    /// Runs `task`, the remainder of an operation whose future was dropped
    /// but which must finish (`write_all`), on this driver's turns.
    pub(crate) fn spawn_background(&self, task: crate::op::background::Task) {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.spawn_background(task),
            Driver::Ready(d) => d.spawn_background(task),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.spawn_background(task),
        }
    }

    /// Makes the calling thread the one that drives `driver` (or, with
    /// `None`, no driver) until the token drops.
    pub(crate) fn enter_owner(driver: Option<&Driver>) -> OwnerToken {
        OwnerToken {
            #[cfg(uring)]
            _ring: match driver {
                Some(Driver::Ring(d)) => ring::OwnerGuard::enter(d.id()),
                _ => ring::OwnerGuard::leave(),
            },
            _ready: readiness::OwnerGuard::enter(match driver {
                Some(Driver::Ready(d)) => Some(d),
                _ => None,
            }),
        }
    }

    /// The owner thread enters (`true`) or leaves (`false`) `block_on`; see
    /// the backends' `set_driving`. Other threads' operations are served
    /// only while it is inside.
    pub(crate) fn set_driving(&self, driving: bool) {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.set_driving(driving),
            Driver::Ready(d) => d.set_driving(driving),
            #[cfg(feature = "sim")]
            Driver::Sim(_) => {
                let _ = driving; // one thread drives a simulation throughout
            }
        }
    }

    pub(crate) fn has_remote_work(&self) -> bool {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.has_remote_work(),
            Driver::Ready(d) => d.has_background_work(),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.has_background_work(),
        }
    }

    pub(crate) fn turn(&self, wait: Wait) -> io::Result<()> {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.turn(wait),
            Driver::Ready(d) => d.turn(wait),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.turn(wait),
        }
    }

    /// One non-blocking turn of a hosted driver (see [`crate::reactor`]).
    pub(crate) fn turn_hosted(&self) -> io::Result<()> {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.turn_hosted(),
            Driver::Ready(d) => d.turn_hosted(),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.turn_hosted(),
        }
    }

    /// A hosted driver's host is about to wait; `false` means work is queued.
    pub(crate) fn park_hosted(&self, waker: &std::task::Waker) -> bool {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.park_hosted(waker),
            Driver::Ready(d) => d.park_hosted(waker),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.park_hosted(waker),
        }
    }

    /// What a hosted driver's host watches for readability.
    pub(crate) fn notify_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.notify_fd(),
            Driver::Ready(d) => d.notify_fd(),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.notify_fd(),
        }
    }

    /// Stops taking work, before a runtime drops its tasks (see
    /// [`Driver::shutdown`]).
    pub(crate) fn begin_shutdown(&self) {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.begin_shutdown(),
            Driver::Ready(d) => d.shutdown(),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.shutdown(),
        }
    }

    /// Cancels what is in flight and waits for the kernel to let go of it;
    /// afterwards operations on this driver's descriptors fail with
    /// [`Error::RuntimeShutDown`].
    pub(crate) fn shutdown(&self) {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.shutdown(),
            Driver::Ready(d) => d.shutdown(),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.shutdown(),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.stats(),
            Driver::Ready(d) => d.stats(),
            #[cfg(feature = "sim")]
            Driver::Sim(d) => d.stats(),
        }
    }

    /// The counters this driver's buffer groups report into (its `Stats`).
    pub(crate) fn buf_counters(&self) -> Arc<crate::ring::BufCounters> {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => d.buf_counters().clone(),
            Driver::Ready(d) => d.buf_counters().clone(),
            // The simulator keeps no buffer-group counters of its own.
            #[cfg(feature = "sim")]
            Driver::Sim(_) => Arc::default(),
        }
    }

    /// io_uring setup flags, when the backend is io_uring.
    pub(crate) fn setup_mode(&self) -> Option<crate::SetupMode> {
        match self {
            #[cfg(uring)]
            Driver::Ring(d) => Some(d.mode()),
            Driver::Ready(_) => None,
            #[cfg(feature = "sim")]
            Driver::Sim(_) => None,
        }
    }
}

/// Logs the automatic choice once per process (every runtime makes the same one).
fn log_choice(backend: Backend, why: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| match backend {
        Backend::IoUring => tracing::info!(%backend, "ringio backend chosen"),
        _ => tracing::warn!(%backend, reason = why, "io_uring unavailable; ringio falls back to readiness"),
    });
}
