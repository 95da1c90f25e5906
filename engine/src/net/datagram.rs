//! What UDP and Unix datagram sockets share: send/receive with and without
//! addresses, and `sendmsg`/`recvmsg` with ancillary data.

use super::ready::{self, Readiness};
use super::stream::send_flags;
use crate::backend::Interest;
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::mutex::Access;
use crate::fd::shared::FdHandle;
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
    pub fd: FdHandle,
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
            fd: FdHandle::new(fd),
            ready: Readiness::default(),
        }
    }

    pub(crate) fn poll_ready(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.ready.poll(&self.fd, interest, cx)
    }

    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<()> {
        ready::ready(&self.fd, interest).await
    }

    /// One non-blocking `recvfrom` (a datagram is taken whole or not at all).
    pub(crate) fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Option<SocketAddrAny>)> {
        ready::try_io(&self.fd, Some(Access::Read), |fd| {
            rustix::net::recvfrom(fd, &mut *buf, RecvFlags::DONTWAIT).map(|(n, _, addr)| (n, addr))
        })
    }

    /// One non-blocking `sendto` (or `send` on a connected socket, `addr = None`).
    pub(crate) fn try_send_to(&self, buf: &[u8], addr: Option<&SocketAddrAny>) -> io::Result<usize> {
        ready::try_io(&self.fd, Some(Access::Write), |fd| match addr {
            Some(addr) => rustix::net::sendto(fd, buf, send_flags(), addr),
            None => rustix::net::send(fd, buf, send_flags()),
        })
    }

    pub(crate) async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let r = try_buf!(self.fd.incref(), buf);
        let (res, buf) = driver.submit(Send::new(r.into(), buf, &driver)).await;
        (self.fd.explain(res), buf)
    }

    pub(crate) async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let r = try_buf!(self.fd.incref(), buf);
        let (res, buf) = driver.submit(Recv::new(r.into(), buf, &driver)).await;
        (self.fd.explain(res), buf)
    }

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
        driver
            .submit(SendMsg::new(r.into(), bufs, control, addr, &driver))
            .await
    }

    pub(crate) async fn recv_msg<B: IoBufMut>(
        &self,
        bufs: Vec<B>,
        control: Vec<u8>,
    ) -> (io::Result<RecvMeta>, Vec<B>, Vec<u8>) {
        let driver = match self.fd.driver() {
            Ok(d) => d,
            Err(e) => return (Err(e), bufs, control),
        };
        let r = match self.fd.incref() {
            Ok(r) => r,
            Err(e) => return (Err(e), bufs, control),
        };
        let (res, bufs, control) = driver.submit(RecvMsg::new(r.into(), bufs, control, &driver)).await;
        (self.fd.explain(res), bufs, control)
    }

    pub(crate) fn connect(&self, addr: &SocketAddrAny) -> io::Result<()> {
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
