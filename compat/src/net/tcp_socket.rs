//! [`TcpSocket`]: `tokio::net::TcpSocket` over `ringio::net::TcpSocket`, a
//! TCP socket to configure before it listens or connects. Options ringio
//! has no setter for go through `socket2`, on the socket's own descriptor.

use super::{TcpListener, TcpStream};
use crate::reactor;
use socket2::SockRef;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A TCP socket that is neither listening nor connected yet, as
/// `tokio::net::TcpSocket`.
///
/// # Examples
///
/// ```no_run
/// use ringio_compat::net::TcpSocket;
///
/// # async fn run() -> std::io::Result<()> {
/// let socket = TcpSocket::new_v4()?;
/// socket.set_reuseaddr(true)?;
/// socket.bind("127.0.0.1:0".parse().unwrap())?;
/// let listener = socket.listen(1024)?;
/// let client = TcpSocket::new_v4()?.connect(listener.local_addr()?).await?;
/// # drop(client); Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    inner: ringio::net::TcpSocket,
}

impl TcpSocket {
    /// A new IPv4 socket.
    ///
    /// # Errors
    ///
    /// Out of descriptors.
    pub fn new_v4() -> io::Result<TcpSocket> {
        ringio::net::TcpSocket::new_v4().map(|inner| TcpSocket { inner })
    }

    /// A new IPv6 socket.
    ///
    /// # Errors
    ///
    /// Out of descriptors; IPv6 unavailable.
    pub fn new_v6() -> io::Result<TcpSocket> {
        ringio::net::TcpSocket::new_v6().map(|inner| TcpSocket { inner })
    }

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(&self.inner)
    }

    /// Sets `SO_KEEPALIVE`.
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.sock().set_keepalive(keepalive)
    }

    /// Reads `SO_KEEPALIVE`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.sock().keepalive()
    }

    /// Sets `SO_REUSEADDR`.
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.inner.set_reuseaddr(reuseaddr)
    }

    /// Reads `SO_REUSEADDR`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.sock().reuse_address()
    }

    /// Sets `SO_REUSEPORT`.
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.inner.set_reuseport(reuseport)
    }

    /// Reads `SO_REUSEPORT`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn reuseport(&self) -> io::Result<bool> {
        self.sock().reuse_port()
    }

    /// Sets `SO_SNDBUF` (the kernel doubles it, and clamps it).
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(size)
    }

    /// Reads `SO_SNDBUF`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.sock().send_buffer_size().map(|n| n as u32)
    }

    /// Sets `SO_RCVBUF` (the kernel doubles it, and clamps it).
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(size)
    }

    /// Reads `SO_RCVBUF`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.sock().recv_buffer_size().map(|n| n as u32)
    }

    /// Sets `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.sock().set_linger(dur)
    }

    /// `SO_LINGER` of zero: closing sends a reset and drops unsent data.
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// Reads `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.sock().linger()
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock().tcp_nodelay()
    }

    /// Reads `IPV6_TCLASS`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors (on an IPv4 socket, among others).
    pub fn tclass_v6(&self) -> io::Result<u32> {
        self.sock().tclass_v6()
    }

    /// Sets `IPV6_TCLASS`.
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_tclass_v6(&self, tclass: u32) -> io::Result<()> {
        self.sock().set_tclass_v6(tclass)
    }

    /// Reads `IP_TOS`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn tos_v4(&self) -> io::Result<u32> {
        self.sock().tos_v4()
    }

    /// Sets `IP_TOS`.
    ///
    /// # Errors
    ///
    /// `setsockopt(2)`'s errors.
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        self.sock().set_tos_v4(tos)
    }

    /// Reads `SO_BINDTODEVICE`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn device(&self) -> io::Result<Option<Vec<u8>>> {
        self.sock().device()
    }

    /// Sets `SO_BINDTODEVICE` (`None` unbinds).
    ///
    /// # Errors
    ///
    /// `PermissionDenied` without `CAP_NET_RAW`, ...
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        self.sock().bind_device(interface)
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// `getsockname(2)`'s errors.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock().take_error()
    }

    /// Binds to `addr`.
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `AddrNotAvailable`, ...
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(addr)
    }

    /// Connects to `addr`; dropping the future closes the socket.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused`, `TimedOut`, ...; outside a tokio runtime, an error.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        reactor::entered(self.inner.connect(addr)).await.map(TcpStream::wrap)
    }

    /// Listens, with room for `backlog` connections not accepted yet.
    ///
    /// # Errors
    ///
    /// `listen(2)`'s errors; outside a tokio runtime, an error.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        reactor::with_entered(|| self.inner.listen(backlog)).map(|inner| TcpListener { inner })
    }

    /// Adopts a std stream's socket (made non-blocking), e.g. one made by
    /// `socket2` and not connected yet.
    pub fn from_std_stream(std_stream: std::net::TcpStream) -> TcpSocket {
        if let Err(err) = std_stream.set_nonblocking(true) {
            tracing::warn!(%err, "TcpSocket::from_std_stream: cannot make the socket non-blocking");
        }
        TcpSocket {
            inner: ringio::net::TcpSocket::from(OwnedFd::from(std_stream)),
        }
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl FromRawFd for TcpSocket {
    /// Adopts a TCP socket descriptor (made non-blocking).
    ///
    /// # Safety
    ///
    /// `fd` must be an open TCP socket that nothing else owns.
    unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
        // SAFETY: the caller hands over ownership of an open socket.
        let std_stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
        TcpSocket::from_std_stream(std_stream)
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        OwnedFd::from(self.inner).into_raw_fd()
    }
}
