//! Synchronous calls on an engine socket's descriptor that ringio has no
//! method for: socket options (through `socket2`), `MSG_PEEK` (through
//! `rustix`), a caller's own calls (`try_io`) and the `dup` behind
//! `into_std`. The engine lends the descriptor for the call (`with_fd`, or
//! `try_io` for a non-blocking call whose `WouldBlock` the readiness waits
//! must hear of), so a concurrent close cannot reuse its number meanwhile.

use socket2::SockRef;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use tokio::io::Interest;

/// An engine socket that lends its descriptor (`with_fd`).
pub(crate) trait Lend {
    fn lend<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R>;

    /// The descriptor for the handle's whole life (its `close` refused
    /// from then on): what `AsFd` returns.
    fn lend_for_life(&self) -> io::Result<BorrowedFd<'_>>;
}

macro_rules! lend {
    ($($ty:ty),*) => {$(
        impl Lend for $ty {
            fn lend<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R> {
                self.with_fd(f)
            }
            fn lend_for_life(&self) -> io::Result<BorrowedFd<'_>> {
                self.lend_fd()
            }
        }
    )*};
}
lend!(
    ringio::net::TcpStream,
    ringio::net::TcpListener,
    ringio::net::UnixStream,
    ringio::net::UnixListener,
    ringio::net::UdpSocket,
    ringio::net::UnixDatagram,
    ringio::fs::File
);

/// An engine socket that lends its descriptor to a non-blocking call
/// (`try_io`): a `WouldBlock` from it clears the engine's readiness for
/// the call's direction.
pub(crate) trait TryLend {
    fn try_lend<R>(&self, interest: Interest, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R>;
}

macro_rules! try_lend {
    ($($ty:ty),*) => {$(
        impl TryLend for $ty {
            fn try_lend<R>(&self, interest: Interest, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R> {
                // Priority and error readiness wait as readable (`ready`).
                let read = interest.is_readable() || interest.is_priority() || interest.is_error();
                let engine = match (read, interest.is_writable()) {
                    (true, false) => ringio::fd::Interest::READABLE,
                    (false, _) => ringio::fd::Interest::WRITABLE,
                    (true, true) => ringio::fd::Interest::READABLE | ringio::fd::Interest::WRITABLE,
                };
                self.try_io(engine, f)
            }
        }
    )*};
}
try_lend!(
    ringio::net::TcpStream,
    ringio::net::UnixStream,
    ringio::net::UdpSocket,
    ringio::net::UnixDatagram
);

/// Runs `f` on the socket as a `socket2` reference (for its option setters).
pub(crate) fn sock<R>(s: &impl Lend, f: impl FnOnce(SockRef<'_>) -> io::Result<R>) -> io::Result<R> {
    s.lend(|fd| f(SockRef::from(&fd)))
}

/// A duplicate of the descriptor (close-on-exec; same open file, so the same
/// non-blocking flag), for `into_std`.
pub(crate) fn dup(s: &impl Lend) -> io::Result<OwnedFd> {
    s.lend(|fd| fd.try_clone_to_owned())
}

/// `SO_ERROR`, as tokio's `take_error`.
pub(crate) fn take_error(s: &impl Lend) -> io::Result<Option<io::Error>> {
    sock(s, |s| s.take_error())
}
