//! The socket operations' side of the simulator: what `Operation::simulate`
//! does for each of them (receive, send, connect, accept, poll, sendmsg,
//! recvmsg), given the pieces of the operation it touches. Each fills the
//! operation's buffers and address storage as the kernel would and returns
//! its completion, so the operation's own `complete` turns it into the
//! output unchanged.

use super::socket::{completion, Socket};
use crate::buf::{IoBuf, IoBufMut};
use crate::fd::Interest;
use crate::op::Completion;
use libc::sockaddr_storage as SocketAddrStorage;
use rustix::net::SocketAddrAny;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::IntoRawFd;
use std::task::{Context, Poll};

fn ip(addr: &SocketAddrAny) -> Result<SocketAddr, Completion> {
    SocketAddr::try_from(addr.clone()).map_err(|_| Completion::errno(libc::EAFNOSUPPORT))
}

/// `RECV` into `buf[at..]` (stream bytes, or one datagram truncated to fit).
pub(crate) fn recv<B: IoBufMut>(socket: &Socket, buf: &mut B, at: usize, cx: &mut Context<'_>) -> Poll<Completion> {
    let room = buf.bytes_total() - at;
    socket
        .poll_recv(room, Some(cx))
        .map(|r| completion(r.map(|(bytes, _, _)| crate::buf::fill_at(buf, at, &bytes))))
}

/// `SEND` of `buf`'s initialized bytes (to the peer).
pub(crate) fn send<B: IoBuf>(socket: &Socket, buf: &B, cx: &mut Context<'_>) -> Poll<Completion> {
    // SAFETY: the first `bytes_init` bytes of the buffer are initialized
    // (`IoBuf`), and `buf` owns them for the borrow.
    let data = unsafe { crate::buf::written(buf, buf.bytes_init()) };
    socket.poll_send(data, None, Some(cx)).map(completion)
}

/// `CONNECT` to `addr`.
pub(crate) fn connect(socket: &Socket, addr: &SocketAddrAny, cx: &mut Context<'_>) -> Poll<Completion> {
    match ip(addr) {
        Ok(addr) => socket.poll_connect(addr, cx).map(|r| completion(r.map(|()| 0))),
        Err(c) => Poll::Ready(c),
    }
}

/// `ACCEPT`: the completion carries the new placeholder's number (as the
/// kernel's carries the new descriptor), `peer` the peer's address.
pub(crate) fn accept(socket: &Socket, peer: &mut Option<SocketAddrAny>, cx: &mut Context<'_>) -> Poll<Completion> {
    socket.poll_accept(Some(cx)).map(|r| match r {
        Ok((fd, from)) => {
            *peer = Some(super::any(from));
            Completion {
                result: fd.into_raw_fd(),
                flags: 0,
            }
        }
        Err(e) => Completion::failed(&e),
    })
}

/// `POLL_ADD` for `interest`: the completion is a `poll(2)` mask.
pub(crate) fn poll_ready(socket: &Socket, interest: Interest, cx: &mut Context<'_>) -> Poll<Completion> {
    socket.poll_ready(interest, cx).map(|r| match r {
        Ok(ready) => {
            let mut mask = 0;
            if ready.is_readable() {
                mask |= libc::POLLIN;
            }
            if ready.is_writable() {
                mask |= libc::POLLOUT;
            }
            Completion {
                result: i32::from(mask),
                flags: 0,
            }
        }
        Err(e) => Completion::failed(&e),
    })
}

/// `SENDMSG` of `bufs` gathered, to `addr` or the connected peer. Ancillary
/// data is not simulated (`EOPNOTSUPP`).
pub(crate) fn send_msg<B: IoBuf>(
    socket: &Socket,
    bufs: &[B],
    control: &[u8],
    addr: Option<&SocketAddrAny>,
    cx: &mut Context<'_>,
) -> Poll<Completion> {
    if !control.is_empty() {
        return Poll::Ready(Completion::errno(libc::EOPNOTSUPP));
    }
    let to = match addr.map(ip).transpose() {
        Ok(to) => to,
        Err(c) => return Poll::Ready(c),
    };
    let mut data = Vec::new();
    for b in bufs {
        // SAFETY: the first `bytes_init` bytes of each buffer are
        // initialized (`IoBuf`), and `bufs` owns them for the borrow.
        data.extend_from_slice(unsafe { crate::buf::written(b, b.bytes_init()) });
    }
    socket.poll_send(&data, to, Some(cx)).map(completion)
}

/// `RECVMSG` into `bufs` (scattered), the sender into `addr`, its length,
/// `MSG_TRUNC` and an empty control buffer into `msg`.
pub(crate) fn recv_msg<B: IoBufMut>(
    socket: &Socket,
    bufs: &mut [B],
    addr: &mut MaybeUninit<SocketAddrStorage>,
    msg: &mut libc::msghdr,
    cx: &mut Context<'_>,
) -> Poll<Completion> {
    let room = bufs.iter().map(|b| b.bytes_total()).sum();
    let (bytes, from, len) = match socket.poll_recv(room, Some(cx)) {
        Poll::Ready(Ok(got)) => got,
        Poll::Ready(Err(e)) => return Poll::Ready(Completion::failed(&e)),
        Poll::Pending => return Poll::Pending,
    };
    let mut copied = 0;
    for b in bufs.iter_mut() {
        copied += crate::buf::fill_at(b, 0, &bytes[copied..]);
    }
    msg.msg_namelen = 0;
    if let Some(from) = from.map(super::any) {
        let n = (from.addr_len() as usize).min(size_of::<SocketAddrStorage>());
        // SAFETY: `from` holds `addr_len` bytes of socket address, and the
        // storage has room for `n <= size_of::<sockaddr_storage>()`; the two
        // are distinct objects.
        unsafe { std::ptr::copy_nonoverlapping(from.as_ptr().cast::<u8>(), addr.as_mut_ptr().cast::<u8>(), n) };
        msg.msg_namelen = n as libc::socklen_t;
    }
    msg.msg_controllen = 0;
    msg.msg_flags = if len > bytes.len() { libc::MSG_TRUNC } else { 0 };
    Poll::Ready(completion(Ok(copied)))
}
