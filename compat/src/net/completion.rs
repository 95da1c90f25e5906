//! Completion reads: on io_uring with provided-buffer rings, a compat stream
//! keeps one multishot receive armed into its reactor's buffer group
//! ([`RecvMulti`], armed at the first read-side call), and its whole read
//! side (`poll_read`, `try_read*`, `peek`, `poll_read_ready`, `readable`)
//! is served from the buffers that arrived: a copy, no syscall.
//!
//! What this owns, per stream: the receive, the buffer being read (kept
//! partly read between calls), an error or end of stream the receive
//! reported (for the next read), and the wakers of the read side.
//!
//! Cancel safety: nothing here is a future. A read either copies bytes into
//! the caller's buffer and reports them, or leaves them where they are (in
//! the receive's queue or the buffer kept here), so a read dropped at any
//! await point loses nothing. A slow reader's receive stops at
//! `max_unread` queued buffers and resumes once they are read (the engine's
//! rule); a dry group re-arms once a buffer comes back, losing nothing.
//!
//! The receive is disarmed (and armed again by the next read) when the
//! group runs short and nobody reads this stream (`read_group`).
//!
//! Peeks copy from the buffer kept here without consuming it (taking the
//! next buffer off the queue first if there is none), so they see what the
//! next read returns, up to one buffer. `MSG_PEEK` on the socket would see
//! only what the receive has not taken yet.

use super::poll_io::RawStream;
use ringio::buf::{BufRing, BufRingBuf};
use ringio::net::RecvMulti;
use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// The completion read side of one stream (see the module docs).
pub(crate) struct CompletionReads {
    group: BufRing,
    max_unread: usize,
    state: Mutex<State>,
    wakers: Arc<Fanout>,
    /// The receive refused this stream before it received anything (the
    /// stream is registered with another thread's reactor, whose ring the
    /// group is not on; or the kernel refused the receive): the stream
    /// reads on readiness from then on.
    off: AtomicBool,
}

impl std::fmt::Debug for CompletionReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionReads")
            .field("group", &self.group.group())
            .field("max_unread", &self.max_unread)
            .field("off", &self.off)
            .finish()
    }
}

#[derive(Default)]
struct State {
    /// Armed at the first read-side call (a stream only written to, or
    /// turned into a std stream at once, never takes a buffer).
    rx: Option<RecvMulti<'static>>,
    /// The buffer being read, and how much of it was.
    current: Option<(BufRingBuf, usize)>,
    /// An error the receive reported, for the next read.
    failed: Option<io::Error>,
    eof: bool,
    /// A buffer arrived: a refusal from now on is an error, not a fallback.
    received: bool,
}

impl CompletionReads {
    /// The read side of a stream of `group`'s reactor, each stream holding
    /// at most `max_unread` received buffers queued and unread.
    pub(crate) fn new(group: BufRing, max_unread: usize) -> CompletionReads {
        CompletionReads {
            group,
            max_unread,
            state: Mutex::new(State::default()),
            wakers: Arc::new(Fanout::default()),
            off: AtomicBool::new(false),
        }
    }

    /// False once the stream fell back to readiness reads.
    pub(crate) fn active(&self) -> bool {
        // Relaxed: set once, under the state lock, before the call that
        // set it returns; a reader that misses it tries this path once
        // more and finds `off` under the lock.
        !self.off.load(Ordering::Relaxed)
    }

    /// Disarms the receive if nobody waits on this read side (and no read
    /// is running): its bytes go to the rescue queue, its buffers back to
    /// the group, and the next read takes the bytes first (`read_group`).
    pub(crate) fn disarm_if_idle(&self) -> bool {
        let Ok(mut st) = self.state.try_lock() else {
            return false; // a read is running: the stream is not idle
        };
        // Checked under the state lock, not before it: every wait lists its
        // waker and then polls the receive under this lock, so a wait that
        // is not listed here polls only after this disarm, and arms the
        // next receive itself. Checked first, a wait could list itself,
        // poll the old receive to `Pending` and leave in between, and this
        // would drop the receive it waits on: nothing would wake it again.
        if self.wakers.is_waiting() {
            return false;
        }
        // Dropped under the lock: a read that arms the next receive finds
        // the rescued bytes in place (or the old receive still holding the
        // stream's read lock), never a gap between the two.
        let rx = st.rx.take();
        let disarmed = rx.is_some();
        drop(rx);
        drop(st);
        disarmed
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding it (a caller's `copy`) leaves consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next buffer off the receive's queue into `current`, unless
    /// the next read has something to see already. `Pending` if nothing
    /// arrived (the receive wakes the read side's wakers when it does).
    fn fill(&self, io: &impl RawStream, st: &mut State) -> Poll<()> {
        if st.current.is_some() || st.eof || st.failed.is_some() || !self.active() {
            return Poll::Ready(());
        }
        let rx = st
            .rx
            .get_or_insert_with(|| io.recv_multi(&self.group).max_unread(self.max_unread).into_owned());
        // Every poll of the receive registers the same waker, which wakes
        // whoever waits on this read side (`Fanout`).
        let waker = Waker::from(self.wakers.clone());
        match rx.poll_next(&mut Context::from_waker(&waker)) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(buf))) => {
                st.received = true;
                if !buf.is_empty() {
                    st.current = Some((buf, 0));
                }
            }
            Poll::Ready(Some(Err(e))) if !st.received && e.kind() == io::ErrorKind::InvalidInput => {
                tracing::debug!(err = %e, "completion reads refused for this stream; reading on readiness");
                st.rx = None;
                self.off.store(true, Ordering::Relaxed);
            }
            Poll::Ready(Some(Err(e))) => st.failed = Some(e),
            Poll::Ready(None) => st.eof = true,
        }
        Poll::Ready(())
    }

    /// Ready once a read would not find the stream empty (bytes, end of
    /// stream or an error are waiting); only the task that polled last is
    /// woken, as with tokio's `poll_read_ready`.
    pub(crate) fn poll_read_ready(&self, io: &impl RawStream, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.wakers.set_reader(cx.waker());
        let ready = self.fill(io, &mut self.lock());
        if ready.is_ready() {
            // Not waiting any more: a stream nobody waits on may be disarmed.
            self.wakers.forget(cx.waker());
        }
        ready.map(Ok)
    }

    /// [`CompletionReads::poll_read_ready`] as a future of its own: every
    /// task waiting so is woken, as with tokio's `readable()`.
    pub(crate) async fn readable(&self, io: &impl RawStream) -> io::Result<()> {
        poll_fn(|cx| {
            self.wakers.add_waiter(cx.waker());
            let ready = self.fill(io, &mut self.lock());
            if ready.is_ready() {
                self.wakers.forget(cx.waker());
            }
            ready.map(Ok)
        })
        .await
    }

    /// Copies what arrived into a destination of `room` bytes through
    /// `copy` (which takes a slice, copies what fits and says how much),
    /// without waiting, consuming it. `Ok(0)` is end of stream (or no
    /// room); `WouldBlock` if nothing arrived.
    pub(crate) fn read_with(
        &self,
        io: &impl RawStream,
        room: usize,
        mut copy: impl FnMut(&[u8]) -> usize,
    ) -> io::Result<usize> {
        if room == 0 {
            return Ok(0);
        }
        let mut st = self.lock();
        let mut total = 0;
        while total < room {
            match &mut st.current {
                Some((buf, at)) => {
                    let n = copy(&buf[*at..]);
                    *at += n;
                    total += n;
                    if *at == buf.len() {
                        st.current = None; // the buffer goes back to the group
                    } else if n == 0 {
                        break; // the destination is full
                    }
                }
                None => {
                    if self.fill(io, &mut st).is_pending() || st.current.is_none() {
                        break;
                    }
                }
            }
        }
        if total > 0 {
            return Ok(total);
        }
        if let Some(e) = st.failed.take() {
            return Err(e);
        }
        if st.eof {
            return Ok(0);
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// Copies what the next read would return, up to one buffer, through
    /// `copy`, without consuming it or waiting. `Ok(0)` is end of stream;
    /// `WouldBlock` if nothing arrived.
    pub(crate) fn peek_with(&self, io: &impl RawStream, copy: impl FnOnce(&[u8]) -> usize) -> io::Result<usize> {
        let mut st = self.lock();
        let _ = self.fill(io, &mut st);
        if let Some((buf, at)) = &st.current {
            return Ok(copy(&buf[*at..]));
        }
        if let Some(e) = &st.failed {
            // Kept for the read, which takes it.
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        if st.eof {
            return Ok(0);
        }
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// The one waker every poll of a stream's receive registers: it wakes the
/// read side's last poller (`poll_read`, `poll_read_ready`) and every
/// `readable()` waiter. A wait that ends ready unlists itself; one dropped
/// while pending stays listed until the next wake (at most one entry per
/// task), and keeps its stream from counting as idle until then.
#[derive(Default)]
struct Fanout {
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    reader: Option<Waker>,
    waiters: Vec<Waker>,
}

impl Fanout {
    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_reader(&self, waker: &Waker) {
        let mut slots = self.slots();
        if !slots.reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            slots.reader = Some(waker.clone());
        }
    }

    /// `waker`'s task stopped waiting (its wait was ready).
    fn forget(&self, waker: &Waker) {
        let mut slots = self.slots();
        if slots.reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            slots.reader = None;
        }
        slots.waiters.retain(|w| !w.will_wake(waker));
    }

    /// Some task waits on this read side.
    fn is_waiting(&self) -> bool {
        let slots = self.slots();
        slots.reader.is_some() || !slots.waiters.is_empty()
    }

    fn add_waiter(&self, waker: &Waker) {
        let mut slots = self.slots();
        if !slots.waiters.iter().any(|w| w.will_wake(waker)) {
            slots.waiters.push(waker.clone());
        }
    }
}

impl Wake for Fanout {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Taken under the lock, woken outside it (a wake may run the task).
        let (reader, waiters) = {
            let mut slots = self.slots();
            (slots.reader.take(), std::mem::take(&mut slots.waiters))
        };
        if let Some(reader) = reader {
            reader.wake();
        }
        for waiter in waiters {
            waiter.wake();
        }
    }
}
