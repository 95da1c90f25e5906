//! The in-memory network: every simulated socket, the listener and datagram
//! address maps, the hosts, and the event loop that moves bytes between
//! them on the virtual clock. Stream and datagram behaviour live in
//! `stream.rs` and `datagram.rs`; this file owns the shared state, socket
//! creation and adoption, addresses and ports, and one turn of events.
//!
//! Everything sits behind one mutex (a simulation runs on one thread; the
//! lock only keeps the types `Send`). Wakers are collected while it is held
//! and woken after it is released, in the order the events produced them.

use super::clock::Clock;
use super::connect::ListenSock;
use super::datagram::DgramSock;
use super::fault::Faults;
use super::host::Host;
use super::rng::Rng;
use super::stream::StreamSock;
use crate::sync::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::task::Waker;
use std::time::{Duration, Instant};

/// Sizes and limits of the simulated kernel.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Bytes a stream's receive queue holds; a writer whose bytes in flight
    /// plus the peer's unread bytes reach it waits (backpressure).
    pub stream_buffer: usize,
    /// Datagrams a socket's receive queue holds; more are dropped.
    pub datagram_queue: usize,
    /// The cap on every listen backlog (`net.core.somaxconn`).
    pub somaxconn: usize,
    /// Virtual time after which a run is considered stuck (a task that
    /// wakes periodically forever would otherwise spin without end).
    pub time_limit: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            stream_buffer: 64 * 1024,
            datagram_queue: 256,
            somaxconn: 4096,
            time_limit: Duration::from_secs(365 * 86_400),
        }
    }
}

/// What happens on the clock.
pub(crate) enum Event {
    /// A connection request reaches `to` (try number `attempt`).
    Syn { client: u64, to: SocketAddr, attempt: u32 },
    /// The server's answer reaches the client (try number `attempt`):
    /// connected.
    Established { client: u64, server: u64, attempt: u32 },
    /// The connect fails (refused, timed out).
    ConnectFailed { client: u64, errno: i32 },
    /// Segments of stream `from` that are due reach its peer.
    Arrive { from: u64 },
    /// A datagram reaches `to`.
    Datagram {
        from: SocketAddr,
        to: SocketAddr,
        data: Vec<u8>,
    },
    /// Room opened in a peer's queue: wake `id`'s writers.
    WakeWriters { id: u64 },
    /// A partition between two hosts heals.
    Heal { a: usize, b: usize },
}

/// One simulated socket.
pub(crate) struct Sock {
    pub host: usize,
    pub local: Option<SocketAddr>,
    /// The descriptor is gone (the socket lingers while its bytes drain).
    pub fd_closed: bool,
    pub readers: Vec<Waker>,
    pub writers: Vec<Waker>,
    pub kind: Kind,
}

pub(crate) enum Kind {
    Stream(StreamSock),
    Listener(ListenSock),
    Dgram(DgramSock),
}

/// The whole simulated network.
pub(crate) struct State {
    pub seed: u64,
    pub rng: Rng,
    pub clock: Clock<Event>,
    pub faults: Faults,
    pub config: Config,
    pub hosts: Vec<Host>,
    pub sockets: BTreeMap<u64, Sock>,
    next_id: u64,
    pub listeners: HashMap<SocketAddr, u64>,
    pub dgrams: HashMap<SocketAddr, u64>,
    /// Ports taken, per (stream?, address).
    ports: BTreeSet<(bool, SocketAddr)>,
    /// Placeholders created but not yet adopted by a `Descriptor`: number ->
    /// (inode, socket), the inode telling a reused number apart.
    pending: BTreeMap<RawFd, (u64, u64)>,
    trace: Vec<String>,
    /// Wakers to wake once the lock is released.
    pub wake: Vec<Waker>,
}

/// The network of one simulation, shared by its driver and its sockets.
pub(crate) struct Net {
    state: Mutex<State>,
}

/// Errors as the kernel would report them.
pub(crate) fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

impl Net {
    pub(crate) fn new(seed: u64, config: Config) -> Net {
        Net {
            state: Mutex::new(State {
                seed,
                rng: Rng::new(seed),
                clock: Clock::new(),
                faults: Faults::default(),
                config,
                hosts: Vec::new(),
                sockets: BTreeMap::new(),
                next_id: 1,
                listeners: HashMap::new(),
                dgrams: HashMap::new(),
                ports: BTreeSet::new(),
                pending: BTreeMap::new(),
                trace: Vec::new(),
                wake: Vec::new(),
            }),
        }
    }

    /// Runs `f` on the state, then wakes what it asked to wake.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let (r, wake) = {
            let mut st = self.state.lock();
            let r = f(&mut st);
            (r, std::mem::take(&mut st.wake))
        };
        wake.into_iter().for_each(Waker::wake);
        r
    }

    pub(crate) fn seed(&self) -> u64 {
        self.with(|st| st.seed)
    }

    pub(crate) fn now(&self) -> Instant {
        self.with(|st| st.clock.instant())
    }

    pub(crate) fn trace(&self) -> Vec<String> {
        self.with(|st| st.trace.clone())
    }

    /// Whether virtual time went past the configured limit.
    pub(crate) fn past_limit(&self) -> bool {
        self.with(|st| st.clock.now() > st.config.time_limit)
    }

    /// Runs every event due now; `false` if none was.
    pub(crate) fn run_due(&self) -> bool {
        self.with(|st| {
            let mut any = false;
            while let Some(ev) = st.clock.pop_due() {
                any = true;
                st.handle(ev);
            }
            any
        })
    }

    /// Moves the clock to the next event, but not past `limit` (virtual
    /// time; `None`: no limit). Returns `false` if there was no event and
    /// no limit: nothing can ever happen again.
    pub(crate) fn advance(&self, limit: Option<Instant>) -> bool {
        self.with(|st| {
            let limit = limit.map(|l| st.clock.since_origin(l));
            match (st.clock.next_due(), limit) {
                (Some(due), Some(limit)) => st.clock.advance_to(due.min(limit)),
                (Some(due), None) => st.clock.advance_to(due),
                (None, Some(limit)) => st.clock.advance_to(limit),
                (None, None) => return false,
            }
            true
        })
    }

    /// A new socket and its placeholder descriptor (a real, unbound socket
    /// of the same type, so the number and the fd mutex are real).
    pub(crate) fn open(&self, stream: bool, host: usize) -> io::Result<(OwnedFd, u64)> {
        let id = self.with(|st| {
            let kind = if stream {
                Kind::Stream(StreamSock::default())
            } else {
                Kind::Dgram(DgramSock::default())
            };
            st.insert(host, None, kind)
        });
        match self.placeholder_for(id) {
            Ok(fd) => Ok((fd, id)),
            Err(e) => {
                self.with(|st| st.remove(id));
                Err(e)
            }
        }
    }

    /// A placeholder descriptor for socket `id`, waiting to be adopted.
    pub(crate) fn placeholder_for(&self, id: u64) -> io::Result<OwnedFd> {
        let stream = self.with(|st| !matches!(st.sockets.get(&id).map(|s| &s.kind), Some(Kind::Dgram(_))));
        let ty = if stream {
            rustix::net::SocketType::STREAM
        } else {
            rustix::net::SocketType::DGRAM
        };
        let fd = rustix::net::socket_with(
            rustix::net::AddressFamily::INET,
            ty,
            rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK,
            None,
        )?;
        let ino = rustix::fs::fstat(&fd)?.st_ino;
        self.sweep();
        self.with(|st| st.pending.insert(fd.as_raw_fd(), (ino, id)));
        Ok(fd)
    }

    /// The socket a placeholder stands for, taken when its `Descriptor`
    /// registers; `None` for a real descriptor.
    pub(crate) fn adopt(&self, raw: RawFd) -> Option<u64> {
        let id = self.pending(raw)?;
        self.with(|st| st.pending.remove(&raw));
        Some(id)
    }

    /// The socket placeholder `raw` stands for while not adopted yet (a
    /// `TcpSocket`), forgetting placeholders closed meanwhile.
    pub(crate) fn pending(&self, raw: RawFd) -> Option<u64> {
        self.sweep();
        self.with(|st| st.pending.get(&raw).map(|&(_, id)| id))
    }

    /// Forgets sockets whose placeholder was closed before adoption (a
    /// dropped `TcpSocket`), freeing what they held.
    fn sweep(&self) {
        let pending: Vec<(RawFd, u64)> =
            self.with(|st| st.pending.iter().map(|(&raw, &(ino, _))| (raw, ino)).collect());
        for (raw, ino) in pending {
            if inode(raw) != Some(ino) {
                self.with(|st| {
                    if let Some((_, id)) = st.pending.remove(&raw) {
                        st.remove(id);
                    }
                });
            }
        }
    }
}

/// The inode of descriptor number `raw`, if it is open.
fn inode(raw: RawFd) -> Option<u64> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `stat` is valid for writes of one `struct stat`; a closed or
    // reused number is harmless to `fstat` (it fails with `EBADF`, or
    // describes another file, which the caller tells apart by inode).
    let ret = unsafe { libc::fstat(raw, stat.as_mut_ptr()) };
    // SAFETY: `fstat` succeeded, so it filled `stat`.
    (ret == 0).then(|| unsafe { stat.assume_init() }.st_ino)
}

impl State {
    pub(crate) fn insert(&mut self, host: usize, local: Option<SocketAddr>, kind: Kind) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.sockets.insert(
            id,
            Sock {
                host,
                local,
                fd_closed: false,
                readers: Vec::new(),
                writers: Vec::new(),
                kind,
            },
        );
        id
    }

    /// Forgets socket `id`, freeing its port and address.
    pub(crate) fn remove(&mut self, id: u64) {
        self.release_addr(id);
        let Some(sock) = self.sockets.remove(&id) else { return };
        self.wake.extend(sock.readers);
        self.wake.extend(sock.writers);
    }

    /// Frees the address and port of socket `id` (which then has none).
    pub(crate) fn release_addr(&mut self, id: u64) {
        let Some(sock) = self.sockets.get_mut(&id) else { return };
        let Some(local) = sock.local.take() else { return };
        match &sock.kind {
            Kind::Listener(_) => {
                if self.listeners.get(&local) == Some(&id) {
                    self.listeners.remove(&local);
                }
                self.ports.remove(&(true, local));
            }
            Kind::Dgram(_) => {
                if self.dgrams.get(&local) == Some(&id) {
                    self.dgrams.remove(&local);
                }
                self.ports.remove(&(false, local));
            }
            // An accepted stream shares its listener's port.
            Kind::Stream(s) if !s.accepted => {
                self.ports.remove(&(true, local));
            }
            Kind::Stream(_) => {}
        }
    }

    /// Appends a line to the trace (with the virtual time) and logs it.
    pub(crate) fn log(&mut self, line: std::fmt::Arguments<'_>) {
        let line = format!("{:>12}ns {line}", self.clock.now().as_nanos());
        tracing::trace!(target: "ringio::sim", "{line}");
        self.trace.push(line);
    }

    pub(crate) fn sock(&mut self, id: u64) -> io::Result<&mut Sock> {
        self.sockets.get_mut(&id).ok_or_else(|| errno(libc::EBADF))
    }

    pub(crate) fn host_ip(&self, host: usize) -> Ipv4Addr {
        self.hosts[host].ip
    }

    pub(crate) fn host_of(&self, ip: IpAddr) -> Option<usize> {
        self.hosts.iter().position(|h| IpAddr::V4(h.ip) == ip)
    }

    /// The address `addr` means on `host`: the wildcard and 127.0.0.1 are
    /// the host's own address.
    pub(crate) fn on_host(&self, host: usize, addr: SocketAddr) -> io::Result<SocketAddr> {
        let ip = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() || ip == Ipv4Addr::LOCALHOST => self.host_ip(host),
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => return Err(errno(libc::EAFNOSUPPORT)),
        };
        Ok(SocketAddr::new(IpAddr::V4(ip), addr.port()))
    }

    /// Takes `addr` (port 0: an ephemeral port, drawn from the seed) on
    /// `host` for a stream (`stream`) or datagram socket.
    pub(crate) fn take_port(&mut self, host: usize, stream: bool, addr: SocketAddr) -> io::Result<SocketAddr> {
        let addr = self.on_host(host, addr)?;
        if addr.ip() != IpAddr::V4(self.host_ip(host)) {
            return Err(errno(libc::EADDRNOTAVAIL));
        }
        if addr.port() != 0 {
            if !self.ports.insert((stream, addr)) {
                return Err(errno(libc::EADDRINUSE));
            }
            return Ok(addr);
        }
        const FIRST: u16 = 32768;
        const COUNT: u16 = 60999 - FIRST + 1;
        let start = match self.hosts[host].next_port {
            Some(p) => p,
            None => FIRST + self.rng.below(u64::from(COUNT)) as u16,
        };
        for i in 0..COUNT {
            let port = FIRST + (start - FIRST + i) % COUNT;
            let candidate = SocketAddr::new(addr.ip(), port);
            if self.ports.insert((stream, candidate)) {
                self.hosts[host].next_port = Some(FIRST + (port - FIRST + 1) % COUNT);
                return Ok(candidate);
            }
        }
        Err(errno(libc::EADDRNOTAVAIL))
    }

    /// Wakes every waiter of `id`.
    pub(crate) fn wake_all(&mut self, id: u64) {
        if let Some(sock) = self.sockets.get_mut(&id) {
            self.wake.append(&mut sock.readers);
            self.wake.append(&mut sock.writers);
        }
    }

    pub(crate) fn wake_readers(&mut self, id: u64) {
        if let Some(sock) = self.sockets.get_mut(&id) {
            self.wake.append(&mut sock.readers);
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Syn { client, to, attempt } => self.on_syn(client, to, attempt),
            Event::Established {
                client,
                server,
                attempt,
            } => self.on_established(client, server, attempt),
            Event::ConnectFailed { client, errno } => self.on_connect_failed(client, errno),
            Event::Arrive { from } => self.on_arrive(from),
            Event::Datagram { from, to, data } => self.on_datagram(from, to, data),
            Event::WakeWriters { id } => {
                if let Some(sock) = self.sockets.get_mut(&id) {
                    self.wake.append(&mut sock.writers);
                }
            }
            Event::Heal { a, b } => {
                self.faults.heal(a, b);
                let (a, b) = (self.host_ip(a), self.host_ip(b));
                self.log(format_args!("heal {a} <-> {b}"));
            }
        }
    }

    /// A duration as virtual time from now.
    pub(crate) fn after(&self, d: Duration) -> Duration {
        self.clock.now() + d
    }
}

/// Registers `waker` in `list` unless an equivalent one is there.
pub(crate) fn park(list: &mut Vec<Waker>, waker: &Waker) {
    if !list.iter().any(|w| w.will_wake(waker)) {
        list.push(waker.clone());
    }
}
