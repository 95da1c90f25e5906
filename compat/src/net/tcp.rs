//! TCP: [`TcpListener`] and [`TcpStream`], with tokio's method names, plus
//! the split halves under the same paths as `tokio::net::tcp`.

use super::cached::Cached;
use super::split::{self, Splittable};
use crate::reactor;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use tokio::net::{lookup_host, ToSocketAddrs};

/// The read half of a [`TcpStream`] borrowed by [`TcpStream::split`].
pub type ReadHalf<'a> = split::ReadHalf<'a, TcpStream>;
/// The write half of a [`TcpStream`] borrowed by [`TcpStream::split`].
pub type WriteHalf<'a> = split::WriteHalf<'a, TcpStream>;
/// The read half from [`TcpStream::into_split`].
pub type OwnedReadHalf = split::OwnedReadHalf<TcpStream>;
/// The write half from [`TcpStream::into_split`]; dropping it shuts the write side down.
pub type OwnedWriteHalf = split::OwnedWriteHalf<TcpStream>;
/// Error of `reunite` with halves of different streams.
pub type ReuniteError = split::ReuniteError<TcpStream>;

/// Tries `f` on every address `addr` resolves to; the last error if none works.
pub(crate) async fn each_addr<T, F, Fut>(addr: impl ToSocketAddrs, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in lookup_host(addr).await? {
        match f(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses to try")))
}

/// A TCP listener, as `tokio::net::TcpListener`.
///
/// # Examples
///
/// ```no_run
/// use ringio_compat::net::TcpListener;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = TcpListener::bind("127.0.0.1:8080").await?;
/// loop {
///     let (mut socket, _) = listener.accept().await?;
///     tokio::spawn(async move {
///         let mut buf = vec![0; 4096];
///         while let Ok(n @ 1..) = socket.read(&mut buf).await {
///             if socket.write_all(&buf[..n]).await.is_err() {
///                 break;
///             }
///         }
///     });
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct TcpListener {
    pub(crate) inner: ringio::net::TcpListener,
}

impl TcpListener {
    /// Binds to the first address `addr` resolves to that works.
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `PermissionDenied`, ...; outside a tokio runtime, an error.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |a| async move {
            reactor::with_entered(|| ringio::net::TcpListener::bind(a))
        })
        .await
        .map(|inner| TcpListener { inner })
    }

    /// Adopts a std listener (made non-blocking).
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime, or if the socket cannot be made non-blocking.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        reactor::with_entered(|| ringio::net::TcpListener::from_std(listener)).map(|inner| TcpListener { inner })
    }

    /// Accepts a connection. Cancel safe: dropping the future never loses one.
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors (the listener stays usable).
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let accepted = super::poll_io::until_done(
            // Entered, so the accepted socket registers with this thread's reactor.
            || reactor::with_entered(|| self.inner.try_accept()),
            || self.inner.readable(),
        )
        .await?;
        let (inner, addr) = accepted;
        Ok((TcpStream::accepted(inner), addr))
    }

    /// Poll-style accept; only the task that polled last is woken.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        // Entered, so the accepted socket registers with this thread's reactor.
        let reactor = reactor::current()?;
        let _entered = reactor.enter();
        self.inner
            .poll_accept(cx)
            .map_ok(|(inner, addr)| (TcpStream::accepted(inner), addr))
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A TCP connection, as `tokio::net::TcpStream`: `AsyncRead + AsyncWrite`,
/// `Send + Sync`, splittable into halves that work concurrently.
///
/// # Examples
///
/// ```no_run
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # async fn run() -> std::io::Result<()> {
/// let mut stream = ringio_compat::net::TcpStream::connect("127.0.0.1:8080").await?;
/// stream.write_all(b"ping").await?;
/// let mut reply = [0u8; 4];
/// stream.read_exact(&mut reply).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpStream {
    pub(crate) inner: Cached<ringio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to the first address `addr` resolves to that accepts.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused`, `TimedOut`, ...; outside a tokio runtime, an error.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, |a| reactor::entered(ringio::net::TcpStream::connect(a)))
            .await
            .map(TcpStream::wrap)
    }

    /// Adopts a connected std stream (made non-blocking).
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime, or if the socket cannot be made non-blocking.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        reactor::with_entered(|| ringio::net::TcpStream::from_std(stream)).map(TcpStream::wrap)
    }

    /// The engine-level stream, for its owned-buffer API.
    pub fn as_ringio(&self) -> &ringio::net::TcpStream {
        self.inner.get()
    }

    /// A connected or adopted stream: read readiness waits for the kernel.
    pub(crate) fn wrap(inner: ringio::net::TcpStream) -> TcpStream {
        TcpStream {
            inner: Cached::new(inner, false),
        }
    }

    /// An accepted stream: assumed readable until a read finds it empty.
    pub(crate) fn accepted(inner: ringio::net::TcpStream) -> TcpStream {
        TcpStream {
            inner: Cached::new(inner, true),
        }
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The remote address.
    ///
    /// # Errors
    ///
    /// `NotConnected`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.nodelay()
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

    /// Poll-style [`TcpStream::readable`], with tokio's readiness model:
    /// ready until a read finds the stream empty (a fresh stream too), then
    /// until the kernel reports data again. Only the task that polled last
    /// is woken.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_read_ready(cx)
    }

    /// Poll-style [`TcpStream::writable`]; only the task that polled last is woken.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_write_ready(cx)
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

impl Splittable for TcpStream {
    type Raw = Cached<ringio::net::TcpStream>;
    fn raw(&self) -> &Cached<ringio::net::TcpStream> {
        &self.inner
    }
}

super::poll_io::async_io!(TcpStream);
