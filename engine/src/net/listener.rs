//! What TCP and Unix listeners share: accept (single and multishot) and close.

use super::ready::{self, Readiness};
use super::stream::Stream;
use crate::backend::Interest;
use crate::driver::Driver;
use crate::fd::shared::FdHandle;
#[cfg(uring)]
use crate::op::accept::AcceptMulti;
use crate::op::accept::{accept_nonblocking, accepted_fd, Accept};
#[cfg(uring)]
use crate::op::MultiOp;
use rustix::net::SocketAddrAny;
#[cfg(uring)]
use std::future::poll_fn;
use std::io;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::task::{Context, Poll};

#[derive(Debug)]
pub(crate) struct Listener {
    pub fd: FdHandle,
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
            fd: FdHandle::new(fd),
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
            std::task::ready!(self.ready.poll(&self.fd, Interest::READ, cx))?;
        }
    }

    fn try_accept(&self) -> io::Result<(Stream, Option<SocketAddrAny>)> {
        let (completion, peer) = ready::try_io(&self.fd, None, |fd| Ok(accept_nonblocking(fd)))?;
        let completion = completion.ok_or(io::ErrorKind::WouldBlock)?;
        Ok((Stream::from_fd(accepted_fd(&completion)?), peer))
    }

    /// Accepts one connection. Concurrent accepts on one listener are allowed
    /// (each holds a plain fd-mutex reference). `EMFILE`/`ENFILE` come back as
    /// errors; the listener stays usable.
    pub(crate) async fn accept(&self) -> io::Result<(Stream, Option<SocketAddrAny>)> {
        let driver = self.fd.driver()?;
        let r = self.fd.incref()?;
        let (fd, addr) = self.fd.explain(driver.submit(Accept::new(r.into(), &driver)).await)?;
        Ok((Stream::from_fd(fd), addr))
    }

    pub(crate) fn incoming<S>(&self, wrap: fn(Stream) -> S) -> Incoming<'_, S> {
        Incoming {
            listener: self,
            #[cfg(uring)]
            op: None,
            wrap,
            _marker: PhantomData,
        }
    }
}

/// A stream of accepted connections, on one multishot `ACCEPT` (Linux 5.19)
/// that is re-armed whenever the kernel ends it.
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
    #[cfg(uring)]
    op: Option<MultiOp<AcceptMulti>>,
    wrap: fn(Stream) -> S,
    _marker: PhantomData<S>,
}

impl<S> Incoming<'_, S> {
    /// The next connection; `None` only if the listener was closed.
    pub async fn next(&mut self) -> Option<io::Result<S>> {
        let driver = match self.listener.fd.driver() {
            Ok(d) => d,
            Err(e) => return Some(Err(e)),
        };
        match &driver {
            #[cfg(uring)]
            Driver::Ring(ring) => self.next_multishot(&driver, ring).await,
            // Readiness backends: one non-blocking accept per connection.
            Driver::Ready(_) => match self.listener.accept().await {
                Ok((stream, _)) => Some(Ok((self.wrap)(stream))),
                Err(e) if crate::Error::is_closed(&e) => None,
                Err(e) => Some(Err(e)),
            },
        }
    }

    #[cfg(uring)]
    async fn next_multishot(&mut self, driver: &Driver, ring: &crate::ring::Driver) -> Option<io::Result<S>> {
        loop {
            if self.op.is_none() {
                let r = match self.listener.fd.incref() {
                    Ok(r) => r,
                    Err(_) => return None,
                };
                self.op = Some(ring.submit_multishot(AcceptMulti::new(r.into(), driver)));
            }
            let op = self.op.as_mut().expect("armed above");
            match poll_fn(|cx| op.poll_next(cx)).await {
                Some(c) => {
                    let res = accepted_fd(&c).map(|fd| (self.wrap)(Stream::from_fd(fd)));
                    if !io_uring::cqueue::more(c.flags) {
                        self.op = None;
                    }
                    return Some(res);
                }
                None => self.op = None,
            }
        }
    }
}
