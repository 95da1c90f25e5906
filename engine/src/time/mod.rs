//! Timers: [`sleep`], [`timeout`] and [`Interval`], on a per-runtime timer
//! queue whose nearest deadline bounds how long the runtime waits in the
//! kernel (`io_uring_enter` with a timespec). The same queue serves every
//! backend, so timers behave identically whichever one is active. Time is
//! read with [`now`]: the real clock, or the virtual one of the simulated
//! backend (feature `sim`). [`OpTimeout::timeout`] instead bounds the
//! operations a future submits, in the kernel on io_uring
//! (`IORING_OP_LINK_TIMEOUT`).

pub(crate) mod deadline;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod timers;

pub use deadline::{OpTimeout, WithDeadline};
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, Elapsed, Timeout};

/// The current time as the runtime's timers see it: `Instant::now()` on
/// every real backend; under the simulated backend (feature `sim`), the
/// virtual clock, which moves only when every task is idle. Code that
/// measures timeouts should read this instead of `Instant::now()`.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new().unwrap().block_on(async {
///     let start = ringio::time::now();
///     ringio::time::sleep(std::time::Duration::from_millis(5)).await;
///     assert!(ringio::time::now() >= start + std::time::Duration::from_millis(5));
/// });
/// ```
pub fn now() -> std::time::Instant {
    #[cfg(feature = "sim")]
    if let Some(now) = crate::sim::driver::now() {
        return now;
    }
    std::time::Instant::now()
}
