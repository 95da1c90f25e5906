//! [`UnixDatagram`] with tokio's method names: every receive is a
//! non-blocking `recvfrom` straight into the caller's buffer after a
//! readiness wait, so the futures are cancel safe, as with UDP.

use super::poll_io::{retry, until_done};
use super::unix::SocketAddr;
use crate::reactor;
use std::io;
use std::net::Shutdown;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{ready, Context, Poll};
use tokio::io::ReadBuf;

/// A Unix datagram socket, as `tokio::net::UnixDatagram`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let (a, b) = ringio_compat::net::UnixDatagram::pair()?;
/// a.send(b"ping").await?;
/// let mut buf = [0u8; 16];
/// let n = b.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"ping");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    pub(crate) inner: ringio::net::UnixDatagram,
    /// Writable without asking the kernel, until a send says `WouldBlock`:
    /// what tokio assumes of a fresh pair (empty buffers).
    send_assumed: AtomicBool,
}

impl UnixDatagram {
    pub(crate) fn wrap(inner: ringio::net::UnixDatagram) -> UnixDatagram {
        UnixDatagram::with_send_assumed(inner, false)
    }

    fn with_send_assumed(inner: ringio::net::UnixDatagram, assumed: bool) -> UnixDatagram {
        UnixDatagram {
            inner,
            send_assumed: AtomicBool::new(assumed),
        }
    }

    /// Forgets the assumed writability if `res` says `WouldBlock`.
    fn note_send<R>(&self, res: io::Result<R>) -> io::Result<R> {
        if matches!(&res, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            // Relaxed: a stale value costs (or saves) one wait, never a wakeup.
            self.send_assumed.store(false, Ordering::Relaxed);
        }
        res
    }

    /// Binds to `path` (which must not exist).
    ///
    /// # Errors
    ///
    /// `AddrInUse` if `path` exists; outside a tokio runtime, an error.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        reactor::with_entered(|| ringio::net::UnixDatagram::bind(path)).map(UnixDatagram::wrap)
    }

    /// A connected pair.
    ///
    /// # Errors
    ///
    /// Out of descriptors; outside a tokio runtime, an error.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = reactor::with_entered(ringio::net::UnixDatagram::pair)?;
        // A fresh pair has empty buffers: writable now, as tokio assumes.
        Ok((
            UnixDatagram::with_send_assumed(a, true),
            UnixDatagram::with_send_assumed(b, true),
        ))
    }

    /// A socket bound to no path.
    ///
    /// # Errors
    ///
    /// Out of descriptors; outside a tokio runtime, an error.
    pub fn unbound() -> io::Result<UnixDatagram> {
        reactor::with_entered(ringio::net::UnixDatagram::unbound).map(UnixDatagram::wrap)
    }

    /// Adopts a std socket (made non-blocking).
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime, or if the socket cannot be made non-blocking.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        reactor::with_entered(|| ringio::net::UnixDatagram::from_std(socket)).map(UnixDatagram::wrap)
    }

    /// Sets the default peer for [`UnixDatagram::send`] and filters
    /// [`UnixDatagram::recv`]. Synchronous, as in tokio.
    ///
    /// # Errors
    ///
    /// `NotFound`, `ConnectionRefused`.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.connect(path)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected`; `ConnectionRefused` once the peer is gone.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        until_done(|| self.inner.try_send(buf), || self.inner.writable()).await
    }

    /// Receives one datagram from the connected peer. Cancel safe.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        until_done(|| self.inner.try_recv(buf), || self.inner.readable()).await
    }

    /// Sends one datagram to the socket bound at `target`.
    ///
    /// # Errors
    ///
    /// `NotFound` if nothing is bound there; `ConnectionRefused`.
    pub async fn send_to(&self, buf: &[u8], target: impl AsRef<Path>) -> io::Result<usize> {
        let target = target.as_ref();
        until_done(|| self.inner.try_send_to(buf, target), || self.inner.writable()).await
    }

    /// Receives one datagram and its sender. Cancel safe.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        until_done(|| self.try_recv_from(buf), || self.inner.readable()).await
    }

    /// Sends to the connected peer without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the peer's queue is full.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.note_send(self.inner.try_send(buf))
    }

    /// Sends to `target` without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the peer's queue is full; `NotFound`.
    pub fn try_send_to(&self, buf: &[u8], target: impl AsRef<Path>) -> io::Result<usize> {
        self.note_send(self.inner.try_send_to(buf, target))
    }

    /// Receives a pending datagram without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is pending.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_recv(buf)
    }

    /// Receives a pending datagram and its sender without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is pending.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self.inner.try_recv_from(buf)?;
        Ok((n, from.into()))
    }

    /// Waits until a datagram is pending.
    ///
    /// # Errors
    ///
    /// If the socket was closed meanwhile.
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// Waits until the socket can send.
    ///
    /// # Errors
    ///
    /// If the socket was closed meanwhile.
    pub async fn writable(&self) -> io::Result<()> {
        if self.send_assumed.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.inner.writable().await
    }

    /// Poll-style [`UnixDatagram::readable`]; only the task that polled last is woken.
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_recv_ready(cx)
    }

    /// Poll-style [`UnixDatagram::writable`]; only the task that polled last is woken.
    pub fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.send_assumed.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(()));
        }
        self.inner.poll_send_ready(cx)
    }

    /// Poll-style [`UnixDatagram::send`].
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        retry(cx, |cx| self.inner.poll_send_ready(cx), || self.inner.try_send(buf))
    }

    /// Poll-style [`UnixDatagram::send_to`].
    pub fn poll_send_to(&self, cx: &mut Context<'_>, buf: &[u8], target: impl AsRef<Path>) -> Poll<io::Result<usize>> {
        let target = target.as_ref();
        retry(
            cx,
            |cx| self.inner.poll_send_ready(cx),
            || self.inner.try_send_to(buf, target),
        )
    }

    /// Poll-style [`UnixDatagram::recv`], into the unfilled part of `buf`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = ready!(retry(
            cx,
            |cx| self.inner.poll_recv_ready(cx),
            || self.inner.try_recv(buf.initialize_unfilled())
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// Poll-style [`UnixDatagram::recv_from`], into the unfilled part of `buf`.
    pub fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<SocketAddr>> {
        let (n, from) = ready!(retry(
            cx,
            |cx| self.inner.poll_recv_ready(cx),
            || self.inner.try_recv_from(buf.initialize_unfilled())
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(from.into()))
    }

    /// The bound address (unnamed if not bound).
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr().map(SocketAddr::from)
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr().map(SocketAddr::from)
    }

    /// Takes the pending `SO_ERROR`.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        super::lend::take_error(&self.inner)
    }

    /// Shuts down the read side, the write side, or both.
    ///
    /// # Errors
    ///
    /// `NotConnected` on a socket without a peer.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        super::lend::sock(&self.inner, |s| s.shutdown(how))
    }

    /// The engine-level socket, for its owned-buffer and `sendmsg` (descriptor passing) API.
    pub fn as_ringio(&self) -> &ringio::net::UnixDatagram {
        &self.inner
    }
}
