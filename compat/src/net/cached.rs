//! tokio's readiness model for the poll-style surface of compat streams:
//! each direction is assumed ready (a fresh stream included) until an
//! operation in that direction says `WouldBlock`; only then does
//! `poll_*_ready` wait, through the engine, for the kernel to report it.
//!
//! The engine's waits are level-triggered, so forgetting readiness a moment
//! too early (a concurrent poll saw it meanwhile) costs one extra wait that
//! completes at once, never a lost wakeup.
//!
//! A stream on the completion read path (`completion`) keeps the same
//! model: its reads copy from received buffers, and its read wait is for
//! the next buffer to arrive.

use super::completion::CompletionReads;
use super::poll_io::RawStream;
use ringio::buf::BufRing;
use ringio::net::RecvMulti;
use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// An engine stream with a remembered readiness per direction (public in a
/// private module: nameable in bounds, not by users).
#[derive(Debug)]
pub struct Cached<S> {
    /// The completion read side, if the stream's reactor reads so. First,
    /// so that its receive goes (rescuing what it holds) before the stream.
    reads: Option<Arc<CompletionReads>>,
    io: S,
    read: AtomicBool,
    write: AtomicBool,
}

impl<S> Cached<S> {
    /// Wraps a fresh stream: writable until shown otherwise, and readable
    /// too if `accepted` (as tokio assumes of an accepted stream, whose
    /// peer has often sent already; a connected or adopted one waits for
    /// the kernel's word first). It reads on completions if the calling
    /// thread's reactor does (call on the thread whose reactor the stream
    /// is registered with).
    pub(crate) fn new(io: S, accepted: bool) -> Cached<S> {
        Cached {
            reads: crate::reactor::read_group().map(|group| group.stream()),
            io,
            read: AtomicBool::new(accepted),
            write: AtomicBool::new(true),
        }
    }

    /// The engine stream.
    pub(crate) fn get(&self) -> &S {
        &self.io
    }

    /// The completion read side, while the stream reads so.
    pub(crate) fn reads(&self) -> Option<&CompletionReads> {
        self.reads.as_deref().filter(|r| r.active())
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
    /// Ready while the last read did not find the stream empty; else waits
    /// (for the kernel, or on completion reads for the next buffer).
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(reads) = self.reads() {
            return Self::poll_flag(&self.read, cx, |cx| reads.poll_read_ready(&self.io, cx));
        }
        Self::poll_flag(&self.read, cx, |cx| self.io.poll_read_ready(cx))
    }

    /// Ready at once while the last read did not find the stream empty (an
    /// accepted stream included, as with tokio); else waits until it is
    /// readable (its own wait: every waiting task is woken). On the
    /// completion read path, ready once a received buffer waits: the bytes
    /// a `try_read` would copy.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        if let Some(reads) = self.reads() {
            return reads.readable(&self.io).await;
        }
        if self.read.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.io.readable().await?;
        // Relaxed: as in `note`.
        self.read.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Ready at once while the last write did not find the stream full (a
    /// fresh stream included, as with tokio); else waits until it is
    /// writable.
    pub(crate) async fn writable(&self) -> io::Result<()> {
        if self.write.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.io.writable().await?;
        // Relaxed: as in `note`.
        self.write.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Ready while the last write did not find the stream full; else waits.
    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Self::poll_flag(&self.write, cx, |cx| self.io.poll_write_ready(cx))
    }

    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(reads) = self.reads() {
            let mut at = 0;
            let res = reads.read_with(&self.io, buf.len(), |src| {
                let n = copy_to(&mut buf[at..], src);
                at += n;
                n
            });
            return self.note(false, res);
        }
        self.note(false, self.io.try_read(buf))
    }

    pub(crate) fn try_read_uninit(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
        if let Some(reads) = self.reads() {
            let mut at = 0;
            let res = reads.read_with(&self.io, buf.len(), |src| {
                let n = src.len().min(buf.len() - at);
                for (dst, byte) in buf[at..at + n].iter_mut().zip(src) {
                    dst.write(*byte);
                }
                at += n;
                n
            });
            return self.note(false, res);
        }
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
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
        Cached::readable(self)
    }
    fn writable(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
        Cached::writable(self)
    }
    fn recv_multi<'a>(&'a self, group: &BufRing) -> RecvMulti<'a> {
        self.io.recv_multi(group)
    }
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
    fn read_drained(&self) {
        // Readiness reads only: a completion read that comes up short
        // costs no syscall either way (it copies what arrived).
        if self.reads().is_none() {
            // Relaxed: a stale value only costs (or saves) one
            // level-triggered wait, as in `note`.
            self.read.store(false, Ordering::Relaxed);
        }
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }
}

/// Copies as much of `src` as fits into `dst`; returns how much.
pub(crate) fn copy_to(dst: &mut [u8], src: &[u8]) -> usize {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
    n
}

impl<S> Deref for Cached<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.io
    }
}
