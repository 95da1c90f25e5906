//! Descriptor lifecycle: the fd mutex, the engine's record of a descriptor
//! and its handle, lease and close protocol (`descriptor`, engine-internal),
//! the rescue queue of dropped reads, a stream's budget of zero-copy sends
//! in flight (`zero_copy`), and [`Fd`], the public handle for descriptors
//! users bring themselves (`user`), with `tee(2)` between pipes (`tee`).
//!
//! [`Fd`] is the contract of Go's `acln.ro/rc` on the engine's own close
//! protocol: [`Fd::incref`] lends the descriptor through an [`FdGuard`] that
//! keeps it open, [`Fd::close`] waits until every guard and operation is gone
//! before it closes the number, so a number is never reused under anyone
//! still using it. The same handle runs owned-buffer reads and writes and
//! readiness waits on the runtime. `docs/handles.md` states the contract.
//!
//! # Examples
//!
//! ```no_run
//! use ringio::fd::{Fd, Interest};
//! use rustix::pipe::{pipe_with, PipeFlags};
//!
//! ringio::Runtime::new()?.block_on(async {
//!     let (r, w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
//!     let (r, w) = (Fd::new(r), Fd::new(w));
//!     w.write(b"hi".to_vec()).await.0?;
//!     r.poll(Interest::READABLE).await?;
//!     let (n, buf) = r.read(Vec::with_capacity(8)).await;
//!     assert_eq!(&buf[..n?], b"hi");
//!     r.close().await?;
//!     w.close().await
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

pub(crate) mod descriptor;
mod guard;
mod interest;
mod io;
pub(crate) mod mutex;
pub(crate) mod rescue;
#[cfg(target_os = "linux")]
mod tee;
mod user;
pub(crate) mod zero_copy;

pub use guard::FdGuard;
pub use interest::Interest;
pub use user::Fd;
