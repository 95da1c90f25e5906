//! `ready(Interest)`: waiting for several directions at once, with tokio's
//! [`Interest`] and [`Ready`] types, for every compat socket; and
//! `try_io`/`async_io`, which run a caller's own non-blocking call.
//!
//! The engine's waits say only which directions are ready. What tokio's
//! `Ready` says besides (`is_read_closed`, `is_write_closed`, `is_error`,
//! `is_priority`) comes from one `poll(2)` with a zero timeout once a wait
//! has ended: the kernel's current state, which is what epoll would have
//! reported to tokio.

use super::lend::TryLend;
use super::{TcpStream, UdpSocket, UnixDatagram, UnixStream};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::AsFd;
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

/// `ready` with what the kernel says of the socket now: a peer's shutdown or
/// hang-up (`POLLRDHUP`, `POLLHUP`), an error (`POLLERR`, when `interest`
/// asks for errors) and urgent data (`POLLPRI`, when it asks for priority).
fn with_conditions(fd: impl AsFd, interest: Interest, mut ready: Ready) -> Ready {
    let mut fds = [PollFd::new(
        &fd,
        PollFlags::IN | PollFlags::OUT | PollFlags::RDHUP | PollFlags::PRI,
    )];
    let now = Timespec { tv_sec: 0, tv_nsec: 0 };
    // A failed `poll` (only `EINTR` or `ENOMEM` here) leaves what the wait said.
    if poll(&mut fds, Some(&now)).is_err() {
        return ready;
    }
    let revents = fds[0].revents();
    // As tokio reports them: a closed direction only for an interest in it.
    let reads = interest.is_readable() || interest.is_priority();
    if reads && revents.intersects(PollFlags::RDHUP | PollFlags::HUP) {
        ready |= Ready::READ_CLOSED;
    }
    if interest.is_writable() && revents.contains(PollFlags::HUP) {
        ready |= Ready::WRITE_CLOSED;
    }
    if interest.is_error() && revents.contains(PollFlags::ERR) {
        ready |= Ready::ERROR;
    }
    if interest.is_priority() && revents.contains(PollFlags::PRI) {
        ready |= Ready::PRIORITY;
    }
    ready
}

macro_rules! ready_method {
    ($ty:ty, $s:ident => $engine:expr) => {
        impl $ty {
            /// Waits until the socket is ready for one of `interest`'s
            /// directions; the [`Ready`] says which, and whether the peer
            /// has shut down or hung up (`is_read_closed`, `is_write_closed`),
            /// and, if `interest` asks, an error or urgent data. Readiness
            /// may be spurious: follow it with a `try_*` call.
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
                let ready = wait(interest, engine.readable(), engine.writable()).await?;
                Ok(with_conditions(self, interest, ready))
            }
        }
    };
}

// `Cached`, whose `readable` knows the stream's read path.
ready_method!(TcpStream, s => &s.inner);
ready_method!(UnixStream, s => &s.inner);
ready_method!(UdpSocket, s => &s.inner);
ready_method!(UnixDatagram, s => &s.inner);

/// `try_io` and `async_io`: a caller's own non-blocking call on the socket,
/// in tokio's shape.
macro_rules! io_methods {
    ($ty:ty, $s:ident => $engine:expr, $io:expr, $forget:expr) => {
        impl $ty {
            /// Runs `f`, a non-blocking call on this socket's descriptor
            /// (e.g. through `AsRawFd`). A `WouldBlock` from it makes the
            /// poll-style readiness for `interest` wait for the kernel again,
            /// as tokio's `try_io` clears it.
            ///
            /// # Errors
            ///
            /// What `f` returns.
            ///
            /// # Examples
            ///
            /// ```no_run
            /// use std::os::fd::AsRawFd;
            /// use tokio::io::Interest;
            ///
            /// # async fn run(s: ringio_compat::net::UdpSocket) -> std::io::Result<()> {
            /// s.readable().await?;
            /// let fd = s.as_raw_fd();
            /// let _ = s.try_io(Interest::READABLE, || {
            ///     let _ = fd; // a syscall on `fd` here
            ///     Ok(())
            /// });
            /// # Ok(()) }
            /// ```
            pub fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
                let $s = self;
                // Through the engine's `try_io`, whose readiness the waits use.
                let res = TryLend::try_lend($io, interest, |_| f());
                if matches!(&res, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
                    $forget(interest);
                }
                res
            }

            /// Waits for `interest` and runs `f`, again after each
            /// `WouldBlock`, until it returns anything else.
            ///
            /// # Errors
            ///
            /// What `f` returns; if the socket was closed meanwhile.
            pub async fn async_io<R>(&self, interest: Interest, mut f: impl FnMut() -> io::Result<R>) -> io::Result<R> {
                let $s = self;
                let engine = $engine;
                loop {
                    wait(interest, engine.readable(), engine.writable()).await?;
                    match TryLend::try_lend($io, interest, |_| f()) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => $forget(interest),
                        other => return other,
                    }
                }
            }
        }
    };
}

/// Forgets the remembered readiness of a stream for `interest`.
fn forget<S>(cached: &super::cached::Cached<S>, interest: Interest) {
    let would_block = || Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock));
    if interest.is_readable() {
        let _ = cached.note(false, would_block());
    }
    if interest.is_writable() {
        let _ = cached.note(true, would_block());
    }
}

io_methods!(TcpStream, s => &s.inner, s.inner.get(), |interest| forget(&s.inner, interest));
io_methods!(UnixStream, s => &s.inner, s.inner.get(), |interest| forget(&s.inner, interest));
// Datagram sockets keep no readiness of their own: nothing to forget.
io_methods!(UdpSocket, s => &s.inner, &s.inner, |_: Interest| {
    let _ = s;
});
io_methods!(UnixDatagram, s => &s.inner, &s.inner, |_: Interest| {
    let _ = s;
});
