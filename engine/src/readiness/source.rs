//! `Source`: one descriptor registered with a readiness driver's poller, the
//! readiness the poller has reported for it, and the wakers of operations
//! waiting for it. Close cancels it, which wakes every waiter.
//!
//! # Readiness is kept until an attempt says "would block"
//!
//! This is tokio's model (`ScheduledIo`). A report sets its directions, and
//! they stay set however many waits see them: every waiter of a direction
//! that is ready completes, not only the first (eight tasks in `readable()`
//! all wake, whoever reads). A direction is cleared only by the evidence that
//! it is not ready: a non-blocking attempt that said `EAGAIN`, or a stream
//! read that came up short (the receive queue was emptied). So a wait costs no
//! system call when readiness is known, and an edge-triggered poller (epoll)
//! needs no call per wait at all.
//!
//! The evidence may be stale: a report may have arrived while the attempt
//! ran, and clearing it then would lose the wakeup it carries. So each report
//! advances a tick; an attempt notes the tick before its system call
//! ([`Source::attempt`]) and clears only if no report came since
//! ([`Source::blocked`], [`Source::drained`]). A report that the poller
//! queued before the clear but the driver delivers after it sets the
//! direction again: a spurious wakeup, never a lost one.

use crate::fd::Interest;
use crate::sync::wake_list::WakeList;
use crate::sync::{Mutex, MutexGuard};
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

/// A descriptor registered with the poller, and who waits on it.
pub(crate) struct Source {
    pub(super) fd: RawFd,
    pub(super) key: usize,
    state: Mutex<SourceState>,
}

struct SourceState {
    /// The directions reported and not since shown blocked.
    ready: Interest,
    /// The directions reported ready for good (the peer shut down or hung
    /// up): a short read does not clear them, since no later report would
    /// set them again. An `EAGAIN` does: a socket not yet connected reports
    /// a hang-up, and then connects.
    closed: Interest,
    /// Advanced by every report; see the module docs.
    tick: u32,
    readers: Vec<Waker>,
    writers: Vec<Waker>,
    cancelled: bool,
}

impl Default for SourceState {
    fn default() -> Self {
        SourceState {
            ready: Interest::NONE,
            closed: Interest::NONE,
            tick: 0,
            readers: Vec::new(),
            writers: Vec::new(),
            cancelled: false,
        }
    }
}

/// What an attempt saw of its source before its system call: the tick that
/// tells [`Source::blocked`] whether a report arrived meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempt {
    tick: u32,
}

impl SourceState {
    /// Clears `interest` unless a report arrived after `attempt`; and, if
    /// the attempt said `EAGAIN`, its closed directions too.
    fn clear(&mut self, interest: Interest, attempt: Attempt, would_block: bool) {
        if self.tick == attempt.tick {
            self.ready = self.ready.difference(interest);
            if would_block {
                self.closed = self.closed.difference(interest);
            }
        }
    }

    /// The directions of `interest` that are ready ([`Interest::NONE`] if
    /// cancelled), or `None` after registering `cx`'s waker for them.
    fn poll(&mut self, interest: Interest, cx: &mut Context<'_>) -> Poll<Interest> {
        if self.cancelled {
            return Poll::Ready(Interest::NONE);
        }
        let hit = interest.intersection(self.ready | self.closed);
        if !hit.is_empty() {
            return Poll::Ready(hit);
        }
        let waker = cx.waker();
        if interest.is_readable() && !self.readers.iter().any(|w| w.will_wake(waker)) {
            self.readers.push(waker.clone());
        }
        if interest.is_writable() && !self.writers.iter().any(|w| w.will_wake(waker)) {
            self.writers.push(waker.clone());
        }
        Poll::Pending
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

    /// Notes the tick before a non-blocking attempt, or `None` if the source
    /// was cancelled (close started): the attempt must not run.
    pub(crate) fn attempt(&self) -> Option<Attempt> {
        let st = self.state.lock();
        (!st.cancelled).then_some(Attempt { tick: st.tick })
    }

    /// The directions of `interest` that are ready, without consuming them,
    /// or registers `cx`'s waker for them. Ready with [`Interest::NONE`] if
    /// the source was cancelled: the check and the registration happen under
    /// one lock, so a cancel is never lost between them.
    pub(crate) fn poll_ready(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<Interest> {
        self.state.lock().poll(interest, cx)
    }

    /// The attempt noted as `attempt` said "would block" for `interest`:
    /// clears it (unless a report arrived meanwhile), then polls as
    /// [`Source::poll_ready`] does, all under one lock. Ready means: try
    /// again (a report arrived), or cancelled ([`Interest::NONE`]).
    pub(crate) fn blocked(&self, interest: Interest, attempt: Attempt, cx: &mut Context<'_>) -> Poll<Interest> {
        let mut st = self.state.lock();
        st.clear(interest, attempt, true);
        st.poll(interest, cx)
    }

    /// The attempt noted as `attempt` said "would block" for `interest`
    /// (a caller's own call, a poll-style `try_*`): clears it unless a
    /// report arrived meanwhile.
    pub(crate) fn would_block(&self, interest: Interest, attempt: Attempt) {
        self.state.lock().clear(interest, attempt, true);
    }

    /// The attempt noted as `attempt` was a stream read that came up short:
    /// the socket held no more data, so `interest` is cleared unless a report
    /// arrived meanwhile; what is ready for good (the end of the stream may
    /// be queued behind the data) stays.
    pub(crate) fn drained(&self, interest: Interest, attempt: Attempt) {
        self.state.lock().clear(interest, attempt, false);
    }

    /// A report: `ready` is ready, and `closed` (part of it) for good.
    pub(super) fn set_ready(&self, ready: Interest, closed: Interest) {
        let mut st = self.state.lock();
        st.ready = st.ready | ready;
        st.closed = st.closed | closed;
        st.tick = st.tick.wrapping_add(1);
        self.wake(st, ready);
    }

    /// Close started: every waiting operation completes with "closed".
    pub(crate) fn cancel(&self) {
        let mut st = self.state.lock();
        st.cancelled = true;
        self.wake(st, Interest::READABLE | Interest::WRITABLE);
    }

    /// Wakes every waiter without marking anything ready: they poll again
    /// and find out why (their home runtime went idle or shut down).
    pub(super) fn wake_all(&self) {
        self.wake(self.state.lock(), Interest::READABLE | Interest::WRITABLE);
    }

    /// Wakes the waiters of `directions`, releasing `st` first: in batches
    /// taken under the lock and woken outside it, since a woken task may
    /// poll (and register) at once. No allocation, whatever the count.
    fn wake<'a>(&'a self, mut st: MutexGuard<'a, SourceState>, directions: Interest) {
        loop {
            let mut woken = WakeList::new();
            let mut more = false;
            if directions.is_readable() {
                more |= woken.take_from(&mut st.readers);
            }
            if directions.is_writable() {
                more |= woken.take_from(&mut st.writers);
            }
            drop(st);
            woken.wake_all();
            if !more {
                return;
            }
            st = self.state.lock();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;
    use std::task::Wake;

    const READ: Interest = Interest::READABLE;
    const WRITE: Interest = Interest::WRITABLE;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn readiness_is_not_consumed_by_waits() {
        let source = Source::new(3, 0);
        source.set_ready(READ, Interest::NONE);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        for _ in 0..3 {
            assert_eq!(source.poll_ready(READ, &mut cx), Poll::Ready(READ));
        }
        assert!(source.poll_ready(WRITE, &mut cx).is_pending());
    }

    #[test]
    fn every_waiter_of_a_direction_wakes() {
        let source = Source::new(3, 0);
        let wakers: Vec<_> = (0..8).map(|_| waker()).collect();
        for (_, w) in &wakers {
            assert!(source.poll_ready(READ, &mut Context::from_waker(w)).is_pending());
        }
        source.set_ready(READ, Interest::NONE);
        for (count, w) in &wakers {
            assert_eq!(count.0.load(Relaxed), 1);
            assert_eq!(source.poll_ready(READ, &mut Context::from_waker(w)), Poll::Ready(READ));
        }
    }

    #[test]
    fn more_waiters_than_a_wake_batch_all_wake() {
        // More than one WakeList batch in each direction, and on cancel.
        let source = Source::new(3, 0);
        let readers: Vec<_> = (0..40).map(|_| waker()).collect();
        let writers: Vec<_> = (0..40).map(|_| waker()).collect();
        for ((_, r), (_, w)) in readers.iter().zip(&writers) {
            assert!(source.poll_ready(READ, &mut Context::from_waker(r)).is_pending());
            assert!(source.poll_ready(WRITE, &mut Context::from_waker(w)).is_pending());
        }
        source.set_ready(READ, Interest::NONE);
        assert!(readers.iter().all(|(count, _)| count.0.load(Relaxed) == 1));
        assert!(
            writers.iter().all(|(count, _)| count.0.load(Relaxed) == 0),
            "writers wait on"
        );
        source.cancel();
        assert!(writers.iter().all(|(count, _)| count.0.load(Relaxed) == 1));
        assert!(
            readers.iter().all(|(count, _)| count.0.load(Relaxed) == 1),
            "woken once"
        );
    }

    #[test]
    fn would_block_clears_and_waits() {
        let source = Source::new(3, 0);
        source.set_ready(READ | WRITE, Interest::NONE);
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        let attempt = source.attempt().expect("not cancelled");
        assert!(source.blocked(READ, attempt, &mut cx).is_pending());
        assert_eq!(
            source.poll_ready(WRITE, &mut cx),
            Poll::Ready(WRITE),
            "only READ was blocked"
        );
        source.set_ready(READ, Interest::NONE);
        assert_eq!(count.0.load(Relaxed), 1, "the next report wakes the waiter");
        assert_eq!(source.poll_ready(READ, &mut cx), Poll::Ready(READ));
    }

    #[test]
    fn a_report_during_the_attempt_survives_its_would_block() {
        // The report arrived after the attempt's syscall looked: the
        // "would block" is stale, and clearing would lose the report.
        let source = Source::new(3, 0);
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        let attempt = source.attempt().expect("not cancelled");
        source.set_ready(READ, Interest::NONE);
        assert_eq!(source.blocked(READ, attempt, &mut cx), Poll::Ready(READ));
        source.drained(READ, attempt);
        assert_eq!(source.poll_ready(READ, &mut cx), Poll::Ready(READ));
        assert_eq!(count.0.load(Relaxed), 0);
    }

    #[test]
    fn a_drained_stream_waits_for_the_next_report() {
        let source = Source::new(3, 0);
        source.set_ready(READ, Interest::NONE);
        let attempt = source.attempt().expect("not cancelled");
        source.drained(READ, attempt);
        let (count, w) = waker();
        assert!(source.poll_ready(READ, &mut Context::from_waker(&w)).is_pending());
        source.set_ready(READ, Interest::NONE);
        assert_eq!(count.0.load(Relaxed), 1);
    }

    #[test]
    fn the_end_of_the_stream_survives_a_short_read() {
        // The data and the peer's shutdown came in one report; the read
        // that took the data came up short. The end of the stream is still
        // to read, and the poller will not report it again.
        let source = Source::new(3, 0);
        source.set_ready(READ | WRITE, READ);
        let attempt = source.attempt().expect("not cancelled");
        source.drained(READ, attempt);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert_eq!(source.poll_ready(READ, &mut cx), Poll::Ready(READ));
        assert!(source.poll_ready(WRITE, &mut cx).is_ready(), "writing was not drained");
    }

    #[test]
    fn would_block_clears_even_a_hang_up() {
        // A socket not yet connected reports a hang-up; once it connects,
        // an `EAGAIN` is the truth, and waiting must wait.
        let source = Source::new(3, 0);
        source.set_ready(READ | WRITE, READ | WRITE);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        let attempt = source.attempt().expect("not cancelled");
        assert!(source.blocked(READ, attempt, &mut cx).is_pending());
        assert_eq!(source.poll_ready(WRITE, &mut cx), Poll::Ready(WRITE));
        source.would_block(WRITE, attempt);
        assert!(source.poll_ready(WRITE, &mut cx).is_pending());
    }

    #[test]
    fn cancel_ends_waits_and_attempts() {
        let source = Source::new(3, 0);
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(source.poll_ready(READ | WRITE, &mut cx).is_pending());
        source.cancel();
        assert!(count.0.load(Relaxed) > 0, "the waiter was not woken");
        assert_eq!(source.attempt(), None);
        assert_eq!(source.poll_ready(READ, &mut cx), Poll::Ready(Interest::NONE));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::test_util::{block_on, check};
    use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use loom::sync::Arc;
    use loom::thread;
    use std::future::poll_fn;

    const READ: Interest = Interest::READABLE;

    /// A reader: attempts (a `recv` that gets the data once `data` is set)
    /// and waits between them until it has the data.
    fn read<'a>(source: &'a Source, data: &'a AtomicBool) -> impl std::future::Future<Output = ()> + 'a {
        poll_fn(move |cx| loop {
            let attempt = source.attempt().expect("not cancelled");
            if data.load(SeqCst) {
                return Poll::Ready(()); // the `recv` got it
            }
            match source.blocked(READ, attempt, cx) {
                Poll::Ready(_) => continue,
                Poll::Pending => return Poll::Pending,
            }
        })
    }

    /// A reader's attempt (a `recv` that finds nothing) racing the arrival
    /// of data and its report: in every interleaving the reader either sees
    /// the data or is woken by the report. A clear that ignored the tick
    /// (so a report that came during the attempt was erased by its stale
    /// `EAGAIN`) leaves the reader parked forever, which loom reports.
    #[test]
    fn a_report_during_an_attempt_is_never_lost() {
        check("a_report_during_an_attempt_is_never_lost", None, || {
            let source = Arc::new(Source::new(3, 0));
            // The kernel's side: whether the socket holds data.
            let data = Arc::new(AtomicBool::new(false));
            let reporter = thread::spawn({
                let (source, data) = (Arc::clone(&source), Arc::clone(&data));
                move || {
                    data.store(true, SeqCst); // the data arrives,
                    source.set_ready(READ, Interest::NONE); // and the poller reports it
                }
            });
            block_on(read(&source, &data));
            reporter.join().unwrap();
        });
    }

    /// The same race for a stream read that came up short: its `drained`
    /// must not erase a report of data that arrived after the read.
    #[test]
    fn a_report_after_a_short_read_is_never_lost() {
        check("a_report_after_a_short_read_is_never_lost", None, || {
            let source = Arc::new(Source::new(3, 0));
            let data = Arc::new(AtomicBool::new(false));
            let reporter = thread::spawn({
                let (source, data) = (Arc::clone(&source), Arc::clone(&data));
                move || {
                    data.store(true, SeqCst);
                    source.set_ready(READ, Interest::NONE);
                }
            });
            // A short read that found the socket empty, then the wait.
            let attempt = source.attempt().expect("not cancelled");
            let had = data.load(SeqCst);
            source.drained(READ, attempt);
            if !had {
                block_on(read(&source, &data));
            }
            reporter.join().unwrap();
        });
    }
}
