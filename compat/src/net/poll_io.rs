//! `AsyncRead`/`AsyncWrite` for ringio's byte streams, written once for TCP
//! and Unix: try the non-blocking call, and on `WouldBlock` wait for the
//! stream to be ready, then try again.
//!
//! Reads take one of two paths, chosen per reactor (`reads_config`): on
//! the completion path (io_uring with buffer rings, opt-in), the "call" copies from buffers a multishot
//! receive filled and the "wait" is for the next one (`completion`); else
//! it is a non-blocking `recv` straight into the caller's buffer after a
//! readiness wait through the stream's driver (its poller: the readiness
//! backend's, or a hosted ring's own epoll; a `POLL_ADD` on a pinned
//! ring). Either way a read future dropped at any point loses nothing:
//! bytes are only ever handed to a read that returns them.
//!
//! Writes always try the non-blocking `send` first, in the poll, and wait
//! for writability only on `WouldBlock`: `Ready(Ok(n))` from `poll_write`
//! means the kernel has those `n` bytes, and a caller that comes back with
//! a different buffer after `Pending` (as h2 does) gets exactly what it
//! asked for.

use ringio::buf::BufRing;
use ringio::net::RecvMulti;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::task::{ready, Context, Poll};
use tokio::io::ReadBuf;

/// The poll-style surface of `ringio::net::{TcpStream, UnixStream}` (public
/// in a private module: nameable in bounds, not by users).
pub trait RawStream: Send + Sync + 'static {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send + '_;
    fn writable(&self) -> impl Future<Output = io::Result<()>> + Send + '_;
    fn recv_multi<'a>(&'a self, group: &BufRing) -> RecvMulti<'a>;
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn try_read_uninit(&self, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize>;
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
    /// A `poll_read` got fewer bytes than it had room for: the socket is
    /// drained, so the next one may wait without asking first (tokio's rule
    /// for `poll_read`, which spares a `recv` that would say `WouldBlock`).
    fn read_drained(&self) {}
}

/// Forwards [`RawStream`] to the identically named inherent methods.
macro_rules! raw_stream {
    ($ty:ty) => {
        impl RawStream for $ty {
            fn readable(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
                <$ty>::readable(self)
            }
            fn writable(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
                <$ty>::writable(self)
            }
            fn recv_multi<'a>(&'a self, group: &BufRing) -> RecvMulti<'a> {
                <$ty>::recv_multi(self, group)
            }
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$ty>::poll_read_ready(self, cx)
            }
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$ty>::poll_write_ready(self, cx)
            }
            fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
                <$ty>::try_read(self, buf)
            }
            fn try_read_uninit(&self, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
                <$ty>::try_read_uninit(self, buf)
            }
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$ty>::try_write(self, buf)
            }
            fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                <$ty>::try_write_vectored(self, bufs)
            }
            fn shutdown(&self, how: Shutdown) -> io::Result<()> {
                <$ty>::shutdown(self, how)
            }
        }
    };
}
raw_stream!(ringio::net::TcpStream);
raw_stream!(ringio::net::UnixStream);

/// The async methods' loop (`accept`, `recv_from`, `send_to`, ...): retries
/// `op` until it stops saying `WouldBlock`, waiting with `ready` in between.
/// `ready` makes a wait of this call's own (unlike the stored wait behind
/// the `poll_*` methods, which wakes only the task that polled last), so
/// every task waiting on the same socket is woken, as with tokio.
pub(crate) async fn until_done<R, F>(mut op: impl FnMut() -> io::Result<R>, ready: impl Fn() -> F) -> io::Result<R>
where
    F: std::future::Future<Output = io::Result<()>>,
{
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready().await?,
            other => return other,
        }
    }
}

/// Retries `op` until it stops saying `WouldBlock`, waiting with `ready` in between.
pub(crate) fn retry<R>(
    cx: &mut Context<'_>,
    mut ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
    mut op: impl FnMut() -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready!(ready(cx))?,
            other => return Poll::Ready(other),
        }
    }
}

pub(crate) fn poll_read(s: &impl RawStream, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    if buf.remaining() == 0 {
        return Poll::Ready(Ok(()));
    }
    // Free while the stream is thought readable; after a short read (see
    // `read_drained`) or a `WouldBlock`, the wait comes before the call.
    ready!(s.poll_read_ready(cx))?;
    let n = ready!(retry(
        cx,
        |cx| s.poll_read_ready(cx),
        || {
            // SAFETY: the read (a `recv`, or a copy from a received buffer)
            // only writes initialized bytes into the slice, and nothing here
            // de-initializes any part of it.
            let unfilled = unsafe { buf.unfilled_mut() };
            s.try_read_uninit(unfilled)
        }
    ))?;
    if n > 0 && n < buf.remaining() {
        s.read_drained();
    }
    // SAFETY: the read initialized the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

pub(crate) fn poll_write(s: &impl RawStream, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    retry(cx, |cx| s.poll_write_ready(cx), || s.try_write(buf))
}

pub(crate) fn poll_write_vectored(
    s: &impl RawStream,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    retry(cx, |cx| s.poll_write_ready(cx), || s.try_write_vectored(bufs))
}

/// Half-closes the write side: the peer reads end of stream; reading goes on.
pub(crate) fn poll_shutdown(s: &impl RawStream) -> Poll<io::Result<()>> {
    Poll::Ready(match s.shutdown(Shutdown::Write) {
        // Already shut down, or the peer reset: nothing left to flush.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    })
}

/// A futures-io read into an initialized slice.
#[cfg(feature = "futures-io")]
pub(crate) fn poll_read_slice(s: &impl RawStream, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
    let mut buf = ReadBuf::new(buf);
    ready!(poll_read(s, cx, &mut buf))?;
    Poll::Ready(Ok(buf.filled().len()))
}

/// `AsyncRead` and `AsyncWrite` (and with the `futures-io` feature, its
/// traits too) for a compat stream type, through its [`Splittable::raw`].
///
/// [`Splittable::raw`]: crate::net::split::Splittable::raw
macro_rules! async_io {
    ($ty:ty) => {
        impl ::tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut ::tokio::io::ReadBuf<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                $crate::net::poll_io::poll_read($crate::net::split::Splittable::raw(&*self), cx, buf)
            }
        }

        impl ::tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                $crate::net::poll_io::poll_write($crate::net::split::Splittable::raw(&*self), cx, buf)
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                $crate::net::poll_io::poll_write_vectored($crate::net::split::Splittable::raw(&*self), cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                _: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: ::std::pin::Pin<&mut Self>,
                _: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                $crate::net::poll_io::poll_shutdown($crate::net::split::Splittable::raw(&*self))
            }
        }

        #[cfg(feature = "futures-io")]
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                $crate::net::poll_io::poll_read_slice($crate::net::split::Splittable::raw(&*self), cx, buf)
            }
        }

        #[cfg(feature = "futures-io")]
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                $crate::net::poll_io::poll_write($crate::net::split::Splittable::raw(&*self), cx, buf)
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                _: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                _: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                $crate::net::poll_io::poll_shutdown($crate::net::split::Splittable::raw(&*self))
            }
        }
    };
}
pub(crate) use async_io;
