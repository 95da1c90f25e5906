//! `Socket`: what a simulated descriptor is registered as, and the calls
//! the engine's operations and socket types make on it in place of the
//! kernel's. Results come back as the kernel's would: `io::Error`s with
//! the kernel's errno (so `ErrorKind::ConnectionRefused`, `AddrInUse`, ...),
//! or `WouldBlock` from the non-blocking variants.

use super::net::{errno, Kind, Net};
use crate::fd::Interest;
use crate::op::Completion;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A simulated socket, by id, in its network.
#[derive(Clone)]
pub(crate) struct Socket {
    pub(crate) id: u64,
    pub(crate) net: Arc<Net>,
}

/// What a receive got: the bytes (truncated to the room given), the
/// sender (datagrams), and the full length before truncation.
pub(crate) type Received = (Vec<u8>, Option<SocketAddr>, usize);

/// A would-block result as the non-blocking calls report it.
fn now<T>(p: Poll<io::Result<T>>) -> io::Result<T> {
    match p {
        Poll::Ready(r) => r,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

/// An I/O result as an operation's completion.
pub(crate) fn completion(r: io::Result<usize>) -> Completion {
    match r {
        Ok(n) => Completion {
            result: n.min(i32::MAX as usize) as i32,
            flags: 0,
        },
        Err(e) => Completion::failed(&e),
    }
}

impl Socket {
    fn is_stream(&self) -> bool {
        self.net
            .with(|st| matches!(st.sockets.get(&self.id).map(|s| &s.kind), Some(Kind::Stream(_))))
    }

    /// Stream bytes, or one datagram (with its sender and full length).
    pub(crate) fn poll_recv(&self, max: usize, cx: Option<&mut Context<'_>>) -> Poll<io::Result<Received>> {
        if self.is_stream() {
            self.net.with(|st| st.recv_stream(self.id, max, cx)).map_ok(|b| {
                let n = b.len();
                (b, None, n)
            })
        } else {
            self.net
                .with(|st| st.recv_dgram(self.id, max, cx))
                .map_ok(|(b, from, len)| (b, Some(from), len))
        }
    }

    /// Sends stream bytes, or one datagram to `to` (or the connected peer).
    pub(crate) fn poll_send(
        &self,
        data: &[u8],
        to: Option<SocketAddr>,
        cx: Option<&mut Context<'_>>,
    ) -> Poll<io::Result<usize>> {
        if self.is_stream() {
            self.net.with(|st| st.send_stream(self.id, data, cx))
        } else {
            Poll::Ready(self.net.with(|st| st.send_dgram(self.id, data, to)))
        }
    }

    pub(crate) fn poll_connect(&self, to: SocketAddr, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.net.with(|st| st.connect(self.id, to, cx))
    }

    /// A queued connection: its new placeholder descriptor and peer.
    pub(crate) fn poll_accept(&self, cx: Option<&mut Context<'_>>) -> Poll<io::Result<(OwnedFd, SocketAddr)>> {
        let (server, peer) = match self.net.with(|st| st.accept(self.id, cx)) {
            Poll::Ready(Ok(v)) => v,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        let accepted = self.net.placeholder_for(server);
        if accepted.is_err() {
            // No descriptor for it (EMFILE): the connection goes, as if
            // closed at once, and the error reaches the accept.
            self.net.with(|st| st.close_stream(server));
        }
        Poll::Ready(accepted.map(|fd| (fd, peer)))
    }

    pub(crate) fn poll_ready(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<io::Result<Interest>> {
        self.net.with(|st| st.ready(self.id, interest, cx))
    }

    /// Non-blocking receive into `buf` (stream bytes, or one datagram,
    /// truncated to fit).
    pub(crate) fn try_recv(&self, buf: &mut [u8]) -> io::Result<(usize, Option<SocketAddr>)> {
        let (bytes, from, _) = now(self.poll_recv(buf.len(), None))?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        Ok((bytes.len(), from))
    }

    /// Non-blocking send.
    pub(crate) fn try_send(&self, data: &[u8], to: Option<SocketAddr>) -> io::Result<usize> {
        now(self.poll_send(data, to, None))
    }

    /// Non-blocking accept.
    pub(crate) fn try_accept(&self) -> io::Result<(OwnedFd, SocketAddr)> {
        now(self.poll_accept(None))
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.net.with(|st| st.shutdown(self.id, how))
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.net
            .with(|st| st.sock(self.id)?.local.ok_or_else(|| errno(libc::EINVAL)))
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.net.with(|st| match &st.sock(self.id)?.kind {
            Kind::Stream(s) if s.phase == super::stream::Phase::Connected => {
                s.peer.ok_or_else(|| errno(libc::ENOTCONN))
            }
            Kind::Dgram(d) => d.peer.ok_or_else(|| errno(libc::ENOTCONN)),
            _ => Err(errno(libc::ENOTCONN)),
        })
    }

    /// Sets a datagram socket's default peer.
    pub(crate) fn connect_datagram(&self, to: SocketAddr) -> io::Result<()> {
        self.net.with(|st| st.connect_dgram(self.id, to))
    }

    /// Close began: wake every waiter, so each sees the descriptor closed.
    pub(crate) fn cancel(&self) {
        self.net.with(|st| st.wake_all(self.id));
    }

    /// The descriptor's last reference went: the socket closes (FIN, or
    /// RST with unread bytes; a listener resets what it never accepted).
    pub(crate) fn destroy(&self) {
        self.net.with(|st| st.close_stream(self.id));
    }
}
