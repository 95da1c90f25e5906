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

use crate::buf::IoBuf;
#[cfg(uring)]
use crate::buf::Slice;
use crate::driver::Driver;
use crate::error::BufResult;
use crate::fd::descriptor::{Descriptor, Lease};
use crate::fd::mutex::Access;
use crate::op::sendrecv::Send;
#[cfg(uring)]
use crate::ring::RingOp;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type Boxed<B> = Pin<Box<dyn Future<Output = BufResult<(), B>> + std::marker::Send>>;

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
                            Ok(done) => {
                                let op = send_rest(&driver, &lock, buf, done, this.zero_copy);
                                this.state = State::Ring { op, lock, driver, done };
                            }
                        }
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
    let zero_copy = zero_copy && driver.has_send_zc();
    #[cfg(uring)]
    if matches!(driver, Driver::Ring(_)) {
        match fd.try_lock(Access::Write) {
            Err(e) => return State::Boxed(Box::pin(std::future::ready((Err(e), buf))), None),
            Ok(Some(lock)) => {
                let lock = Arc::new(lock);
                let op = send_rest(&driver, &lock, buf, 0, zero_copy);
                return State::Ring {
                    op,
                    lock,
                    driver,
                    done: 0,
                };
            }
            Ok(None) => {} // contended: wait in the general path
        }
    }
    let task_driver = driver.clone();
    State::Boxed(
        Box::pin(async move {
            let lock = match fd.lock(Access::Write).await {
                Ok(lock) => Arc::new(lock),
                Err(e) => return (Err(e), buf),
            };
            send_all(&task_driver, &lock, buf, zero_copy).await
        }),
        Some(driver),
    )
}

/// The general path: sends until every initialized byte is out.
async fn send_all<B: IoBuf>(driver: &Driver, lock: &Arc<Lease>, buf: B, zero_copy: bool) -> BufResult<(), B> {
    let total = buf.bytes_init();
    let mut done = 0;
    let mut buf = buf;
    while done < total {
        let (res, slice) = driver
            .submit(Send::new(lock.clone().into(), buf.slice(done..total), true).zero_copy(zero_copy))
            .await;
        buf = slice.into_inner();
        match sent(res, done) {
            Ok(n) => done = n,
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}

#[cfg(uring)]
fn send_rest<B: IoBuf>(
    driver: &Driver,
    lock: &Arc<Lease>,
    buf: B,
    done: usize,
    zero_copy: bool,
) -> RingOp<Send<Slice<B>>> {
    let Driver::Ring(ring) = driver else {
        unreachable!("the ring path runs on a ring")
    };
    let total = buf.bytes_init();
    ring.submit(Send::new(lock.clone().into(), buf.slice(done..total), true).zero_copy(zero_copy))
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
