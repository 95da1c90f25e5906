//! `UdpSocket`.

use super::datagram::{meta, Datagram, RecvMsgMeta};
use super::socket::{datagram, each_addr, family_of, inet_addr};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::shared::FdHandle;
use rustix::net::SocketAddrAny;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};

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
            inner: Datagram { fd: FdHandle::new(fd) },
        })
    }

    /// Sets the default peer for [`UdpSocket::send`] and filters what
    /// [`UdpSocket::recv`] sees. Synchronous (it never blocks for UDP).
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |a| self.inner.connect(&SocketAddrAny::from(a)))
    }

    /// Sends a datagram to `addr`.
    pub async fn send_to<B: IoBuf>(&self, buf: B, addr: SocketAddr) -> BufResult<usize, B> {
        let (res, mut bufs, _) = self.inner.send_msg(vec![buf], Vec::new(), Some(addr.into())).await;
        (res, bufs.pop().expect("one buffer in, one out"))
    }

    /// Receives a datagram and its sender.
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

    /// Sends to the connected peer.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.send(buf).await
    }

    /// Receives from the connected peer.
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.inner.recv(buf).await
    }

    /// `sendmsg`: gathers `bufs`, attaches `control` (ancillary data, already
    /// encoded as `cmsghdr`s; empty for none), to `addr` or the connected peer.
    /// Returns the bytes sent and both buffers.
    pub async fn send_msg<B: IoBuf>(
        &self,
        bufs: Vec<B>,
        control: Vec<u8>,
        addr: Option<SocketAddr>,
    ) -> (io::Result<usize>, Vec<B>, Vec<u8>) {
        self.inner.send_msg(bufs, control, addr.map(SocketAddrAny::from)).await
    }

    /// `recvmsg`: scatters into `bufs` and receives ancillary data into
    /// `control`'s capacity (its length is set to what arrived).
    pub async fn recv_msg<B: IoBufMut>(
        &self,
        bufs: Vec<B>,
        control: Vec<u8>,
    ) -> (io::Result<RecvMsgMeta<SocketAddr>>, Vec<B>, Vec<u8>) {
        let (res, bufs, control) = self.inner.recv_msg(bufs, control).await;
        (res.map(|m| meta(m, |a| inet_addr(a).ok())), bufs, control)
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet_addr(self.inner.fd.with(|fd| rustix::net::getsockname(fd))?)
    }

    /// The connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        inet_addr(
            self.inner
                .fd
                .with(|fd| rustix::net::getpeername(fd)?.ok_or(rustix::io::Errno::NOTCONN))?,
        )
    }

    /// Closes the socket. Idempotent.
    pub async fn close(&self) -> io::Result<()> {
        self.inner.fd.close().await
    }
}

impl AsRawFd for UdpSocket {
    /// The descriptor number, or -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.raw_fd()
    }
}
