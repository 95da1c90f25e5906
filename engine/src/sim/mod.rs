//! A deterministic simulated network backend ([`crate::Backend::Sim`],
//! cargo feature `sim`): the same `ringio::net` types, served from an
//! in-memory network on a virtual clock, with one seed fixing every choice.
//!
//! | file | what it owns |
//! |---|---|
//! | `runner.rs` | [`Sim`] and [`for_each_seed`] |
//! | `control.rs` | what a running test does: [`crash`], [`restart`], [`partition`], [`heal`], [`set_link`], [`elapsed`] |
//! | `driver.rs` | the backend: its turn (virtual time) and `SimOp`, an operation on it |
//! | `socket.rs` | `Socket`: the calls operations make on a simulated socket |
//! | `ops.rs` | each socket operation's `simulate`: buffers and addresses filled as the kernel would |
//! | `net.rs` | the network's state, sockets, addresses and ports, the event loop |
//! | `connect.rs` | TCP setup: bind, listen, connect (SYN and its retries), the backlog, accept |
//! | `stream.rs` | TCP data: bounded byte queues, in-order segments, FIN and RST, readiness |
//! | `datagram.rs` | UDP: bounded message queues |
//! | `host.rs` | hosts, their tasks, crash and restart |
//! | `fault.rs` | [`Link`]: latency, jitter, bandwidth, loss, ..., and partitions |
//! | `clock.rs` | virtual time and the event queue |
//! | `rng.rs` | the seeded PRNG |
//!
//! A simulated socket's descriptor is real (an unbound socket of the same
//! type, never connected), so its number, its fd mutex and the close
//! protocol are exactly those of the real backends; only the data moves
//! in the simulator. See `docs/simulation.md` for a guide.
//!
//! ```
//! use ringio::net::{TcpListener, TcpStream};
//! use std::time::Duration;
//!
//! let mut sim = ringio::sim::Sim::new(42);
//! sim.host("127.0.1.1", || async {
//!     let listener = TcpListener::bind("0.0.0.0:80")?;
//!     let (stream, _) = listener.accept().await?;
//!     stream.write_all(b"hello".to_vec()).await.0
//! });
//! sim.link("127.0.1.1", "127.0.1.2", ringio::sim::Link::new().latency(Duration::from_millis(50)));
//! let (got, took) = sim.run("127.0.1.2", || async {
//!     let stream = TcpStream::connect("127.0.1.1:80").await.unwrap();
//!     let (res, buf) = stream.read_exact(vec![0u8; 5]).await;
//!     res.unwrap();
//!     (buf, ringio::sim::elapsed())
//! });
//! assert_eq!(got, b"hello");
//! // The SYN takes 50 ms; the SYN-ACK and the reply then arrive together.
//! assert_eq!(took, Duration::from_millis(100));
//! ```

mod clock;
mod connect;
mod control;
mod datagram;
pub(crate) mod driver;
mod fault;
pub(crate) mod host;
mod net;
pub(crate) mod ops;
mod rng;
mod runner;
mod socket;
mod stream;

pub use control::{crash, elapsed, heal, partition, restart, set_link};
pub use fault::Link;
pub use runner::{for_each_seed, Sim};

pub(crate) use driver::{Driver, SimOp, WeakDriver};
pub(crate) use socket::Socket;

use rustix::net::{AddressFamily, SocketAddrAny};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

/// The seed `RINGIO_SIM_SEED` names (decimal, or hex with `0x`), else `default`.
pub(crate) fn seed_from_env(default: u64) -> io::Result<u64> {
    let Ok(value) = std::env::var("RINGIO_SIM_SEED") else {
        return Ok(default);
    };
    let value = value.trim();
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    parsed.map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("RINGIO_SIM_SEED={value}: expected a number"),
        )
    })
}

/// `None` unless the current runtime is simulated and `family` is IP.
fn simulated(family: AddressFamily) -> Option<io::Result<std::sync::Arc<net::Net>>> {
    if family != AddressFamily::INET && family != AddressFamily::INET6 {
        return None;
    }
    let net = driver::current_net()?;
    if family == AddressFamily::INET6 {
        return Some(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "ringio::sim simulates IPv4 only",
        )));
    }
    Some(Ok(net))
}

fn ip_addr(addr: &SocketAddrAny) -> io::Result<SocketAddr> {
    SocketAddr::try_from(addr.clone()).map_err(|_| net::errno(libc::EAFNOSUPPORT))
}

/// `net::socket` on the simulator: a fresh stream or datagram socket.
pub(crate) fn socket(family: AddressFamily, stream: bool) -> Option<io::Result<OwnedFd>> {
    let net = match simulated(family)? {
        Ok(net) => net,
        Err(e) => return Some(Err(e)),
    };
    Some(net.open(stream, host::current()).map(|(fd, _)| fd))
}

/// `net::listener` on the simulator: bound and listening.
pub(crate) fn listener(family: AddressFamily, addr: &SocketAddrAny, backlog: i32) -> Option<io::Result<OwnedFd>> {
    let net = match simulated(family)? {
        Ok(net) => net,
        Err(e) => return Some(Err(e)),
    };
    Some((|| {
        let addr = ip_addr(addr)?;
        let (fd, id) = net.open(true, host::current())?;
        net.with(|st| st.listen(id, Some(addr), backlog.max(1) as usize))?;
        Ok(fd)
    })())
}

/// `net::datagram` on the simulator: a UDP socket, bound to `addr` if given.
pub(crate) fn datagram(family: AddressFamily, addr: Option<&SocketAddrAny>) -> Option<io::Result<OwnedFd>> {
    let net = match simulated(family)? {
        Ok(net) => net,
        Err(e) => return Some(Err(e)),
    };
    Some((|| {
        let (fd, id) = net.open(false, host::current())?;
        if let Some(addr) = addr {
            let addr = ip_addr(addr)?;
            net.with(|st| st.bind_dgram(id, addr))?;
        }
        Ok(fd)
    })())
}

/// The simulated socket a `TcpSocket`'s placeholder (not adopted yet)
/// stands for.
fn unadopted(fd: &OwnedFd) -> Option<(std::sync::Arc<net::Net>, u64)> {
    use std::os::fd::AsRawFd;
    let net = driver::current_net()?;
    let id = net.pending(fd.as_raw_fd())?;
    Some((net, id))
}

/// `TcpSocket::bind` on the simulator.
pub(crate) fn bind_unadopted(fd: &OwnedFd, addr: SocketAddr) -> Option<io::Result<()>> {
    let (net, id) = unadopted(fd)?;
    Some(net.with(|st| st.bind_stream(id, addr)).map(drop))
}

/// `TcpSocket::listen` on the simulator.
pub(crate) fn listen_unadopted(fd: &OwnedFd, backlog: u32) -> Option<io::Result<()>> {
    let (net, id) = unadopted(fd)?;
    let backlog = usize::try_from(backlog).unwrap_or(usize::MAX);
    Some(net.with(|st| st.listen(id, None, backlog)).map(drop))
}

/// `TcpSocket::local_addr` on the simulator.
pub(crate) fn local_addr_unadopted(fd: &OwnedFd) -> Option<io::Result<SocketAddr>> {
    let (net, id) = unadopted(fd)?;
    Some(net.with(|st| st.sock(id)?.local.ok_or_else(|| net::errno(libc::EINVAL))))
}

/// A simulator error as the errno a closure standing in for a syscall
/// returns (`WouldBlock` is `EAGAIN`).
pub(crate) fn errno_of(e: io::Error) -> rustix::io::Errno {
    rustix::io::Errno::from_io_error(&e).unwrap_or(if e.kind() == io::ErrorKind::WouldBlock {
        rustix::io::Errno::AGAIN
    } else {
        rustix::io::Errno::IO
    })
}

/// The socket address as the kernel's calls return it.
pub(crate) fn any(addr: SocketAddr) -> SocketAddrAny {
    SocketAddrAny::from(addr)
}
