//! Sockets with `tokio::net`'s names: swap `use tokio::net::...` for
//! `use ringio_compat::net::...`. See `docs/migrating-from-tokio.md` for the
//! covered subset.

#[cfg(feature = "axum")]
mod axum_listener;
mod buf_reads;
mod cached;
mod completion;
mod interop;
pub(crate) use interop::lent;
mod lend;
#[cfg(feature = "stream")]
mod listener_stream;
mod peek;
mod poll_io;
mod read_group;
pub(crate) mod reads_config;
mod ready;
pub(crate) use read_group::ReadGroup;
pub(crate) mod split;
mod stream_extra;
pub mod tcp;
mod tcp_socket;
#[cfg(feature = "tonic")]
mod tonic_connected;
mod ucred;
mod udp;
mod udp_opts;
mod udp_poll;
pub mod unix;
mod unix_addr;
mod unix_datagram;
mod unix_socket;

#[cfg(feature = "stream")]
pub use listener_stream::{TcpListenerStream, UnixListenerStream};
pub use split::Splittable;
pub use tcp::{TcpListener, TcpStream};
pub use tcp_socket::TcpSocket;
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
pub use unix_datagram::UnixDatagram;
pub use unix_socket::UnixSocket;
