//! Simulated TCP once connected (setup is `connect.rs`): each direction of
//! a connection is a bounded byte queue.
//!
//! A writer may have at most `stream_buffer` bytes in flight plus unread at
//! the peer; beyond that it waits (backpressure). Bytes travel as segments
//! that arrive in order after the link's delay; a partition holds them back
//! (retransmission with backoff) until it heals, or times the connection out.
//! FIN (close, `shutdown(Write)`) is a segment after the data; closing with
//! unread bytes, writing to a closed peer, a reset fault or a host crash
//! sends RST, which the peer reports as `ECONNRESET` (then `EPIPE` on write).

use super::fault::shorten;
use super::net::{errno, park, Event, Kind, State};
use crate::fd::Interest;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

/// First retransmission timeout of held-back segments, and its cap.
const RTO: Duration = Duration::from_millis(200);
const RTO_MAX: Duration = Duration::from_secs(120);
/// Retransmissions before a connection times out (`tcp_retries2` is 15).
const RETRIES: u32 = 15;

/// What travels on a connection.
pub(crate) enum Segment {
    Data(Vec<u8>),
    Fin,
    Rst,
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    #[default]
    Idle,
    Connecting,
    Connected,
    Failed(i32),
}

/// One end of a connection.
#[derive(Default)]
pub(crate) struct StreamSock {
    pub phase: Phase,
    pub peer: Option<SocketAddr>,
    pub peer_id: Option<u64>,
    /// Accepted from a listener (shares its port).
    pub accepted: bool,
    /// Bytes arrived and not yet read.
    pub recv: VecDeque<u8>,
    /// Segments on their way to the peer, with their arrival times.
    pub in_flight: VecDeque<(Duration, Segment)>,
    pub in_flight_bytes: usize,
    /// Arrival time of the last segment sent, so later ones come after it.
    pub last_arrival: Duration,
    pub retries: u32,
    /// The peer's FIN arrived (after all its data).
    pub eof: bool,
    pub read_shut: bool,
    pub write_shut: bool,
    /// An error the next read or write reports, once.
    pub error: Option<i32>,
    /// Reset or timed out: reads see end of stream, writes `EPIPE`.
    pub dead: bool,
}

/// Stream socket `id`'s state (`ENOTCONN` for another kind of socket).
pub(crate) fn stream(st: &mut State, id: u64) -> io::Result<&mut StreamSock> {
    match &mut st.sock(id)?.kind {
        Kind::Stream(s) => Ok(s),
        _ => Err(errno(libc::ENOTCONN)),
    }
}

impl State {
    /// How many more bytes stream `id` may send now.
    fn window(&self, id: u64) -> usize {
        let Some(Kind::Stream(s)) = self.sockets.get(&id).map(|s| &s.kind) else {
            return 0;
        };
        let unread = match s.peer_id.and_then(|p| self.sockets.get(&p)) {
            Some(peer) => match &peer.kind {
                Kind::Stream(p) => p.recv.len(),
                _ => 0,
            },
            None => 0,
        };
        self.config.stream_buffer.saturating_sub(unread + s.in_flight_bytes)
    }

    /// Reads up to `max` bytes (`Ok(empty)`: end of stream).
    pub(crate) fn recv_stream(
        &mut self,
        id: u64,
        max: usize,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<io::Result<Vec<u8>>> {
        let s = match stream(self, id) {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if s.read_shut || max == 0 {
            return Poll::Ready(Ok(Vec::new()));
        }
        if !s.recv.is_empty() {
            let was = s.recv.len();
            let n = max.min(was);
            let p = self.faults_of(id).short_io;
            let n = shorten(&mut self.rng, p, n);
            let Kind::Stream(s) = &mut self.sockets.get_mut(&id).expect("checked").kind else {
                unreachable!()
            };
            let mut bytes = Vec::with_capacity(n);
            let (front, back) = s.recv.as_slices();
            let from_front = n.min(front.len());
            bytes.extend_from_slice(&front[..from_front]);
            bytes.extend_from_slice(&back[..n - from_front]);
            s.recv.drain(..n);
            if let Some(peer) = s.peer_id {
                // Room opened: the peer's writers learn it once the
                // acknowledgement gets there.
                let at = self.clock.now();
                self.clock.schedule(&mut self.rng, at, Event::WakeWriters { id: peer });
            }
            return Poll::Ready(Ok(bytes));
        }
        if let Some(e) = s.error.take() {
            return Poll::Ready(Err(errno(e)));
        }
        if s.eof || s.dead {
            return Poll::Ready(Ok(Vec::new()));
        }
        if s.phase != Phase::Connected {
            return Poll::Ready(Err(errno(libc::ENOTCONN)));
        }
        if let Some(cx) = cx {
            park(&mut self.sockets.get_mut(&id).expect("checked").readers, cx.waker());
        }
        Poll::Pending
    }

    /// Sends some of `data`; waits while the window is shut.
    pub(crate) fn send_stream(
        &mut self,
        id: u64,
        data: &[u8],
        cx: Option<&mut Context<'_>>,
    ) -> Poll<io::Result<usize>> {
        let s = match stream(self, id) {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if let Some(e) = s.error.take() {
            return Poll::Ready(Err(errno(e)));
        }
        if s.dead || s.write_shut {
            return Poll::Ready(Err(errno(libc::EPIPE)));
        }
        if s.phase != Phase::Connected {
            return Poll::Ready(Err(errno(libc::ENOTCONN)));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = self.window(id);
        if room == 0 {
            if let Some(cx) = cx {
                park(&mut self.sockets.get_mut(&id).expect("checked").writers, cx.waker());
            }
            return Poll::Pending;
        }
        let link = self.faults_of(id);
        let n = shorten(&mut self.rng, link.short_io, room.min(data.len()));
        self.push_segment(id, Segment::Data(data[..n].to_vec()));
        if self.rng.chance(link.reset) {
            self.log(format_args!("fault: reset of {id}"));
            self.push_segment(id, Segment::Rst);
        }
        Poll::Ready(Ok(n))
    }

    /// The link stream `id` is on.
    fn faults_of(&self, id: u64) -> super::fault::Link {
        let sock = &self.sockets[&id];
        let peer_host = match &sock.kind {
            Kind::Stream(s) => s.peer.and_then(|p| self.host_of(p.ip())),
            _ => None,
        };
        self.faults.link(sock.host, peer_host.unwrap_or(sock.host)).clone()
    }

    /// Queues `seg` on stream `id` toward its peer.
    pub(crate) fn push_segment(&mut self, id: u64, seg: Segment) {
        let sock = &self.sockets[&id];
        let host = sock.host;
        let Kind::Stream(s) = &sock.kind else { return };
        let dest = s.peer.and_then(|p| self.host_of(p.ip())).unwrap_or(host);
        let len = match &seg {
            Segment::Data(d) => d.len(),
            _ => 0,
        };
        let at = self.faults.arrival(&mut self.rng, host, dest, self.clock.now(), len);
        let Some(Kind::Stream(s)) = self.sockets.get_mut(&id).map(|s| &mut s.kind) else {
            return;
        };
        let at = at.max(s.last_arrival);
        s.last_arrival = at;
        s.in_flight_bytes += len;
        let first = s.in_flight.is_empty();
        s.in_flight.push_back((at, seg));
        if first {
            self.clock.schedule(&mut self.rng, at, Event::Arrive { from: id });
        }
    }

    /// Delivers the due segments of stream `from` to its peer.
    pub(crate) fn on_arrive(&mut self, from: u64) {
        let Some(sock) = self.sockets.get(&from) else { return };
        let Kind::Stream(s) = &sock.kind else { return };
        let host = sock.host;
        let (peer, peer_addr) = (s.peer_id, s.peer);
        let dest = peer_addr.and_then(|p| self.host_of(p.ip())).unwrap_or(host);
        let now = self.clock.now();
        if let Some(heal) = self.faults.cut(host, dest, now) {
            return self.hold_back(from, heal);
        }
        loop {
            let Some(Kind::Stream(s)) = self.sockets.get_mut(&from).map(|s| &mut s.kind) else {
                return;
            };
            s.retries = 0;
            match s.in_flight.front() {
                Some((at, _)) if *at <= now => {}
                Some((at, _)) => {
                    let at = *at;
                    self.clock.schedule(&mut self.rng, at, Event::Arrive { from });
                    return;
                }
                None => break,
            }
            let (_, seg) = s.in_flight.pop_front().expect("checked");
            if let Segment::Data(d) = &seg {
                s.in_flight_bytes -= d.len();
            }
            self.deliver(from, peer, seg);
        }
        if self.sockets.get(&from).is_some_and(|s| s.fd_closed) {
            self.remove(from);
        }
    }

    /// A partition holds stream `from`'s segments: retry after a backoff
    /// (or at the heal), or give up and time the connection out.
    fn hold_back(&mut self, from: u64, heal: Option<Duration>) {
        let Some(Kind::Stream(s)) = self.sockets.get_mut(&from).map(|s| &mut s.kind) else {
            return;
        };
        s.retries += 1;
        if s.retries > RETRIES {
            let peer = s.peer_id;
            self.log(format_args!("stream {from} timed out"));
            self.reset(from, libc::ETIMEDOUT);
            if let Some(peer) = peer {
                self.reset(peer, libc::ETIMEDOUT);
            }
            return;
        }
        let backoff = (RTO * (1 << s.retries.min(20))).min(RTO_MAX);
        let at = match heal {
            Some(heal) => heal.min(self.after(backoff)),
            None => self.after(backoff),
        };
        self.clock.schedule(&mut self.rng, at, Event::Arrive { from });
    }

    fn deliver(&mut self, from: u64, to: Option<u64>, seg: Segment) {
        let open = to.and_then(|t| self.sockets.get(&t)).is_some_and(|s| !s.fd_closed);
        let target = match (open, to) {
            (true, Some(t)) => t,
            // Nobody there any more: data earns a reset, the rest is moot.
            _ => {
                if let Segment::Data(_) = seg {
                    self.reset(from, libc::ECONNRESET);
                }
                return;
            }
        };
        match &seg {
            Segment::Data(d) => self.log(format_args!("stream {from} -> {target} {}B", d.len())),
            Segment::Fin => self.log(format_args!("stream {from} -> {target} FIN")),
            Segment::Rst => self.log(format_args!("stream {from} -> {target} RST")),
        }
        let Some(Kind::Stream(t)) = self.sockets.get_mut(&target).map(|s| &mut s.kind) else {
            return;
        };
        match seg {
            Segment::Data(d) => {
                if !t.read_shut && !t.dead {
                    t.recv.extend(d);
                }
                self.wake_readers(target);
            }
            Segment::Fin => {
                t.eof = true;
                self.wake_readers(target);
            }
            Segment::Rst => {
                self.reset(target, libc::ECONNRESET);
                // A reset fault kills the sender's end too.
                if self.sockets.get(&from).is_some_and(|s| !s.fd_closed) {
                    self.reset(from, libc::ECONNRESET);
                }
            }
        }
    }

    /// Stream `id` is reset: its next operation fails with `code`; what is
    /// still in flight from it is dropped.
    pub(crate) fn reset(&mut self, id: u64, code: i32) {
        let Some(Kind::Stream(s)) = self.sockets.get_mut(&id).map(|s| &mut s.kind) else {
            return;
        };
        if s.dead {
            return;
        }
        s.dead = true;
        s.error = Some(code);
        s.in_flight.clear();
        s.in_flight_bytes = 0;
        if s.phase == Phase::Connecting {
            s.phase = Phase::Failed(code);
        }
        self.wake_all(id);
        let e = errno(code);
        self.log(format_args!("reset {id}: {e}"));
    }

    pub(crate) fn shutdown(&mut self, id: u64, how: std::net::Shutdown) -> io::Result<()> {
        let s = stream(self, id)?;
        if s.phase != Phase::Connected {
            return Err(errno(libc::ENOTCONN));
        }
        let (read, write) = match how {
            std::net::Shutdown::Read => (true, false),
            std::net::Shutdown::Write => (false, true),
            std::net::Shutdown::Both => (true, true),
        };
        if read {
            s.read_shut = true;
            s.recv.clear();
        }
        let fin = write && !s.write_shut && !s.dead;
        if write {
            s.write_shut = true;
        }
        if fin {
            self.push_segment(id, Segment::Fin);
        }
        self.wake_all(id);
        Ok(())
    }

    /// The descriptor of stream or listener `id` is gone.
    pub(crate) fn close_stream(&mut self, id: u64) {
        let Some(sock) = self.sockets.get_mut(&id) else { return };
        sock.fd_closed = true;
        match &mut sock.kind {
            Kind::Listener(l) => {
                // Connections nobody accepted are reset.
                let queued: Vec<u64> = l.backlog.drain(..).collect();
                for server in queued {
                    self.close_stream(server);
                }
                self.remove(id);
            }
            Kind::Stream(s) => {
                let connected = s.phase == Phase::Connected && !s.dead;
                let seg = if !s.recv.is_empty() {
                    Some(Segment::Rst)
                } else if !s.write_shut {
                    Some(Segment::Fin)
                } else {
                    None
                };
                s.write_shut = true;
                let drained = s.in_flight.is_empty();
                match seg {
                    Some(seg) if connected => self.push_segment(id, seg),
                    _ if drained => self.remove(id),
                    _ => {}
                }
            }
            Kind::Dgram(_) => self.remove(id),
        }
    }

    /// Which of `interest` socket `id` is ready for; registers `cx` if none.
    pub(crate) fn ready(&mut self, id: u64, interest: Interest, cx: &mut Context<'_>) -> Poll<io::Result<Interest>> {
        let window = self.window(id);
        let sock = match self.sock(id) {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let (r, w) = match &sock.kind {
            Kind::Stream(s) => {
                let failed = s.error.is_some() || s.dead || matches!(s.phase, Phase::Failed(_));
                let r = failed || !s.recv.is_empty() || s.eof || s.read_shut;
                let w = failed || s.write_shut || (s.phase == Phase::Connected && window > 0);
                (r, w)
            }
            Kind::Listener(l) => (l.dead || !l.backlog.is_empty(), false),
            Kind::Dgram(d) => (d.dead || !d.queue.is_empty(), true),
        };
        let ready = Interest::new(r && interest.is_readable(), w && interest.is_writable());
        if !ready.is_empty() {
            return Poll::Ready(Ok(Interest::new(r, w)));
        }
        if interest.is_readable() {
            park(&mut sock.readers, cx.waker());
        }
        if interest.is_writable() {
            park(&mut sock.writers, cx.waker());
        }
        Poll::Pending
    }
}
