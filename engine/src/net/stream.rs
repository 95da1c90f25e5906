//! What TCP and Unix streams share: connect, ordered reads and writes under
//! the fd mutex's locks, `write_all`/`read_exact`, shutdown and close.

use super::ready::{self, Readiness};
use crate::backend::Interest;
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::mutex::Access;
use crate::fd::shared::FdHandle;
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
    pub fd: FdHandle,
    ready: Readiness,
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
            fd: FdHandle::new(fd),
            ready: Readiness::default(),
        }
    }

    /// Connects a fresh socket; dropping the future cancels the connect and
    /// closes the socket.
    pub(crate) async fn connect(fd: OwnedFd, addr: SocketAddrAny) -> io::Result<Stream> {
        let stream = Stream::from_fd(fd);
        let driver = stream.fd.driver()?;
        let r = stream.fd.incref()?;
        stream
            .fd
            .explain(driver.submit(Connect::new(r.into(), addr, &driver)).await)?;
        Ok(stream)
    }

    pub(crate) async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let r = try_buf!(self.fd.lock(Access::Read).await, buf);
        let (res, buf) = driver.submit(Recv::new(r.into(), buf, &driver)).await;
        (self.fd.explain(res), buf)
    }

    pub(crate) async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let r = try_buf!(self.fd.lock(Access::Write).await, buf);
        let (res, buf) = driver.submit(Send::new(r.into(), buf, &driver)).await;
        (self.fd.explain(res), buf)
    }

    /// Writes every initialized byte of `buf`, holding the write lock
    /// throughout so no other writer's bytes land in between.
    pub(crate) async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let lock = Arc::new(try_buf!(self.fd.lock(Access::Write).await, buf));
        let total = buf.bytes_init();
        let mut slice = buf.slice(0..total);
        let mut done = 0;
        while done < total {
            let (res, s) = driver.submit(Send::new(lock.clone().into(), slice, &driver)).await;
            let buf = s.into_inner();
            match res {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (self.fd.explain(Err(e)), buf),
            }
            slice = buf.slice(done..total);
        }
        (Ok(()), slice.into_inner())
    }

    /// Fills `buf` up to its capacity, holding the read lock throughout.
    pub(crate) async fn read_exact<B: IoBufMut>(&self, buf: B) -> BufResult<(), B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let lock = Arc::new(try_buf!(self.fd.lock(Access::Read).await, buf));
        let total = buf.bytes_total();
        let mut done = buf.bytes_init().min(total);
        let mut slice = buf.slice(done..total);
        while done < total {
            let (res, s) = driver.submit(Recv::new(lock.clone().into(), slice, &driver)).await;
            let buf = s.into_inner();
            match res {
                Ok(0) => return (Err(io::ErrorKind::UnexpectedEof.into()), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (self.fd.explain(Err(e)), buf),
            }
            slice = buf.slice(done..total);
        }
        (Ok(()), slice.into_inner())
    }

    pub(crate) fn poll_ready(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.ready.poll(&self.fd, interest, cx)
    }

    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<()> {
        ready::ready(&self.fd, interest).await
    }

    /// One non-blocking `recv` into `buf` under the read lock.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        ready::try_io(&self.fd, Some(Access::Read), |fd| {
            rustix::net::recv(fd, &mut *buf, RecvFlags::DONTWAIT).map(|(n, _)| n)
        })
    }

    /// [`Stream::try_read`] into memory that need not be initialized.
    pub(crate) fn try_read_uninit(&self, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
        ready::try_io(&self.fd, Some(Access::Read), |fd| {
            rustix::net::recv(fd, &mut *buf, RecvFlags::DONTWAIT).map(|((filled, _), _)| filled.len())
        })
    }

    /// One non-blocking `send` of `buf` under the write lock (no `SIGPIPE`).
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        ready::try_io(&self.fd, Some(Access::Write), |fd| {
            rustix::net::send(fd, buf, send_flags())
        })
    }

    /// One non-blocking `sendmsg` of `bufs` under the write lock (no `SIGPIPE`).
    pub(crate) fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        ready::try_io(&self.fd, Some(Access::Write), |fd| {
            rustix::net::sendmsg(fd, bufs, &mut Default::default(), send_flags())
        })
    }

    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.fd
            .with(|fd| rustix::net::shutdown(fd, super::socket::to_rustix_shutdown(how)))
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddrAny> {
        self.fd.with(|fd| rustix::net::getsockname(fd))
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddrAny> {
        self.fd
            .with(|fd| rustix::net::getpeername(fd)?.ok_or(rustix::io::Errno::NOTCONN))
    }
}

/// Non-blocking, and a write to a reset peer fails with `EPIPE` instead of
/// killing the process with `SIGPIPE` (Apple sets `SO_NOSIGPIPE` instead).
pub(crate) fn send_flags() -> SendFlags {
    #[cfg(not(target_vendor = "apple"))]
    return SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
    #[cfg(target_vendor = "apple")]
    return SendFlags::DONTWAIT;
}
