//! What UDP and Unix datagram sockets share: send/receive with and without
//! addresses, and `sendmsg`/`recvmsg` with ancillary data.

use super::ready::{self, Readiness};
use super::stream::{copy_to, send_flags};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::descriptor::Handle;
use crate::fd::mutex::Access;
use crate::fd::rescue::Datagram as Rescued;
use crate::fd::Interest;
use crate::op::msg::{RecvMeta, RecvMsg, SendMsg};
use crate::op::sendrecv::{Recv, Send};
use rustix::net::RecvFlags;
use rustix::net::SocketAddrAny;
use std::io;
use std::os::fd::OwnedFd;
use std::task::{Context, Poll};

use super::stream::try_buf;

/// What [`crate::net::UdpSocket::recv_msg`] received besides the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecvMsgMeta<A> {
    /// Payload bytes received.
    pub bytes: usize,
    /// Sender address, if the socket reports one.
    pub addr: Option<A>,
    /// Bytes of control (ancillary) data received.
    pub control_len: usize,
    /// `msg_flags` (e.g. `MSG_TRUNC`, `MSG_CTRUNC`).
    pub flags: i32,
}

#[derive(Debug)]
pub(crate) struct Datagram {
    pub fd: Handle,
    ready: Readiness,
}

impl Datagram {
    /// Closes: marks the descriptor closed (no new wait can start), drops
    /// the stored readiness waits, then waits for the close protocol.
    pub(crate) async fn close(&self) -> io::Result<()> {
        self.ready.close(&self.fd).await
    }

    pub(crate) fn new(fd: OwnedFd) -> Datagram {
        Datagram {
            fd: Handle::bound(fd),
            ready: Readiness::default(),
        }
    }

    pub(crate) fn poll_ready(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.ready.poll(&self.fd, interest, cx)
    }

    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<()> {
        ready::ready(&self.fd, interest).await
    }

    /// One non-blocking `recvfrom` (a datagram is taken whole or not at all);
    /// a datagram a dropped receive got comes first.
    pub(crate) fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Option<SocketAddrAny>)> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.fd.sim() {
            return ready::try_read(
                &self.fd,
                buf,
                |rescue, buf| {
                    rescue
                        .take_datagram()
                        .map(|d| d.map(|d| (copy_to(buf, &d.data), d.addr.clone())))
                },
                |_, buf| {
                    sock.try_recv(buf)
                        .map(|(n, from)| (n, from.map(crate::sim::any)))
                        .map_err(crate::sim::errno_of)
                },
                |_| false,
            );
        }
        ready::try_read(
            &self.fd,
            buf,
            |rescue, buf| {
                rescue
                    .take_datagram()
                    .map(|d| d.map(|d| (copy_to(buf, &d.data), d.addr.clone())))
            },
            |fd, buf| rustix::net::recvfrom(fd, buf, RecvFlags::DONTWAIT).map(|(n, _, addr)| (n, addr)),
            |_| false,
        )
    }

    /// One non-blocking `sendto` (or `send` on a connected socket, `addr = None`).
    pub(crate) fn try_send_to(&self, buf: &[u8], addr: Option<&SocketAddrAny>) -> io::Result<usize> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.fd.sim() {
            let to = match addr.map(|a| std::net::SocketAddr::try_from(a.clone())) {
                Some(Ok(to)) => Some(to),
                Some(Err(_)) => return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
                None => None,
            };
            return ready::try_write(&self.fd, |_| sock.try_send(buf, to).map_err(crate::sim::errno_of));
        }
        ready::try_write(&self.fd, |fd| match addr {
            Some(addr) => rustix::net::sendto(fd, buf, send_flags(), addr),
            None => rustix::net::send(fd, buf, send_flags()),
        })
    }

    /// Sends one datagram to the connected peer; a dropped send has sent
    /// nothing (the send runs inside a poll).
    pub(crate) async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let r = try_buf!(self.fd.incref(), buf);
        driver
            .submit_nonblocking(Send::new(r.into(), buf, false), Interest::WRITABLE)
            .await
    }

    /// Receives one datagram from the connected peer. Receives are ordered by
    /// the read lock, and a datagram a dropped receive got comes first.
    pub(crate) async fn recv<B: IoBufMut>(&self, mut buf: B) -> BufResult<usize, B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let r = try_buf!(self.fd.lock(Access::Read).await, buf);
        match r.rescue().take_datagram() {
            Some(Ok(d)) => return (Ok(crate::buf::fill_at(&mut buf, 0, &d.data)), buf),
            Some(Err(e)) => return (Err(e), buf),
            None => {}
        }
        driver.submit(Recv::datagram(r.into(), buf)).await
    }

    /// `sendmsg`; a dropped send has sent nothing.
    pub(crate) async fn send_msg<B: IoBuf>(
        &self,
        bufs: Vec<B>,
        control: Vec<u8>,
        addr: Option<SocketAddrAny>,
    ) -> (io::Result<usize>, Vec<B>, Vec<u8>) {
        let driver = match self.fd.driver() {
            Ok(d) => d,
            Err(e) => return (Err(e), bufs, control),
        };
        let r = match self.fd.incref() {
            Ok(r) => r,
            Err(e) => return (Err(e), bufs, control),
        };
        let op = SendMsg::new(r.into(), bufs, control, addr);
        driver.submit_nonblocking(op, Interest::WRITABLE).await
    }

    /// `recvmsg`, ordered by the read lock; a datagram a dropped receive got
    /// comes first, ancillary data included.
    pub(crate) async fn recv_msg<B: IoBufMut>(
        &self,
        mut bufs: Vec<B>,
        mut control: Vec<u8>,
    ) -> (io::Result<RecvMeta>, Vec<B>, Vec<u8>) {
        let driver = match self.fd.driver() {
            Ok(d) => d,
            Err(e) => return (Err(e), bufs, control),
        };
        let r = match self.fd.lock(Access::Read).await {
            Ok(r) => r,
            Err(e) => return (Err(e), bufs, control),
        };
        match r.rescue().take_datagram() {
            Some(Ok(d)) => return (Ok(deliver(d, &mut bufs, &mut control)), bufs, control),
            Some(Err(e)) => return (Err(e), bufs, control),
            None => {}
        }
        driver.submit(RecvMsg::new(r.into(), bufs, control)).await
    }

    pub(crate) fn connect(&self, addr: &SocketAddrAny) -> io::Result<()> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.fd.sim() {
            let _lease = self.fd.incref()?;
            let to = std::net::SocketAddr::try_from(addr.clone())
                .map_err(|_| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))?;
            return sock.connect_datagram(to);
        }
        self.fd.with(|fd| rustix::net::connect(fd, addr))
    }
}

/// Converts a received message's metadata with `conv` for the address.
pub(crate) fn meta<A>(m: RecvMeta, conv: impl FnOnce(SocketAddrAny) -> Option<A>) -> RecvMsgMeta<A> {
    RecvMsgMeta {
        bytes: m.bytes,
        addr: m.addr.and_then(conv),
        control_len: m.control_len,
        flags: m.flags,
    }
}

/// Hands a rescued datagram to a receive: its payload scattered over `bufs`,
/// its ancillary data into `control`'s capacity, truncating (and flagging
/// `MSG_TRUNC`/`MSG_CTRUNC`) as the kernel would for a smaller buffer.
fn deliver<B: IoBufMut>(mut d: Rescued, bufs: &mut [B], control: &mut Vec<u8>) -> RecvMeta {
    let mut copied = 0;
    for b in bufs.iter_mut() {
        copied += crate::buf::fill_at(b, 0, &d.data[copied..]);
    }
    let mut flags = d.flags;
    if copied < d.data.len() {
        flags |= libc::MSG_TRUNC;
    }
    control.clear();
    let room = control.capacity();
    let passed = std::mem::take(&mut d.control);
    if passed.len() > room {
        // The descriptors in what does not fit are closed, as the kernel
        // would close them.
        flags |= libc::MSG_CTRUNC;
        crate::op::msg::close_passed_fds(&passed);
    } else {
        control.extend_from_slice(&passed);
    }
    RecvMeta {
        bytes: copied,
        addr: d.addr.take(),
        control_len: control.len(),
        flags,
    }
}
