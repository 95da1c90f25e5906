//! # ringio-compat
//!
//! Drop-in replacements for `tokio::net` and `tokio::fs` types, backed by
//! ringio and running inside an existing tokio runtime (current-thread or
//! multi-thread). Swap the `use` lines:
//!
//! ```no_run
//! // use tokio::net::{TcpListener, TcpStream};
//! use ringio_compat::net::{TcpListener, TcpStream};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     tokio::spawn(async move {
//!         let (mut socket, _) = listener.accept().await?;
//!         let mut buf = [0u8; 4];
//!         socket.read_exact(&mut buf).await?;
//!         socket.write_all(&buf).await
//!     });
//!     let mut stream = TcpStream::connect(addr).await?;
//!     stream.write_all(b"ping").await?;
//!     let mut reply = [0u8; 4];
//!     stream.read_exact(&mut reply).await?;
//!     assert_eq!(&reply, b"ping");
//!     Ok(())
//! }
//! ```
//!
//! ## How it runs
//!
//! Each tokio thread that uses these types gets a hosted ringio
//! [`Reactor`](ringio::reactor::Reactor) (io_uring, or epoll where io_uring is
//! unavailable or `RINGIO_BACKEND=epoll`), driven by a task on the same
//! runtime that watches the reactor's descriptor through tokio's own reactor.
//! A descriptor belongs to the reactor of the thread that created it;
//! operations from other threads reach that reactor through a lock-free queue.
//! With `RINGIO_COMPAT_PINNED=1`, a current-thread runtime's reactor is
//! pinned to the runtime's thread (`DEFER_TASKRUN`: the kernel never
//! interrupts the thread to run the ring's completion work), for programs
//! that never drive that runtime from another thread.
//!
//! Stream reads are non-blocking `recv`s into the caller's buffer after a
//! readiness wait through the reactor's poller: on io_uring an epoll of the
//! reactor's own, one edge-triggered registration per socket, since a
//! `POLL_ADD` on a ring any thread turns completes by interrupting the
//! thread (`RINGIO_COMPAT_WAITS=ring` makes each wait one anyway).
//! With `RINGIO_COMPAT_READS=completion` (io_uring with buffer rings; not
//! the default yet, see `docs/migrating-from-tokio.md`) they come from one
//! multishot receive per stream into a buffer group per reactor instead:
//! `poll_read` copies what arrived, with no syscall. Writes are non-blocking `send`s from
//! the caller's buffer, tried first and waiting only on `WouldBlock`, so
//! `poll_write` returns `Ok(n)` only when the kernel took `n` bytes. Files go through the ring with one owned buffer,
//! as `tokio::fs::File` does with its thread pool. `docs/migrating-from-tokio.md`
//! lists the covered API, the differences, and when the owned-buffer API of
//! `ringio` itself is the better tool.
//!
//! ## Features
//!
//! - `futures-io`: `futures_io::AsyncRead`/`AsyncWrite` on the stream types.
//! - `axum`: `axum::serve::Listener` for [`net::TcpListener`] and
//!   [`net::UnixListener`], so `axum::serve(listener, app)` takes them.
//! - `tonic`: tonic's `Connected` for [`net::TcpStream`] and
//!   [`net::UnixStream`], so
//!   `Server::serve_with_incoming(TcpListenerStream::new(listener))` works.
//! - `stream`: `net::TcpListenerStream` and `net::UnixListenerStream`.
//! - `codec`: `udp::UdpFramed`, tokio-util's codecs over a compat `UdpSocket`.

pub mod fs;
pub mod net;
mod reactor;
#[cfg(feature = "codec")]
pub mod udp;

/// The backend of the calling thread's reactor (creating it if needed).
///
/// # Errors
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// println!("ringio-compat runs on {}", ringio_compat::backend()?);
/// # Ok(()) }
/// ```
pub fn backend() -> std::io::Result<ringio::Backend> {
    Ok(reactor::current()?.backend())
}
