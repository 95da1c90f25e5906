//! What TCP and Unix streams share: connect, ordered reads and writes under
//! the fd mutex's locks, `write_all`/`read_exact`, shutdown and close.

use super::ready::{self, Readiness};
pub(crate) use super::write_all::WriteAll;
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::descriptor::{Descriptor, Handle, Lease};
use crate::fd::mutex::Access;
use crate::fd::Interest;
use crate::op::connect::Connect;
use crate::op::sendrecv::{Recv, Send};
use rustix::net::SocketAddrAny;
use rustix::net::{RecvFlags, SendFlags};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::task::{Context, Poll};

#[derive(Debug)]
pub(crate) struct Stream {
    pub fd: Handle,
    ready: Readiness,
}

/// Whether a stream `recv` of `n` bytes into room for `len` emptied the
/// socket: a stream socket gives all it holds up to `len`, so a short read
/// means nothing was left (tokio clears readiness on it too). `Ok(0)`, the
/// end of the stream, stays readable.
fn came_up_short(n: usize, len: usize) -> bool {
    n > 0 && n < len
}

macro_rules! try_buf {
    ($e:expr, $buf:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return (Err(e.into()), $buf),
        }
    };
}
pub(crate) use try_buf;

impl Stream {
    /// Closes: marks the descriptor closed (no new wait can start), drops
    /// the stored readiness waits, then waits for the close protocol.
    pub(crate) async fn close(&self) -> io::Result<()> {
        self.ready.close(&self.fd).await
    }

    pub(crate) fn from_fd(fd: OwnedFd) -> Stream {
        Stream {
            fd: Handle::new(fd),
            ready: Readiness::default(),
        }
    }

    /// Connects a fresh socket; dropping the future cancels the connect and
    /// closes the socket.
    pub(crate) async fn connect(fd: OwnedFd, addr: SocketAddrAny) -> io::Result<Stream> {
        let stream = Stream::from_fd(fd);
        let driver = stream.fd.driver()?;
        let r = stream.fd.incref()?;
        driver.submit(Connect::new(r.into(), addr)).await?;
        Ok(stream)
    }

    /// Receives into `buf` (up to its capacity); `Ok(0)` is end of stream,
    /// or an empty buffer. Bytes a dropped read received come first.
    pub(crate) async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        read_on(self.fd.shared(), buf).await
    }

    /// Sends some of `buf`'s initialized bytes, by tokio's rule: the send
    /// happens inside a poll, so a dropped future has sent nothing.
    pub(crate) async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let r = try_buf!(self.fd.lock(Access::Write).await, buf);
        driver
            .submit_nonblocking(Send::new(r.into(), buf, false), Interest::WRITABLE)
            .await
    }

    /// Writes every initialized byte of `buf`, holding the write lock
    /// throughout; once polled it finishes even if dropped (see
    /// [`WriteAll`]).
    pub(crate) fn write_all<B: IoBuf>(&self, buf: B) -> WriteAll<B> {
        WriteAll::new(self.fd.shared().clone(), buf)
    }

    /// [`Self::write_all`] with zero-copy sends where the ring has them.
    pub(crate) fn write_all_zc<B: IoBuf>(&self, buf: B) -> WriteAll<B> {
        WriteAll::zero_copy(self.fd.shared().clone(), buf)
    }

    /// Fills `buf` to its capacity (from its start), holding the read lock
    /// throughout. A dropped `read_exact` loses nothing: what it received
    /// goes back to the stream for the next read.
    pub(crate) async fn read_exact<B: IoBufMut>(&self, mut buf: B) -> BufResult<(), B> {
        let total = buf.bytes_total();
        if total == 0 {
            return (Ok(()), buf);
        }
        let driver = try_buf!(self.fd.driver(), buf);
        let lock = Arc::new(try_buf!(self.fd.lock(Access::Read).await, buf));
        let mut done = match take_rescued(&lock, &mut buf, 0) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(e)) => return (Err(e), buf),
        };
        while done < total {
            // `MSG_WAITALL`: on a ring one receive usually fills it all.
            let recv = Recv::stream(lock.clone().into(), buf, done, true);
            let (res, b) = driver.submit(recv).await;
            buf = b;
            match res {
                Ok(0) => return (Err(io::ErrorKind::UnexpectedEof.into()), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    pub(crate) fn poll_ready(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.ready.poll(&self.fd, interest, cx)
    }

    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<()> {
        ready::ready(&self.fd, interest).await
    }

    /// One non-blocking `recv` into `buf` under the read lock (rescued
    /// bytes first).
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.fd.sim() {
            return ready::try_read(
                &self.fd,
                buf,
                |rescue, buf| rescue.take_bytes(buf.len(), |at, src| copy_to(&mut buf[at..], src)),
                |_, buf| sock.try_recv(buf).map(|(n, _)| n).map_err(crate::sim::errno_of),
                |_| false,
            );
        }
        let len = buf.len();
        ready::try_read(
            &self.fd,
            buf,
            |rescue, buf| rescue.take_bytes(buf.len(), |at, src| copy_to(&mut buf[at..], src)),
            |fd, buf| rustix::net::recv(fd, buf, RecvFlags::DONTWAIT).map(|(n, _)| n),
            |&n| came_up_short(n, len),
        )
    }

    /// [`Stream::try_read`] into memory that need not be initialized.
    pub(crate) fn try_read_uninit(&self, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
        #[cfg(feature = "sim")]
        if self.fd.sim().is_some() {
            let mut bytes = vec![0u8; buf.len()];
            let n = self.try_read(&mut bytes)?;
            for (dst, byte) in buf.iter_mut().zip(&bytes[..n]) {
                dst.write(*byte);
            }
            return Ok(n);
        }
        let len = buf.len();
        ready::try_read(
            &self.fd,
            buf,
            |rescue, buf| {
                rescue.take_bytes(buf.len(), |at, src| {
                    let n = src.len().min(buf.len() - at);
                    for (dst, byte) in buf[at..at + n].iter_mut().zip(src) {
                        dst.write(*byte);
                    }
                    n
                })
            },
            |fd, buf| rustix::net::recv(fd, buf, RecvFlags::DONTWAIT).map(|((filled, _), _)| filled.len()),
            |&n| came_up_short(n, len),
        )
    }

    /// One non-blocking `send` of `buf` under the write lock (no `SIGPIPE`).
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.fd.sim() {
            return ready::try_write(&self.fd, |_| sock.try_send(buf, None).map_err(crate::sim::errno_of));
        }
        ready::try_write(&self.fd, |fd| rustix::net::send(fd, buf, send_flags()))
    }

    /// One non-blocking `sendmsg` of `bufs` under the write lock (no `SIGPIPE`).
    pub(crate) fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        #[cfg(feature = "sim")]
        if self.fd.sim().is_some() {
            return self.try_write(&bufs.iter().flat_map(|b| b.iter().copied()).collect::<Vec<u8>>());
        }
        ready::try_write(&self.fd, |fd| {
            rustix::net::sendmsg(fd, bufs, &mut Default::default(), send_flags())
        })
    }

    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.fd.sim() {
            let _lease = self.fd.incref()?;
            return sock.shutdown(how);
        }
        self.fd
            .with(|fd| rustix::net::shutdown(fd, super::socket::to_rustix_shutdown(how)))
    }

    /// `shutdown(Write)` in the stream's write order: once every write
    /// before it, a dropped `write_all` finishing in the background
    /// included, has sent its bytes (it takes the write lock, FIFO).
    pub(crate) async fn shutdown_write(&self) -> io::Result<()> {
        let lock = self.fd.lock(Access::Write).await?;
        rustix::net::shutdown(lock.borrow(), rustix::net::Shutdown::Write)?;
        Ok(())
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddrAny> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.fd.sim() {
            let _lease = self.fd.incref()?;
            return sock.local_addr().map(crate::sim::any);
        }
        self.fd.with(|fd| rustix::net::getsockname(fd))
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddrAny> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.fd.sim() {
            let _lease = self.fd.incref()?;
            return sock.peer_addr().map(crate::sim::any);
        }
        self.fd
            .with(|fd| rustix::net::getpeername(fd)?.ok_or(rustix::io::Errno::NOTCONN))
    }
}

/// [`Stream::read`] on a shared descriptor (for what outlives a borrow of
/// the stream, such as an owned `RecvMulti`).
pub(crate) async fn read_on<B: IoBufMut>(fd: &Descriptor, mut buf: B) -> BufResult<usize, B> {
    if buf.bytes_total() == 0 {
        return (Ok(0), buf);
    }
    let driver = try_buf!(fd.driver(), buf);
    let r = try_buf!(fd.lock(Access::Read).await, buf);
    if let Some(res) = take_rescued(&r, &mut buf, 0) {
        return (res, buf);
    }
    driver.submit(Recv::stream(r.into(), buf, 0, false)).await
}

/// Non-blocking, and a write to a reset peer fails with `EPIPE` instead of
/// killing the process with `SIGPIPE` (Apple sets `SO_NOSIGPIPE` instead).
pub(crate) fn send_flags() -> SendFlags {
    #[cfg(not(target_vendor = "apple"))]
    return SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
    #[cfg(target_vendor = "apple")]
    return SendFlags::DONTWAIT;
}

/// Copies bytes dropped reads received into `buf` from `at`; `None` if
/// there are none.
fn take_rescued<B: IoBufMut>(r: &Lease, buf: &mut B, at: usize) -> Option<io::Result<usize>> {
    let room = buf.bytes_total() - at;
    r.rescue()
        .take_bytes(room, |off, src| crate::buf::fill_at(buf, at + off, src))
}

/// Copies as much of `src` as fits into `dst`; returns how much.
pub(crate) fn copy_to(dst: &mut [u8], src: &[u8]) -> usize {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
    n
}
