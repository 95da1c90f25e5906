//! Simulated UDP: each socket has a bounded queue of whole datagrams.
//! Sending never waits; a datagram may be lost, duplicated or held back
//! (reordered) by its link, is dropped across a partition or to a crashed
//! host, and is dropped when the receiver's queue is full, as a kernel
//! drops it.

use super::fault::jitter;
use super::net::{errno, park, Event, Kind, State};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

/// A datagram socket's state.
#[derive(Default)]
pub(crate) struct DgramSock {
    pub queue: VecDeque<(SocketAddr, Vec<u8>)>,
    /// The connected peer: the default destination and the only sender
    /// received from.
    pub peer: Option<SocketAddr>,
    /// The host crashed under it.
    pub dead: bool,
}

fn dgram(st: &mut State, id: u64) -> io::Result<&mut DgramSock> {
    match &mut st.sock(id)?.kind {
        Kind::Dgram(d) if d.dead => Err(errno(libc::ENETDOWN)),
        Kind::Dgram(d) => Ok(d),
        _ => Err(errno(libc::EINVAL)),
    }
}

/// An address as a number, to name a path's lane.
fn lane_of(addr: SocketAddr) -> u64 {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) => u64::from(u32::from(ip)),
        std::net::IpAddr::V6(ip) => u128::from(ip) as u64,
    };
    (ip << 16) | u64::from(addr.port())
}

impl State {
    /// Binds datagram socket `id` to `addr` (port 0: ephemeral).
    pub(crate) fn bind_dgram(&mut self, id: u64, addr: SocketAddr) -> io::Result<SocketAddr> {
        dgram(self, id)?;
        let sock = self.sock(id)?;
        if sock.local.is_some() {
            return Err(errno(libc::EINVAL));
        }
        let host = sock.host;
        let local = self.take_port(host, false, addr)?;
        self.sock(id)?.local = Some(local);
        self.dgrams.insert(local, id);
        self.log(format_args!("bind udp {local}"));
        Ok(local)
    }

    /// The bound address, binding an ephemeral port first if needed.
    fn autobind(&mut self, id: u64) -> io::Result<SocketAddr> {
        match self.sock(id)?.local {
            Some(local) => Ok(local),
            None => self.bind_dgram(id, SocketAddr::from(([0, 0, 0, 0], 0))),
        }
    }

    /// Sets the default peer of datagram socket `id`.
    pub(crate) fn connect_dgram(&mut self, id: u64, to: SocketAddr) -> io::Result<()> {
        self.autobind(id)?;
        let host = self.sock(id)?.host;
        let to = self.on_host(host, to)?;
        dgram(self, id)?.peer = Some(to);
        Ok(())
    }

    /// Sends `data` as one datagram to `to` (or the connected peer).
    pub(crate) fn send_dgram(&mut self, id: u64, data: &[u8], to: Option<SocketAddr>) -> io::Result<usize> {
        let from = self.autobind(id)?;
        let host = self.sock(id)?.host;
        let to = match to.or(dgram(self, id)?.peer) {
            Some(to) => self.on_host(host, to)?,
            None => return Err(errno(libc::EDESTADDRREQ)),
        };
        let Some(dest) = self.host_of(to.ip()) else {
            self.log(format_args!("udp {from} -> {to} {}B: no such host", data.len()));
            return Ok(data.len());
        };
        let now = self.clock.now();
        if self.faults.cut(host, dest, now).is_some() {
            self.log(format_args!("udp {from} -> {to} {}B: cut", data.len()));
            return Ok(data.len());
        }
        let link = self.faults.link(host, dest).clone();
        if self.rng.chance(link.loss) {
            self.log(format_args!("fault: udp {from} -> {to} {}B lost", data.len()));
            return Ok(data.len());
        }
        let copies = if self.rng.chance(link.duplicate) { 2 } else { 1 };
        for copy in 0..copies {
            let mut at = self.faults.arrival(&mut self.rng, host, dest, now, data.len());
            if self.rng.chance(link.reorder) {
                at += link.latency * 4 + jitter(&mut self.rng, link.jitter + link.latency);
                self.log(format_args!("fault: udp {from} -> {to} held back"));
            }
            if copy == 1 {
                self.log(format_args!("fault: udp {from} -> {to} duplicated"));
            }
            let ev = Event::Datagram {
                from,
                to,
                data: data.to_vec(),
            };
            // One lane per path: without jitter or a reorder fault, a path
            // delivers in order, as loopback UDP does.
            let lane = super::rng::mix(self.seed ^ super::rng::mix(lane_of(from) ^ lane_of(to).rotate_left(32)));
            self.clock.schedule_in(lane, at, ev);
        }
        Ok(data.len())
    }

    pub(crate) fn on_datagram(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let limit = self.config.datagram_queue;
        let Some(&id) = self.dgrams.get(&to) else {
            self.log(format_args!("udp {from} -> {to} {}B: nobody bound", data.len()));
            return;
        };
        let alive = self.hosts[self.sockets[&id].host].alive;
        let Ok(d) = dgram(self, id) else { return };
        let len = data.len();
        if !alive || d.peer.is_some_and(|p| p != from) {
            return;
        }
        if d.queue.len() >= limit {
            self.log(format_args!("udp {from} -> {to} {len}B: queue full"));
            return;
        }
        d.queue.push_back((from, data));
        self.wake_readers(id);
        self.log(format_args!("udp {from} -> {to} {len}B"));
    }

    /// Takes one datagram: its bytes (up to `max`), sender, full length.
    pub(crate) fn recv_dgram(
        &mut self,
        id: u64,
        max: usize,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<io::Result<(Vec<u8>, SocketAddr, usize)>> {
        let d = match dgram(self, id) {
            Ok(d) => d,
            Err(e) => return Poll::Ready(Err(e)),
        };
        match d.queue.pop_front() {
            Some((from, mut data)) => {
                let len = data.len();
                data.truncate(max);
                Poll::Ready(Ok((data, from, len)))
            }
            None => {
                if let Some(cx) = cx {
                    park(&mut self.sockets.get_mut(&id).expect("checked").readers, cx.waker());
                }
                Poll::Pending
            }
        }
    }
}
