//! Creating sockets and converting addresses; the synchronous setup calls
//! (bind, listen, options) that never block.

use rustix::net::{AddressFamily, SocketAddrAny, SocketAddrUnix, SocketFlags, SocketType};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::path::Path;

/// A new socket: close-on-exec, non-blocking, and (on Apple, which has no
/// `MSG_NOSIGNAL`) with `SO_NOSIGPIPE`.
pub(crate) fn socket(family: AddressFamily, ty: SocketType) -> io::Result<OwnedFd> {
    #[cfg(feature = "sim")]
    if let Some(fd) = crate::sim::socket(family, ty == SocketType::STREAM) {
        return fd;
    }
    #[cfg(not(target_vendor = "apple"))]
    return Ok(rustix::net::socket_with(
        family,
        ty,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?);
    #[cfg(target_vendor = "apple")]
    {
        let fd = rustix::net::socket(family, ty, None)?;
        prepare(&fd)?;
        Ok(fd)
    }
}

/// A connected pair of sockets, prepared like [`socket`].
pub(crate) fn socketpair(family: AddressFamily, ty: SocketType) -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(not(target_vendor = "apple"))]
    return Ok(rustix::net::socketpair(
        family,
        ty,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?);
    #[cfg(target_vendor = "apple")]
    {
        let (a, b) = rustix::net::socketpair(family, ty, SocketFlags::empty(), None)?;
        prepare(&a)?;
        prepare(&b)?;
        Ok((a, b))
    }
}

/// Apple platforms lack `SOCK_CLOEXEC`/`SOCK_NONBLOCK`/`MSG_NOSIGNAL`: set the
/// same properties right after creation (as std does there).
#[cfg(target_vendor = "apple")]
pub(crate) fn prepare(fd: &OwnedFd) -> io::Result<()> {
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)?;
    rustix::io::ioctl_fionbio(fd, true)?;
    rustix::net::sockopt::set_socket_nosigpipe(fd, true)?;
    Ok(())
}

pub(crate) fn family_of(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

/// Resolves `addrs` and tries `f` on each address until one succeeds.
pub(crate) fn each_addr<T>(addrs: impl ToSocketAddrs, mut f: impl FnMut(SocketAddr) -> io::Result<T>) -> io::Result<T> {
    let mut last = None;
    for addr in addrs.to_socket_addrs()? {
        match f(addr) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")))
}

/// Like [`each_addr`], for async attempts.
pub(crate) async fn each_addr_async<T, F, Fut>(addrs: impl ToSocketAddrs, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addrs.to_socket_addrs()? {
        match f(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")))
}

pub(crate) fn inet_addr(addr: SocketAddrAny) -> io::Result<SocketAddr> {
    SocketAddr::try_from(addr).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}

pub(crate) fn unix_addr(path: &Path) -> io::Result<SocketAddrUnix> {
    Ok(SocketAddrUnix::new(path)?)
}

/// The listen backlog ringio asks for by default: the platform's
/// `SOMAXCONN`; Linux then caps it at `net.core.somaxconn` (4096 by default
/// since 5.4). A small backlog makes a burst of clients see resets.
pub(crate) const SOMAXCONN: i32 = libc::SOMAXCONN;

/// A bound TCP or Unix stream listener.
pub(crate) fn listener(
    family: AddressFamily,
    addr: &SocketAddrAny,
    reuse_port: bool,
    backlog: i32,
) -> io::Result<OwnedFd> {
    #[cfg(feature = "sim")]
    if let Some(fd) = crate::sim::listener(family, addr, backlog) {
        return fd;
    }
    let fd = socket(family, SocketType::STREAM)?;
    if family != AddressFamily::UNIX {
        rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
        if reuse_port {
            #[cfg(not(any(target_os = "illumos", target_os = "solaris")))]
            rustix::net::sockopt::set_socket_reuseport(&fd, true)?;
            #[cfg(any(target_os = "illumos", target_os = "solaris"))]
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "SO_REUSEPORT is not available on this platform",
            ));
        }
    }
    rustix::net::bind(&fd, addr)?;
    rustix::net::listen(&fd, backlog)?;
    Ok(fd)
}

/// A bound datagram socket.
pub(crate) fn datagram(family: AddressFamily, addr: Option<&SocketAddrAny>) -> io::Result<OwnedFd> {
    #[cfg(feature = "sim")]
    if let Some(fd) = crate::sim::datagram(family, addr) {
        return fd;
    }
    let fd = socket(family, SocketType::DGRAM)?;
    if let Some(addr) = addr {
        rustix::net::bind(&fd, addr)?;
    }
    Ok(fd)
}

pub(crate) fn to_rustix_shutdown(how: std::net::Shutdown) -> rustix::net::Shutdown {
    match how {
        std::net::Shutdown::Read => rustix::net::Shutdown::Read,
        std::net::Shutdown::Write => rustix::net::Shutdown::Write,
        std::net::Shutdown::Both => rustix::net::Shutdown::Both,
    }
}
