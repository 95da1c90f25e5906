//! `ready(Interest)`: waiting for several directions at once, with tokio's
//! [`Interest`] and [`Ready`] types, for every compat socket.

use super::{TcpStream, UdpSocket, UnixDatagram, UnixStream};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;
use tokio::io::{Interest, Ready};

/// Waits until one of the directions in `interest` is ready and reports
/// every one that is. `PRIORITY` and `ERROR` interest wait as readable
/// (an error or urgent data makes the socket readable too).
async fn wait(
    interest: Interest,
    readable: impl Future<Output = io::Result<()>>,
    writable: impl Future<Output = io::Result<()>>,
) -> io::Result<Ready> {
    let want_read = interest.is_readable() || interest.is_priority() || interest.is_error();
    let want_write = interest.is_writable();
    let (mut readable, mut writable) = (pin!(readable), pin!(writable));
    poll_fn(|cx| {
        let mut ready = Ready::EMPTY;
        if want_read {
            if let Poll::Ready(res) = readable.as_mut().poll(cx) {
                res?;
                ready |= Ready::READABLE;
            }
        }
        if want_write {
            if let Poll::Ready(res) = writable.as_mut().poll(cx) {
                res?;
                ready |= Ready::WRITABLE;
            }
        }
        if ready.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Ok(ready))
        }
    })
    .await
}

macro_rules! ready_method {
    ($ty:ty, $s:ident => $engine:expr) => {
        impl $ty {
            /// Waits until the socket is ready for one of `interest`'s
            /// directions; the [`Ready`] says which. Readiness may be
            /// spurious: follow it with a `try_*` call.
            ///
            /// # Errors
            ///
            /// If the socket was closed meanwhile.
            ///
            /// # Examples
            ///
            /// ```no_run
            /// use tokio::io::Interest;
            ///
            /// # async fn run(s: ringio_compat::net::TcpStream) -> std::io::Result<()> {
            /// let ready = s.ready(Interest::READABLE | Interest::WRITABLE).await?;
            /// if ready.is_readable() {
            ///     let mut buf = [0u8; 1024];
            ///     let _ = s.try_read(&mut buf);
            /// }
            /// # Ok(()) }
            /// ```
            pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
                let $s = self;
                let engine = $engine;
                wait(interest, engine.readable(), engine.writable()).await
            }
        }
    };
}

ready_method!(TcpStream, s => s.inner.get());
ready_method!(UnixStream, s => s.inner.get());
ready_method!(UdpSocket, s => &s.inner);
ready_method!(UnixDatagram, s => &s.inner);
