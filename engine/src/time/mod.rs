//! Timers: [`sleep`], [`timeout`] and [`Interval`], on a per-runtime timer
//! queue whose nearest deadline bounds how long the runtime waits in the
//! kernel (`io_uring_enter` with a timespec). The same queue serves every
//! backend, so timers behave identically whichever one is active.
//! [`OpTimeout::timeout`] instead bounds the operations a future submits,
//! in the kernel on io_uring (`IORING_OP_LINK_TIMEOUT`).

pub(crate) mod deadline;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod timers;

pub use deadline::{OpTimeout, WithDeadline};
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, Elapsed, Timeout};
