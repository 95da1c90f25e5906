//! tokio's readiness model for the poll-style surface of compat streams:
//! each direction is assumed ready (a fresh stream included) until an
//! operation in that direction says `WouldBlock`; only then does
//! `poll_*_ready` wait, through the engine, for the kernel to report it.
//!
//! The engine's waits are level-triggered, so forgetting readiness a moment
//! too early (a concurrent poll saw it meanwhile) costs one extra wait that
//! completes at once, never a lost wakeup.

use super::poll_io::RawStream;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{ready, Context, Poll};

/// An engine stream with a remembered readiness per direction (public in a
/// private module: nameable in bounds, not by users).
#[derive(Debug)]
pub struct Cached<S> {
    io: S,
    read: AtomicBool,
    write: AtomicBool,
}

impl<S> Cached<S> {
    /// Wraps a fresh stream: readable and writable until shown otherwise.
    pub(crate) fn new(io: S) -> Cached<S> {
        Cached {
            io,
            read: AtomicBool::new(true),
            write: AtomicBool::new(true),
        }
    }

    /// The engine stream.
    pub(crate) fn get(&self) -> &S {
        &self.io
    }

    /// Forgets the readiness of one direction if `res` says `WouldBlock`.
    pub(crate) fn note<R>(&self, write: bool, res: io::Result<R>) -> io::Result<R> {
        if matches!(&res, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            let flag = if write { &self.write } else { &self.read };
            // Relaxed: a stale value only costs (or saves) one level-triggered wait.
            flag.store(false, Ordering::Relaxed);
        }
        res
    }

    fn poll_flag(
        flag: &AtomicBool,
        cx: &mut Context<'_>,
        wait: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<()>>,
    ) -> Poll<io::Result<()>> {
        if flag.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(()));
        }
        ready!(wait(cx))?;
        flag.store(true, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

impl<S: RawStream> Cached<S> {
    /// Ready while the last read did not find the stream empty; else waits.
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Self::poll_flag(&self.read, cx, |cx| self.io.poll_read_ready(cx))
    }

    /// Ready while the last write did not find the stream full; else waits.
    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Self::poll_flag(&self.write, cx, |cx| self.io.poll_write_ready(cx))
    }

    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.note(false, self.io.try_read(buf))
    }

    pub(crate) fn try_read_uninit(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
        self.note(false, self.io.try_read_uninit(buf))
    }

    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.note(true, self.io.try_write(buf))
    }

    pub(crate) fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.note(true, self.io.try_write_vectored(bufs))
    }
}

impl<S: RawStream> RawStream for Cached<S> {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Cached::poll_read_ready(self, cx)
    }
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Cached::poll_write_ready(self, cx)
    }
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        Cached::try_read(self, buf)
    }
    fn try_read_uninit(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
        Cached::try_read_uninit(self, buf)
    }
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        Cached::try_write(self, buf)
    }
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Cached::try_write_vectored(self, bufs)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }
}

impl<S> Deref for Cached<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.io
    }
}
