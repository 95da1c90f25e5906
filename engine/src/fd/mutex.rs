//! The fd mutex: the lifetime and serialization of one descriptor, ported from
//! Go's `internal/poll/fd_mutex.go`, with futures parked on a waker-based
//! [`Sema`] instead of goroutines on runtime semaphores.
//!
//! Every operation on a descriptor takes a reference ([`FdMutex::incref`])
//! before its submission and gives it back ([`FdMutex::decref`]) once its
//! completion is reaped. Stream reads and writes take the read or write lock
//! instead ([`FdMutex::rwlock`], [`FdMutex::rwunlock`]), which also counts as a
//! reference, so reads (writes) on one stream are serialized; the two locks
//! are independent. [`FdMutex::incref_and_close`] marks the descriptor closed
//! and fails every waiter with [`FdMutexError::Closed`]; whoever then drops
//! the last reference (a `true` from `decref` or `rwunlock`) must destroy it.
//!
//! # Cancellation
//!
//! A goroutine blocked in Go's `rwlock` cannot be cancelled; a [`RwLock`]
//! future can be dropped at any `Pending`. The protocol it then keeps:
//!
//! * A waiter count in the state word stands for exactly one registration on
//!   that lock's [`Sema`], made in the same `poll` as the CAS that counted it.
//!   Whoever uncounts a waiter (`rwunlock`, `incref_and_close`, or the baton
//!   pass below) releases exactly one permit, and every registration consumes
//!   exactly one, even after its future is dropped (see [`sema`]).
//! * A waiter dropped before it is granted never touches the state word:
//!   units are anonymous and permits unaddressed, so a signaller may already
//!   have uncounted "its" unit, with the permit on its way to the queue head.
//!   Its registration stays queued, abandoned, until a permit reaches it.
//! * A permit that reaches a dropped waiter (abandoned, or granted but not
//!   yet taken) is orphaned, and [`FdMutex::pass_baton`] does what the waiter
//!   would have done with it: loop again. In that loop a live waiter either
//!   sees `closed` and leaves (nothing owed); or finds the lock held and waits
//!   again, and the holder's `rwunlock` will wake a waiter; or finds it free,
//!   takes it, and its `rwunlock` wakes a waiter if any are counted. The baton
//!   pass is the last case with the take and the unlock fused into one CAS:
//!   if the lock is free and a waiter is counted, uncount it and release a
//!   permit (which may be orphaned in turn; the loop is bounded by the count).
//!   Otherwise there is nobody to wake: a waiter is only ever counted while
//!   the lock is held, by a holder who will signal on unlock.
//! * `incref_and_close` uncounts every waiter and releases a permit for each:
//!   live waiters wake and see `closed`. An orphaned one is discarded, since
//!   its waiter would have seen `closed` too.
//!
//! So no wake-up is lost and no count leaks: once every future has finished,
//! both semaphores are idle and the word has no waiters, which the tests
//! check.
//!
//! # Memory ordering
//!
//! The word carries two happens-before edges: lock holder to next holder
//! (Release in `rwunlock`, Acquire where the bit is taken), and every
//! reference holder to the destroyer (AcqRel on every RMW that drops a
//! reference, as in `Arc::drop`). Intermediate Relaxed RMWs do not break
//! them: they continue the release sequence. Waiters are woken through the
//! semaphore's mutex, which orders the waker's CAS before the woken poll.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use crate::sync::sema::{self, Forward, Sema};
use crate::sync::{AtomicU64, Ordering};

/// Closed: set once by `incref_and_close`, never cleared.
const CLOSED: u64 = 1 << 0;
/// The read lock is held.
const RLOCK: u64 = 1 << 1;
/// The write lock is held.
const WLOCK: u64 = 1 << 2;
/// One reference.
const REF: u64 = 1 << 3;
/// The reference count.
const REF_MASK: u64 = ((1 << 20) - 1) << 3;
/// One read waiter.
const RWAIT: u64 = 1 << 23;
/// The read waiter count.
const RWAIT_MASK: u64 = ((1 << 20) - 1) << 23;
/// One write waiter.
const WWAIT: u64 = 1 << 43;
/// The write waiter count.
const WWAIT_MASK: u64 = ((1 << 20) - 1) << 43;

/// Why an [`FdMutex`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdMutexError {
    /// The descriptor is closed (or closing).
    Closed,
    /// The reference or waiter count would overflow.
    TooManyOperations,
}

impl fmt::Display for FdMutexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "use of closed file descriptor",
            Self::TooManyOperations => "too many concurrent operations on a single file or socket (max 1048575)",
        })
    }
}

impl Error for FdMutexError {}

/// Which of the two locks of an [`FdMutex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The read lock.
    Read,
    /// The write lock.
    Write,
}

/// The bits of the state word that belong to one lock.
#[derive(Debug, Clone, Copy)]
struct Lane {
    /// The lock bit.
    bit: u64,
    /// One waiter.
    wait: u64,
    /// The waiter count.
    mask: u64,
}

impl Access {
    /// This lock's bits.
    const fn lane(self) -> Lane {
        match self {
            Self::Read => Lane {
                bit: RLOCK,
                wait: RWAIT,
                mask: RWAIT_MASK,
            },
            Self::Write => Lane {
                bit: WLOCK,
                wait: WWAIT,
                mask: WWAIT_MASK,
            },
        }
    }
}

/// A descriptor's reference count, closed flag and read and write locks;
/// see the module docs.
#[derive(Debug)]
pub(crate) struct FdMutex {
    /// Closed flag, lock bits, reference count and waiter counts, laid out
    /// as in Go.
    state: AtomicU64,
    /// Where read-lock waiters park.
    rsema: Sema,
    /// Where write-lock waiters park.
    wsema: Sema,
}

impl Default for FdMutex {
    fn default() -> Self {
        Self::new()
    }
}

impl FdMutex {
    /// Creates an open, unlocked mutex with no references.
    pub(crate) fn new() -> Self {
        Self::with_state(0)
    }

    /// Creates a mutex whose word is `state`.
    fn with_state(state: u64) -> Self {
        Self {
            state: AtomicU64::new(state),
            rsema: Sema::new(),
            wsema: Sema::new(),
        }
    }

    /// Takes a reference, unless the descriptor is closed.
    pub(crate) fn incref(&self) -> Result<(), FdMutexError> {
        // Relaxed: taking a reference publishes nothing. The RMW alone keeps
        // it from slipping past a close, and our later `decref` is what
        // orders our use of the descriptor before its destruction.
        self.update(Ordering::Relaxed, |old| {
            if old & CLOSED != 0 {
                return Err(FdMutexError::Closed);
            }
            add_ref(old)
        })
        .map(drop)
    }

    /// Drops a reference. Returns `true` if the descriptor is closed and
    /// this was the last reference: the caller must destroy it.
    ///
    /// Dropping a reference that is not held is a bug: it panics in debug
    /// builds and is ignored (returns `false`) otherwise.
    pub(crate) fn decref(&self) -> bool {
        // AcqRel: Release orders our use of the descriptor before its
        // destruction; Acquire orders everyone else's before ours, should we
        // be the destroyer.
        let step = self.update(Ordering::AcqRel, |old| {
            if old & REF_MASK == 0 {
                return Err(());
            }
            Ok(old - REF)
        });
        debug_assert!(step.is_ok(), "FdMutex::decref without a reference");
        step.is_ok_and(|(_, new)| must_destroy(new))
    }

    /// Takes a reference and marks the descriptor closed, waking every lock
    /// waiter with [`FdMutexError::Closed`]. Fails if it is already closed,
    /// or (leaving it open) if the reference count would overflow.
    pub(crate) fn incref_and_close(&self) -> Result<(), FdMutexError> {
        // Relaxed: the closed bit carries no data. The waiters we wake are
        // ordered after this CAS by the semaphore's mutex, and our reference
        // is given back, with AcqRel, by a later `decref`.
        let (old, _) = self.update(Ordering::Relaxed, |old| {
            if old & CLOSED != 0 {
                return Err(FdMutexError::Closed);
            }
            Ok((add_ref(old)? | CLOSED) & !(RWAIT_MASK | WWAIT_MASK))
        })?;
        // One permit per uncounted waiter; each wakes and sees `closed`. A
        // permit that reaches an abandoned waiter is discarded: that waiter
        // would have seen `closed` too.
        for _ in 0..(old & RWAIT_MASK) / RWAIT {
            self.rsema.release(&|| false);
        }
        for _ in 0..(old & WWAIT_MASK) / WWAIT {
            self.wsema.release(&|| false);
        }
        Ok(())
    }

    /// Returns a future that takes the `access` lock and a reference, or
    /// fails with [`FdMutexError::Closed`] once the descriptor is closed. It
    /// may be dropped at any point (see the module docs); once it has
    /// returned `Ok`, the lock is held until [`rwunlock`](Self::rwunlock).
    pub(crate) fn rwlock(&self, access: Access) -> RwLock<'_> {
        RwLock {
            mu: self,
            access,
            wait: None,
            done: false,
        }
    }

    /// Takes the `access` lock and a reference if the lock is free. Returns
    /// `Ok(false)`, registering nothing, if it is held.
    pub(crate) fn try_rwlock(&self, access: Access) -> Result<bool, FdMutexError> {
        let lane = access.lane();
        // Acquire: as in `RwLock::poll`. The error is `None` if the lock is
        // held, so that the word is left untouched.
        let step = self.update(Ordering::Acquire, |old| match take(old, lane) {
            Ok(Some(new)) => Ok(new),
            Ok(None) => Err(None),
            Err(err) => Err(Some(err)),
        });
        match step {
            Ok(_) => Ok(true),
            Err(None) => Ok(false),
            Err(Some(err)) => Err(err),
        }
    }

    /// Releases the `access` lock and its reference, waking one waiter if
    /// any. Returns `true` if the descriptor is closed and this was the last
    /// reference: the caller must destroy it.
    ///
    /// Releasing a lock that is not held is a bug: it panics in debug builds
    /// and is ignored (returns `false`) otherwise.
    pub(crate) fn rwunlock(&self, access: Access) -> bool {
        let lane = access.lane();
        // AcqRel: Release hands our critical section to the next holder and
        // orders our use of the descriptor before its destruction; Acquire
        // orders everyone else's uses before ours, should we be the
        // destroyer.
        let step = self.update(Ordering::AcqRel, |old| {
            if old & lane.bit == 0 || old & REF_MASK == 0 {
                return Err(());
            }
            let new = (old & !lane.bit) - REF;
            Ok(if old & lane.mask != 0 { new - lane.wait } else { new })
        });
        debug_assert!(step.is_ok(), "FdMutex::rwunlock of a lock not held");
        let Ok((old, new)) = step else {
            return false;
        };
        if old & lane.mask != 0 {
            self.signal(access);
        }
        must_destroy(new)
    }

    /// Whether the descriptor has been closed. A snapshot that orders
    /// nothing: the closed bit carries no data.
    pub(crate) fn is_closed(&self) -> bool {
        // Relaxed: see above.
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// The current number of references, lock holders included (for stats
    /// and tests).
    pub(crate) fn refs(&self) -> u64 {
        // Relaxed: a statistic.
        (self.state.load(Ordering::Relaxed) & REF_MASK) / REF
    }

    /// The semaphore `access` waiters park on.
    fn sema(&self, access: Access) -> &Sema {
        match access {
            Access::Read => &self.rsema,
            Access::Write => &self.wsema,
        }
    }

    /// Releases one permit of the `access` lock, for a waiter just uncounted.
    fn signal(&self, access: Access) {
        self.sema(access).release(&Baton { mu: self, access });
    }

    /// Does, for a waiter that was dropped, what it would have done with its
    /// permit had it lived: if the `access` lock is free and a waiter is
    /// counted, uncounts it and returns `true`, and the caller releases a
    /// permit for it. See "Cancellation" in the module docs. (A closed word
    /// never counts waiters, so this is a no-op after close.)
    fn pass_baton(&self, access: Access) -> bool {
        let lane = access.lane();
        // Relaxed: only moves a waiter count. The waiter it wakes is ordered
        // after this CAS by the semaphore's mutex, and the lock bit, if it
        // takes it, is taken by its own Acquire CAS.
        self.update(Ordering::Relaxed, |old| {
            if old & lane.bit != 0 || old & lane.mask == 0 {
                return Err(());
            }
            Ok(old - lane.wait)
        })
        .is_ok()
    }

    /// Runs a CAS loop on the word: `step` maps it to the word to store, or
    /// to an error that stops the loop and leaves it as it is. Returns the
    /// old and new words of the committed step.
    fn update<E>(&self, success: Ordering, mut step: impl FnMut(u64) -> Result<u64, E>) -> Result<(u64, u64), E> {
        // Relaxed: only a guess, which the CAS validates. A step that fails
        // on it reports a value the word really had, and orders nothing.
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            let new = step(old)?;
            // Relaxed on failure: the fresh value is again only a guess.
            match self.state.compare_exchange_weak(old, new, success, Ordering::Relaxed) {
                Ok(_) => return Ok((old, new)),
                Err(current) => old = current,
            }
        }
    }
}

/// `word` with one more reference, unless the count would overflow.
fn add_ref(word: u64) -> Result<u64, FdMutexError> {
    if word & REF_MASK == REF_MASK {
        return Err(FdMutexError::TooManyOperations);
    }
    Ok(word + REF)
}

/// `old` with `lane`'s lock bit and a reference taken, or `None` if the bit
/// is held.
fn take(old: u64, lane: Lane) -> Result<Option<u64>, FdMutexError> {
    if old & CLOSED != 0 {
        return Err(FdMutexError::Closed);
    }
    if old & lane.bit != 0 {
        return Ok(None);
    }
    add_ref(old | lane.bit).map(Some)
}

/// Whether `new`, the word after dropping a reference, calls for destroying
/// the descriptor: closed, and no reference left.
fn must_destroy(new: u64) -> bool {
    new & (CLOSED | REF_MASK) == CLOSED
}

/// The [`Forward`] of an [`FdMutex`] lock: passes an orphaned permit on with
/// [`FdMutex::pass_baton`].
#[derive(Debug, Clone, Copy)]
struct Baton<'a> {
    /// The mutex.
    mu: &'a FdMutex,
    /// Which of its locks.
    access: Access,
}

impl Forward for Baton<'_> {
    fn forward(&self) -> bool {
        self.mu.pass_baton(self.access)
    }
}

/// The future returned by [`FdMutex::rwlock`].
#[must_use = "futures do nothing unless polled"]
pub(crate) struct RwLock<'a> {
    /// The mutex.
    mu: &'a FdMutex,
    /// Which of its locks.
    access: Access,
    /// Our registration on the lock's semaphore while we are counted as a
    /// waiter. Dropping it (with us) forwards its permit; see the module docs.
    wait: Option<sema::Acquire<'a, Baton<'a>>>,
    /// Whether we have returned `Ready`.
    done: bool,
}

impl Future for RwLock<'_> {
    type Output = Result<(), FdMutexError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        assert!(!this.done, "`RwLock` polled after completion");
        let lane = this.access.lane();
        loop {
            if let Some(wait) = &mut this.wait {
                ready!(Pin::new(wait).poll(cx));
                // Our signaller has already uncounted us: start over.
                this.wait = None;
            }
            // Acquire: when this takes the lock bit, it pairs with the
            // Release in the previous holder's `rwunlock`, ordering its
            // critical section before ours. (Counting ourselves as a waiter
            // needs no order.)
            let step = this.mu.update(Ordering::Acquire, |old| match take(old, lane)? {
                Some(new) => Ok(new),
                None if old & lane.mask == lane.mask => Err(FdMutexError::TooManyOperations),
                None => Ok(old + lane.wait),
            });
            match step {
                Ok((old, _)) if old & lane.bit != 0 => {
                    // Counted as a waiter: register right away, in this
                    // same poll, so that the count always has a registration.
                    let baton = Baton {
                        mu: this.mu,
                        access: this.access,
                    };
                    this.wait = Some(this.mu.sema(this.access).acquire(baton));
                }
                taken => {
                    this.done = true;
                    return Poll::Ready(taken.map(drop));
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    use std::task::Waker;
    use std::thread;
    use std::time::Duration;

    use super::*;
    use crate::sync::test_util::{block_on, poll_once, with_timeout, CountingWaker};
    use Access::{Read, Write};
    use FdMutexError::{Closed, TooManyOperations};

    impl FdMutex {
        /// The raw word.
        fn state(&self) -> u64 {
            self.state.load(Ordering::Relaxed)
        }

        /// Whether nobody is parked or owed a permit on either lock.
        fn is_idle(&self) -> bool {
            self.rsema.is_idle() && self.wsema.is_idle()
        }
    }

    /// Polls `lock` once with `waker`.
    fn poll_with(lock: &mut RwLock<'_>, waker: &Waker) -> Poll<Result<(), FdMutexError>> {
        Pin::new(lock).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn layout_matches_go() {
        assert_eq!(REF_MASK, 0xf_ffff << 3);
        assert_eq!(RWAIT_MASK, 0xf_ffff << 23);
        assert_eq!(WWAIT_MASK, 0xf_ffff << 43);
        assert_eq!(
            CLOSED | RLOCK | WLOCK | REF_MASK | RWAIT_MASK | WWAIT_MASK,
            (1 << 63) - 1
        );
    }

    #[test]
    fn is_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<FdMutex>();
        send::<RwLock<'static>>();
    }

    #[test]
    fn incref_decref() {
        let mu = FdMutex::new();
        assert_eq!((mu.state(), mu.refs(), mu.is_closed()), (0, 0, false));
        mu.incref().unwrap();
        mu.incref().unwrap();
        assert_eq!((mu.state(), mu.refs()), (2 * REF, 2));
        assert!(!mu.decref());
        assert!(!mu.decref());
        assert_eq!(mu.state(), 0);
    }

    #[test]
    fn close_then_last_decref_destroys_exactly_once() {
        let mu = FdMutex::new();
        mu.incref().unwrap();
        mu.incref_and_close().unwrap();
        assert!(mu.is_closed());
        assert_eq!(mu.state(), CLOSED | (2 * REF));
        assert_eq!(mu.incref(), Err(Closed));
        assert_eq!(mu.incref_and_close(), Err(Closed));
        assert_eq!(mu.state(), CLOSED | (2 * REF));
        assert!(!mu.decref());
        assert!(mu.decref());
        assert_eq!(mu.state(), CLOSED);
    }

    #[test]
    fn decref_without_reference_is_a_bug() {
        let mu = FdMutex::with_state(CLOSED);
        let destroy = std::panic::catch_unwind(|| mu.decref());
        if cfg!(debug_assertions) {
            assert!(destroy.is_err());
        } else {
            assert_eq!(destroy.ok(), Some(false));
        }
        assert_eq!(mu.state(), CLOSED);
    }

    #[test]
    fn rwunlock_without_lock_is_a_bug() {
        let mu = FdMutex::new();
        mu.incref().unwrap();
        let destroy = std::panic::catch_unwind(|| mu.rwunlock(Read));
        if cfg!(debug_assertions) {
            assert!(destroy.is_err());
        } else {
            assert_eq!(destroy.ok(), Some(false));
        }
        assert_eq!(mu.state(), REF);
    }

    #[test]
    fn uncontended_lock_and_unlock() {
        let mu = FdMutex::new();
        assert_eq!(poll_once(mu.rwlock(Read)), Poll::Ready(Ok(())));
        assert_eq!(mu.state(), RLOCK | REF);
        // The write lock is independent of the read lock.
        assert_eq!(poll_once(mu.rwlock(Write)), Poll::Ready(Ok(())));
        assert_eq!(mu.state(), RLOCK | WLOCK | (2 * REF));
        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.state(), WLOCK | REF);
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), 0);
    }

    #[test]
    fn try_rwlock() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        assert_eq!(mu.try_rwlock(Write), Ok(false));
        assert_eq!(mu.state(), WLOCK | REF, "a failed try registers nothing");
        assert_eq!(mu.try_rwlock(Read), Ok(true));
        mu.incref_and_close().unwrap();
        assert_eq!(mu.try_rwlock(Write), Err(Closed));
        assert_eq!(mu.try_rwlock(Read), Err(Closed));
        assert!(!mu.rwunlock(Write));
        assert!(!mu.rwunlock(Read));
        assert!(mu.decref());
        assert_eq!(mu.state(), CLOSED);
    }

    #[test]
    fn rwlock_after_close_fails() {
        let mu = FdMutex::new();
        mu.incref_and_close().unwrap();
        assert_eq!(poll_once(mu.rwlock(Read)), Poll::Ready(Err(Closed)));
        assert_eq!(poll_once(mu.rwlock(Write)), Poll::Ready(Err(Closed)));
        assert_eq!(mu.state(), CLOSED | REF);
    }

    #[test]
    fn unlock_wakes_one_waiter_which_then_takes_the_lock() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Read), Ok(true));
        let (first_wakes, first_waker) = CountingWaker::new();
        let (second_wakes, second_waker) = CountingWaker::new();
        let mut first = mu.rwlock(Read);
        let mut second = mu.rwlock(Read);
        assert!(poll_with(&mut first, &first_waker).is_pending());
        assert!(poll_with(&mut second, &second_waker).is_pending());
        assert_eq!(mu.state(), RLOCK | REF | (2 * RWAIT));

        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.state(), RWAIT, "unlock uncounts the waiter it wakes");
        assert_eq!((first_wakes.count(), second_wakes.count()), (1, 0));
        assert_eq!(poll_with(&mut first, &first_waker), Poll::Ready(Ok(())));
        assert_eq!(mu.state(), RLOCK | REF | RWAIT);

        assert!(!mu.rwunlock(Read));
        assert_eq!(second_wakes.count(), 1);
        assert_eq!(poll_with(&mut second, &second_waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.state(), 0);
        drop((first, second));
        assert!(mu.is_idle());
    }

    #[test]
    fn woken_waiter_that_loses_the_race_waits_again() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        let (wakes, waker) = CountingWaker::new();
        let mut lock = mu.rwlock(Write);
        assert!(poll_with(&mut lock, &waker).is_pending());
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.try_rwlock(Write), Ok(true), "barging is allowed, as in Go");
        assert!(poll_with(&mut lock, &waker).is_pending());
        assert_eq!(mu.state(), WLOCK | REF | WWAIT);
        assert!(!mu.rwunlock(Write));
        assert_eq!(wakes.count(), 2);
        assert_eq!(poll_with(&mut lock, &waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), 0);
        drop(lock);
        assert!(mu.is_idle());
    }

    #[test]
    fn close_wakes_every_waiter_with_closed() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Read), Ok(true));
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        let counters: Vec<_> = (0..4).map(|_| CountingWaker::new()).collect();
        let mut locks: Vec<_> = [Read, Read, Write, Write]
            .into_iter()
            .map(|access| mu.rwlock(access))
            .collect();
        for (lock, (_, waker)) in locks.iter_mut().zip(&counters) {
            assert!(poll_with(lock, waker).is_pending());
        }
        assert_eq!(mu.state(), RLOCK | WLOCK | (2 * REF) | (2 * RWAIT) | (2 * WWAIT));

        mu.incref_and_close().unwrap();
        assert_eq!(mu.state(), CLOSED | RLOCK | WLOCK | (3 * REF));
        for (lock, (wakes, waker)) in locks.iter_mut().zip(&counters) {
            assert_eq!(wakes.count(), 1);
            assert_eq!(poll_with(lock, waker), Poll::Ready(Err(Closed)));
        }
        assert!(!mu.rwunlock(Read));
        assert!(!mu.decref());
        assert!(mu.rwunlock(Write), "the last holder destroys");
        assert_eq!(mu.state(), CLOSED);
        drop(locks);
        assert!(mu.is_idle());
    }

    #[test]
    fn waiter_dropped_before_its_grant_forwards_it() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Read), Ok(true));
        let (wakes, waker) = CountingWaker::new();
        assert!(poll_once(mu.rwlock(Read)).is_pending());
        let mut live = mu.rwlock(Read);
        assert!(poll_with(&mut live, &waker).is_pending());
        assert_eq!(
            mu.state(),
            RLOCK | REF | (2 * RWAIT),
            "the dropped waiter stays counted"
        );

        // The permit reaches the abandoned registration first, which passes
        // the baton: the lock is free, so the live waiter is uncounted and
        // woken.
        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.state(), 0);
        assert_eq!(wakes.count(), 1);
        assert_eq!(poll_with(&mut live, &waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Read));
        drop(live);
        assert!(mu.is_idle());
    }

    #[test]
    fn waiter_dropped_after_its_grant_forwards_it() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        let (wakes, waker) = CountingWaker::new();
        let mut granted = mu.rwlock(Write);
        let mut live = mu.rwlock(Write);
        assert!(poll_with(&mut granted, Waker::noop()).is_pending());
        assert!(poll_with(&mut live, &waker).is_pending());
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), WWAIT);
        assert_eq!(wakes.count(), 0);

        drop(granted);
        assert_eq!(mu.state(), 0);
        assert_eq!(wakes.count(), 1);
        assert_eq!(poll_with(&mut live, &waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Write));
        drop(live);
        assert!(mu.is_idle());
    }

    #[test]
    fn forwarded_grant_leaves_waiters_to_a_new_holder() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Read), Ok(true));
        let (wakes, waker) = CountingWaker::new();
        let mut granted = mu.rwlock(Read);
        let mut live = mu.rwlock(Read);
        assert!(poll_with(&mut granted, Waker::noop()).is_pending());
        assert!(poll_with(&mut live, &waker).is_pending());
        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.try_rwlock(Read), Ok(true));

        // The lock is held again: its holder, not the baton, wakes `live`.
        drop(granted);
        assert_eq!(mu.state(), RLOCK | REF | RWAIT);
        assert_eq!(wakes.count(), 0);
        assert!(!mu.rwunlock(Read));
        assert_eq!(wakes.count(), 1);
        assert_eq!(poll_with(&mut live, &waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Read));
        drop(live);
        assert!(mu.is_idle());
    }

    #[test]
    fn chain_of_dropped_waiters_is_skipped() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Read), Ok(true));
        for _ in 0..3 {
            assert!(poll_once(mu.rwlock(Read)).is_pending());
        }
        let (wakes, waker) = CountingWaker::new();
        let mut live = mu.rwlock(Read);
        assert!(poll_with(&mut live, &waker).is_pending());
        assert!(!mu.rwunlock(Read));
        assert_eq!((mu.state(), wakes.count()), (0, 1));
        assert_eq!(poll_with(&mut live, &waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Read));
        drop(live);
        assert!(mu.is_idle());
    }

    #[test]
    fn close_discards_permits_of_dropped_waiters() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        assert!(poll_once(mu.rwlock(Write)).is_pending());
        let mut live = mu.rwlock(Write);
        assert!(poll_with(&mut live, Waker::noop()).is_pending());
        mu.incref_and_close().unwrap();
        assert_eq!(mu.state(), CLOSED | WLOCK | (2 * REF));
        assert_eq!(poll_with(&mut live, Waker::noop()), Poll::Ready(Err(Closed)));
        assert!(!mu.rwunlock(Write));
        assert!(mu.decref());
        drop(live);
        assert!(mu.is_idle());
    }

    #[test]
    #[should_panic(expected = "polled after completion")]
    fn rwlock_polled_after_completion_panics() {
        let mu = FdMutex::new();
        let mut lock = mu.rwlock(Read);
        assert!(poll_with(&mut lock, Waker::noop()).is_ready());
        let _ = poll_with(&mut lock, Waker::noop());
    }

    #[test]
    fn reference_overflow_fails_and_changes_nothing() {
        let full = REF_MASK | RWAIT;
        let mu = FdMutex::with_state(full);
        assert_eq!(mu.refs(), (1 << 20) - 1);
        assert_eq!(mu.incref(), Err(TooManyOperations));
        assert_eq!(mu.incref_and_close(), Err(TooManyOperations));
        assert_eq!(mu.try_rwlock(Read), Err(TooManyOperations));
        assert_eq!(poll_once(mu.rwlock(Write)), Poll::Ready(Err(TooManyOperations)));
        assert_eq!(mu.state(), full, "not closed either");

        assert!(!mu.decref());
        mu.incref().unwrap();
        assert_eq!(mu.state(), full);
    }

    #[test]
    fn waiter_overflow_fails_and_changes_nothing() {
        for access in [Read, Write] {
            let lane = access.lane();
            let full = lane.bit | REF | lane.mask;
            let mu = FdMutex::with_state(full);
            assert_eq!(poll_once(mu.rwlock(access)), Poll::Ready(Err(TooManyOperations)));
            assert_eq!(mu.state(), full);
            let almost = full - lane.wait;
            let mu = FdMutex::with_state(almost);
            let mut lock = mu.rwlock(access);
            assert!(poll_with(&mut lock, Waker::noop()).is_pending());
            assert_eq!(mu.state(), full);
        }
    }

    /// What the stress tests' threads share, besides the mutex.
    #[derive(Default)]
    struct Shared {
        /// Set while someone holds the read (0) or write (1) lock.
        inside: [AtomicBool; 2],
        /// Iterations started, over all workers.
        progress: AtomicUsize,
        /// Times a `true` ("destroy") was returned.
        destroys: AtomicUsize,
        /// Successful lock acquisitions.
        locked: AtomicUsize,
    }

    const ITERS: usize = 2_000;

    /// Locks and unlocks `access` `ITERS` times, cancelling every fifth
    /// attempt after one poll, until the descriptor is closed.
    fn lock_worker(mu: &FdMutex, access: Access, shared: &Shared) {
        let inside = &shared.inside[access as usize];
        for i in 0..ITERS {
            shared.progress.fetch_add(1, Relaxed);
            let locked = if i % 5 == 4 {
                match poll_once(mu.rwlock(access)) {
                    Poll::Ready(locked) => locked,
                    Poll::Pending => continue,
                }
            } else {
                block_on(mu.rwlock(access))
            };
            match locked {
                Ok(()) => {
                    assert!(!inside.swap(true, Relaxed), "two holders of the {access:?} lock");
                    shared.locked.fetch_add(1, Relaxed);
                    thread::yield_now();
                    inside.store(false, Relaxed);
                    if mu.rwunlock(access) {
                        shared.destroys.fetch_add(1, Relaxed);
                    }
                }
                Err(Closed) => return,
                Err(err) => panic!("{err}"),
            }
        }
    }

    /// Takes and drops plain references until the descriptor is closed.
    fn ref_worker(mu: &FdMutex, shared: &Shared) {
        for _ in 0..ITERS {
            match mu.incref() {
                Ok(()) => {
                    if mu.decref() {
                        shared.destroys.fetch_add(1, Relaxed);
                    }
                }
                Err(Closed) => return,
                Err(err) => panic!("{err}"),
            }
        }
    }

    /// Runs two lock workers per lock and a reference worker, and with
    /// `close` a closer once a third of the work has started.
    fn stress(close: bool) -> Shared {
        let mu = FdMutex::new();
        let shared = Shared::default();
        thread::scope(|s| {
            for access in [Read, Read, Write, Write] {
                let (mu, shared) = (&mu, &shared);
                s.spawn(move || lock_worker(mu, access, shared));
            }
            s.spawn(|| ref_worker(&mu, &shared));
            if close {
                s.spawn(|| {
                    while shared.progress.load(Relaxed) < 4 * ITERS / 3 {
                        thread::yield_now();
                    }
                    mu.incref_and_close().unwrap();
                    if mu.decref() {
                        shared.destroys.fetch_add(1, Relaxed);
                    }
                });
            }
        });
        let end = if close { CLOSED } else { 0 };
        assert_eq!(mu.state(), end, "a count leaked");
        assert!(mu.is_idle(), "a registration or permit leaked");
        shared
    }

    #[test]
    fn stress_lock_unlock_with_cancellation() {
        with_timeout(Duration::from_secs(30), || {
            let shared = stress(false);
            assert_eq!(shared.destroys.load(Relaxed), 0);
            assert!(shared.locked.load(Relaxed) >= 4 * ITERS * 4 / 5);
        });
    }

    #[test]
    fn stress_close_midway() {
        with_timeout(Duration::from_secs(30), || {
            for _ in 0..10 {
                let shared = stress(true);
                assert_eq!(shared.destroys.load(Relaxed), 1);
            }
        });
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::{AtomicBool, AtomicUsize};
    use loom::sync::Arc;
    use loom::thread;

    use super::*;
    use crate::sync::test_util::{block_on, check, poll_once};
    use Access::{Read, Write};

    /// Whether nothing is held, counted, parked or owed.
    fn assert_quiescent(mu: &FdMutex, state: u64) {
        assert_eq!(mu.state.load(Ordering::Relaxed), state);
        assert!(mu.rsema.is_idle() && mu.wsema.is_idle());
    }

    /// Takes `access`, bumps `data` with a non-atomic read-modify-write, and
    /// unlocks. A lost update (two holders at once) or a stale read (no
    /// happens-before from the previous holder) shows in the final count.
    fn locked_increment(mu: &FdMutex, access: Access, data: &AtomicUsize) {
        block_on(mu.rwlock(access)).unwrap();
        data.store(data.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        assert!(!mu.rwunlock(access));
    }

    /// (a) Two lockers of the write lock: mutual exclusion, happens-before
    /// between holders, and both complete.
    #[test]
    fn two_lockers() {
        check("two_lockers", None, || {
            let mu = Arc::new(FdMutex::new());
            let data = Arc::new(AtomicUsize::new(0));
            let other = thread::spawn({
                let (mu, data) = (Arc::clone(&mu), Arc::clone(&data));
                move || locked_increment(&mu, Write, &data)
            });
            locked_increment(&mu, Write, &data);
            other.join().unwrap();
            assert_eq!(data.load(Ordering::Relaxed), 2);
            assert_quiescent(&mu, 0);
        });
    }

    /// Stands in for the descriptor: who has finished using it, and what its
    /// destroyer saw of that.
    #[derive(Default)]
    struct Fd {
        /// Set by user `i` when done, before giving its reference back.
        done: [AtomicBool; 3],
        /// `done` as the destroyer saw it.
        seen: [AtomicBool; 3],
        /// How many times it was destroyed.
        destroyed: AtomicUsize,
    }

    impl Fd {
        /// User `user` is done with the descriptor.
        fn finish(&self, user: usize) {
            self.done[user].store(true, Ordering::Relaxed);
        }

        /// Destroys the descriptor, recording which uses it saw end.
        fn destroy(&self) {
            self.destroyed.fetch_add(1, Ordering::Relaxed);
            for (done, seen) in self.done.iter().zip(&self.seen) {
                seen.store(done.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
    }

    /// (b) A holder, a locker waiting behind it, and a closer: the locker
    /// gets the lock or fails with `Closed`, the descriptor is destroyed
    /// exactly once, and after every use of it.
    #[test]
    fn locker_vs_closer() {
        check("locker_vs_closer", Some(5), || {
            let mu = Arc::new(FdMutex::new());
            let fd = Arc::new(Fd::default());
            assert_eq!(mu.try_rwlock(Read), Ok(true));
            let locker = thread::spawn({
                let (mu, fd) = (Arc::clone(&mu), Arc::clone(&fd));
                move || match block_on(mu.rwlock(Read)) {
                    Ok(()) => {
                        fd.finish(1);
                        if mu.rwunlock(Read) {
                            fd.destroy();
                        }
                    }
                    Err(err) => assert_eq!(err, FdMutexError::Closed),
                }
            });
            let closer = thread::spawn({
                let (mu, fd) = (Arc::clone(&mu), Arc::clone(&fd));
                move || {
                    mu.incref_and_close().unwrap();
                    fd.finish(2);
                    if mu.decref() {
                        fd.destroy();
                    }
                }
            });
            fd.finish(0);
            if mu.rwunlock(Read) {
                fd.destroy();
            }
            locker.join().unwrap();
            closer.join().unwrap();
            assert_eq!(fd.destroyed.load(Ordering::Relaxed), 1);
            for (done, seen) in fd.done.iter().zip(&fd.seen) {
                assert_eq!(
                    done.load(Ordering::Relaxed),
                    seen.load(Ordering::Relaxed),
                    "destroyed before a use ended"
                );
            }
            assert_quiescent(&mu, CLOSED);
        });
    }

    /// (c) A holder, a waiter that is cancelled after one poll, and a waiter
    /// that blocks: whatever the interleaving, the blocked waiter gets the
    /// lock (a lost wake-up would deadlock the model) and nothing leaks.
    #[test]
    fn cancelled_waiter_does_not_lose_wakeup() {
        check("cancelled_waiter", Some(5), || {
            let mu = Arc::new(FdMutex::new());
            let data = Arc::new(AtomicUsize::new(0));
            assert_eq!(mu.try_rwlock(Read), Ok(true));
            let canceller = thread::spawn({
                let mu = Arc::clone(&mu);
                move || {
                    if let Poll::Ready(locked) = poll_once(mu.rwlock(Read)) {
                        locked.unwrap();
                        assert!(!mu.rwunlock(Read));
                    }
                }
            });
            let waiter = thread::spawn({
                let (mu, data) = (Arc::clone(&mu), Arc::clone(&data));
                move || locked_increment(&mu, Read, &data)
            });
            assert!(!mu.rwunlock(Read));
            canceller.join().unwrap();
            waiter.join().unwrap();
            assert_eq!(data.load(Ordering::Relaxed), 1);
            assert_quiescent(&mu, 0);
        });
    }

    /// (e) A holder, a waiter cancelled after one poll, a blocked waiter and
    /// a closer: the blocked waiter gets the lock or `Closed`, exactly one
    /// party destroys, and no permit is left behind.
    #[test]
    fn cancelled_waiter_vs_closer() {
        check("cancelled_waiter_vs_closer", Some(2), || {
            let mu = Arc::new(FdMutex::new());
            let destroyed = Arc::new(AtomicUsize::new(0));
            assert_eq!(mu.try_rwlock(Write), Ok(true));
            let canceller = thread::spawn({
                let (mu, destroyed) = (Arc::clone(&mu), Arc::clone(&destroyed));
                move || {
                    if let Poll::Ready(Ok(())) = poll_once(mu.rwlock(Write)) {
                        if mu.rwunlock(Write) {
                            destroyed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
            let waiter = thread::spawn({
                let (mu, destroyed) = (Arc::clone(&mu), Arc::clone(&destroyed));
                move || {
                    if block_on(mu.rwlock(Write)).is_ok() && mu.rwunlock(Write) {
                        destroyed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            let closer = thread::spawn({
                let (mu, destroyed) = (Arc::clone(&mu), Arc::clone(&destroyed));
                move || {
                    mu.incref_and_close().unwrap();
                    if mu.decref() {
                        destroyed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            if mu.rwunlock(Write) {
                destroyed.fetch_add(1, Ordering::Relaxed);
            }
            canceller.join().unwrap();
            waiter.join().unwrap();
            closer.join().unwrap();
            assert_eq!(destroyed.load(Ordering::Relaxed), 1);
            assert_quiescent(&mu, CLOSED);
        });
    }
}
