//! The io_uring driver: ring setup and probing, batched submission, completion
//! reaping into the operation slab, and the fixed-file table.
//!
//! One [`Driver`] per runtime thread. Only that thread (the *owner*) enters the
//! kernel: it pushes SQEs, submits once per scheduler turn and reaps CQEs. Other
//! threads reach it through a lock-free queue ([`Remote`]) and an eventfd wakeup,
//! which is what keeps `IORING_SETUP_SINGLE_ISSUER` and `DEFER_TASKRUN` legal.

#[cfg(uring)]
mod driver;
mod setup;
mod stats;

#[cfg(uring)]
pub(crate) use driver::{Driver, WeakDriver};
pub(crate) use setup::RingConfig;
pub use setup::SetupMode;
pub use stats::Stats;
