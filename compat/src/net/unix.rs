//! Unix domain sockets: [`UnixListener`] and [`UnixStream`], with tokio's
//! method names, plus the split halves under the paths of `tokio::net::unix`.

use super::split::{self, Splittable};
use crate::reactor;
pub use ringio::net::UnixSocketAddr as SocketAddr;
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
    inner: ringio::net::UnixListener,
}

impl UnixListener {
    /// Binds to `path` (which must not exist).
    ///
    /// # Errors
    ///
    /// `AddrInUse` if `path` exists; outside a tokio runtime, an error.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        reactor::with_entered(|| ringio::net::UnixListener::bind(path)).map(|inner| UnixListener { inner })
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
        Ok((UnixStream { inner }, addr))
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
            .map_ok(|(inner, addr)| (UnixStream { inner }, addr))
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
    inner: ringio::net::UnixStream,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `ConnectionRefused`; outside a tokio runtime, an error.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref().to_path_buf();
        reactor::entered(async move { ringio::net::UnixStream::connect(path).await })
            .await
            .map(|inner| UnixStream { inner })
    }

    /// A connected pair.
    ///
    /// # Errors
    ///
    /// Out of descriptors; outside a tokio runtime, an error.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = reactor::with_entered(ringio::net::UnixStream::pair)?;
        Ok((UnixStream { inner: a }, UnixStream { inner: b }))
    }

    /// The engine-level stream, for its owned-buffer API.
    pub fn as_ringio(&self) -> &ringio::net::UnixStream {
        &self.inner
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
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
    type Raw = ringio::net::UnixStream;
    fn raw(&self) -> &ringio::net::UnixStream {
        &self.inner
    }
}

super::poll_io::async_io!(UnixStream);
