//! `UnixListener`, `UnixStream` and `UnixSocketAddr`.

use super::listener::{Incoming, Listener};
use super::socket::{listener, socket, unix_addr, SOMAXCONN};
use super::stream::Stream;
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::Interest;
use rustix::net::{AddressFamily, SocketAddrAny, SocketAddrUnix, SocketType};
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};

/// The address of a Unix socket: a path, or unnamed (socketpair, unbound client).
///
/// # Examples
///
/// ```
/// let a = ringio::net::UnixSocketAddr::unnamed();
/// assert!(a.is_unnamed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocketAddr {
    path: Option<PathBuf>,
}

impl UnixSocketAddr {
    /// An address with no name.
    pub fn unnamed() -> Self {
        UnixSocketAddr { path: None }
    }

    /// The filesystem path, if the socket is bound to one.
    pub fn as_pathname(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// True if the socket has no filesystem name (abstract names also read as unnamed).
    pub fn is_unnamed(&self) -> bool {
        self.path.is_none()
    }

    pub(crate) fn from_any(addr: Option<SocketAddrAny>) -> Self {
        let path = addr.and_then(|a| SocketAddrUnix::try_from(a).ok()).and_then(|u| {
            u.path()
                .map(|p| PathBuf::from(std::ffi::OsStr::from_bytes(p.to_bytes())))
        });
        UnixSocketAddr { path }
    }
}

/// A Unix stream listener.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let listener = ringio::net::UnixListener::bind("/tmp/ringio.sock")?;
///     let (stream, _addr) = listener.accept().await?;
///     stream.close().await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UnixListener {
    inner: Listener,
}

impl UnixListener {
    /// Binds to `path` and listens (backlog `SOMAXCONN`).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let addr = SocketAddrAny::from(unix_addr(path.as_ref())?);
        let fd = listener(AddressFamily::UNIX, &addr, false, SOMAXCONN)?;
        Ok(UnixListener {
            inner: Listener::new(fd),
        })
    }

    /// Adopts a listening std socket (made non-blocking).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            inner: Listener::new(OwnedFd::from(listener)),
        })
    }

    /// Waits for a connection. Cancel safe, and any number of tasks may
    /// wait; see [`crate::net::TcpListener::accept`].
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors, [`crate::Error::Closed`]
    /// after close.
    pub async fn accept(&self) -> io::Result<(UnixStream, UnixSocketAddr)> {
        let (stream, addr) = self.inner.accept().await?;
        Ok((UnixStream { inner: stream }, UnixSocketAddr::from_any(addr)))
    }

    /// Poll-style accept; see [`crate::net::TcpListener::poll_accept`].
    ///
    /// # Errors
    ///
    /// As [`Self::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, UnixSocketAddr)>> {
        let (stream, addr) = std::task::ready!(self.inner.poll_accept(cx))?;
        Poll::Ready(Ok((UnixStream { inner: stream }, UnixSocketAddr::from_any(addr))))
    }

    /// A connection if one is queued now (a non-blocking `accept4`).
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is queued or another task is in
    /// [`Self::accept`]; otherwise as [`Self::accept`].
    pub fn try_accept(&self) -> io::Result<(UnixStream, UnixSocketAddr)> {
        let (inner, addr) = self.inner.try_accept()?;
        Ok((UnixStream { inner }, UnixSocketAddr::from_any(addr)))
    }

    /// Waits until a connection is queued. Every caller waits on its own,
    /// so every waiting task is woken; nothing is accepted.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Closed`] if the listener is closed meanwhile.
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// Accepted connections from one multishot accept.
    pub fn incoming(&self) -> Incoming<'_, UnixStream> {
        self.inner.incoming(|inner| UnixStream { inner })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        Ok(UnixSocketAddr::from_any(Some(
            self.inner.fd.with(|fd| rustix::net::getsockname(fd))?,
        )))
    }

    /// Closes the listener. Idempotent.
    pub async fn close(&self) -> io::Result<()> {
        self.inner.close().await
    }
}

impl AsRawFd for UnixListener {
    /// The descriptor number, or -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.raw_fd()
    }
}

/// A Unix stream connection.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let (a, b) = ringio::net::UnixStream::pair()?;
///     a.write_all(b"hi".to_vec()).await.0?;
///     let (n, buf) = b.read(Vec::with_capacity(8)).await;
///     assert_eq!(&buf[..n?], b"hi");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UnixStream {
    inner: Stream,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = SocketAddrAny::from(unix_addr(path.as_ref())?);
        let fd = socket(AddressFamily::UNIX, SocketType::STREAM)?;
        Ok(UnixStream {
            inner: Stream::connect(fd, addr).await?,
        })
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = super::socket::socketpair(AddressFamily::UNIX, SocketType::STREAM)?;
        Ok((
            UnixStream {
                inner: Stream::from_fd(a),
            },
            UnixStream {
                inner: Stream::from_fd(b),
            },
        ))
    }

    /// Adopts a connected std stream (made non-blocking).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            inner: Stream::from_fd(OwnedFd::from(stream)),
        })
    }

    /// Receives into `buf` (up to its capacity); `Ok(0)` is end of stream,
    /// or `buf` has no room (then at once, without waiting).
    ///
    /// Cancel safe: a read dropped at any point loses nothing. Bytes the
    /// kernel received for it stay with the stream and come first from the
    /// next read. Reads of one stream are serialized, in order.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.read(buf).await
    }

    /// Received bytes as a stream of buffers from `group`, shared with other
    /// connections; see [`TcpStream::recv_multi`](crate::net::TcpStream::recv_multi).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(stream: ringio::net::UnixStream) -> std::io::Result<()> {
    /// let group = ringio::buf::BufRing::new(0, 64, 4096)?;
    /// let mut rx = stream.recv_multi(&group);
    /// while let Some(buf) = rx.next().await {
    ///     println!("{:?}", &buf?[..]);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn recv_multi<'a>(&'a self, group: &crate::buf::BufRing) -> crate::net::RecvMulti<'a> {
        crate::net::RecvMulti::new(&self.inner, group)
    }

    /// Fills `buf` to its capacity, from its start.
    ///
    /// Cancel safe like [`Self::read`]: if dropped, the bytes it received
    /// come first from the next read.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the peer closes first (the buffer holds what came).
    pub async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        self.inner.read_exact(buf).await
    }

    /// Sends some of `buf`'s initialized bytes; returns how many.
    ///
    /// Follows tokio's rule: a `write` dropped before it returns has sent
    /// nothing (the send happens inside a poll; while the socket is full the
    /// future waits for readiness, which moves no data).
    ///
    /// # Errors
    ///
    /// `BrokenPipe`/`ConnectionReset` when the peer is gone (never SIGPIPE).
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.write(buf).await
    }

    /// Sends all of `buf`'s initialized bytes.
    ///
    /// Once polled, a `write_all` sends every byte even if its future is
    /// dropped: the rest goes out in the background, before any later write
    /// on this stream (unless the stream fails or is closed). So a dropped
    /// `write_all` has sent all of its buffer, never an unknown part.
    ///
    /// # Errors
    ///
    /// `BrokenPipe`/`ConnectionReset` when the peer is gone (never SIGPIPE).
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        self.inner.write_all(buf).await
    }

    /// Waits until the stream is readable: data, end of stream or an error
    /// is pending. Every caller waits on its own; nothing is consumed.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Closed`] if the stream is closed meanwhile.
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.ready(Interest::READABLE).await
    }

    /// Waits until the stream is writable (or has an error pending).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Closed`] if the stream is closed meanwhile.
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.ready(Interest::WRITABLE).await
    }

    /// Poll-style [`Self::readable`]. As with tokio, only the task that
    /// polled last is woken; readiness may be spurious, so follow it with
    /// [`Self::try_read`] and poll again on `WouldBlock`.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_ready(Interest::READABLE, cx)
    }

    /// Poll-style [`Self::writable`]; see [`Self::poll_read_ready`].
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_ready(Interest::WRITABLE, cx)
    }

    /// Receives what is pending into `buf` without waiting, straight from
    /// the socket (no intermediate buffer); `Ok(0)` is end of stream.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing is pending or another reader holds the
    /// stream's read lock; [`crate::Error::Closed`] after close.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(stream: &ringio::net::UnixStream) -> std::io::Result<usize> {
    /// let mut buf = [0u8; 4096];
    /// loop {
    ///     stream.readable().await?;
    ///     match stream.try_read(&mut buf) {
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         other => return other,
    ///     }
    /// }
    /// # }
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_read(buf)
    }

    /// [`Self::try_read`] into memory that need not be initialized (the
    /// kernel writes the first `n` bytes, which are then initialized).
    ///
    /// # Errors
    ///
    /// As [`Self::try_read`].
    pub fn try_read_uninit(&self, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
        self.inner.try_read_uninit(buf)
    }

    /// Sends as much of `buf` as the socket takes now; `Ok(n)` means the
    /// kernel has accepted exactly those `n` bytes.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the send buffer is full or another writer holds the
    /// write lock; `BrokenPipe`/`ConnectionReset` when the peer is gone.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_write(buf)
    }

    /// [`Self::try_write`] for several buffers in one `sendmsg`.
    ///
    /// # Errors
    ///
    /// As [`Self::try_write`].
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.inner.try_write_vectored(bufs)
    }

    /// Shuts down one or both halves.
    ///
    /// Takes effect at once, even while a dropped `write_all` is still
    /// sending its rest in the background; to end the stream after every
    /// write (a proxy passing on end of stream), use
    /// [`Self::shutdown_write`].
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }

    /// Ends the write half (`shutdown(Write)`) after every write before it
    /// has sent its bytes, a dropped `write_all` finishing in the background
    /// included; the peer then reads end of stream. Reads go on.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(s: &ringio::net::UnixStream) -> std::io::Result<()> {
    /// s.write_all(b"last words".to_vec()).await.0?;
    /// s.shutdown_write().await?;
    /// # Ok(()) }
    /// ```
    pub async fn shutdown_write(&self) -> io::Result<()> {
        self.inner.shutdown_write().await
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<UnixSocketAddr> {
        Ok(UnixSocketAddr::from_any(self.inner.peer_addr().ok()))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        Ok(UnixSocketAddr::from_any(Some(self.inner.local_addr()?)))
    }

    /// Closes the connection (see [`crate::net::TcpStream::close`]). Idempotent.
    pub async fn close(&self) -> io::Result<()> {
        self.inner.close().await
    }
}

impl AsRawFd for UnixStream {
    /// The descriptor number, or -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.raw_fd()
    }
}

super::lend::lend_fd!(UnixListener);
super::lend::lend_fd!(UnixStream);
