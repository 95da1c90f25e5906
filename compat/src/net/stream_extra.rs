//! The rest of the stream surface tokio has: `try_read_buf` (into a
//! `bytes::BufMut`), vectored `try_read_vectored`/`try_write_vectored`,
//! `take_error`, and TCP's `linger` and `ttl` options.

use super::lend::{sock, take_error};
use super::{TcpListener, TcpStream, UnixStream};
use bytes::BufMut;
use rustix::io::Errno;
use std::io::{self, IoSlice, IoSliceMut};
use std::time::Duration;

macro_rules! stream_extra {
    ($ty:ty) => {
        impl $ty {
            /// Reads what is pending into `buf`'s spare capacity without
            /// waiting, advancing it; `Ok(0)` is end of stream (or no room).
            ///
            /// # Errors
            ///
            /// `WouldBlock` if nothing is pending.
            ///
            /// # Examples
            ///
            /// ```no_run
            /// # async fn run(s: &ringio_compat::net::TcpStream) -> std::io::Result<()> {
            /// let mut buf = Vec::with_capacity(4096);
            /// s.readable().await?;
            /// match s.try_read_buf(&mut buf) {
            ///     Ok(n) => println!("read {n} bytes"),
            ///     Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            ///     Err(e) => return Err(e),
            /// }
            /// # Ok(()) }
            /// ```
            pub fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
                let dst = buf.chunk_mut();
                // SAFETY: the read writes only initialized bytes into the
                // slice and never de-initializes any part of it.
                let dst = unsafe { dst.as_uninit_slice_mut() };
                let n = self.inner.try_read_uninit(dst)?;
                // SAFETY: the read initialized the first `n` bytes of the chunk.
                unsafe { buf.advance_mut(n) };
                Ok(n)
            }

            /// Reads what is pending into several buffers in one `readv`,
            /// without waiting.
            ///
            /// # Errors
            ///
            /// `WouldBlock` if nothing is pending.
            pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
                if let Some(reads) = self.inner.reads() {
                    // Completion reads: the received bytes, across the buffers in order.
                    let room = bufs.iter().map(|b| b.len()).sum();
                    let (mut i, mut at) = (0, 0);
                    let res = reads.read_with(self.inner.get(), room, |src| {
                        while i < bufs.len() && at == bufs[i].len() {
                            (i, at) = (i + 1, 0);
                        }
                        let Some(dst) = bufs.get_mut(i) else { return 0 };
                        let n = super::cached::copy_to(&mut dst[at..], src);
                        at += n;
                        n
                    });
                    return self.inner.note(false, res);
                }
                let res = super::lend::Lend::lend(self.inner.get(), |fd| loop {
                    match rustix::io::readv(fd, bufs) {
                        Err(Errno::INTR) => continue,
                        other => return Ok(other?),
                    }
                });
                self.inner.note(false, res)
            }

            /// Writes what the socket takes now from several buffers, in one
            /// `sendmsg`.
            ///
            /// # Errors
            ///
            /// `WouldBlock` if the send buffer is full.
            pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                self.inner.try_write_vectored(bufs)
            }

            /// Takes the pending `SO_ERROR`.
            ///
            /// # Errors
            ///
            /// If the stream was closed.
            pub fn take_error(&self) -> io::Result<Option<io::Error>> {
                take_error(self.inner.get())
            }
        }
    };
}

stream_extra!(TcpStream);
stream_extra!(UnixStream);

impl TcpStream {
    /// Sets `SO_LINGER`: `Some(Duration::ZERO)` makes dropping the stream
    /// send a reset.
    ///
    /// # Errors
    ///
    /// If the stream was closed.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.get().set_linger(dur)
    }

    /// `SO_LINGER` of zero: dropping the stream sends a reset and drops
    /// unsent data.
    ///
    /// # Errors
    ///
    /// If the stream was closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(s: ringio_compat::net::TcpStream) -> std::io::Result<()> {
    /// s.set_zero_linger()?;
    /// drop(s); // the peer reads ConnectionReset
    /// # Ok(()) }
    /// ```
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// Reads `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// If the stream was closed.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.get().linger()
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    ///
    /// If the stream was closed.
    pub fn ttl(&self) -> io::Result<u32> {
        sock(self.inner.get(), |s| s.ttl_v4())
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` above 255.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        sock(self.inner.get(), |s| s.set_ttl_v4(ttl))
    }
}

impl TcpListener {
    /// Reads `IP_TTL`.
    ///
    /// # Errors
    ///
    /// If the listener was closed.
    pub fn ttl(&self) -> io::Result<u32> {
        sock(&self.inner, |s| s.ttl_v4())
    }

    /// Sets `IP_TTL` (inherited by accepted streams).
    ///
    /// # Errors
    ///
    /// `InvalidInput` above 255.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        sock(&self.inner, |s| s.set_ttl_v4(ttl))
    }
}
