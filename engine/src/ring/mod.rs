//! The io_uring driver. One [`Driver`] per runtime thread (or per hosted
//! reactor); only its owner thread enters the kernel, with no lock on its
//! path. The pieces, one job each:
//!
//! | file | what it holds |
//! |---|---|
//! | `setup.rs` | creating the ring: setup flags stepping down, probes |
//! | `driver.rs` | the `Driver` handle: submitting, orphaning, fixed files |
//! | `owner.rs` | `Owned<T>`: the owner-only state and its one audited `unsafe` |
//! | `state.rs` | what that state holds: the ring, per-slot bookkeeping |
//! | `lifecycle.rs` | `Slot`: one operation's states, shared with its future |
//! | `slots.rs` | the slot arena: stable memory, lock-free recycling |
//! | `op.rs` | the `RingOp`/`MultiOp` futures |
//! | `nonblocking.rs` | `RingReadyOp`: syscall first, `POLL_ADD` on `EAGAIN` |
//! | `stream.rs` | a multishot operation's completion queue |
//! | `submit.rs` | pushing SQEs, flushing a full SQ, fixed-file updates |
//! | `enter.rs` | `io_uring_enter` through a registered ring descriptor |
//! | `reap.rs` | taking CQEs and handing each to its waiter |
//! | `remote.rs` | work other threads hand the owner |
//! | `turn.rs` | the owner's turn, and a hosted ring's |
//! | `shutdown.rs` | going idle, and shutting down |
//! | `fixed.rs` | the fixed-file table and a descriptor's slot state |
//! | `buffers.rs` | the registered-buffer table that buffer pools use |
//! | `stats.rs` | counters |

#[cfg(uring)]
mod buffers;
#[cfg(uring)]
mod driver;
#[cfg(uring)]
mod enter;
pub(crate) mod fixed;
#[cfg(uring)]
mod lifecycle;
#[cfg(uring)]
mod nonblocking;
#[cfg(uring)]
mod op;
#[cfg(uring)]
mod owner;
#[cfg(uring)]
mod reap;
#[cfg(uring)]
mod remote;
mod setup;
#[cfg(uring)]
mod shutdown;
#[cfg(uring)]
mod slots;
#[cfg(uring)]
mod state;
mod stats;
#[cfg(uring)]
mod stream;
#[cfg(uring)]
mod submit;
#[cfg(uring)]
mod turn;

#[cfg(uring)]
mod waits;

#[cfg(uring)]
pub(crate) use driver::{Driver, WeakDriver};
#[cfg(uring)]
pub(crate) use nonblocking::RingReadyOp;
#[cfg(uring)]
pub(crate) use op::{MultiOp, RingOp};
#[cfg(uring)]
pub(crate) use owner::OwnerGuard;
pub use setup::SetupMode;
pub(crate) use setup::{RecvFeatures, RingConfig};
pub(crate) use stats::BufCounters;
pub use stats::Stats;
