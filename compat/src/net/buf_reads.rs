//! The datagram `*_buf` receives, as tokio has them: into the spare
//! capacity of a `bytes::BufMut`, advancing it by what arrived.

use super::poll_io::until_done;
use super::{UdpSocket, UnixDatagram};
use bytes::BufMut;
use std::io;
use tokio::io::ReadBuf;

/// Runs `recv` on `buf`'s spare capacity (zeroed first: the engine's
/// receives take initialized slices) and advances `buf` by the bytes received.
fn into_spare<B: BufMut, R>(
    buf: &mut B,
    recv: impl FnOnce(&mut [u8]) -> io::Result<(usize, R)>,
) -> io::Result<(usize, R)> {
    let dst = buf.chunk_mut();
    // SAFETY: `ReadBuf::uninit` only writes initialized bytes into the
    // slice, and nothing de-initializes any part of it.
    let mut dst = ReadBuf::uninit(unsafe { dst.as_uninit_slice_mut() });
    let (n, r) = recv(dst.initialize_unfilled())?;
    // SAFETY: the first `n` bytes of the chunk were initialized (zeroed,
    // then written by the receive).
    unsafe { buf.advance_mut(n) };
    Ok((n, r))
}

macro_rules! buf_reads {
    ($ty:ty, $addr:ty) => {
        impl $ty {
            /// Receives one pending datagram into `buf`'s spare capacity
            /// without waiting (the excess of a longer datagram is lost).
            ///
            /// # Errors
            ///
            /// `WouldBlock` if none is pending.
            pub fn try_recv_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
                into_spare(buf, |dst| self.inner.try_recv(dst).map(|n| (n, ()))).map(|(n, ())| n)
            }

            /// Receives one datagram into `buf`'s spare capacity. Cancel safe.
            ///
            /// # Errors
            ///
            /// If the socket was closed.
            ///
            /// # Examples
            ///
            /// ```no_run
            /// # async fn run(s: ringio_compat::net::UdpSocket) -> std::io::Result<()> {
            /// let mut buf = Vec::with_capacity(1500);
            /// let n = s.recv_buf(&mut buf).await?;
            /// assert_eq!(buf.len(), n);
            /// # Ok(()) }
            /// ```
            pub async fn recv_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
                until_done(|| self.try_recv_buf(buf), || self.inner.readable()).await
            }

            /// Receives one pending datagram and its sender into `buf`'s
            /// spare capacity without waiting.
            ///
            /// # Errors
            ///
            /// `WouldBlock` if none is pending.
            pub fn try_recv_buf_from<B: BufMut>(&self, buf: &mut B) -> io::Result<(usize, $addr)> {
                into_spare(buf, |dst| self.try_recv_from(dst))
            }

            /// Receives one datagram and its sender into `buf`'s spare capacity. Cancel safe.
            ///
            /// # Errors
            ///
            /// If the socket was closed.
            pub async fn recv_buf_from<B: BufMut>(&self, buf: &mut B) -> io::Result<(usize, $addr)> {
                until_done(|| self.try_recv_buf_from(buf), || self.inner.readable()).await
            }
        }
    };
}

buf_reads!(UdpSocket, std::net::SocketAddr);
buf_reads!(UnixDatagram, super::unix::SocketAddr);
