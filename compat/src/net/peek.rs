//! The `peek` family, as in tokio: TCP streams and their read halves, and
//! UDP sockets. A peek is a non-blocking `recv(MSG_PEEK)` on the socket's
//! descriptor after a readiness wait, or, for a stream reading on
//! completions, a copy from the received buffer the next read starts with
//! (up to one buffer; `completion`); nothing is consumed, so every peek is
//! cancel safe. Bytes a dropped owned-buffer read of the engine API left on
//! the stream are not seen by a `MSG_PEEK` (compat's own reads never leave
//! any).

use super::cached::copy_to;
use super::lend::TryLend;
use super::poll_io::{retry, until_done};
use super::split::{OwnedReadHalf, ReadHalf};
use super::{TcpStream, UdpSocket};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SocketAddrAny};
use std::io;
use std::net::SocketAddr;
use std::task::{ready, Context, Poll};
use tokio::io::{Interest, ReadBuf};

/// One `recv(MSG_PEEK | MSG_DONTWAIT)`; its `WouldBlock` clears the read
/// readiness, as a read's does.
fn try_peek(s: &impl TryLend, buf: &mut [u8]) -> io::Result<usize> {
    s.try_lend(Interest::READABLE, |fd| loop {
        match rustix::net::recv(fd, &mut *buf, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Err(Errno::INTR) => continue,
            other => return Ok(other?.0),
        }
    })
}

/// One `recvfrom(MSG_PEEK | MSG_DONTWAIT)`, with the sender.
fn try_peek_from(s: &impl TryLend, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    let (n, addr) = s.try_lend(Interest::READABLE, |fd| loop {
        match rustix::net::recvfrom(fd, &mut *buf, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Err(Errno::INTR) => continue,
            other => return other.map(|(n, _, addr)| (n, addr)).map_err(io::Error::from),
        }
    })?;
    Ok((n, inet(addr)?))
}

fn inet(addr: Option<SocketAddrAny>) -> io::Result<SocketAddr> {
    let addr = addr.ok_or_else(|| io::Error::other("recvfrom returned no sender address"))?;
    SocketAddr::try_from(addr).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}

/// One peek of a stream without waiting, on its read path. A `WouldBlock`
/// forgets the stream's read readiness, as a read's does, so that the next
/// `readable()` waits for the kernel.
fn try_peek_stream(s: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let res = match s.inner.reads() {
        Some(reads) => reads.peek_with(s.inner.get(), |src| copy_to(buf, src)),
        None => try_peek(s.inner.get(), buf),
    };
    s.inner.note(false, res)
}

/// Peeks into the unfilled part of `buf`; the bytes stay queued.
fn poll_peek_stream(s: &TcpStream, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
    let n = ready!(retry(
        cx,
        |cx| match s.inner.reads() {
            Some(reads) => reads.poll_read_ready(s.inner.get(), cx),
            None => s.inner.get().poll_read_ready(cx),
        },
        || try_peek_stream(s, buf.initialize_unfilled())
    ))?;
    buf.advance(n);
    Poll::Ready(Ok(n))
}

async fn peek_stream(s: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    until_done(|| try_peek_stream(s, buf), || s.inner.readable()).await
}

impl TcpStream {
    /// Receives data without taking it off the stream: the next read
    /// returns the same bytes. `Ok(0)` is end of stream.
    ///
    /// # Errors
    ///
    /// `ConnectionReset`, ...
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(stream: ringio_compat::net::TcpStream) -> std::io::Result<()> {
    /// let mut head = [0u8; 4];
    /// let n = stream.peek(&mut head).await?;
    /// println!("starts with {:?}", &head[..n]);
    /// # Ok(()) }
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        peek_stream(self, buf).await
    }

    /// Poll-style [`TcpStream::peek`] into the unfilled part of `buf`.
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        poll_peek_stream(self, cx, buf)
    }
}

impl ReadHalf<'_, TcpStream> {
    /// [`TcpStream::peek`] on the read half.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::peek`].
    pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        peek_stream(self.0, buf).await
    }

    /// [`TcpStream::poll_peek`] on the read half.
    pub fn poll_peek(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        poll_peek_stream(self.0, cx, buf)
    }
}

impl OwnedReadHalf<TcpStream> {
    /// [`TcpStream::peek`] on the owned read half.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::peek`].
    pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        peek_stream(&self.inner, buf).await
    }

    /// [`TcpStream::poll_peek`] on the owned read half.
    pub fn poll_peek(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        poll_peek_stream(&self.inner, cx, buf)
    }
}

impl UdpSocket {
    /// Receives the next datagram from the connected peer without taking it
    /// off the queue (the excess of a longer datagram is cut off here, and
    /// still there for the next receive).
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` reported by an earlier ICMP error.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        until_done(|| try_peek(&self.inner, buf), || self.inner.readable()).await
    }

    /// Poll-style [`UdpSocket::peek`] into the unfilled part of `buf`.
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = ready!(retry(
            cx,
            |cx| self.inner.poll_recv_ready(cx),
            || try_peek(&self.inner, buf.initialize_unfilled())
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// [`UdpSocket::peek`] without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if no datagram is pending.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        try_peek(&self.inner, buf)
    }

    /// Receives the next datagram and its sender without taking it off the queue.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(socket: ringio_compat::net::UdpSocket) -> std::io::Result<()> {
    /// let mut buf = [0u8; 1500];
    /// let (n, from) = socket.peek_from(&mut buf).await?;
    /// let (m, again) = socket.recv_from(&mut buf).await?; // the same datagram
    /// assert_eq!((n, from), (m, again));
    /// # Ok(()) }
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        until_done(|| try_peek_from(&self.inner, buf), || self.inner.readable()).await
    }

    /// Poll-style [`UdpSocket::peek_from`] into the unfilled part of `buf`.
    pub fn poll_peek_from(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<SocketAddr>> {
        let (n, from) = ready!(retry(
            cx,
            |cx| self.inner.poll_recv_ready(cx),
            || try_peek_from(&self.inner, buf.initialize_unfilled())
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(from))
    }

    /// [`UdpSocket::peek_from`] without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if no datagram is pending.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        try_peek_from(&self.inner, buf)
    }

    /// The sender of the next datagram, which stays queued.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        until_done(|| self.try_peek_sender(), || self.inner.readable()).await
    }

    /// Poll-style [`UdpSocket::peek_sender`].
    pub fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketAddr>> {
        retry(cx, |cx| self.inner.poll_recv_ready(cx), || self.try_peek_sender())
    }

    /// [`UdpSocket::peek_sender`] without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if no datagram is pending.
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        try_peek_from(&self.inner, &mut []).map(|(_, from)| from)
    }
}
