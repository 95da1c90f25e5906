//! Synchronous calls on an engine socket's descriptor that ringio has no
//! method for: socket options (through `socket2`), `MSG_PEEK` (through
//! `rustix`) and the `dup` behind `into_std`. The engine lends the
//! descriptor for the call (`with_fd`), so a concurrent close cannot reuse
//! its number meanwhile.

use socket2::SockRef;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

/// An engine socket that lends its descriptor (`with_fd`).
pub(crate) trait Lend {
    fn lend<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R>;
}

macro_rules! lend {
    ($($ty:ty),*) => {$(
        impl Lend for $ty {
            fn lend<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R> {
                self.with_fd(f)
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
