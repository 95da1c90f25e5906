//! `TcpSocket`: a TCP socket before it is a listener or a stream, for the
//! options that must be set before `bind`, `listen` or `connect` (address
//! reuse, buffer sizes, the listen backlog).

use super::socket::{inet_addr, socket, SOMAXCONN};
use super::stream::Stream;
use super::tcp::{TcpListener, TcpStream};
use rustix::net::{AddressFamily, SocketAddrAny, SocketType};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// A TCP socket that is neither listening nor connected yet.
///
/// Mirrors `tokio::net::TcpSocket`: create it for an address family, set
/// options, then [`listen`](TcpSocket::listen) with a backlog or
/// [`connect`](TcpSocket::connect). The descriptor is close-on-exec and
/// non-blocking from the start.
///
/// # Examples
///
/// ```no_run
/// use ringio::net::TcpSocket;
/// ringio::Runtime::new()?.block_on(async {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(8192)?;
///     println!("listening on {}", listener.local_addr()?);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    fd: OwnedFd,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    ///
    /// # Errors
    ///
    /// `socket(2)`'s errors, e.g. `EMFILE` when out of descriptors.
    pub fn new_v4() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: socket(AddressFamily::INET, SocketType::STREAM)?,
        })
    }

    /// A new IPv6 TCP socket.
    ///
    /// # Errors
    ///
    /// As [`TcpSocket::new_v4`].
    pub fn new_v6() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: socket(AddressFamily::INET6, SocketType::STREAM)?,
        })
    }

    /// Sets `SO_REUSEADDR` (rebinding a port with connections in `TIME_WAIT`).
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_reuseaddr(&self, reuse: bool) -> io::Result<()> {
        Ok(rustix::net::sockopt::set_socket_reuseaddr(&self.fd, reuse)?)
    }

    /// Sets `SO_REUSEPORT`: several sockets (one per core) may bind the same
    /// address, and the kernel spreads incoming connections over them.
    ///
    /// # Errors
    ///
    /// `Unsupported` on illumos and Solaris, which lack it; else
    /// `setsockopt(2)`'s errors.
    pub fn set_reuseport(&self, reuse: bool) -> io::Result<()> {
        #[cfg(not(any(target_os = "illumos", target_os = "solaris")))]
        return Ok(rustix::net::sockopt::set_socket_reuseport(&self.fd, reuse)?);
        #[cfg(any(target_os = "illumos", target_os = "solaris"))]
        {
            let _ = reuse;
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "SO_REUSEPORT is not available on this platform",
            ))
        }
    }

    /// Sets the size of the kernel's send buffer (`SO_SNDBUF`).
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        Ok(rustix::net::sockopt::set_socket_send_buffer_size(
            &self.fd,
            size as usize,
        )?)
    }

    /// Sets the size of the kernel's receive buffer (`SO_RCVBUF`).
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        Ok(rustix::net::sockopt::set_socket_recv_buffer_size(
            &self.fd,
            size as usize,
        )?)
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) before connecting.
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        Ok(rustix::net::sockopt::set_tcp_nodelay(&self.fd, nodelay)?)
    }

    /// Binds to `addr`.
    ///
    /// # Errors
    ///
    /// `bind(2)`'s errors: `AddrInUse`, `AddrNotAvailable`, ...
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        #[cfg(feature = "sim")]
        if let Some(res) = crate::sim::bind_unadopted(&self.fd, addr) {
            return res;
        }
        Ok(rustix::net::bind(&self.fd, &SocketAddrAny::from(addr))?)
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    ///
    /// `getsockname(2)`'s errors.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        #[cfg(feature = "sim")]
        if let Some(res) = crate::sim::local_addr_unadopted(&self.fd) {
            return res;
        }
        inet_addr(rustix::net::getsockname(&self.fd)?)
    }

    /// Starts listening, with room for `backlog` connections that completed
    /// the handshake but were not accepted yet. The kernel caps it at
    /// `net.core.somaxconn`; [`TcpListener::bind`] asks for `SOMAXCONN`.
    ///
    /// # Errors
    ///
    /// `listen(2)`'s errors.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        #[cfg(feature = "sim")]
        if let Some(res) = crate::sim::listen_unadopted(&self.fd, backlog) {
            return res.map(|()| TcpListener::from_fd(self.fd));
        }
        let backlog = i32::try_from(backlog).unwrap_or(SOMAXCONN);
        rustix::net::listen(&self.fd, backlog)?;
        Ok(TcpListener::from_fd(self.fd))
    }

    /// Connects to `addr`. Dropping the future cancels the connect and closes
    /// the socket.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused`, `TimedOut`, `AddrNotAvailable`, ...
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        Stream::connect(self.fd, SocketAddrAny::from(addr))
            .await
            .map(TcpStream::from_stream)
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<TcpSocket> for OwnedFd {
    fn from(socket: TcpSocket) -> OwnedFd {
        socket.fd
    }
}

impl From<OwnedFd> for TcpSocket {
    /// Adopts a TCP socket that is neither listening nor connected; it
    /// should be non-blocking (a blocking one makes a readiness backend's
    /// connect block the thread).
    fn from(fd: OwnedFd) -> TcpSocket {
        TcpSocket { fd }
    }
}
