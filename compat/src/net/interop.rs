//! std and raw-descriptor interop for the compat sockets, as tokio has it:
//! `into_std` (a duplicate of the descriptor, still non-blocking, after
//! which the compat socket closes its own), `TryFrom` the std types
//! (`from_std`), `AsRawFd`, and `AsFd` (so `socket2::SockRef::from(&s)`
//! works, as on tokio's types), which the engine handle lends for its life.

use super::lend::{dup, Lend};
use super::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use crate::reactor;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// `into_std`, `TryFrom<std type>`, `AsRawFd` and `AsFd` for a compat socket whose
/// engine socket is `$engine`.
macro_rules! interop {
    ($ty:ty, $std:ty, $s:ident => $engine:expr) => {
        impl $ty {
            /// Turns this socket into its std counterpart, which stays in
            /// non-blocking mode (as with tokio); pending readiness waits
            /// are cancelled.
            ///
            /// # Errors
            ///
            /// Out of descriptors (the descriptor is duplicated).
            ///
            /// # Examples
            ///
            /// ```no_run
            /// # fn f(socket: ringio_compat::net::UdpSocket) -> std::io::Result<()> {
            /// let std_socket = socket.into_std()?;
            /// std_socket.set_nonblocking(false)?;
            /// # Ok(()) }
            /// ```
            pub fn into_std(self) -> io::Result<$std> {
                let fd = {
                    let $s = &self;
                    dup($engine)?
                };
                drop(self);
                Ok(<$std>::from(fd))
            }
        }

        impl TryFrom<$std> for $ty {
            type Error = io::Error;

            /// As `from_std`.
            fn try_from(socket: $std) -> io::Result<$ty> {
                <$ty>::from_std(socket)
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                let $s = self;
                $engine.lend(|fd| Ok(fd.as_raw_fd())).unwrap_or(-1)
            }
        }

        impl AsFd for $ty {
            /// The socket's descriptor. From the first call on, closing
            /// the engine socket through `as_ringio()` is refused: it
            /// closes when this socket drops.
            ///
            /// # Panics
            ///
            /// If the engine socket was closed through `as_ringio()` first.
            fn as_fd(&self) -> BorrowedFd<'_> {
                let $s = self;
                lent($engine.lend_for_life())
            }
        }
    };
}

/// What `AsFd` returns: the descriptor, lent by the engine handle for its
/// whole life, so that the borrow is sound (see `lend_fd` in ringio).
pub(crate) fn lent(fd: io::Result<BorrowedFd<'_>>) -> BorrowedFd<'_> {
    // Refused only after the engine handle's own `close`, reachable only
    // through `as_ringio()`; compat never calls it.
    fd.expect("AsFd on a compat handle closed through `as_ringio().close()`")
}

interop!(TcpStream, std::net::TcpStream, s => s.inner.get());
interop!(TcpListener, std::net::TcpListener, s => &s.inner);
interop!(UdpSocket, std::net::UdpSocket, s => &s.inner);
interop!(UnixStream, std::os::unix::net::UnixStream, s => s.inner.get());
interop!(UnixListener, std::os::unix::net::UnixListener, s => &s.inner);
interop!(UnixDatagram, std::os::unix::net::UnixDatagram, s => &s.inner);

impl UdpSocket {
    /// Adopts a bound std socket (made non-blocking).
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime, or if the socket cannot be made non-blocking.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let socket = ringio_compat::net::UdpSocket::from_std(std_socket)?;
    /// # drop(socket); Ok(()) }
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        reactor::with_entered(|| ringio::net::UdpSocket::from_std(socket)).map(|inner| UdpSocket { inner })
    }
}
