//! The halves of a stream, as in `tokio::net::tcp`/`tokio::net::unix`:
//! borrowed ([`ReadHalf`], [`WriteHalf`]) and owned ([`OwnedReadHalf`],
//! [`OwnedWriteHalf`]). Reads of one half and writes of the other run
//! concurrently (they take different fd-mutex locks and wait on different
//! readiness directions).

use super::poll_io::{self, RawStream};
use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A compat stream type whose halves these are.
pub trait Splittable: Send + Sync + Sized + 'static {
    #[doc(hidden)]
    type Raw: RawStream;
    #[doc(hidden)]
    fn raw(&self) -> &Self::Raw;
}

/// The read half of a stream borrowed by `split`.
#[derive(Debug)]
pub struct ReadHalf<'a, T>(pub(crate) &'a T);

/// The write half of a stream borrowed by `split`. Shutting it down
/// half-closes the stream.
#[derive(Debug)]
pub struct WriteHalf<'a, T>(pub(crate) &'a T);

/// The read half of a stream taken apart by `into_split`.
#[derive(Debug)]
pub struct OwnedReadHalf<T> {
    pub(crate) inner: Arc<T>,
}

/// The write half of a stream taken apart by `into_split`. Dropping it shuts
/// the write side down (the peer reads end of stream), as with tokio, unless
/// [`OwnedWriteHalf::forget`] was called.
#[derive(Debug)]
pub struct OwnedWriteHalf<T: Splittable> {
    pub(crate) inner: Arc<T>,
    pub(crate) shutdown_on_drop: bool,
}

/// The halves passed to `reunite` came from different streams; here they are back.
pub struct ReuniteError<T: Splittable>(pub OwnedReadHalf<T>, pub OwnedWriteHalf<T>);

impl<T: Splittable> fmt::Debug for ReuniteError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError")
    }
}

impl<T: Splittable> fmt::Display for ReuniteError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl<T: Splittable> std::error::Error for ReuniteError<T> {}

pub(crate) fn split_owned<T: Splittable>(stream: T) -> (OwnedReadHalf<T>, OwnedWriteHalf<T>) {
    let inner = Arc::new(stream);
    (
        OwnedReadHalf { inner: inner.clone() },
        OwnedWriteHalf {
            inner,
            shutdown_on_drop: true,
        },
    )
}

impl<T: Splittable> OwnedReadHalf<T> {
    /// Puts the stream back together.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] if `other` is the write half of another stream.
    pub fn reunite(self, mut other: OwnedWriteHalf<T>) -> Result<T, ReuniteError<T>> {
        if !Arc::ptr_eq(&self.inner, &other.inner) {
            return Err(ReuniteError(self, other));
        }
        other.shutdown_on_drop = false;
        let inner = other.inner.clone();
        drop((self, other));
        Ok(Arc::into_inner(inner).expect("both halves were just dropped"))
    }
}

impl<T: Splittable> OwnedWriteHalf<T> {
    /// Puts the stream back together; see [`OwnedReadHalf::reunite`].
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] if `other` is the read half of another stream.
    pub fn reunite(self, other: OwnedReadHalf<T>) -> Result<T, ReuniteError<T>> {
        other.reunite(self)
    }

    /// Drops the half without shutting the write side down.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }
}

impl<T: Splittable> Drop for OwnedWriteHalf<T> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.inner.raw().shutdown(std::net::Shutdown::Write);
        }
    }
}

impl<T> AsRef<T> for OwnedReadHalf<T> {
    fn as_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: Splittable> AsRef<T> for OwnedWriteHalf<T> {
    fn as_ref(&self) -> &T {
        &self.inner
    }
}

impl<T> AsRef<T> for ReadHalf<'_, T> {
    fn as_ref(&self) -> &T {
        self.0
    }
}

impl<T> AsRef<T> for WriteHalf<'_, T> {
    fn as_ref(&self) -> &T {
        self.0
    }
}

fn read<T: Splittable>(s: &T, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    poll_io::poll_read(s.raw(), cx, buf)
}

impl<T: Splittable> AsyncRead for ReadHalf<'_, T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        read(self.0, cx, buf)
    }
}

impl<T: Splittable> AsyncRead for OwnedReadHalf<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        read(&*self.inner, cx, buf)
    }
}

/// `AsyncWrite` for a write half whose stream is `self.$field`.
macro_rules! write_half {
    ($ty:ty, $field:tt) => {
        impl<T: Splittable> AsyncWrite for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                poll_io::poll_write((*self.$field).raw(), cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                poll_io::poll_write_vectored((*self.$field).raw(), cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                poll_io::poll_shutdown((*self.$field).raw())
            }
        }
    };
}
write_half!(WriteHalf<'_, T>, 0);
write_half!(OwnedWriteHalf<T>, inner);
