//! [`UdpSocket`]'s socket options, as tokio names them: TTL, broadcast,
//! multicast membership, loop and TTL, `IP_TOS`, `IPV6_TCLASS`, the bound
//! device, and `SO_ERROR`. Each is one `setsockopt`/`getsockopt` on the
//! socket's descriptor, through `socket2`.

use super::lend::{sock, take_error};
use super::UdpSocket;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

impl UdpSocket {
    /// Reads `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn broadcast(&self) -> io::Result<bool> {
        sock(&self.inner, |s| s.broadcast())
    }

    /// Sets `SO_BROADCAST` (sending to a broadcast address).
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let socket = ringio_compat::net::UdpSocket::bind("0.0.0.0:0").await?;
    /// socket.set_broadcast(true)?;
    /// assert!(socket.broadcast()?);
    /// # Ok(()) }
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        sock(&self.inner, |s| s.set_broadcast(on))
    }

    /// Reads `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// On an IPv6 socket, among others.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        sock(&self.inner, |s| s.multicast_loop_v4())
    }

    /// Sets `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// On an IPv6 socket, among others.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        sock(&self.inner, |s| s.set_multicast_loop_v4(on))
    }

    /// Reads `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    ///
    /// On an IPv6 socket, among others.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        sock(&self.inner, |s| s.multicast_ttl_v4())
    }

    /// Sets `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    ///
    /// On an IPv6 socket, among others.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        sock(&self.inner, |s| s.set_multicast_ttl_v4(ttl))
    }

    /// Reads `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// On an IPv4 socket, among others.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        sock(&self.inner, |s| s.multicast_loop_v6())
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// On an IPv4 socket, among others.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        sock(&self.inner, |s| s.set_multicast_loop_v6(on))
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn ttl(&self) -> io::Result<u32> {
        sock(&self.inner, |s| s.ttl_v4())
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a TTL above 255.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let socket = ringio_compat::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// socket.set_ttl(60)?;
    /// assert_eq!(socket.ttl()?, 60);
    /// # Ok(()) }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        sock(&self.inner, |s| s.set_ttl_v4(ttl))
    }

    /// Reads `IP_TOS`.
    ///
    /// # Errors
    ///
    /// On an IPv6 socket, among others.
    pub fn tos_v4(&self) -> io::Result<u32> {
        sock(&self.inner, |s| s.tos_v4())
    }

    /// Sets `IP_TOS`.
    ///
    /// # Errors
    ///
    /// On an IPv6 socket, among others.
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        sock(&self.inner, |s| s.set_tos_v4(tos))
    }

    /// Reads `IPV6_TCLASS`.
    ///
    /// # Errors
    ///
    /// On an IPv4 socket, among others.
    pub fn tclass_v6(&self) -> io::Result<u32> {
        sock(&self.inner, |s| s.tclass_v6())
    }

    /// Sets `IPV6_TCLASS`.
    ///
    /// # Errors
    ///
    /// On an IPv4 socket, among others.
    pub fn set_tclass_v6(&self, tclass: u32) -> io::Result<()> {
        sock(&self.inner, |s| s.set_tclass_v6(tclass))
    }

    /// Reads `SO_BINDTODEVICE`.
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn device(&self) -> io::Result<Option<Vec<u8>>> {
        sock(&self.inner, |s| s.device())
    }

    /// Sets `SO_BINDTODEVICE` (`None` unbinds).
    ///
    /// # Errors
    ///
    /// `PermissionDenied` without `CAP_NET_RAW`, ...
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        sock(&self.inner, |s| s.bind_device(interface))
    }

    /// Joins an IPv4 multicast group on `interface` (`UNSPECIFIED` for any).
    ///
    /// # Errors
    ///
    /// `AddrNotAvailable`, ...
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        sock(&self.inner, |s| s.join_multicast_v4(&multiaddr, &interface))
    }

    /// Joins an IPv6 multicast group on interface index `interface` (0 for any).
    ///
    /// # Errors
    ///
    /// `AddrNotAvailable`, ...
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        sock(&self.inner, |s| s.join_multicast_v6(multiaddr, interface))
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    ///
    /// `AddrNotAvailable` if not a member, ...
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        sock(&self.inner, |s| s.leave_multicast_v4(&multiaddr, &interface))
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Errors
    ///
    /// `AddrNotAvailable` if not a member, ...
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        sock(&self.inner, |s| s.leave_multicast_v6(multiaddr, interface))
    }

    /// Takes the pending `SO_ERROR` (an ICMP error an earlier send caused).
    ///
    /// # Errors
    ///
    /// If the socket was closed.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        take_error(&self.inner)
    }
}
