//! What TCP and Unix listeners share: accept (single and multishot) and close.

use super::ready::{self, Readiness};
use super::stream::Stream;
use crate::driver::Driver;
use crate::fd::descriptor::Handle;
use crate::fd::mutex::Access;
use crate::fd::Interest;
#[cfg(uring)]
use crate::op::accept::AcceptMulti;
use crate::op::accept::{accept_nonblocking, accepted_fd, Accept};
#[cfg(uring)]
use crate::ring::MultiOp;
use rustix::net::SocketAddrAny;
#[cfg(uring)]
use std::future::poll_fn;
use std::io;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::task::{Context, Poll};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Listener {
    pub fd: Handle,
    ready: Readiness,
}

impl Listener {
    /// Closes: marks the descriptor closed (no new wait can start), drops
    /// the stored readiness waits, then waits for the close protocol.
    pub(crate) async fn close(&self) -> io::Result<()> {
        self.ready.close(&self.fd).await
    }

    pub(crate) fn new(fd: OwnedFd) -> Listener {
        Listener {
            fd: Handle::bound(fd),
            ready: Readiness::default(),
        }
    }

    /// Poll-style accept: a non-blocking `accept4`, else a readiness wait.
    /// Cancel safe: a connection is only taken off the queue when returned.
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, Option<SocketAddrAny>)>> {
        loop {
            match self.try_accept() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
            std::task::ready!(self.ready.poll(&self.fd, Interest::READABLE, cx))?;
        }
    }

    /// A connection if one is queued: one that a dropped accept got first,
    /// else a non-blocking `accept4`. `WouldBlock` if none is, or if another
    /// accept holds the listener's read lock.
    pub(crate) fn try_accept(&self) -> io::Result<(Stream, Option<SocketAddrAny>)> {
        #[cfg(feature = "sim")]
        if let Some(sock) = self.fd.sim() {
            let (fd, peer) = ready::try_read(
                &self.fd,
                &mut (),
                |rescue, _| rescue.take_conn().map(Ok),
                |_, _| {
                    sock.try_accept()
                        .map(|(fd, peer)| (fd, Some(crate::sim::any(peer))))
                        .map_err(crate::sim::errno_of)
                },
                |_| false,
            )?;
            return Ok((Stream::from_fd(fd), peer));
        }
        let mut none = ();
        let (fd, peer) = ready::try_read(
            &self.fd,
            &mut none,
            |rescue, _| {
                rescue.take_conn().map(|(fd, peer)| {
                    let peer = peer.or_else(|| peer_of(&fd));
                    Ok((fd, peer))
                })
            },
            |fd, _| {
                let (completion, peer) = accept_nonblocking(fd);
                let completion = completion.ok_or(rustix::io::Errno::AGAIN)?;
                let fd = accepted_fd(&completion)
                    .map_err(|e| rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO))?;
                Ok((fd, peer))
            },
            |_| false,
        )?;
        Ok((Stream::from_fd(fd), peer))
    }

    /// Waits until a connection is queued (each caller has its own wait).
    pub(crate) async fn readable(&self) -> io::Result<()> {
        ready::ready(&self.fd, Interest::READABLE).await
    }

    /// Accepts one connection. Accepts on one listener take its read lock in
    /// turn, so any number of tasks may wait in `accept` and each gets its
    /// own connection; one a dropped accept got waits for the next accept.
    /// `EMFILE`/`ENFILE` come back as errors; the listener stays usable.
    pub(crate) async fn accept(&self) -> io::Result<(Stream, Option<SocketAddrAny>)> {
        let driver = self.fd.driver()?;
        let r = self.fd.lock(Access::Read).await?;
        if let Some(conn) = r.rescue().take_conn() {
            return Ok(rescued(conn));
        }
        let (fd, addr) = driver.submit(Accept::new(r.into())).await?;
        Ok((Stream::from_fd(fd), addr))
    }

    pub(crate) fn incoming<S>(&self, wrap: fn(Stream) -> S) -> Incoming<'_, S> {
        Incoming {
            listener: self,
            #[cfg(uring)]
            op: None,
            wrap,
            pause: None,
            backoff: Duration::ZERO,
            _marker: PhantomData,
        }
    }
}

/// A rescued connection as `accept` returns it. A multishot accept does not
/// report peers, so one it accepted is asked for its own.
fn rescued((fd, peer): (OwnedFd, Option<SocketAddrAny>)) -> (Stream, Option<SocketAddrAny>) {
    let peer = peer.or_else(|| peer_of(&fd));
    (Stream::from_fd(fd), peer)
}

fn peer_of(fd: &OwnedFd) -> Option<SocketAddrAny> {
    rustix::net::getpeername(fd).ok().flatten()
}

/// First pause after the process or system ran out of descriptors.
const BACKOFF_MIN: Duration = Duration::from_millis(1);
/// Longest pause: each failure in a row doubles it up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A stream of accepted connections, on one multishot `ACCEPT` (Linux 5.19)
/// that is re-armed whenever the kernel ends it (on readiness backends,
/// one non-blocking accept per connection).
///
/// Out of descriptors (`EMFILE`/`ENFILE`), `next` returns the error, and the
/// following `next` first pauses, 1 ms after the first failure and twice as
/// long after each further one in a row, up to 1 s; an accepted connection
/// resets it. The connection that could not be accepted stays queued in
/// the kernel, so a server loop that logs the error and carries on recovers
/// once descriptors are freed, and never spins meanwhile.
///
/// While its multishot accept is armed, the stream holds the listener's
/// read lock, so an `accept` elsewhere waits; connections accepted but not
/// taken when the stream is dropped go to the next accept. Closing the
/// listener ends the stream (`next` returns `None`) even while it is kept.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new().unwrap().block_on(async {
///     let listener = ringio::net::TcpListener::bind("127.0.0.1:0")?;
///     let mut incoming = listener.incoming();
///     while let Some(stream) = incoming.next().await {
///         let stream = stream?;
///         ringio::spawn(async move { drop(stream) });
///     }
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct Incoming<'a, S> {
    listener: &'a Listener,
    /// The armed multishot accept. It holds the listener's read lock (so
    /// connections come in order and a dropped stream's last ones are
    /// rescued for the next accept) until the kernel ends it.
    #[cfg(uring)]
    op: Option<MultiOp<AcceptMulti>>,
    wrap: fn(Stream) -> S,
    /// The pause the next call starts with, after `EMFILE`/`ENFILE`.
    pause: Option<Duration>,
    /// The last pause, doubled by each failure in a row.
    backoff: Duration,
    _marker: PhantomData<S>,
}

impl<S> Incoming<'_, S> {
    /// The next connection; `None` once the listener is closed.
    ///
    /// Cancel safe: a connection accepted for a dropped `next` (or a
    /// dropped `Incoming`) is returned by the next accept on the listener.
    ///
    /// # Errors
    ///
    /// `EMFILE`/`ENFILE` when out of descriptors (then the next call
    /// backs off first; see above), other accept errors as they come.
    pub async fn next(&mut self) -> Option<io::Result<S>> {
        if let Some(pause) = self.pause {
            // Taken only once slept: a dropped `next` leaves it for the next.
            crate::time::sleep(pause).await;
            self.pause = None;
        }
        let driver = match self.listener.fd.driver() {
            Ok(d) => d,
            Err(e) => return Some(Err(e)),
        };
        let res = match &driver {
            #[cfg(uring)]
            Driver::Ring(ring) => self.next_multishot(&driver, ring).await,
            // Readiness backends: one non-blocking accept per connection.
            Driver::Ready(_) => self.listener.accept().await.map(|(stream, _)| stream),
            #[cfg(feature = "sim")]
            Driver::Sim(_) => self.listener.accept().await.map(|(stream, _)| stream),
        };
        match res {
            Err(e) if crate::Error::is_closed(&e) => None,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                self.backoff = (self.backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                self.pause = Some(self.backoff);
                tracing::warn!(err = %e, pause = ?self.backoff, "out of descriptors; accepting again after a pause");
                Some(Err(e))
            }
            Err(e) => Some(Err(e)),
            Ok(stream) => {
                self.backoff = Duration::ZERO;
                Some(Ok((self.wrap)(stream)))
            }
        }
    }

    #[cfg(uring)]
    async fn next_multishot(&mut self, _driver: &Driver, ring: &crate::ring::Driver) -> io::Result<Stream> {
        loop {
            let op = match &mut self.op {
                Some(op) => op,
                None => {
                    let lock = self.listener.fd.lock(Access::Read).await?;
                    if let Some((fd, _)) = lock.rescue().take_conn() {
                        return Ok(Stream::from_fd(fd));
                    }
                    self.op.insert(ring.submit_multishot(AcceptMulti::new(lock.into())))
                }
            };
            match poll_fn(|cx| op.poll_next(cx)).await {
                Some(c) => {
                    if !io_uring::cqueue::more(c.flags) {
                        // The kernel ended the stream (an error such as
                        // EMFILE, or a cancel): re-armed on the next call.
                        self.op = None;
                    }
                    if c.is_cancelled() && self.listener.fd.is_closed() {
                        return Err(crate::Error::Closed.into());
                    }
                    return accepted_fd(&c).map(Stream::from_fd);
                }
                None => self.op = None,
            }
        }
    }
}
