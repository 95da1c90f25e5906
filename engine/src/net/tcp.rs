//! `TcpListener` and `TcpStream`.

use super::listener::{Incoming, Listener};
use super::socket::{each_addr, each_addr_async, family_of, inet_addr, listener, socket, SOMAXCONN};
use super::stream::Stream;
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::Interest;
use rustix::net::{SocketAddrAny, SocketType};
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::task::{Context, Poll};

/// A TCP listening socket.
///
/// # Examples
///
/// ```no_run
/// use ringio::net::TcpListener;
/// ringio::Runtime::new()?.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:8080")?;
///     loop {
///         let (stream, peer) = listener.accept().await?;
///         ringio::spawn(async move {
///             let (res, buf) = stream.read(vec![0u8; 4096]).await;
///             if let Ok(n) = res {
///                 let _ = stream.write_all(buf[..n].to_vec()).await;
///             }
///         });
///         # let _ = peer; break Ok::<(), std::io::Error>(());
///     }
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TcpListener {
    inner: Listener,
}

impl TcpListener {
    /// Binds and listens (`SO_REUSEADDR`, backlog `SOMAXCONN`; see
    /// [`crate::net::TcpSocket`] for another backlog). Binding is synchronous.
    ///
    /// # Errors
    ///
    /// Resolution, `socket`, `bind` or `listen` errors (`AddrInUse`, ...).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with(addr, false)
    }

    /// Like [`TcpListener::bind`] with `SO_REUSEPORT`, so one listener per
    /// core can share a port (see [`crate::runtime::spawn_per_core`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new().unwrap().block_on(async {
    ///     let a = ringio::net::TcpListener::bind_reuseport("127.0.0.1:9000")?;
    ///     let b = ringio::net::TcpListener::bind_reuseport("127.0.0.1:9000")?;
    ///     Ok::<_, std::io::Error>((a, b))
    /// }).unwrap();
    /// ```
    pub fn bind_reuseport(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with(addr, true)
    }

    fn bind_with(addr: impl ToSocketAddrs, reuse_port: bool) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            listener(family_of(&a), &SocketAddrAny::from(a), reuse_port, SOMAXCONN)
        })
        .map(|fd| TcpListener {
            inner: Listener::new(fd),
        })
    }

    pub(crate) fn from_fd(fd: OwnedFd) -> TcpListener {
        TcpListener {
            inner: Listener::new(fd),
        }
    }

    /// Adopts a listening std socket (made non-blocking).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            inner: Listener::new(OwnedFd::from(listener)),
        })
    }

    /// Waits for a connection.
    ///
    /// Cancel safe: a connection the kernel accepted for an `accept` that was
    /// dropped waits on the listener for the next `accept` (and is closed
    /// only with the listener). Any number of tasks may wait in `accept`;
    /// they take connections in turn.
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors (the listener stays usable),
    /// [`crate::Error::Closed`] after close.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.inner.accept().await?;
        let addr = addr
            .ok_or_else(|| io::Error::other("accept returned no peer address"))
            .and_then(inet_addr)?;
        Ok((TcpStream { inner: stream }, addr))
    }

    /// Poll-style accept, for adapters: a non-blocking `accept4`, else a
    /// readiness wait (only the task that polled last is woken). Cancel
    /// safe: a connection leaves the kernel's queue only when returned.
    ///
    /// # Errors
    ///
    /// As [`Self::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) = std::task::ready!(self.inner.poll_accept(cx))?;
        let addr = addr
            .ok_or_else(|| io::Error::other("accept returned no peer address"))
            .and_then(inet_addr)?;
        Poll::Ready(Ok((TcpStream { inner: stream }, addr)))
    }

    /// A connection if one is queued now (a non-blocking `accept4`).
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is queued or another task is in
    /// [`Self::accept`]; otherwise as [`Self::accept`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(listener: &ringio::net::TcpListener) -> std::io::Result<()> {
    /// loop {
    ///     match listener.try_accept() {
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => listener.readable().await?,
    ///         other => break drop(other?),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn try_accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.inner.try_accept()?;
        let addr = addr
            .ok_or_else(|| io::Error::other("accept returned no peer address"))
            .and_then(inet_addr)?;
        Ok((TcpStream { inner: stream }, addr))
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
    pub fn incoming(&self) -> Incoming<'_, TcpStream> {
        self.inner.incoming(|inner| TcpStream { inner })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.inner.fd.sim() {
            let _lease = self.inner.fd.incref()?;
            return sock.local_addr();
        }
        inet_addr(self.inner.fd.with(|fd| rustix::net::getsockname(fd))?)
    }

    /// Closes the listener: cancels pending accepts and returns once the
    /// descriptor is closed. Idempotent.
    pub async fn close(&self) -> io::Result<()> {
        self.inner.close().await
    }
}

impl AsRawFd for TcpListener {
    /// The descriptor number, or -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.raw_fd()
    }
}

/// A TCP connection. Reads and writes take owned buffers and hand them back.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let stream = ringio::net::TcpStream::connect("127.0.0.1:8080").await?;
///     let (res, _buf) = stream.write_all(b"hello".to_vec()).await;
///     res?;
///     stream.close().await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TcpStream {
    inner: Stream,
}

impl TcpStream {
    /// Connects to the first address that accepts. Name resolution, if any,
    /// is synchronous: pass a literal address on hot paths.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused`, `TimedOut`, ...; the socket is closed on failure.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr_async(addr, |a| async move {
            let fd = socket(family_of(&a), SocketType::STREAM)?;
            Stream::connect(fd, SocketAddrAny::from(a)).await
        })
        .await
        .map(|inner| TcpStream { inner })
    }

    pub(crate) fn from_stream(inner: Stream) -> TcpStream {
        TcpStream { inner }
    }

    /// The socket's handle, for operations that live elsewhere (`File::splice_to`).
    pub(crate) fn handle(&self) -> &crate::fd::descriptor::Handle {
        &self.inner.fd
    }

    /// Adopts a connected std stream (made non-blocking).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
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

    /// Received bytes as a stream of buffers from `group`, which many
    /// connections may share: on io_uring one multishot receive into a
    /// provided-buffer ring (Linux 6.0), so an idle connection holds no
    /// buffer; elsewhere a plain receive into a buffer from the group.
    ///
    /// Cancel safe like [`Self::read`]: bytes received but not handed out
    /// when the stream (or a `next()`) is dropped come first from the next
    /// read. See [`RecvMulti`](crate::net::RecvMulti).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(stream: ringio::net::TcpStream) -> std::io::Result<()> {
    /// let group = ringio::buf::BufRing::new(0, 128, 4096)?;
    /// let mut rx = stream.recv_multi(&group);
    /// while let Some(buf) = rx.next().await {
    ///     let (res, _) = stream.write_all(buf?).await; // echo, no copy
    ///     res?;
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

    /// [`Self::write_all`] with zero-copy sends (`IORING_OP_SEND_ZC`, Linux
    /// 6.0): the kernel transmits from `buf`'s own pages instead of copying
    /// them into the socket. The buffer is handed back only once the kernel
    /// has let go of those pages (its notification), which can be after the
    /// peer acknowledged the data, so it pays for large buffers (measured
    /// elsewhere at 8-16 KiB and up on real NICs) and costs more for small
    /// ones; on loopback the kernel copies anyway (`Stats::zc_copied`).
    /// Where the ring lacks `SEND_ZC`, and on readiness backends, it is
    /// `write_all`. Same cancel rule as `write_all`: once polled, every byte
    /// is sent even if the future is dropped.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(s: &ringio::net::TcpStream) -> std::io::Result<()> {
    /// let (res, chunk) = s.write_all_zc(vec![0u8; 1 << 20]).await;
    /// res?; // `chunk`'s pages are the kernel's no more
    /// # drop(chunk); Ok(()) }
    /// ```
    pub async fn write_all_zc<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        self.inner.write_all_zc(buf).await
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
    /// # async fn f(stream: &ringio::net::TcpStream) -> std::io::Result<usize> {
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

    /// Shuts down the read half, the write half or both.
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
    /// # async fn f(s: &ringio::net::TcpStream) -> std::io::Result<()> {
    /// s.write_all(b"last words".to_vec()).await.0?;
    /// s.shutdown_write().await?;
    /// # Ok(()) }
    /// ```
    pub async fn shutdown_write(&self) -> io::Result<()> {
        self.inner.shutdown_write().await
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        inet_addr(self.inner.peer_addr()?)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet_addr(self.inner.local_addr()?)
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner
            .fd
            .with(|fd| rustix::net::sockopt::set_tcp_nodelay(fd, nodelay))
    }

    /// Reads `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.fd.with(|fd| rustix::net::sockopt::tcp_nodelay(fd))
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes closing the stream
    /// send a reset instead of a FIN, dropping unsent data: how a proxy
    /// passes a reset on to the other side.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(s: ringio::net::TcpStream) -> std::io::Result<()> {
    /// s.set_linger(Some(std::time::Duration::ZERO))?;
    /// s.close().await // the peer reads ECONNRESET
    /// # }
    /// ```
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        self.inner
            .fd
            .with(|fd| rustix::net::sockopt::set_socket_linger(fd, linger))
    }

    /// Reads `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        self.inner.fd.with(|fd| rustix::net::sockopt::socket_linger(fd))
    }

    /// Closes the connection: cancels in-flight operations, waits until the
    /// kernel has finished with them, then closes the descriptor. Idempotent.
    pub async fn close(&self) -> io::Result<()> {
        self.inner.close().await
    }
}

impl AsRawFd for TcpStream {
    /// The descriptor number, or -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.raw_fd()
    }
}

super::lend::lend_fd!(TcpListener);
super::lend::lend_fd!(TcpStream);
