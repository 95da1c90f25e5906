//! Linux's special descriptors as awaitable handles: [`EventFd`],
//! [`TimerFd`], [`PidFd`], [`SignalFd`] and [`MemFd`].
//!
//! Each is an [`Fd`](crate::fd::Fd) underneath, so it has the same contract:
//! created close-on-exec and (except [`PidFd`], which says why) non-blocking,
//! `Send + Sync`, closable from several tasks at once with an idempotent
//! `close` that waits for the operations in flight, which then fail with
//! [`Error::Closed`](crate::Error::Closed). Their waits are readiness waits
//! followed by a non-blocking system call in the same poll, so dropping a
//! wait (in a `select`, a timeout) never loses a counter value, a timer
//! expiration, a signal or an exit status. They run on io_uring and on epoll.
//!
//! # Examples
//!
//! ```no_run
//! use ringio::linux::{Clock, EventFd, TimerFd};
//! use std::time::Duration;
//!
//! ringio::Runtime::new()?.block_on(async {
//!     let timer = TimerFd::new(Clock::Monotonic)?;
//!     timer.set_after(Duration::from_millis(5), None)?;
//!     let wakeup = EventFd::new(0)?;
//!     wakeup.add(1)?;
//!     assert_eq!(wakeup.read().await?, 1);
//!     assert_eq!(timer.tick().await?, 1);
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod eventfd;
mod mapped;
mod memfd;
mod pidfd;
mod signal;
mod signalfd;
mod sigset;
mod timerfd;

pub use eventfd::EventFd;
pub use mapped::{MappedRegion, MappedRegionMut};
pub use memfd::{MemFd, MemFdFlags, Seals};
pub use pidfd::PidFd;
pub use signal::Signal;
pub use signalfd::{SignalFd, SignalInfo};
pub use timerfd::{Clock, TimerFd};
