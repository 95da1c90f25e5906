//! Deadlines for the operations a future submits, enforced where the
//! operation waits: on io_uring each one is linked to an
//! `IORING_OP_LINK_TIMEOUT` (`IOSQE_IO_LINK`), so the kernel cancels it at
//! the deadline with no timer in user space; on readiness backends a socket
//! operation's readiness wait is bounded by the runtime's timers.
//!
//! The deadline is the calling thread's for the duration of one poll of the
//! wrapped future ([`OpTimeout::timeout`]): every operation submitted during
//! that poll (a `read`, each part of a `read_exact`, the readiness wait of
//! a `write`) takes the time left. An operation cut short fails with
//! [`std::io::ErrorKind::TimedOut`] and hands its buffer back, like any
//! failed operation, and the stream stays usable: nothing was lost (a
//! cancelled receive moved no data).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

thread_local! {
    /// The deadline of the future being polled on this thread, if any.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The deadline operations submitted now should take.
pub(crate) fn current() -> Option<Instant> {
    DEADLINE.with(Cell::get)
}

/// Adds [`OpTimeout::timeout`] to every future.
///
/// # Examples
///
/// ```no_run
/// use ringio::time::OpTimeout;
/// use std::time::Duration;
///
/// # async fn f(stream: &ringio::net::TcpStream) -> std::io::Result<()> {
/// let (res, buf) = stream.read(Vec::with_capacity(4096)).timeout(Duration::from_secs(5)).await;
/// match res {
///     Err(e) if e.kind() == std::io::ErrorKind::TimedOut => println!("nothing for 5 s"),
///     other => println!("{:?} bytes", other.map(|_| buf.len())),
/// }
/// # Ok(()) }
/// ```
pub trait OpTimeout: Future + Sized {
    /// Gives every operation this future submits until `limit` from now:
    /// an operation still waiting then fails with `TimedOut`. Waits that
    /// are not operations (a channel, a sleep) are not bounded, and neither
    /// is a file operation on a readiness backend's blocking pool.
    fn timeout(self, limit: Duration) -> WithDeadline<Self> {
        WithDeadline {
            inner: self,
            deadline: Instant::now().checked_add(limit),
        }
    }
}

impl<F: Future> OpTimeout for F {}

/// The future of [`OpTimeout::timeout`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct WithDeadline<F> {
    inner: F,
    /// `None`: too far to represent, so no deadline.
    deadline: Option<Instant>,
}

impl<F: Future> Future for WithDeadline<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of
        // `self`, and `WithDeadline` has no `Drop` or `Unpin` impl of its own
        // that could move it.
        let (inner, deadline) = unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.inner), this.deadline)
        };
        // The tighter of ours and an enclosing one's.
        let outer = current();
        let ours = match (outer, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let _restore = Restore(outer);
        DEADLINE.with(|d| d.set(ours));
        inner.poll(cx)
    }
}

/// Puts back the enclosing deadline when the poll ends (also by unwinding).
struct Restore(Option<Instant>);

impl Drop for Restore {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.0));
    }
}

/// Time left until `deadline`, `None` if it passed.
pub(crate) fn left(deadline: Instant) -> Option<Duration> {
    deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
}
