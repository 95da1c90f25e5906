//! The poll-style half of [`UdpSocket`]'s API, as in tokio: `poll_send`,
//! `poll_send_to`, `poll_recv`, `poll_recv_from` and the readiness pair.
//! Each tries the non-blocking syscall and, on `WouldBlock`, waits through
//! the socket's stored readiness wait (only the task that polled last is
//! woken, as with tokio).

use super::poll_io::retry;
use super::UdpSocket;
use std::io;
use std::net::SocketAddr;
use std::task::{ready, Context, Poll};
use tokio::io::ReadBuf;

impl UdpSocket {
    /// Ready once the socket can send (it may be spurious: follow it with
    /// `try_send`, and poll again on `WouldBlock`).
    pub fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_send_ready(cx)
    }

    /// Ready once a datagram is pending (it may be spurious).
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_recv_ready(cx)
    }

    /// Poll-style [`UdpSocket::send`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(socket: ringio_compat::net::UdpSocket) -> std::io::Result<()> {
    /// let n = std::future::poll_fn(|cx| socket.poll_send(cx, b"ping")).await?;
    /// # let _ = n; Ok(()) }
    /// ```
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        retry(cx, |cx| self.inner.poll_send_ready(cx), || self.inner.try_send(buf))
    }

    /// Poll-style [`UdpSocket::send_to`], to one resolved address.
    pub fn poll_send_to(&self, cx: &mut Context<'_>, buf: &[u8], target: SocketAddr) -> Poll<io::Result<usize>> {
        retry(
            cx,
            |cx| self.inner.poll_send_ready(cx),
            || self.inner.try_send_to(buf, target),
        )
    }

    /// Poll-style [`UdpSocket::recv`], into the unfilled part of `buf`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = ready!(retry(
            cx,
            |cx| self.inner.poll_recv_ready(cx),
            || self.inner.try_recv(buf.initialize_unfilled())
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// Poll-style [`UdpSocket::recv_from`], into the unfilled part of `buf`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tokio::io::ReadBuf;
    ///
    /// # async fn run(socket: ringio_compat::net::UdpSocket) -> std::io::Result<()> {
    /// let mut storage = [0u8; 1500];
    /// let mut buf = ReadBuf::new(&mut storage);
    /// let from = std::future::poll_fn(|cx| socket.poll_recv_from(cx, &mut buf)).await?;
    /// println!("{} bytes from {from}", buf.filled().len());
    /// # Ok(()) }
    /// ```
    pub fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<SocketAddr>> {
        let (n, from) = ready!(retry(
            cx,
            |cx| self.inner.poll_recv_ready(cx),
            || self.inner.try_recv_from(buf.initialize_unfilled())
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(from))
    }
}
