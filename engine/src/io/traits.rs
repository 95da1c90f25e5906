//! `AsyncReadOwned` and `AsyncWriteOwned`, and their implementations for
//! ringio's stream types.

use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::Fd;
use crate::net::{TcpStream, UnixStream};
use std::future::Future;
use std::io;

/// A byte source that reads into owned buffers.
///
/// # Examples
///
/// ```no_run
/// use ringio::io::AsyncReadOwned;
///
/// async fn first_bytes(r: &impl AsyncReadOwned) -> std::io::Result<Vec<u8>> {
///     let (n, buf) = r.read(Vec::with_capacity(64)).await;
///     n?;
///     Ok(buf)
/// }
/// ```
pub trait AsyncReadOwned {
    /// Reads into `buf` (filling it from its start, up to its capacity) and
    /// hands it back with how many bytes came; `Ok(0)` is end of stream.
    /// Cancel safe: a dropped read loses nothing.
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>>;
}

/// A byte sink that writes from owned buffers.
///
/// # Examples
///
/// ```no_run
/// use ringio::io::AsyncWriteOwned;
///
/// async fn hello(w: &impl AsyncWriteOwned) -> std::io::Result<()> {
///     w.write_all(b"hello\n".to_vec()).await.0?;
///     w.shutdown_write().await
/// }
/// ```
pub trait AsyncWriteOwned {
    /// Writes some of `buf`'s initialized bytes; returns how many. A write
    /// dropped before it returns wrote nothing (tokio's rule).
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>>;

    /// Writes all of `buf`'s initialized bytes. The default writes in a loop
    /// of [`AsyncWriteOwned::write`]s, so a dropped one has written an
    /// unknown prefix; the stream types override it with theirs, which, once
    /// polled, finishes even if dropped.
    fn write_all<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        async move {
            let total = buf.bytes_init();
            let mut done = 0;
            let mut slice = buf.slice(0..total);
            while done < total {
                let (res, s) = self.write(slice).await;
                let buf = s.into_inner();
                match res {
                    Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return (Err(e), buf),
                }
                slice = buf.slice(done..total);
            }
            (Ok(()), slice.into_inner())
        }
    }

    /// Signals end of stream to the peer (a socket's `shutdown(Write)`),
    /// after every write before it has sent its bytes; reads from the other
    /// direction go on. A sink without a write half of its own (a pipe, a
    /// file) does nothing.
    fn shutdown_write(&self) -> impl Future<Output = io::Result<()>>;
}

impl AsyncReadOwned for TcpStream {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        TcpStream::read(self, buf)
    }
}

impl AsyncWriteOwned for TcpStream {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        TcpStream::write(self, buf)
    }

    fn write_all<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        TcpStream::write_all(self, buf)
    }

    async fn shutdown_write(&self) -> io::Result<()> {
        not_connected_is_fine(TcpStream::shutdown_write(self).await)
    }
}

impl AsyncReadOwned for UnixStream {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        UnixStream::read(self, buf)
    }
}

impl AsyncWriteOwned for UnixStream {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        UnixStream::write(self, buf)
    }

    fn write_all<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        UnixStream::write_all(self, buf)
    }

    async fn shutdown_write(&self) -> io::Result<()> {
        not_connected_is_fine(UnixStream::shutdown_write(self).await)
    }
}

impl AsyncReadOwned for Fd {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        Fd::read(self, buf)
    }
}

impl AsyncWriteOwned for Fd {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        Fd::write(self, buf)
    }

    /// A socket's `shutdown(SHUT_WR)`; nothing for other descriptors.
    async fn shutdown_write(&self) -> io::Result<()> {
        let guard = self.incref()?;
        match rustix::net::shutdown(&guard, rustix::net::Shutdown::Write) {
            Ok(()) | Err(rustix::io::Errno::NOTSOCK | rustix::io::Errno::NOTCONN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A peer that already left (`ENOTCONN`) has nothing to be told.
fn not_connected_is_fine(res: io::Result<()>) -> io::Result<()> {
    match res {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}
