//! `Source`: one descriptor registered with a readiness driver's poller,
//! the readiness it last reported, and the wakers of operations waiting for
//! it. Close cancels it, which wakes every waiter.

use crate::fd::Interest;
use crate::sync::Mutex;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

/// A descriptor registered with the poller, and who waits on it.
pub(crate) struct Source {
    pub(super) fd: RawFd,
    pub(super) key: usize,
    state: Mutex<SourceState>,
}

struct SourceState {
    ready: Interest,
    readers: Vec<Waker>,
    writers: Vec<Waker>,
    cancelled: bool,
}

impl Default for SourceState {
    fn default() -> Self {
        SourceState {
            ready: Interest::NONE,
            readers: Vec::new(),
            writers: Vec::new(),
            cancelled: false,
        }
    }
}

impl Source {
    pub(super) fn new(fd: RawFd, key: usize) -> Source {
        Source {
            fd,
            key,
            state: Mutex::default(),
        }
    }

    /// Consumes readiness for `interest` and yields the directions it had,
    /// or registers `cx`'s waker for it. Ready with [`Interest::NONE`] if
    /// the source was cancelled (close started): the check and the
    /// registration happen under one lock, so a cancel is never lost
    /// between them.
    pub(crate) fn poll_ready(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<Interest> {
        let mut st = self.state.lock();
        if st.cancelled {
            return Poll::Ready(Interest::NONE);
        }
        let hit = interest.intersection(st.ready);
        if !hit.is_empty() {
            st.ready = st.ready.difference(hit);
            return Poll::Ready(hit);
        }
        let waker = cx.waker();
        if interest.is_readable() && !st.readers.iter().any(|w| w.will_wake(waker)) {
            st.readers.push(waker.clone());
        }
        if interest.is_writable() && !st.writers.iter().any(|w| w.will_wake(waker)) {
            st.writers.push(waker.clone());
        }
        Poll::Pending
    }

    pub(super) fn set_ready(&self, ready: Interest) {
        let mut woken = Vec::new();
        {
            let mut st = self.state.lock();
            st.ready = st.ready | ready;
            if ready.is_readable() {
                woken.append(&mut st.readers);
            }
            if ready.is_writable() {
                woken.append(&mut st.writers);
            }
        }
        woken.into_iter().for_each(Waker::wake);
    }

    /// Close started: every waiting operation completes with "closed".
    pub(crate) fn cancel(&self) {
        let woken: Vec<Waker> = {
            let mut st = self.state.lock();
            st.cancelled = true;
            let st = &mut *st;
            st.readers.drain(..).chain(st.writers.drain(..)).collect()
        };
        woken.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.lock().cancelled
    }

    /// Wakes every waiter without marking anything ready: they poll again
    /// and find out why (their home runtime went idle or shut down).
    pub(super) fn wake_all(&self) {
        let woken: Vec<Waker> = {
            let mut st = self.state.lock();
            let st = &mut *st;
            st.readers.drain(..).chain(st.writers.drain(..)).collect()
        };
        woken.into_iter().for_each(Waker::wake);
    }
}
