//! [`UdpSocket`] with tokio's method names: every receive is a non-blocking
//! `recvfrom` straight into the caller's buffer after a readiness wait, so
//! the futures are cancel safe (a datagram leaves the kernel only when it is
//! returned).

use super::poll_io::until_done;
use super::tcp::each_addr;
use crate::reactor;
use std::io;
use std::net::SocketAddr;
use tokio::net::{lookup_host, ToSocketAddrs};

/// A UDP socket, as `tokio::net::UdpSocket`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let socket = ringio_compat::net::UdpSocket::bind("127.0.0.1:0").await?;
/// socket.send_to(b"ping", "127.0.0.1:9000").await?;
/// let mut buf = [0u8; 1500];
/// let (n, from) = socket.recv_from(&mut buf).await?;
/// # let _ = (n, from); Ok(()) }
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    pub(crate) inner: ringio::net::UdpSocket,
}

impl UdpSocket {
    /// Binds to the first address `addr` resolves to that works.
    ///
    /// # Errors
    ///
    /// `AddrInUse`, ...; outside a tokio runtime, an error.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr, |a| async move {
            reactor::with_entered(|| ringio::net::UdpSocket::bind(a))
        })
        .await
        .map(|inner| UdpSocket { inner })
    }

    /// Sets the default peer for [`UdpSocket::send`] and filters [`UdpSocket::recv`].
    ///
    /// # Errors
    ///
    /// If no resolved address can be connected to.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |a| async move { self.inner.connect(a) }).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected`; `ConnectionRefused` reported by an earlier ICMP error.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        until_done(|| self.inner.try_send(buf), || self.inner.writable()).await
    }

    /// Receives one datagram from the connected peer. Cancel safe.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` reported by an earlier ICMP error.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        until_done(|| self.inner.try_recv(buf), || self.inner.readable()).await
    }

    /// Sends one datagram to `target` (its first resolved address).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `target` resolves to nothing.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = lookup_host(target)
            .await?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to"))?;
        until_done(|| self.inner.try_send_to(buf, addr), || self.inner.writable()).await
    }

    /// Receives one datagram and its sender. Cancel safe.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        until_done(|| self.inner.try_recv_from(buf), || self.inner.readable()).await
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
        self.inner.writable().await
    }

    /// Receives a pending datagram without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is pending.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.try_recv_from(buf)
    }

    /// Receives a pending datagram from the connected peer without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if none is pending.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_recv(buf)
    }

    /// Sends a datagram to `target` without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the send buffer is full.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.inner.try_send_to(buf, target)
    }

    /// Sends a datagram to the connected peer without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the send buffer is full.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_send(buf)
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The engine-level socket, for its owned-buffer and `sendmsg` API.
    pub fn as_ringio(&self) -> &ringio::net::UdpSocket {
        &self.inner
    }
}
