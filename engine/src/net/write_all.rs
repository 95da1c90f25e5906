//! `WriteAll`: the future of a stream's `write_all`, which never leaves an
//! unknown prefix of its buffer on the wire.
//!
//! The rule: once polled, a `write_all` sends every byte of its buffer, in
//! order, before any later write on the stream, unless the stream fails or
//! is closed. If its future is dropped first, the rest is sent anyway:
//! - on io_uring, the uncontended case is one `SEND` with `MSG_WAITALL`
//!   (the kernel retries short sends itself), which a drop simply detaches
//!   instead of cancelling;
//! - otherwise (another writer holds the lock, or a readiness backend) the
//!   remainder is boxed and, if dropped, handed to the home driver's
//!   background tasks ([`crate::op::background`]).
//!
//! Either way the stream's write lock stays held until the last byte is
//! sent, which is what queues later writes behind it.
//!
//! [`WriteAll::zero_copy`] sends with `SEND_ZC` on a ring: each send ends
//! only with the kernel's notification that it let go of the buffer's
//! pages, so the buffer is handed back only then (the same rule holds when
//! the future is dropped: the buffer stays with the driver until then).
//! A dropped one holds the write lock only until its send's result (its
//! bytes are in the socket, in order), not until the notification, which on
//! TCP trails the peer's acknowledgement; and each send first takes a place
//! in the stream's zero-copy budget ([`crate::fd::zero_copy`], at most
//! [`MAX_IN_FLIGHT`](crate::fd::zero_copy::MAX_IN_FLIGHT) in flight), under
//! the write lock, so later writes queue behind it. So a storm of dropped
//! `write_all_zc`s pins a bounded number of buffers, and keeps the pace of
//! plain `write_all`s instead of one notification per send.

use crate::buf::IoBuf;
#[cfg(uring)]
use crate::buf::Slice;
use crate::driver::Driver;
use crate::error::BufResult;
use crate::fd::descriptor::{Descriptor, Lease};
use crate::fd::mutex::Access;
#[cfg(uring)]
use crate::fd::zero_copy::ZcPermit;
use crate::op::sendrecv::Send;
#[cfg(uring)]
use crate::ring::RingOp;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type Boxed<B> = Pin<Box<dyn Future<Output = BufResult<(), B>> + std::marker::Send>>;
/// The write lock and a zero-copy permit, once both are held.
#[cfg(uring)]
type Acquiring = Pin<Box<dyn Future<Output = io::Result<(Arc<Lease>, ZcPermit)>> + std::marker::Send>>;

/// See the module docs.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct WriteAll<B: IoBuf> {
    state: State<B>,
    zero_copy: bool,
}

enum State<B: IoBuf> {
    Start(Descriptor, B),
    /// One `SEND` (`MSG_WAITALL`) of `buf[done..]` in flight on the ring.
    #[cfg(uring)]
    Ring {
        op: RingOp<Send<Slice<B>>>,
        lock: Arc<Lease>,
        driver: Driver,
        done: usize,
    },
    /// A zero-copy send of `buf[done..]` waits for the write lock (unless
    /// it has it) and a place in the stream's budget; then `Ring`.
    #[cfg(uring)]
    Acquire {
        wait: Acquiring,
        buf: B,
        driver: Driver,
        done: usize,
    },
    /// The general path, boxed so that a drop can move it to the background
    /// of `driver` (`None`: it failed before it had one).
    Boxed(Boxed<B>, Option<Driver>),
    Done,
}

impl<B: IoBuf> WriteAll<B> {
    pub(crate) fn new(fd: Descriptor, buf: B) -> Self {
        WriteAll {
            state: State::Start(fd, buf),
            zero_copy: false,
        }
    }

    /// Sends with `SEND_ZC` where the ring has it.
    pub(crate) fn zero_copy(fd: Descriptor, buf: B) -> Self {
        WriteAll {
            state: State::Start(fd, buf),
            zero_copy: true,
        }
    }
}

impl<B: IoBuf> Future for WriteAll<B> {
    type Output = BufResult<(), B>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Start(fd, buf) => this.state = start(fd, buf, this.zero_copy),
                #[cfg(uring)]
                State::Ring {
                    mut op,
                    lock,
                    driver,
                    done,
                } => match Pin::new(&mut op).poll(cx) {
                    Poll::Pending => {
                        this.state = State::Ring { op, lock, driver, done };
                        return Poll::Pending;
                    }
                    Poll::Ready((res, slice)) => {
                        let buf = slice.into_inner();
                        let total = buf.bytes_init();
                        match sent(res, done) {
                            Err(e) => return Poll::Ready((Err(e), buf)),
                            Ok(done) if done >= total => return Poll::Ready((Ok(()), buf)),
                            // Short: the kernel stopped early (an error the
                            // next send reports, or a signal). Go on.
                            Ok(done) if this.zero_copy && driver.has_send_zc() => {
                                let fd = lock.shared().clone();
                                this.state = acquire(fd, Some(lock), buf, driver, done);
                            }
                            Ok(done) => {
                                let op = send_rest(&driver, &lock, buf, done, None);
                                this.state = State::Ring { op, lock, driver, done };
                            }
                        }
                    }
                },
                #[cfg(uring)]
                State::Acquire {
                    mut wait,
                    buf,
                    driver,
                    done,
                } => match wait.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = State::Acquire {
                            wait,
                            buf,
                            driver,
                            done,
                        };
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready((Err(e), buf)),
                    Poll::Ready(Ok((lock, permit))) => {
                        let op = send_rest(&driver, &lock, buf, done, Some(permit));
                        this.state = State::Ring { op, lock, driver, done };
                    }
                },
                State::Boxed(mut task, driver) => match task.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = State::Boxed(task, driver);
                        return Poll::Pending;
                    }
                    Poll::Ready(out) => return Poll::Ready(out),
                },
                State::Done => panic!("WriteAll polled after completion"),
            }
        }
    }
}

impl<B: IoBuf> Drop for WriteAll<B> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            // Never polled: it sent nothing, and sends nothing.
            State::Start(..) | State::Done => {}
            // The SEND in flight covers every byte left: let it finish.
            #[cfg(uring)]
            State::Ring { op, .. } => op.detach(),
            // Sent later, on the home driver's turns: once it has the lock
            // and a place, its one send covers every byte left, detached.
            #[cfg(uring)]
            State::Acquire {
                wait,
                buf,
                driver,
                done,
            } => {
                let home = driver.clone();
                driver.spawn_background(Box::pin(async move {
                    match wait.await {
                        Ok((lock, permit)) => send_rest(&home, &lock, buf, done, Some(permit)).detach(),
                        Err(err) => tracing::debug!(%err, "a dropped write_all_zc failed in the background"),
                    }
                }));
            }
            State::Boxed(_, None) => {}
            State::Boxed(task, Some(driver)) => driver.spawn_background(Box::pin(async move {
                if let (Err(err), _) = task.await {
                    tracing::debug!(%err, "a dropped write_all failed in the background");
                }
            })),
        }
    }
}

/// The first step: on a ring with the write lock free, the fast path;
/// otherwise the boxed general path.
fn start<B: IoBuf>(fd: Descriptor, buf: B, zero_copy: bool) -> State<B> {
    let driver = match fd.driver() {
        Ok(d) => d,
        Err(e) => return State::Boxed(Box::pin(std::future::ready((Err(e), buf))), None),
    };
    #[cfg(uring)]
    if matches!(driver, Driver::Ring(_)) {
        let zero_copy = zero_copy && driver.has_send_zc();
        match fd.try_lock(Access::Write) {
            Err(e) => return State::Boxed(Box::pin(std::future::ready((Err(e), buf))), None),
            Ok(Some(lock)) => {
                let lock = Arc::new(lock);
                let permit = match zero_copy {
                    false => None,
                    true => match ZcPermit::try_new(&fd) {
                        Some(permit) => Some(permit),
                        None => return acquire(fd, Some(lock), buf, driver, 0),
                    },
                };
                let op = send_rest(&driver, &lock, buf, 0, permit);
                return State::Ring {
                    op,
                    lock,
                    driver,
                    done: 0,
                };
            }
            Ok(None) if zero_copy => return acquire(fd, None, buf, driver, 0),
            Ok(None) => {} // contended: wait in the general path
        }
    }
    // Readiness-only targets have no zero-copy sends.
    #[cfg(not(uring))]
    let _ = zero_copy;
    let task_driver = driver.clone();
    State::Boxed(
        Box::pin(async move {
            let lock = match fd.lock(Access::Write).await {
                Ok(lock) => Arc::new(lock),
                Err(e) => return (Err(e), buf),
            };
            send_all(&task_driver, &lock, buf).await
        }),
        Some(driver),
    )
}

/// The general path: sends until every initialized byte is out.
async fn send_all<B: IoBuf>(driver: &Driver, lock: &Arc<Lease>, buf: B) -> BufResult<(), B> {
    let total = buf.bytes_init();
    let mut done = 0;
    let mut buf = buf;
    while done < total {
        let (res, slice) = driver
            .submit(Send::new(lock.clone().into(), buf.slice(done..total), true))
            .await;
        buf = slice.into_inner();
        match sent(res, done) {
            Ok(n) => done = n,
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}

/// The ring's one send of `buf[done..]` (`MSG_WAITALL`), zero-copy in
/// `permit`'s place if there is one.
#[cfg(uring)]
fn send_rest<B: IoBuf>(
    driver: &Driver,
    lock: &Arc<Lease>,
    buf: B,
    done: usize,
    permit: Option<ZcPermit>,
) -> RingOp<Send<Slice<B>>> {
    let Driver::Ring(ring) = driver else {
        unreachable!("the ring path runs on a ring")
    };
    let total = buf.bytes_init();
    let send = Send::new(lock.clone().into(), buf.slice(done..total), true);
    ring.submit(match permit {
        Some(permit) => send.zero_copy(permit),
        None => send,
    })
}

/// Waits for the write lock (unless `lock` is it) and then for a place in
/// the stream's zero-copy budget, holding the lock: whoever holds the lock
/// is the only one waiting for a place, and later writes queue behind it.
#[cfg(uring)]
fn acquire<B: IoBuf>(fd: Descriptor, lock: Option<Arc<Lease>>, buf: B, driver: Driver, done: usize) -> State<B> {
    let wait = Box::pin(async move {
        let lock = match lock {
            Some(lock) => lock,
            None => Arc::new(fd.lock(Access::Write).await?),
        };
        let permit = ZcPermit::new(&fd).await;
        Ok((lock, permit))
    });
    State::Acquire {
        wait,
        buf,
        driver,
        done,
    }
}

/// Adds one send's count to `done`; a send of nothing is `WriteZero`.
fn sent(res: io::Result<usize>, done: usize) -> io::Result<usize> {
    match res {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => Ok(done + n),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(done),
        Err(e) => Err(e),
    }
}
