//! `UdpSocket`.

use super::datagram::{meta, Datagram, RecvMsgMeta};
use super::socket::{datagram, each_addr, family_of, inet_addr};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::Interest;
use rustix::net::SocketAddrAny;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};

/// A UDP socket.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let a = ringio::net::UdpSocket::bind("127.0.0.1:0")?;
///     let b = ringio::net::UdpSocket::bind("127.0.0.1:0")?;
///     a.send_to(b"ping".to_vec(), b.local_addr()?).await.0?;
///     let (res, buf) = b.recv_from(vec![0u8; 64]).await;
///     let (n, from) = res?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    inner: Datagram,
}

impl UdpSocket {
    /// Binds to `addr`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let fd = each_addr(addr, |a| datagram(family_of(&a), Some(&SocketAddrAny::from(a))))?;
        Ok(UdpSocket {
            inner: Datagram::new(fd),
        })
    }

    /// Adopts a std socket (made non-blocking).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            inner: Datagram::new(std::os::fd::OwnedFd::from(socket)),
        })
    }

    /// Sets the default peer for [`UdpSocket::send`] and filters what
    /// [`UdpSocket::recv`] sees. Synchronous (it never blocks for UDP).
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |a| self.inner.connect(&SocketAddrAny::from(a)))
    }

    /// Sends a datagram to `addr`. A `send_to` dropped before it returns
    /// has sent nothing (tokio's rule: the send happens inside a poll).
    pub async fn send_to<B: IoBuf>(&self, buf: B, addr: SocketAddr) -> BufResult<usize, B> {
        let (res, mut bufs, _) = self.inner.send_msg(vec![buf], Vec::new(), Some(addr.into())).await;
        (res, bufs.pop().expect("one buffer in, one out"))
    }

    /// Receives a datagram and its sender. Cancel safe: a datagram the
    /// kernel delivered to a dropped receive goes to the next one; receives
    /// of one socket are served in turn.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (res, mut bufs, _) = self.inner.recv_msg(vec![buf], Vec::new()).await;
        let buf = bufs.pop().expect("one buffer in, one out");
        let res = res.and_then(|m| {
            let from = m
                .addr
                .ok_or_else(|| io::Error::other("datagram without sender address"))?;
            Ok((m.bytes, inet_addr(from)?))
        });
        (res, buf)
    }

    /// Sends to the connected peer; dropped, it has sent nothing.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.send(buf).await
    }

    /// Receives from the connected peer; cancel safe like [`Self::recv_from`].
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.recv(buf).await
    }

    /// `sendmsg`: gathers `bufs`, attaches `control` (ancillary data, already
    /// encoded as `cmsghdr`s; empty for none), to `addr` or the connected peer.
    /// Returns the bytes sent and both buffers. Dropped, it has sent nothing.
    pub async fn send_msg<B: IoBuf>(
        &self,
        bufs: Vec<B>,
        control: Vec<u8>,
        addr: Option<SocketAddr>,
    ) -> (io::Result<usize>, Vec<B>, Vec<u8>) {
        self.inner.send_msg(bufs, control, addr.map(SocketAddrAny::from)).await
    }

    /// `recvmsg`: scatters into `bufs` and receives ancillary data into
    /// `control`'s capacity (its length is set to what arrived). Cancel safe:
    /// a dropped receive's datagram, ancillary data included, goes to the
    /// next receive.
    pub async fn recv_msg<B: IoBufMut>(
        &self,
        bufs: Vec<B>,
        control: Vec<u8>,
    ) -> (io::Result<RecvMsgMeta<SocketAddr>>, Vec<B>, Vec<u8>) {
        let (res, bufs, control) = self.inner.recv_msg(bufs, control).await;
        (res.map(|m| meta(m, |a| inet_addr(a).ok())), bufs, control)
    }

    /// Waits until a datagram (or an error) is pending. Every caller waits
    /// on its own; nothing is consumed.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Closed`] if the socket is closed meanwhile.
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.ready(Interest::READABLE).await
    }

    /// Waits until the socket can send.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Closed`] if the socket is closed meanwhile.
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.ready(Interest::WRITABLE).await
    }

    /// Poll-style [`Self::readable`]; only the task that polled last is woken.
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_ready(Interest::READABLE, cx)
    }

    /// Poll-style [`Self::writable`]; only the task that polled last is woken.
    pub fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_ready(Interest::WRITABLE, cx)
    }

    /// Takes one pending datagram into `buf` without waiting (the excess of a
    /// datagram longer than `buf` is discarded, as with `recvfrom`).
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is pending.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(socket: &ringio::net::UdpSocket) -> std::io::Result<()> {
    /// let mut buf = [0u8; 1500];
    /// let (n, from) = loop {
    ///     socket.readable().await?;
    ///     match socket.try_recv_from(&mut buf) {
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         other => break other?,
    ///     }
    /// };
    /// # let _ = (n, from); Ok(()) }
    /// ```
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, addr) = self.inner.try_recv_from(buf)?;
        let addr = addr.ok_or_else(|| io::Error::other("recvfrom returned no sender address"))?;
        Ok((n, inet_addr(addr)?))
    }

    /// [`Self::try_recv_from`] on a connected socket.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is pending.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_recv_from(buf).map(|(n, _)| n)
    }

    /// Sends `buf` as one datagram to `addr` without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the send buffer is full.
    pub fn try_send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.inner.try_send_to(buf, Some(&SocketAddrAny::from(addr)))
    }

    /// Sends `buf` to the connected peer without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the send buffer is full; `NotConnected`.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_send_to(buf, None)
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

    /// The connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.inner.fd.sim() {
            let _lease = self.inner.fd.incref()?;
            return sock.peer_addr();
        }
        inet_addr(
            self.inner
                .fd
                .with(|fd| rustix::net::getpeername(fd)?.ok_or(rustix::io::Errno::NOTCONN))?,
        )
    }

    /// Closes the socket. Idempotent.
    pub async fn close(&self) -> io::Result<()> {
        self.inner.close().await
    }
}

impl AsRawFd for UdpSocket {
    /// The descriptor number, or -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.raw_fd()
    }
}

super::lend::lend_fd!(UdpSocket);
