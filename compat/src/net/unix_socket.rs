//! [`UnixSocket`]: `tokio::net::UnixSocket`, a Unix socket (stream or
//! datagram) to configure and bind before it becomes a [`UnixListener`], a
//! [`UnixStream`] or a [`UnixDatagram`]. Until then it is a plain
//! non-blocking `socket2` socket; the conversions hand its descriptor to the
//! compat types' `from_std`, and a connect is finished as
//! [`UnixStream::connect`] finishes its own.

use super::{UnixDatagram, UnixListener, UnixStream};
use crate::reactor;
use socket2::{Domain, SockAddr, Socket, Type};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;

/// A Unix socket that is not yet a listener, a stream or a datagram socket,
/// as `tokio::net::UnixSocket`. Options it has no method for can be set on
/// its descriptor (`AsFd`), e.g. with `socket2::SockRef`.
///
/// # Examples
///
/// ```no_run
/// use ringio_compat::net::UnixSocket;
///
/// # async fn run() -> std::io::Result<()> {
/// let socket = UnixSocket::new_stream()?;
/// socket.bind("/tmp/server.sock")?;
/// let listener = socket.listen(1024)?;
/// let client = UnixSocket::new_stream()?.connect("/tmp/server.sock").await?;
/// let (server, _peer) = listener.accept().await?;
/// # drop((client, server)); Ok(()) }
/// ```
#[derive(Debug)]
pub struct UnixSocket {
    inner: Socket,
}

impl UnixSocket {
    fn new(ty: Type) -> io::Result<UnixSocket> {
        // socket2 sets `SOCK_CLOEXEC` itself.
        let inner = Socket::new(Domain::UNIX, ty.nonblocking(), None)?;
        Ok(UnixSocket { inner })
    }

    /// A new `SOCK_DGRAM` socket, for [`UnixSocket::datagram`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run() -> std::io::Result<()> {
    /// let socket = ringio_compat::net::UnixSocket::new_datagram()?;
    /// # drop(socket); Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Out of descriptors.
    pub fn new_datagram() -> io::Result<UnixSocket> {
        UnixSocket::new(Type::DGRAM)
    }

    /// A new `SOCK_STREAM` socket, for [`UnixSocket::listen`] or
    /// [`UnixSocket::connect`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run() -> std::io::Result<()> {
    /// let socket = ringio_compat::net::UnixSocket::new_stream()?;
    /// # drop(socket); Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Out of descriptors.
    pub fn new_stream() -> io::Result<UnixSocket> {
        UnixSocket::new(Type::STREAM)
    }

    /// The socket's type (`SO_TYPE`), read from the descriptor since
    /// `from_raw_fd` may have adopted any kind.
    fn ty(&self) -> io::Result<Type> {
        self.inner.r#type()
    }

    /// Binds to `path` (which must not exist).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run() -> std::io::Result<()> {
    /// let socket = ringio_compat::net::UnixSocket::new_datagram()?;
    /// socket.bind("/tmp/client.sock")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// `AddrInUse` if `path` exists, `InvalidInput` for a path too long for
    /// a `sockaddr_un`; `bind(2)`'s other errors.
    pub fn bind(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.bind(&SockAddr::unix(path)?)
    }

    /// Listens, with room for `backlog` connections not accepted yet.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let socket = ringio_compat::net::UnixSocket::new_stream()?;
    /// socket.bind("/tmp/server.sock")?;
    /// let listener = socket.listen(1024)?;
    /// # drop(listener); Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// On a datagram socket, an error of kind `Other` (as tokio's, message
    /// "listen cannot be called on a datagram socket"); `listen(2)`'s
    /// errors; outside a tokio runtime, an error.
    pub fn listen(self, backlog: u32) -> io::Result<UnixListener> {
        if self.ty()? == Type::DGRAM {
            return Err(io::Error::other("listen cannot be called on a datagram socket"));
        }
        self.inner.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        let fd = OwnedFd::from(self.inner);
        UnixListener::from_std(std::os::unix::net::UnixListener::from(fd))
    }

    /// Connects to the socket at `path`; dropping the future closes the
    /// socket. The connect counts once the socket reports writable, as with
    /// [`UnixStream::connect`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let socket = ringio_compat::net::UnixSocket::new_stream()?;
    /// socket.bind("/tmp/client.sock")?;
    /// let stream = socket.connect("/tmp/server.sock").await?;
    /// # drop(stream); Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// On a datagram socket, an error of kind `Other` (as tokio's, message
    /// "connect cannot be called on a datagram socket"); `NotFound`,
    /// `ConnectionRefused`, `WouldBlock` (the listener's backlog is full, as
    /// with tokio); outside a tokio runtime, an error.
    pub async fn connect(self, path: impl AsRef<Path>) -> io::Result<UnixStream> {
        if self.ty()? == Type::DGRAM {
            return Err(io::Error::other("connect cannot be called on a datagram socket"));
        }
        let addr = SockAddr::unix(path)?;
        // An adopted descriptor may be blocking; the connect must not wait here.
        self.inner.set_nonblocking(true)?;
        if let Err(e) = self.inner.connect(&addr) {
            if e.raw_os_error() != Some(rustix::io::Errno::INPROGRESS.raw_os_error()) {
                return Err(e);
            }
        }
        let std_stream = std::os::unix::net::UnixStream::from(OwnedFd::from(self.inner));
        let stream = reactor::with_entered(|| ringio::net::UnixStream::from_std(std_stream))?;
        UnixStream::connected(stream).await
    }

    /// Turns the socket into a [`UnixDatagram`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let socket = ringio_compat::net::UnixSocket::new_datagram()?;
    /// socket.bind("/tmp/client.sock")?;
    /// let datagram = socket.datagram()?;
    /// datagram.send_to(b"hello", "/tmp/server.sock").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// On a stream socket, an error of kind `Other` (as tokio's, message
    /// "datagram cannot be called on a stream socket"); outside a tokio
    /// runtime, an error.
    pub fn datagram(self) -> io::Result<UnixDatagram> {
        if self.ty()? == Type::STREAM {
            return Err(io::Error::other("datagram cannot be called on a stream socket"));
        }
        let fd = OwnedFd::from(self.inner);
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::from(fd))
    }
}

impl AsRawFd for UnixSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for UnixSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl FromRawFd for UnixSocket {
    /// Adopts a Unix socket descriptor, neither listening nor connected.
    ///
    /// # Safety
    ///
    /// `fd` must be an open Unix socket that nothing else owns.
    unsafe fn from_raw_fd(fd: RawFd) -> UnixSocket {
        // SAFETY: the caller hands over ownership of an open socket.
        let inner = unsafe { Socket::from_raw_fd(fd) };
        UnixSocket { inner }
    }
}

impl IntoRawFd for UnixSocket {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}
