//! Unix domain sockets: [`UnixListener`] and [`UnixStream`], with tokio's
//! method names, plus what lives under `tokio::net::unix`: the split halves,
//! [`SocketAddr`] and [`UCred`].

use super::cached::Cached;
use super::split::{self, Splittable};
pub use super::ucred::{gid_t, pid_t, uid_t, UCred};
pub use super::unix_addr::SocketAddr;
use crate::reactor;
use std::io;
use std::path::Path;
use std::task::{Context, Poll};

/// The read half of a [`UnixStream`] borrowed by [`UnixStream::split`].
pub type ReadHalf<'a> = split::ReadHalf<'a, UnixStream>;
/// The write half of a [`UnixStream`] borrowed by [`UnixStream::split`].
pub type WriteHalf<'a> = split::WriteHalf<'a, UnixStream>;
/// The read half from [`UnixStream::into_split`].
pub type OwnedReadHalf = split::OwnedReadHalf<UnixStream>;
/// The write half from [`UnixStream::into_split`]; dropping it shuts the write side down.
pub type OwnedWriteHalf = split::OwnedWriteHalf<UnixStream>;
/// Error of `reunite` with halves of different streams.
pub type ReuniteError = split::ReuniteError<UnixStream>;

/// True for a path naming Linux's abstract namespace (a leading NUL byte),
/// which the engine's binds and connects do not take; those go through
/// [`UnixSocket`](super::UnixSocket) (socket2's address, which does).
fn is_abstract(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().first() == Some(&0)
}

/// The path of a named address.
fn pathname(addr: &SocketAddr) -> io::Result<&Path> {
    addr.as_pathname()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a pathname socket address"))
}

/// A Unix stream listener, as `tokio::net::UnixListener`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let listener = ringio_compat::net::UnixListener::bind("/tmp/ringio.sock")?;
/// let (stream, _addr) = listener.accept().await?;
/// # drop(stream); Ok(()) }
/// ```
#[derive(Debug)]
pub struct UnixListener {
    pub(crate) inner: ringio::net::UnixListener,
}

impl UnixListener {
    /// Adopts a listening std socket (made non-blocking).
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime, or if the socket cannot be made non-blocking.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        reactor::with_entered(|| ringio::net::UnixListener::from_std(listener)).map(|inner| UnixListener { inner })
    }

    /// Binds to `path` (which must not exist); a path that starts with a
    /// NUL byte names Linux's abstract namespace, as with tokio.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if `path` exists; outside a tokio runtime, an error.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        if is_abstract(path.as_ref()) {
            let socket = super::UnixSocket::new_stream()?;
            socket.bind(path)?;
            // The largest backlog, which Linux caps at `net.core.somaxconn`
            // (as the engine's `SOMAXCONN` backlog ends up).
            return socket.listen(u32::MAX);
        }
        reactor::with_entered(|| ringio::net::UnixListener::bind(path)).map(|inner| UnixListener { inner })
    }

    /// Binds to the path of `addr` (tokio's `bind_addr`; ringio's addresses
    /// are paths or unnamed).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an unnamed address; else as [`UnixListener::bind`].
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::bind(pathname(addr)?)
    }

    /// Accepts a connection. Cancel safe.
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors (the listener stays usable).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let accepted = super::poll_io::until_done(
            // Entered, so the accepted socket registers with this thread's reactor.
            || reactor::with_entered(|| self.inner.try_accept()),
            || self.inner.readable(),
        )
        .await?;
        let (inner, addr) = accepted;
        Ok((UnixStream::accepted(inner), addr.into()))
    }

    /// Poll-style accept; only the task that polled last is woken.
    ///
    /// # Errors
    ///
    /// As [`UnixListener::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let reactor = reactor::current()?;
        let _entered = reactor.enter();
        self.inner
            .poll_accept(cx)
            .map_ok(|(inner, addr)| (UnixStream::accepted(inner), addr.into()))
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr().map(SocketAddr::from)
    }
}

/// A Unix stream, as `tokio::net::UnixStream`.
///
/// # Examples
///
/// ```no_run
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # async fn run() -> std::io::Result<()> {
/// let (mut a, mut b) = ringio_compat::net::UnixStream::pair()?;
/// a.write_all(b"hi").await?;
/// let mut buf = [0u8; 2];
/// b.read_exact(&mut buf).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UnixStream {
    pub(crate) inner: Cached<ringio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path` (a leading NUL byte names Linux's
    /// abstract namespace, as with tokio). As with tokio, the connect counts
    /// once the socket reports writable: a listener closed meanwhile (with
    /// the connection still in its backlog) is seen, as `ConnectionReset`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `ConnectionRefused`, `ConnectionReset`; outside a tokio runtime, an error.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        if is_abstract(path.as_ref()) {
            return super::UnixSocket::new_stream()?.connect(path).await;
        }
        let path = path.as_ref().to_path_buf();
        let stream = reactor::entered(async move { ringio::net::UnixStream::connect(path).await }).await?;
        UnixStream::connected(stream).await
    }

    /// Finishes a connect of `stream` (its `connect(2)` done or pending) as
    /// [`UnixStream::connect`] does; [`UnixSocket::connect`](super::UnixSocket::connect) shares it.
    pub(crate) async fn connected(stream: ringio::net::UnixStream) -> io::Result<UnixStream> {
        // A Unix connect (and the readiness check after it) can finish at
        // once on a readiness backend; tokio's never finishes on its first
        // poll, and a caller that drops the listener in between relies on
        // seeing that (the pending error below).
        tokio::task::yield_now().await;
        stream.writable().await?;
        if let Some(e) = super::lend::take_error(&stream)? {
            return Err(e);
        }
        Ok(UnixStream::wrap(stream))
    }

    /// Connects to the path of `addr` (tokio's `connect_addr`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an unnamed address; else as [`UnixStream::connect`].
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connect(pathname(addr)?).await
    }

    /// A connected pair.
    ///
    /// # Errors
    ///
    /// Out of descriptors; outside a tokio runtime, an error.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = reactor::with_entered(ringio::net::UnixStream::pair)?;
        Ok((UnixStream::wrap(a), UnixStream::wrap(b)))
    }

    /// Adopts a connected std stream (made non-blocking).
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime, or if the socket cannot be made non-blocking.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        reactor::with_entered(|| ringio::net::UnixStream::from_std(stream)).map(UnixStream::wrap)
    }

    /// Poll-style [`UnixStream::readable`], with tokio's readiness model: ready
    /// until a read finds the stream empty, then until the kernel reports
    /// data again. Only the task that polled last is woken.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_read_ready(cx)
    }

    /// Poll-style [`UnixStream::writable`]; see [`UnixStream::poll_read_ready`].
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_write_ready(cx)
    }

    /// The engine-level stream, for its owned-buffer API.
    pub fn as_ringio(&self) -> &ringio::net::UnixStream {
        self.inner.get()
    }

    /// A connected or adopted stream: read readiness waits for the kernel.
    pub(crate) fn wrap(inner: ringio::net::UnixStream) -> UnixStream {
        UnixStream {
            inner: Cached::new(inner, false),
        }
    }

    /// An accepted stream: assumed readable until a read finds it empty.
    pub(crate) fn accepted(inner: ringio::net::UnixStream) -> UnixStream {
        UnixStream {
            inner: Cached::new(inner, true),
        }
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr().map(SocketAddr::from)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr().map(SocketAddr::from)
    }

    /// The credentials of the peer process (`SO_PEERCRED`): who called
    /// `connect` or `socketpair`, as of that call.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let (a, _b) = ringio_compat::net::UnixStream::pair()?;
    /// let cred = a.peer_cred()?;
    /// assert_eq!(cred.pid(), Some(std::process::id() as i32));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// `getsockopt(2)`'s errors, or if the stream was closed.
    pub fn peer_cred(&self) -> io::Result<UCred> {
        super::ucred::peer_cred(self.inner.get())
    }

    /// Waits until the stream is readable.
    ///
    /// # Errors
    ///
    /// If the stream was closed meanwhile.
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// Waits until the stream is writable.
    ///
    /// # Errors
    ///
    /// If the stream was closed meanwhile.
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.writable().await
    }

    /// Reads what is pending without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if nothing is pending.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_read(buf)
    }

    /// Writes what the socket takes now.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the send buffer is full.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_write(buf)
    }

    /// Splits into halves that borrow the stream.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (split::ReadHalf(self), split::WriteHalf(self))
    }

    /// Splits into owned halves, e.g. for two tasks.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split_owned(self)
    }
}

impl Splittable for UnixStream {
    type Raw = Cached<ringio::net::UnixStream>;
    fn raw(&self) -> &Cached<ringio::net::UnixStream> {
        &self.inner
    }
}

super::poll_io::async_io!(UnixStream);
