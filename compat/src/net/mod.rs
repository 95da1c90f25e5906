//! Sockets with `tokio::net`'s names: swap `use tokio::net::...` for
//! `use ringio_compat::net::...`. See `docs/migrating-from-tokio.md` for the
//! covered subset.

mod poll_io;
pub(crate) mod split;
pub mod tcp;
mod udp;
pub mod unix;

pub use split::Splittable;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
