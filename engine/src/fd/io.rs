//! The operations of an [`Fd`]: owned-buffer reads and writes (at the file
//! position or at an offset), readiness (`POLL_ADD`), and `async_io`, which
//! runs a caller's non-blocking system call until it stops saying "would
//! block".
//!
//! Every operation holds a reference of the fd mutex from submission to
//! completion, so `close` waits for it. An operation in flight on a ring is
//! also raced against the handle's `closing` event: when `close` starts on
//! any thread, the operation asks its own ring to cancel what it has in
//! flight on the descriptor. (The close protocol cancels by itself only on
//! the descriptor's home ring, and a descriptor without a fixed slot has
//! none; this makes `close` prompt wherever the handle was used.)

use super::{Fd, Interest};
use crate::buf::{IoBuf, IoBufMut};
use crate::driver::Driver;
use crate::error::{BufResult, Error};
use crate::fd::descriptor::OpLease;
use crate::fd::mutex::Access;
use crate::net::stream_support::try_buf;
use crate::op::poll::PollReady;
use crate::op::rw::{Read, Write};
use crate::op::{Operation, Target};
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

impl Fd {
    /// The driver this descriptor's operations go to (see `Descriptor::driver`).
    pub(crate) fn driver(&self) -> io::Result<Driver> {
        self.handle.driver()
    }

    /// Reads into `buf` (up to its capacity) at the file position, advancing
    /// it; `Ok(0)` at end of file. Reads of one `Fd` are serialized (the fd
    /// mutex's read lock), so concurrent readers get consecutive bytes.
    ///
    /// On io_uring this is one `IORING_OP_READ` (offset -1: Linux 5.6); on
    /// readiness backends a non-blocking `read(2)` retried on readiness, or,
    /// for a regular file, `read(2)` on the blocking pool.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the handle is or gets closed;
    /// [`Error::NoRuntime`] outside a runtime; `InvalidInput` on a readiness
    /// backend if the descriptor is not a regular file and is in blocking
    /// mode (see [`Fd::new`]); any error of `read(2)`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use rustix::pipe::{pipe_with, PipeFlags};
    /// ringio::Runtime::new()?.block_on(async {
    ///     let (r, w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    ///     let (r, w) = (ringio::fd::Fd::new(r), ringio::fd::Fd::new(w));
    ///     w.write(b"ping".to_vec()).await.0?;
    ///     let (n, buf) = r.read(Vec::with_capacity(16)).await;
    ///     assert_eq!(&buf[..n?], b"ping");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let driver = try_buf!(self.handle.driver(), buf);
        let lock = Arc::new(try_buf!(self.handle.lock(Access::Read).await, buf));
        try_buf!(self.check_mode(&driver), buf);
        let mut buf = buf;
        // Bytes a dropped read took off a pipe come first.
        if let Some(res) = lock
            .rescue()
            .take_bytes(buf.bytes_total(), |at, src| crate::buf::fill_at(&mut buf, at, src))
        {
            return (res, buf);
        }
        loop {
            let target = lock.target();
            let op = driver.submit(Read::at_cursor(lock.clone().into(), buf, self.pollable));
            let (res, b) = self.cancel_on_close(&driver, target, op).await;
            buf = b;
            match res {
                // A non-blocking descriptor whose file lacks `FMODE_NOWAIT`
                // makes io_uring answer EAGAIN instead of waiting. (Regular
                // files are always "ready": polling them would spin.)
                Err(e) if self.pollable && e.kind() == io::ErrorKind::WouldBlock => {
                    try_buf!(self.poll(Interest::READABLE).await, buf);
                }
                res => return (res, buf),
            }
        }
    }

    /// Writes `buf`'s initialized bytes at the file position; returns how
    /// many were written. Writes of one `Fd` are serialized (the write lock).
    ///
    /// # Errors
    ///
    /// As for [`Fd::read`], with `write(2)`'s errors (`EPIPE`, `ENOSPC`, ...).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use rustix::pipe::{pipe_with, PipeFlags};
    /// ringio::Runtime::new()?.block_on(async {
    ///     let (_r, w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    ///     let w = ringio::fd::Fd::new(w);
    ///     let (n, _buf) = w.write(b"hello".to_vec()).await;
    ///     assert_eq!(n?, 5);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let driver = try_buf!(self.handle.driver(), buf);
        let lock = Arc::new(try_buf!(self.handle.lock(Access::Write).await, buf));
        try_buf!(self.check_mode(&driver), buf);
        let mut buf = buf;
        loop {
            let target = lock.target();
            let op = driver.submit(Write::at_cursor(lock.clone().into(), buf, self.pollable));
            let (res, b) = self.cancel_on_close(&driver, target, op).await;
            buf = b;
            match res {
                Err(e) if self.pollable && e.kind() == io::ErrorKind::WouldBlock => {
                    try_buf!(self.poll(Interest::WRITABLE).await, buf);
                }
                res => return (res, buf),
            }
        }
    }

    /// Reads into `buf` at `offset` (`pread`), leaving the file position
    /// alone. For seekable descriptors; others fail with `ESPIPE`.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::NoRuntime`], any error of `pread(2)`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let fd = ringio::fd::Fd::new(std::fs::File::open("/etc/hostname")?.into());
    ///     let (n, buf) = fd.read_at(Vec::with_capacity(64), 0).await;
    ///     println!("{}", String::from_utf8_lossy(&buf[..n?]));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn read_at<B: IoBufMut>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        let driver = try_buf!(self.handle.driver(), buf);
        let r = try_buf!(self.handle.incref(), buf);
        let target = r.target();
        let op = driver.submit(Read::new(r.into(), buf, offset));
        let (res, buf) = self.cancel_on_close(&driver, target, op).await;
        (res, buf)
    }

    /// Writes `buf`'s initialized bytes at `offset` (`pwrite`), leaving the
    /// file position alone. For seekable descriptors.
    ///
    /// # Errors
    ///
    /// As for [`Fd::read_at`], with `pwrite(2)`'s errors.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let fd = ringio::fd::Fd::new(std::fs::File::create("/tmp/ringio-fd-doc")?.into());
    ///     fd.write_at(b"hello".to_vec(), 0).await.0?;
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn write_at<B: IoBuf>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        let driver = try_buf!(self.handle.driver(), buf);
        let r = try_buf!(self.handle.incref(), buf);
        let target = r.target();
        let op = driver.submit(Write::new(r.into(), buf, offset));
        let (res, buf) = self.cancel_on_close(&driver, target, op).await;
        (res, buf)
    }

    /// Waits until the descriptor is ready for `interest`, and returns the
    /// directions that are ready (errors and hang-ups count as both). Moves
    /// no data, so a dropped `poll` loses nothing.
    ///
    /// Readiness is a hint: another reader may get there first, so the call
    /// that follows must still be non-blocking and may still say
    /// `WouldBlock` ([`Fd::async_io`] does that loop).
    ///
    /// On io_uring this is one single-shot `IORING_OP_POLL_ADD`; on readiness
    /// backends, the poller's wait confirmed with `poll(2)`.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the handle is or gets closed;
    /// [`Error::NoRuntime`] outside a runtime.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::fd::{Fd, Interest};
    /// use rustix::pipe::{pipe_with, PipeFlags};
    /// ringio::Runtime::new()?.block_on(async {
    ///     let (_r, w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    ///     let ready = Fd::new(w).poll(Interest::READABLE | Interest::WRITABLE).await?;
    ///     assert!(ready.is_writable()); // an empty pipe has room
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn poll(&self, interest: Interest) -> io::Result<Interest> {
        let driver = self.handle.driver()?;
        let r = self.handle.incref()?;
        let target = r.target();
        let op = driver.submit(PollReady::level(r.into(), interest));
        self.cancel_on_close(&driver, target, op).await
    }

    /// Waits until the descriptor is readable; see [`Fd::poll`].
    ///
    /// # Errors
    ///
    /// As for [`Fd::poll`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let fd = ringio::fd::Fd::new(std::fs::File::open("/dev/null")?.into());
    ///     fd.readable().await // at end of file at once
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.poll(Interest::READABLE).await.map(drop)
    }

    /// Waits until the descriptor is writable; see [`Fd::poll`].
    ///
    /// # Errors
    ///
    /// As for [`Fd::poll`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let fd = ringio::fd::Fd::new(std::fs::OpenOptions::new().write(true).open("/dev/null")?.into());
    ///     fd.writable().await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.poll(Interest::WRITABLE).await.map(drop)
    }

    /// Runs `f`, a non-blocking system call on the descriptor, until it
    /// returns something other than `WouldBlock` (or `Interrupted`), waiting
    /// for `interest` in between. `f` runs under a guard, so the descriptor
    /// it gets is open and this handle's for the whole call.
    ///
    /// Cancel-safe: the data moves only inside `f`, during a poll of the
    /// returned future, so dropping the future never loses any (unlike an
    /// owned-buffer read that the kernel may complete after it was dropped).
    ///
    /// `f` must not block: the descriptor should be non-blocking, or the call
    /// made non-blocking by its flags (`MSG_DONTWAIT`).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`], [`Error::NoRuntime`], or what `f` returns.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::fd::{Fd, Interest};
    /// use rustix::pipe::{pipe_with, PipeFlags};
    /// ringio::Runtime::new()?.block_on(async {
    ///     let (r, w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    ///     let r = Fd::new(r);
    ///     rustix::io::write(&w, b"x")?;
    ///     let mut byte = [0u8; 1];
    ///     let n = r.async_io(Interest::READABLE, |fd| Ok(rustix::io::read(fd, &mut byte)?)).await?;
    ///     assert_eq!((n, byte), (1, *b"x"));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let res = {
                let guard = self.incref()?;
                f(guard.as_fd())
            };
            match res {
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
                res => return res,
            }
            self.poll(interest).await?;
        }
    }

    /// Runs the operation `make` builds around a reference to this
    /// descriptor. If the handle starts closing first, the operation is
    /// dropped (its ring cancels it by its own id, and its reference goes
    /// with its last completion) and the result is `Closed`. For operations
    /// that cancelling by descriptor does not reach (`WAITID`), and that
    /// have no buffer to hand back.
    pub(crate) async fn run_or_closed<T, R>(&self, make: impl FnOnce(OpLease) -> T) -> io::Result<R>
    where
        T: Operation<Output = io::Result<R>>,
    {
        let driver = self.handle.driver()?;
        let op = driver.submit(make(self.handle.incref()?.into()));
        let mut op = pin!(op);
        let mut closing = pin!(self.closing.wait());
        poll_fn(|cx| {
            if let Poll::Ready(out) = op.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            if closing.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Error::Closed.into()));
            }
            Poll::Pending
        })
        .await
    }

    /// Readiness backends run reads and writes at the file position of a
    /// non-file descriptor on the runtime thread: refuse a blocking one.
    fn check_mode(&self, driver: &Driver) -> io::Result<()> {
        if !self.pollable || !matches!(driver, Driver::Ready(_)) {
            return Ok(());
        }
        let flags = rustix::fs::fcntl_getfl(self.incref()?.as_fd())?;
        if !flags.contains(rustix::fs::OFlags::NONBLOCK) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "descriptor is in blocking mode: on a readiness backend ringio::fd::Fd needs O_NONBLOCK \
                 (Fd::set_nonblocking) for reads and writes",
            ));
        }
        Ok(())
    }

    /// Awaits `op`, submitted on `driver` for `target`; if this handle starts
    /// closing first, asks `driver`'s ring to cancel every operation on
    /// `target`, once, and goes on awaiting `op`, which then completes with
    /// `ECANCELED` (reported as `Closed`) and hands its buffer back.
    pub(super) async fn cancel_on_close<F: Future>(&self, driver: &Driver, target: Target, op: F) -> F::Output {
        let mut op = pin!(op);
        let mut closing = pin!(self.closing.wait());
        let mut cancelled = false;
        poll_fn(|cx| {
            if let Poll::Ready(out) = op.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            if !cancelled && closing.as_mut().poll(cx).is_ready() {
                cancelled = true;
                cancel(driver, target);
            }
            Poll::Pending
        })
        .await
    }
}

/// Cancels every operation on `target` in `driver`'s ring. Readiness
/// backends need nothing: closing wakes their waiters through the poller
/// registration.
fn cancel(driver: &Driver, target: Target) {
    match driver {
        #[cfg(uring)]
        Driver::Ring(ring) => ring.cancel_fd(target),
        Driver::Ready(_) => {
            let _ = target;
        }
        #[cfg(feature = "sim")]
        Driver::Sim(_) => {
            let _ = target;
        }
    }
}
