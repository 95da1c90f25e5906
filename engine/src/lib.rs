//! # ringio
//!
//! A completion I/O engine on Linux io_uring: owned-buffer file and socket
//! operations, a thread-per-core runtime, and an fd mutex (a port of Go's
//! `internal/poll/fd_mutex.go`) that guarantees a descriptor number is never
//! closed, let alone reused, while an operation that names it is in flight.
//!
//! ```no_run
//! use ringio::net::{TcpListener, TcpStream};
//!
//! ringio::Runtime::new()?.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     let client = ringio::spawn(async move {
//!         let stream = TcpStream::connect(addr).await?;
//!         let (res, _) = stream.write_all(b"ping".to_vec()).await;
//!         res
//!     });
//!     let (stream, _peer) = listener.accept().await?;
//!     let (n, buf) = stream.read(Vec::with_capacity(16)).await;
//!     assert_eq!(&buf[..n?], b"ping");
//!     client.await.unwrap()
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! | platform | backend |
//! |---|---|
//! | Linux 6.0+ with io_uring allowed | io_uring (fixed files, `DEFER_TASKRUN` on 6.1+) |
//! | Linux without io_uring (seccomp, sysctl, old kernel) | epoll, files on a thread pool |
//! | macOS, FreeBSD, NetBSD, OpenBSD, DragonFly | kqueue, files on a thread pool |
//! | illumos, Solaris | event ports, files on a thread pool |
//!
//! The choice is made when a runtime starts ([`Runtime::backend`] reports it);
//! `RINGIO_BACKEND=uring|epoll|kqueue|port` or [`Builder::backend`] forces one.
//! With the `sim` feature, `Backend::Sim` (`RINGIO_BACKEND=sim`) is a
//! deterministic in-memory network on a virtual clock; see `ringio::sim`.
//!
//! Every operation takes its buffer by value and hands it back with the
//! result ([`BufResult`]); dropping an operation's future cancels it, and the
//! buffer stays owned by the engine until the kernel has let go of it.
//!
//! Descriptors ringio did not create go in a [`fd::Fd`], whose guards and
//! waiting `close` follow the same fd-mutex rule; on Linux, `ringio::linux` has
//! awaitable eventfd, timerfd, pidfd, signalfd and memfd handles.

// Without io_uring, the ring-only parts of shared types (SQE targets, the
// fixed-file allocator, multishot accept) are compiled but never used.
#![cfg_attr(not(uring), allow(dead_code))]

pub(crate) mod backend;
pub mod buf;
mod driver;
mod error;
pub mod fd;
pub mod fs;
pub mod io;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod net;
pub(crate) mod op;
pub mod reactor;
pub(crate) mod readiness;
pub(crate) mod ring;
pub mod runtime;
#[cfg(feature = "sim")]
pub mod sim;
pub(crate) mod sync;
pub mod time;

pub use driver::Backend;
pub use error::{BufResult, Error};
pub use ring::SetupMode;
pub use ring::Stats;
pub use runtime::{spawn, Builder, JoinError, JoinHandle, Runtime};

/// Submits a no-op through the ring and waits for its completion: the cost
/// of one round trip through the engine.
///
/// # Errors
///
/// [`Error::NoRuntime`] outside a runtime.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new().unwrap().block_on(async { ringio::nop().await.unwrap() });
/// ```
pub async fn nop() -> std::io::Result<()> {
    driver::Driver::current()?.submit(op::nop::Nop).await
}
