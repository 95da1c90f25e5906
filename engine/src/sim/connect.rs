//! Simulated TCP connection setup: binding and listening, connect (a SYN
//! that reaches a listener after the link's delay, is refused where none
//! listens, or is dropped by a full backlog, a partition or a crashed host
//! and retransmitted after 1, 2, 4, ... s until `ETIMEDOUT`), and accept.

use super::net::{errno, park, Event, Kind, State};
use super::stream::{stream, Phase, StreamSock};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

/// Connection attempts before `ETIMEDOUT` (Linux's `tcp_syn_retries` is 6).
const SYN_RETRIES: u32 = 5;
/// First retransmission timeout of a SYN (then doubled per try).
const SYN_RTO: Duration = Duration::from_secs(1);

/// A listening socket.
pub(crate) struct ListenSock {
    pub backlog: VecDeque<u64>,
    pub limit: usize,
    /// The host crashed under it.
    pub dead: bool,
}

impl State {
    /// Binds stream socket `id` to `addr` (port 0: ephemeral) before it
    /// listens or connects.
    pub(crate) fn bind_stream(&mut self, id: u64, addr: SocketAddr) -> io::Result<SocketAddr> {
        let sock = self.sock(id)?;
        if sock.local.is_some() || !matches!(&sock.kind, Kind::Stream(s) if s.phase == Phase::Idle) {
            return Err(errno(libc::EINVAL));
        }
        let host = sock.host;
        let local = self.take_port(host, true, addr)?;
        self.sock(id)?.local = Some(local);
        Ok(local)
    }

    /// Listens on the address `id` is bound to, or binds `addr` first
    /// (port 0: ephemeral).
    pub(crate) fn listen(&mut self, id: u64, addr: Option<SocketAddr>, backlog: usize) -> io::Result<SocketAddr> {
        let host = self.sock(id)?.host;
        if !self.hosts[host].alive {
            return Err(errno(libc::ENETDOWN));
        }
        if !matches!(&self.sock(id)?.kind, Kind::Stream(s) if s.phase == Phase::Idle) {
            return Err(errno(libc::EINVAL));
        }
        let local = match (self.sock(id)?.local, addr) {
            (Some(local), _) => local,
            (None, Some(addr)) => self.take_port(host, true, addr)?,
            (None, None) => self.take_port(host, true, SocketAddr::from(([0, 0, 0, 0], 0)))?,
        };
        let limit = backlog.clamp(1, self.config.somaxconn.max(1));
        let sock = self.sock(id)?;
        sock.local = Some(local);
        sock.kind = Kind::Listener(ListenSock {
            backlog: VecDeque::new(),
            limit,
            dead: false,
        });
        self.listeners.insert(local, id);
        self.log(format_args!("listen {local} backlog {limit}"));
        Ok(local)
    }

    /// Connects stream `id` to `to`, registering `cx` while it is under way.
    pub(crate) fn connect(&mut self, id: u64, to: SocketAddr, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let phase = match stream(self, id) {
            Ok(s) => s.phase,
            Err(e) => return Poll::Ready(Err(e)),
        };
        match phase {
            Phase::Connected => return Poll::Ready(Ok(())),
            Phase::Failed(e) => return Poll::Ready(Err(errno(e))),
            Phase::Connecting => {
                park(&mut self.sockets.get_mut(&id).expect("checked").writers, cx.waker());
                return Poll::Pending;
            }
            Phase::Idle => {}
        }
        let host = self.sockets[&id].host;
        let to = match self.on_host(host, to) {
            Ok(to) => to,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let local = match self.sockets[&id].local {
            Some(bound) => Ok(bound),
            None => self.take_port(host, true, SocketAddr::from(([0, 0, 0, 0], 0))),
        };
        let local = match local {
            Ok(local) => local,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let sock = self.sockets.get_mut(&id).expect("checked");
        sock.local = Some(local);
        park(&mut sock.writers, cx.waker());
        let Kind::Stream(s) = &mut sock.kind else {
            unreachable!("checked")
        };
        s.phase = Phase::Connecting;
        self.log(format_args!("connect {local} -> {to}"));
        self.send_syn(id, to, 0);
        Poll::Pending
    }

    fn send_syn(&mut self, client: u64, to: SocketAddr, attempt: u32) {
        let from = self.sockets[&client].host;
        let at = match self.host_of(to.ip()) {
            Some(dest) => self.faults.arrival(&mut self.rng, from, dest, self.clock.now(), 0),
            None => self.clock.now(),
        };
        self.clock
            .schedule(&mut self.rng, at, Event::Syn { client, to, attempt });
    }

    /// A SYN that got no answer: try again later, or time out.
    fn syn_lost(&mut self, client: u64, to: SocketAddr, attempt: u32) {
        if attempt >= SYN_RETRIES {
            self.on_connect_failed(client, libc::ETIMEDOUT);
            return;
        }
        let at = self.after(SYN_RTO * (1 << attempt));
        self.clock.schedule(
            &mut self.rng,
            at,
            Event::Syn {
                client,
                to,
                attempt: attempt + 1,
            },
        );
    }

    pub(crate) fn on_syn(&mut self, client: u64, to: SocketAddr, attempt: u32) {
        let Some(Kind::Stream(s)) = self.sockets.get(&client).map(|s| &s.kind) else {
            return;
        };
        if s.phase != Phase::Connecting || self.sockets[&client].fd_closed {
            return;
        }
        let client_host = self.sockets[&client].host;
        let client_addr = self.sockets[&client].local.expect("bound at connect");
        let Some(dest) = self.host_of(to.ip()) else {
            self.log(format_args!("syn {client_addr} -> {to}: no such host"));
            return self.on_connect_failed(client, libc::ECONNREFUSED);
        };
        if !self.hosts[dest].alive || self.faults.cut(client_host, dest, self.clock.now()).is_some() {
            self.log(format_args!("syn {client_addr} -> {to} lost (try {attempt})"));
            return self.syn_lost(client, to, attempt);
        }
        let back = self
            .faults
            .arrival(&mut self.rng, dest, client_host, self.clock.now(), 0);
        let Some(&lid) = self.listeners.get(&to) else {
            self.log(format_args!("syn {client_addr} -> {to} refused"));
            let ev = Event::ConnectFailed {
                client,
                errno: libc::ECONNREFUSED,
            };
            return self.clock.schedule(&mut self.rng, back, ev);
        };
        let Kind::Listener(l) = &self.sockets[&lid].kind else {
            return;
        };
        if l.backlog.len() >= l.limit {
            self.log(format_args!(
                "syn {client_addr} -> {to} dropped: backlog full (try {attempt})"
            ));
            return self.syn_lost(client, to, attempt);
        }
        let server = self.insert(
            dest,
            Some(to),
            Kind::Stream(StreamSock {
                phase: Phase::Connected,
                peer: Some(client_addr),
                peer_id: Some(client),
                accepted: true,
                ..StreamSock::default()
            }),
        );
        if let Some(Kind::Listener(l)) = self.sockets.get_mut(&lid).map(|s| &mut s.kind) {
            l.backlog.push_back(server);
        }
        self.wake_readers(lid);
        self.log(format_args!("accept queue {to} <- {client_addr}"));
        self.clock.schedule(
            &mut self.rng,
            back,
            Event::Established {
                client,
                server,
                attempt: 0,
            },
        );
    }

    pub(crate) fn on_established(&mut self, client: u64, server: u64, attempt: u32) {
        let server_addr = self.sockets.get(&server).and_then(|s| s.local);
        let alive = self.sockets.get(&client).is_some_and(|s| !s.fd_closed);
        let hosts = (
            self.sockets.get(&server).map(|s| s.host),
            self.sockets.get(&client).map(|s| s.host),
        );
        if let (true, (Some(from), Some(to))) = (alive, hosts) {
            if self.faults.cut(from, to, self.clock.now()).is_some() {
                // The SYN-ACK is lost; the server sends it again later, and
                // the client gives up after as many tries as for its SYN.
                if attempt >= SYN_RETRIES {
                    self.on_connect_failed(client, libc::ETIMEDOUT);
                    return self.reset(server, libc::ETIMEDOUT);
                }
                let at = self.after(SYN_RTO * (1 << attempt));
                let ev = Event::Established {
                    client,
                    server,
                    attempt: attempt + 1,
                };
                return self.clock.schedule(&mut self.rng, at, ev);
            }
        }
        match self.sockets.get_mut(&client).map(|s| &mut s.kind) {
            Some(Kind::Stream(s)) if alive && s.phase == Phase::Connecting => {
                s.phase = Phase::Connected;
                s.peer_id = Some(server);
                s.peer = server_addr;
                self.wake_all(client);
                self.log(format_args!("established {server_addr:?} for {client}"));
            }
            // The client gave up meanwhile: the server end is reset.
            _ => self.reset(server, libc::ECONNRESET),
        }
    }

    pub(crate) fn on_connect_failed(&mut self, client: u64, code: i32) {
        if let Some(Kind::Stream(s)) = self.sockets.get_mut(&client).map(|s| &mut s.kind) {
            if s.phase == Phase::Connecting {
                s.phase = Phase::Failed(code);
                self.wake_all(client);
                let e = errno(code);
                self.log(format_args!("connect of {client} failed: {e}"));
            }
        }
    }

    /// Takes a queued connection off listener `id`.
    pub(crate) fn accept(&mut self, id: u64, cx: Option<&mut Context<'_>>) -> Poll<io::Result<(u64, SocketAddr)>> {
        let sock = match self.sock(id) {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let Kind::Listener(l) = &mut sock.kind else {
            return Poll::Ready(Err(errno(libc::EINVAL)));
        };
        if l.dead {
            return Poll::Ready(Err(errno(libc::ENETDOWN)));
        }
        match l.backlog.pop_front() {
            Some(server) => {
                let peer = match &self.sockets[&server].kind {
                    Kind::Stream(s) => s.peer.expect("set when queued"),
                    _ => unreachable!("a backlog holds streams"),
                };
                Poll::Ready(Ok((server, peer)))
            }
            None => {
                if let Some(cx) = cx {
                    park(&mut sock.readers, cx.waker());
                }
                Poll::Pending
            }
        }
    }
}
