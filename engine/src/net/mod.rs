//! Sockets: TCP and Unix streams and listeners, UDP and Unix datagram sockets.
//!
//! Every socket is created `SOCK_CLOEXEC | SOCK_NONBLOCK`, registered in the
//! runtime's fixed-file table when a slot is free, and closed through the fd
//! mutex: `close().await` (or drop) cancels what is in flight and closes the
//! number only after the kernel has finished with it.
//!
//! Reads on one stream are serialized by the fd mutex's read lock, writes by
//! its write lock, so concurrent tasks never interleave bytes mid-operation;
//! a read and a write run concurrently.
//!
//! # Readiness waits
//!
//! `readable()`, `writable()` and the `poll_*_ready` methods follow tokio's
//! contract: they may complete while nothing is left to do (a false
//! positive), and the `try_*` call that follows says `WouldBlock`. On the
//! readiness backends a socket's readiness is kept from the poller's report
//! until one of its non-blocking calls (`try_read`, `try_accept`, ... or a
//! caller's own through `try_io`) finds it blocked, so a loop that waits and
//! then calls the descriptor directly, outside `try_io`, would never wait.

mod datagram;
mod lend;
mod listener;
pub(crate) mod ready;
mod recv_multi;
mod socket;
mod stream;
/// Helpers other modules reuse.
pub(crate) mod stream_support {
    pub(crate) use super::stream::try_buf;
}
mod tcp;
mod tcp_socket;
mod udp;
mod unix;
mod unix_datagram;
mod write_all;

#[cfg(target_vendor = "apple")]
pub(crate) use socket::prepare as prepare_socket;

pub use datagram::RecvMsgMeta;
pub use listener::Incoming;
pub use recv_multi::RecvMulti;
pub use tcp::{TcpListener, TcpStream};
pub use tcp_socket::TcpSocket;
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixSocketAddr, UnixStream};
pub use unix_datagram::UnixDatagram;
