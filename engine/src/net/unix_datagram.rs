//! `UnixDatagram`.

use super::datagram::{meta, Datagram, RecvMsgMeta};
use super::socket::{datagram, unix_addr};
use super::unix::UnixSocketAddr;
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::Interest;
use rustix::net::{AddressFamily, SocketAddrAny, SocketType};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::task::{Context, Poll};

/// A Unix datagram socket; with [`UnixDatagram::send_msg`] it can pass
/// descriptors (`SCM_RIGHTS`).
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let (a, b) = ringio::net::UnixDatagram::pair()?;
///     a.send(b"hi".to_vec()).await.0?;
///     let (n, buf) = b.recv(vec![0u8; 16]).await;
///     assert_eq!(&buf[..n?], b"hi");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    inner: Datagram,
}

impl UnixDatagram {
    /// Binds to `path`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let addr = SocketAddrAny::from(unix_addr(path.as_ref())?);
        let fd = datagram(AddressFamily::UNIX, Some(&addr))?;
        Ok(UnixDatagram {
            inner: Datagram::new(fd),
        })
    }

    /// An unbound socket.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Datagram::new(datagram(AddressFamily::UNIX, None)?),
        })
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = super::socket::socketpair(AddressFamily::UNIX, SocketType::DGRAM)?;
        let wrap = |fd| UnixDatagram {
            inner: Datagram::new(fd),
        };
        Ok((wrap(a), wrap(b)))
    }

    /// Sets the default peer.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.connect(&SocketAddrAny::from(unix_addr(path.as_ref())?))
    }

    /// Sends a datagram to `path`; dropped, it has sent nothing (see
    /// [`crate::net::UdpSocket::send_to`]).
    pub async fn send_to<B: IoBuf>(&self, buf: B, path: impl AsRef<Path>) -> BufResult<usize, B> {
        let addr = match unix_addr(path.as_ref()) {
            Ok(a) => SocketAddrAny::from(a),
            Err(e) => return (Err(e), buf),
        };
        let (res, mut bufs, _) = self.inner.send_msg(vec![buf], Vec::new(), Some(addr)).await;
        (res, bufs.pop().expect("one buffer in, one out"))
    }

    /// Receives a datagram and its sender; cancel safe (see
    /// [`crate::net::UdpSocket::recv_from`]).
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, UnixSocketAddr), B> {
        let (res, mut bufs, _) = self.inner.recv_msg(vec![buf], Vec::new()).await;
        (
            res.map(|m| (m.bytes, UnixSocketAddr::from_any(m.addr))),
            bufs.pop().expect("one buffer in, one out"),
        )
    }

    /// Sends to the connected peer; dropped, it has sent nothing.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.send(buf).await
    }

    /// Receives from the connected peer; cancel safe.
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.recv(buf).await
    }

    /// `sendmsg` with ancillary data (see [`crate::net::UdpSocket::send_msg`]).
    pub async fn send_msg<B: IoBuf>(&self, bufs: Vec<B>, control: Vec<u8>) -> (io::Result<usize>, Vec<B>, Vec<u8>) {
        self.inner.send_msg(bufs, control, None).await
    }

    /// `recvmsg` with ancillary data (see [`crate::net::UdpSocket::recv_msg`]).
    pub async fn recv_msg<B: IoBufMut>(
        &self,
        bufs: Vec<B>,
        control: Vec<u8>,
    ) -> (io::Result<RecvMsgMeta<UnixSocketAddr>>, Vec<B>, Vec<u8>) {
        let (res, bufs, control) = self.inner.recv_msg(bufs, control).await;
        (
            res.map(|m| meta(m, |a| Some(UnixSocketAddr::from_any(Some(a))))),
            bufs,
            control,
        )
    }

    /// Adopts a std socket (made non-blocking).
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            inner: Datagram::new(OwnedFd::from(socket)),
        })
    }

    /// Waits until a datagram (or an error) is pending; every caller waits
    /// on its own, nothing is consumed.
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

    /// Takes one pending datagram and its sender without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is pending.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, UnixSocketAddr)> {
        let (n, addr) = self.inner.try_recv_from(buf)?;
        Ok((n, UnixSocketAddr::from_any(addr)))
    }

    /// Takes one pending datagram without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is pending.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_recv_from(buf).map(|(n, _)| n)
    }

    /// Sends `buf` as one datagram to `path` without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the peer's queue is full; `NotFound` if nothing is bound at `path`.
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let addr = SocketAddrAny::from(unix_addr(path.as_ref())?);
        self.inner.try_send_to(buf, Some(&addr))
    }

    /// Sends `buf` to the connected peer without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the peer's queue is full; `NotConnected`.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_send_to(buf, None)
    }

    /// The bound address (unnamed if not bound).
    pub fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        let addr = self.inner.fd.with(|fd| rustix::net::getsockname(fd))?;
        Ok(UnixSocketAddr::from_any(Some(addr)))
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected`.
    pub fn peer_addr(&self) -> io::Result<UnixSocketAddr> {
        let addr = self
            .inner
            .fd
            .with(|fd| rustix::net::getpeername(fd)?.ok_or(rustix::io::Errno::NOTCONN))?;
        Ok(UnixSocketAddr::from_any(Some(addr)))
    }

    /// Closes the socket. Idempotent.
    pub async fn close(&self) -> io::Result<()> {
        self.inner.close().await
    }
}

impl AsRawFd for UnixDatagram {
    /// The descriptor number, or -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.raw_fd()
    }
}

super::lend::lend_fd!(UnixDatagram);
