//! The readiness driver: epoll, kqueue or event ports behind one driver, in
//! the same shape as the ring's (`crate::ring`).
//!
//! | file | what it holds |
//! |---|---|
//! | `driver.rs` | the `Driver`: its poller, the source table, the turn |
//! | `source.rs` | `Source`: one registered descriptor, its readiness and its waiters |
//! | `op.rs` | `ReadyOp`: an operation run as a non-blocking syscall, or on the pool |
//! | `pool.rs` | the blocking pool that runs file operations |
//!
//! The pollers themselves, one per file, are in `crate::backend`.

mod driver;
mod op;
pub(crate) mod pool;
mod source;

pub(crate) use driver::{Driver, OwnerGuard, WeakDriver};
pub(crate) use op::ReadyOp;
pub(crate) use source::{Attempt, Source};
