//! The fd mutex: the lifetime and serialization of one descriptor, ported from
//! Go's `internal/poll/fd_mutex.go`, with futures parked on a waker-based
//! [`Sema`] instead of goroutines on runtime semaphores, and locks that are
//! handed to their waiters in FIFO order instead of being raced for.
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
//! # Fairness
//!
//! Each lock is *free*, *held*, or *granted*: handed by `rwunlock` to the
//! oldest waiter, which has not taken it yet. Go's `rwunlock` frees the lock
//! and wakes a waiter that then races new arrivals for it; a newcomer can
//! win, and a stream's `write_all`, whose dropped future keeps waiting for
//! the write lock in a background task, would be overtaken by the caller's
//! next write. Here:
//!
//! * `rwunlock` with waiters counted does not free the lock: one CAS turns
//!   the lock bit into the lane's grant bit, uncounts one waiter and keeps
//!   the holder's reference for the grantee; then one permit is released,
//!   and the semaphore, FIFO, gives it to the oldest registration.
//! * The woken waiter's CAS turns the grant bit back into the lock bit. The
//!   reference comes with the grant, so taking it cannot overflow.
//! * An arrival ([`FdMutex::try_rwlock`], or the first CAS of
//!   [`FdMutex::rwlock`]) takes only a free lock. Waiters are counted only
//!   while the lock is held or granted (every word stored is checked for it
//!   in debug builds and loom models), so "free" also means that nobody is
//!   waiting: a newcomer queues behind every waiter whose `poll` has returned
//!   `Pending`. (Two `poll`s that overlap may register in either order.)
//!
//! A lock is granted to at most one waiter at a time, so until close the one
//! permit in flight on a lock is always that grant's.
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
//! * A permit that reaches a dropped waiter (abandoned, or woken but not yet
//!   polled) is orphaned, and [`FdMutex::pass_baton`] does with the grant it
//!   carries what `rwunlock` does with a held lock: with waiters counted, the
//!   grant stays, one is uncounted and the permit goes on to the next
//!   registration (which may be abandoned in turn; the chain is bounded by
//!   the count); with none, the grant and its reference are dropped and the
//!   lock is free. A lock is never left granted to nobody, and no waiter
//!   sleeps on a free lock.
//!
//! # Close
//!
//! `incref_and_close` sets the closed bit, uncounts every waiter and releases
//! a permit for each, and revokes a pending grant, keeping its reference as
//! the closer's own. Every waiter woken afterwards, by close's permits or by
//! the grant's, finds no grant and a closed word, and fails with `Closed`,
//! holding nothing; a permit orphaned after close is discarded. A grantee
//! whose CAS came first holds the lock like any holder and must unlock it.
//! Either way the word says which: it never has a grant and the closed bit
//! together, and nothing counts waiters once it is closed.
//!
//! So no wake-up is lost and no count leaks: once every future has finished,
//! both semaphores are idle and the word has no waiters and no grant, which
//! the tests check.
//!
//! # Memory ordering
//!
//! The word carries two happens-before edges: lock holder to next holder
//! (Release in `rwunlock`, Acquire where the lock bit is taken, from a grant
//! or from a free lock), and every reference holder to the destroyer (AcqRel
//! on every RMW that can drop the last reference, as in `Arc::drop`). Every
//! write to the word is an RMW, so every Relaxed step between the two ends
//! (a waiter counted, a grant passed or dropped by the baton, a close)
//! continues the release sequence instead of breaking it. Waiters are woken
//! through the semaphore's mutex, which orders the waker's CAS before the
//! woken poll.

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
/// The read lock is granted to a woken waiter that has not taken it yet.
const RGRANT: u64 = 1 << 3;
/// The write lock is granted to a woken waiter that has not taken it yet.
const WGRANT: u64 = 1 << 4;
/// One reference.
const REF: u64 = 1 << 5;
/// The most references at once.
const MAX_REFS: u64 = (1 << 20) - 1;
/// The reference count.
const REF_MASK: u64 = MAX_REFS << 5;
/// The most waiters for one lock at once.
const MAX_WAITERS: u64 = (1 << 19) - 1;
/// One read waiter.
const RWAIT: u64 = 1 << 25;
/// The read waiter count.
const RWAIT_MASK: u64 = MAX_WAITERS << 25;
/// One write waiter.
const WWAIT: u64 = 1 << 44;
/// The write waiter count.
const WWAIT_MASK: u64 = MAX_WAITERS << 44;

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
        match self {
            Self::Closed => f.write_str("use of closed file descriptor"),
            Self::TooManyOperations => write!(
                f,
                "too many concurrent operations on a single file or socket \
                 (max {MAX_REFS}, and {MAX_WAITERS} waiting to read or to write)"
            ),
        }
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
    /// The lock bit: held.
    bit: u64,
    /// The grant bit: handed to a woken waiter.
    grant: u64,
    /// One waiter.
    wait: u64,
    /// The waiter count.
    mask: u64,
}

impl Lane {
    /// Whether the lock is held or granted in `word`: not free.
    const fn owned(self, word: u64) -> bool {
        word & (self.bit | self.grant) != 0
    }
}

impl Access {
    /// This lock's bits.
    const fn lane(self) -> Lane {
        match self {
            Self::Read => Lane {
                bit: RLOCK,
                grant: RGRANT,
                wait: RWAIT,
                mask: RWAIT_MASK,
            },
            Self::Write => Lane {
                bit: WLOCK,
                grant: WGRANT,
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
    /// Closed flag, lock and grant bits, reference count and waiter counts:
    /// Go's layout plus a grant bit per lock, whose waiter counts are a bit
    /// narrower to make room.
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
    /// waiter with [`FdMutexError::Closed`] and revoking a grant not yet
    /// taken (see the module docs). Fails if it is already closed, or
    /// (leaving it open) if the reference count would overflow.
    pub(crate) fn incref_and_close(&self) -> Result<(), FdMutexError> {
        // Relaxed: the closed bit carries no data. The waiters we wake are
        // ordered after this CAS by the semaphore's mutex, and our reference
        // (possibly a revoked grant's) is given back, with AcqRel, by a later
        // `decref`; this RMW continues the release sequence of the `rwunlock`
        // that made the grant, so the destroyer is ordered after it.
        let (old, _) = self.update(Ordering::Relaxed, |old| {
            if old & CLOSED != 0 {
                return Err(FdMutexError::Closed);
            }
            let new = (old | CLOSED) & !(RGRANT | WGRANT | RWAIT_MASK | WWAIT_MASK);
            // A revoked grant's reference becomes ours; a second one is
            // dropped (the word stays referenced by ours, so this never
            // destroys).
            match (old & (RGRANT | WGRANT)).count_ones() {
                0 => add_ref(new),
                1 => Ok(new),
                _ => Ok(new - REF),
            }
        })?;
        // One permit per uncounted waiter; each wakes and sees `closed`. A
        // permit that reaches an abandoned waiter is discarded by its baton
        // (nothing is granted any more): that waiter would have seen
        // `closed` too.
        for _ in 0..(old & RWAIT_MASK) / RWAIT {
            self.signal(Access::Read);
        }
        for _ in 0..(old & WWAIT_MASK) / WWAIT {
            self.signal(Access::Write);
        }
        Ok(())
    }

    /// Returns a future that takes the `access` lock and a reference, or
    /// fails with [`FdMutexError::Closed`] once the descriptor is closed. It
    /// may be dropped at any point (see the module docs); once it has
    /// returned `Ok`, the lock is held until [`rwunlock`](Self::rwunlock).
    /// If the lock is not free, it waits behind every waiter already queued.
    pub(crate) fn rwlock(&self, access: Access) -> RwLock<'_> {
        RwLock {
            mu: self,
            access,
            wait: None,
            done: false,
        }
    }

    /// Takes the `access` lock and a reference if the lock is free. Returns
    /// `Ok(false)`, registering nothing, if it is held, or granted to a
    /// waiter, or waited for.
    pub(crate) fn try_rwlock(&self, access: Access) -> Result<bool, FdMutexError> {
        let lane = access.lane();
        // Acquire: as in `RwLock::poll`. The error is `None` if the lock is
        // not free, so that the word is left untouched.
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

    /// Releases the `access` lock and its reference, or, if any waiter is
    /// counted, grants both to the oldest one. Returns `true` if the
    /// descriptor is closed and this was the last reference: the caller must
    /// destroy it.
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
            Ok(if old & lane.mask != 0 {
                // Hand off: the lock becomes a grant, with our reference.
                old - lane.bit + lane.grant - lane.wait
            } else {
                old - lane.bit - REF
            })
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

    /// The current number of references, lock holders and grants not yet
    /// taken included (for stats and tests).
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
    /// permit had it lived: take the grant, and unlock at once. So if the
    /// `access` lock is granted and a waiter is counted, uncounts it and
    /// returns `true`, and the caller releases a permit for it: the grant
    /// goes on. If it is granted and nobody waits, drops the grant and its
    /// reference: the lock is free. If it is not granted, the descriptor is
    /// closed and close revoked the grant, or the permit was close's: there
    /// is nothing to pass on. See "Cancellation" in the module docs.
    fn pass_baton(&self, access: Access) -> bool {
        let lane = access.lane();
        // Relaxed: the waiter we pass the grant to takes it with its own
        // Acquire CAS, which synchronizes with the `rwunlock` that made the
        // grant, since this RMW continues its release sequence; so does an
        // arrival's, should we free the lock. The reference we may drop
        // cannot call for destruction (a granted word is never closed), and
        // nothing was done under it since the grantor's Release, which a
        // later destroyer's Acquire still synchronizes with through us.
        let step = self.update(Ordering::Relaxed, |old| {
            if old & lane.grant == 0 {
                return Err(());
            }
            Ok(if old & lane.mask != 0 {
                old - lane.wait
            } else {
                old - lane.grant - REF
            })
        });
        matches!(step, Ok((old, _)) if old & lane.mask != 0)
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
            check_word(new);
            // Relaxed on failure: the fresh value is again only a guess.
            match self.state.compare_exchange_weak(old, new, success, Ordering::Relaxed) {
                Ok(_) => return Ok((old, new)),
                Err(current) => old = current,
            }
        }
    }
}

/// Asserts, in debug builds and loom models, the invariants of a word about
/// to be stored: per lock, never held and granted at once; waiters counted
/// only while it is held or granted (someone will grant it on); no grant
/// and no waiter once closed; and a reference for every holder and grant.
fn check_word(word: u64) {
    if !cfg!(any(debug_assertions, loom)) {
        return;
    }
    let mut owners = 0;
    for lane in [Access::Read.lane(), Access::Write.lane()] {
        let (held, granted) = (word & lane.bit != 0, word & lane.grant != 0);
        assert!(!(held && granted), "{word:#x}: a lock both held and granted");
        assert!(
            word & lane.mask == 0 || held || granted,
            "{word:#x}: waiters for a free lock"
        );
        assert!(
            word & CLOSED == 0 || (!granted && word & lane.mask == 0),
            "{word:#x}: a grant or a waiter after close"
        );
        owners += u64::from(held || granted);
    }
    assert!(
        (word & REF_MASK) / REF >= owners,
        "{word:#x}: a holder without a reference"
    );
}

/// `word` with one more reference, unless the count would overflow.
fn add_ref(word: u64) -> Result<u64, FdMutexError> {
    if word & REF_MASK == REF_MASK {
        return Err(FdMutexError::TooManyOperations);
    }
    Ok(word + REF)
}

/// `old` with `lane`'s lock bit and a reference taken, or `None` if the lock
/// is not free (held, or granted; only then can waiters be counted).
fn take(old: u64, lane: Lane) -> Result<Option<u64>, FdMutexError> {
    if old & CLOSED != 0 {
        return Err(FdMutexError::Closed);
    }
    if lane.owned(old) {
        return Ok(None);
    }
    add_ref(old | lane.bit).map(Some)
}

/// Whether `new`, the word after dropping a reference, calls for destroying
/// the descriptor: closed, and no reference left.
fn must_destroy(new: u64) -> bool {
    new & (CLOSED | REF_MASK) == CLOSED
}

/// The [`Forward`] of an [`FdMutex`] lock: passes an orphaned permit's
/// grant on with [`FdMutex::pass_baton`].
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

impl RwLock<'_> {
    /// Takes the grant that our permit stands for. `None` if there is none,
    /// which must be because close revoked it (or sent the permit).
    fn claim(&self, lane: Lane) -> Option<Result<(), FdMutexError>> {
        // Acquire: pairs with the Release in the `rwunlock` that made the
        // grant (the baton's and arrivals' RMWs in between continue its
        // release sequence), ordering its critical section before ours.
        let step = self.mu.update(Ordering::Acquire, |old| {
            if old & lane.grant == 0 {
                return Err(old);
            }
            // The grant's reference is ours now.
            Ok(old - lane.grant + lane.bit)
        });
        match step {
            Ok(_) => Some(Ok(())),
            Err(old) if old & CLOSED != 0 => Some(Err(FdMutexError::Closed)),
            Err(_) => {
                // Until close, a lock's one permit in flight is its grant's.
                if cfg!(any(debug_assertions, loom)) {
                    panic!("FdMutex: a permit without a grant on an open descriptor");
                }
                None
            }
        }
    }
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
                // Our signaller has already uncounted us: the permit is the
                // grant, or close's word that there is none.
                this.wait = None;
                if let Some(claimed) = this.claim(lane) {
                    this.done = true;
                    return Poll::Ready(claimed);
                }
                // (Reached only past a broken invariant, in a release build:
                // start over as an arrival, which is safe.)
            }
            // Acquire: when this takes the lock bit of a free lock, it pairs
            // with the Release in the previous holder's `rwunlock` (the
            // baton that freed it continues its release sequence), ordering
            // its critical section before ours. (Counting ourselves as a
            // waiter needs no order.)
            let step = this.mu.update(Ordering::Acquire, |old| match take(old, lane)? {
                Some(new) => Ok(new),
                None if old & lane.mask == lane.mask => Err(FdMutexError::TooManyOperations),
                None => Ok(old + lane.wait),
            });
            match step {
                Ok((old, _)) if lane.owned(old) => {
                    // Counted as a waiter: register right away, in this
                    // same poll, so that the count always has a registration.
                    // The semaphore queues us behind every earlier waiter.
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
    use std::sync::mpsc;
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

    /// Go's layout (closed, two lock bits, then 20-bit reference and waiter
    /// counts) with two changes: a grant bit beside each lock bit, and
    /// 19-bit waiter counts to make room for them in 63 bits.
    #[test]
    fn layout_is_gos_with_grant_bits() {
        assert_eq!(REF_MASK, 0xf_ffff << 5);
        assert_eq!(RWAIT_MASK, 0x7_ffff << 25);
        assert_eq!(WWAIT_MASK, 0x7_ffff << 44);
        let fields = [CLOSED, RLOCK, WLOCK, RGRANT, WGRANT, REF_MASK, RWAIT_MASK, WWAIT_MASK];
        assert_eq!(fields.iter().fold(0, |all, field| all | field), (1 << 63) - 1);
        assert_eq!(
            fields.iter().map(|field| field.count_ones()).sum::<u32>(),
            63,
            "overlap"
        );
        assert_eq!(
            TooManyOperations.to_string(),
            "too many concurrent operations on a single file or socket \
             (max 1048575, and 524287 waiting to read or to write)"
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
    fn rwunlock_of_a_granted_lock_is_a_bug() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        let mut waiter = mu.rwlock(Write);
        assert!(poll_with(&mut waiter, Waker::noop()).is_pending());
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), WGRANT | REF);
        // The grant is the waiter's, not a lock anyone may release.
        let destroy = std::panic::catch_unwind(|| mu.rwunlock(Write));
        assert_eq!(destroy.is_err(), cfg!(debug_assertions));
        assert_eq!(mu.state(), WGRANT | REF);
        assert_eq!(poll_with(&mut waiter, Waker::noop()), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Write));
        drop(waiter);
        assert!(mu.is_idle());
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
    fn unlock_hands_the_lock_to_the_oldest_waiter() {
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
        assert_eq!(
            mu.state(),
            RGRANT | REF | RWAIT,
            "unlock grants the lock, with its reference, to the waiter it uncounts"
        );
        assert_eq!((first_wakes.count(), second_wakes.count()), (1, 0));
        assert!(poll_with(&mut second, &second_waker).is_pending());
        assert_eq!(poll_with(&mut first, &first_waker), Poll::Ready(Ok(())));
        assert_eq!(mu.state(), RLOCK | REF | RWAIT);

        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.state(), RGRANT | REF);
        assert_eq!(second_wakes.count(), 1);
        assert_eq!(poll_with(&mut second, &second_waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.state(), 0);
        drop((first, second));
        assert!(mu.is_idle());
    }

    /// The drop-storm bug: a woken waiter that has not run yet must not be
    /// overtaken by a `try_rwlock` or an `rwlock` that arrives meanwhile.
    #[test]
    fn new_arrival_cannot_overtake_a_waiter() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        let (wakes, waker) = CountingWaker::new();
        let (late_wakes, late_waker) = CountingWaker::new();
        let mut waiter = mu.rwlock(Write);
        assert!(poll_with(&mut waiter, &waker).is_pending());

        assert!(!mu.rwunlock(Write));
        assert_eq!(wakes.count(), 1);
        assert_eq!(mu.try_rwlock(Write), Ok(false), "the lock is the waiter's");
        let mut late = mu.rwlock(Write);
        assert!(poll_with(&mut late, &late_waker).is_pending(), "and it queues behind");
        assert_eq!(mu.state(), WGRANT | REF | WWAIT);

        assert_eq!(poll_with(&mut waiter, &waker), Poll::Ready(Ok(())));
        assert_eq!(mu.state(), WLOCK | REF | WWAIT);
        assert_eq!(mu.try_rwlock(Write), Ok(false));
        assert_eq!(late_wakes.count(), 0);
        assert!(!mu.rwunlock(Write));
        assert_eq!(late_wakes.count(), 1);
        assert_eq!(mu.try_rwlock(Write), Ok(false), "the next one's, now");
        assert_eq!(poll_with(&mut late, &late_waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), 0);
        assert_eq!(mu.try_rwlock(Write), Ok(true), "free at last");
        assert!(!mu.rwunlock(Write));
        drop((waiter, late));
        assert!(mu.is_idle());
    }

    /// A waiter counted by its CAS whose grant comes before it registers
    /// (the permit is stored) takes the grant in that same poll; dropped
    /// there instead, it passes the grant on. `with_state` and a hand-made
    /// registration stand in for the interleaving.
    #[test]
    fn grant_before_registration() {
        for dropped in [false, true] {
            let mu = FdMutex::with_state(WLOCK | REF | WWAIT);
            assert!(!mu.rwunlock(Write));
            assert_eq!(mu.state(), WGRANT | REF);
            let mut waiter = RwLock {
                mu: &mu,
                access: Write,
                wait: Some(mu.sema(Write).acquire(Baton { mu: &mu, access: Write })),
                done: false,
            };
            if dropped {
                drop(waiter);
                assert_eq!(mu.state(), 0, "the stored permit's grant was dropped: free");
            } else {
                assert_eq!(poll_with(&mut waiter, Waker::noop()), Poll::Ready(Ok(())));
                assert_eq!(mu.state(), WLOCK | REF);
                assert!(!mu.rwunlock(Write));
                drop(waiter);
            }
            assert!(mu.is_idle());
        }
    }

    #[test]
    fn grant_carries_its_reference() {
        // Every reference is taken, yet a waiter can queue and be granted
        // the lock: it takes over its grantor's reference.
        let mu = FdMutex::with_state(WLOCK | REF_MASK);
        assert_eq!(mu.incref(), Err(TooManyOperations));
        let mut waiter = mu.rwlock(Write);
        assert!(poll_with(&mut waiter, Waker::noop()).is_pending());
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), WGRANT | REF_MASK);
        assert_eq!(poll_with(&mut waiter, Waker::noop()), Poll::Ready(Ok(())));
        assert_eq!(mu.state(), WLOCK | REF_MASK);
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), REF_MASK - REF);
        drop(waiter);
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

    /// Close between a hand-off and the grantee's poll: the grant is revoked,
    /// its reference becomes the closer's, and the grantee (woken by the
    /// grant's permit) and the waiter behind it (woken by close's) both fail
    /// holding nothing.
    #[test]
    fn close_revokes_a_grant_not_yet_taken() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        let (wakes, waker) = CountingWaker::new();
        let mut granted = mu.rwlock(Write);
        let mut behind = mu.rwlock(Write);
        assert!(poll_with(&mut granted, &waker).is_pending());
        assert!(poll_with(&mut behind, &waker).is_pending());
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), WGRANT | REF | WWAIT);

        mu.incref_and_close().unwrap();
        assert_eq!(mu.state(), CLOSED | REF, "the grant's reference is the closer's");
        assert_eq!(wakes.count(), 2);
        assert_eq!(poll_with(&mut behind, &waker), Poll::Ready(Err(Closed)));
        assert_eq!(poll_with(&mut granted, &waker), Poll::Ready(Err(Closed)));
        assert_eq!(mu.state(), CLOSED | REF);
        assert!(mu.decref(), "the closer's reference was the last");
        drop((granted, behind));
        assert!(mu.is_idle());
    }

    #[test]
    fn close_revokes_both_grants() {
        let mu = FdMutex::new();
        let mut waiters = Vec::new();
        for access in [Read, Write] {
            assert_eq!(mu.try_rwlock(access), Ok(true));
            let mut waiter = mu.rwlock(access);
            assert!(poll_with(&mut waiter, Waker::noop()).is_pending());
            assert!(!mu.rwunlock(access));
            waiters.push(waiter);
        }
        assert_eq!(mu.state(), RGRANT | WGRANT | (2 * REF));
        mu.incref_and_close().unwrap();
        assert_eq!(mu.state(), CLOSED | REF);
        for waiter in &mut waiters {
            assert_eq!(poll_with(waiter, Waker::noop()), Poll::Ready(Err(Closed)));
        }
        assert!(mu.decref());
        drop(waiters);
        assert!(mu.is_idle());
    }

    /// Close after the grantee took the lock: it holds it like any holder.
    #[test]
    fn close_after_the_grant_is_taken_leaves_the_holder() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Read), Ok(true));
        let mut granted = mu.rwlock(Read);
        assert!(poll_with(&mut granted, Waker::noop()).is_pending());
        assert!(!mu.rwunlock(Read));
        assert_eq!(poll_with(&mut granted, Waker::noop()), Poll::Ready(Ok(())));
        mu.incref_and_close().unwrap();
        assert_eq!(mu.state(), CLOSED | RLOCK | (2 * REF));
        assert!(!mu.decref());
        assert!(mu.rwunlock(Read), "the holder's unlock destroys");
        drop(granted);
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
        // the baton: the grant stays, the live waiter is uncounted and woken.
        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.state(), RGRANT | REF);
        assert_eq!(wakes.count(), 1);
        assert_eq!(mu.try_rwlock(Read), Ok(false));
        assert_eq!(poll_with(&mut live, &waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.state(), 0);
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
        assert_eq!(mu.state(), WGRANT | REF | WWAIT);
        assert_eq!(wakes.count(), 0);

        drop(granted);
        assert_eq!(mu.state(), WGRANT | REF);
        assert_eq!(wakes.count(), 1);
        assert_eq!(poll_with(&mut live, &waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), 0);
        drop(live);
        assert!(mu.is_idle());
    }

    #[test]
    fn granted_waiter_dropped_with_nobody_behind_frees_the_lock() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Read), Ok(true));
        let mut granted = mu.rwlock(Read);
        assert!(poll_with(&mut granted, Waker::noop()).is_pending());
        assert!(!mu.rwunlock(Read));
        assert_eq!(mu.try_rwlock(Read), Ok(false), "granted, not free");
        drop(granted);
        assert_eq!(mu.state(), 0, "neither the lock nor its reference is left to nobody");
        assert_eq!(mu.try_rwlock(Read), Ok(true));
        assert!(!mu.rwunlock(Read));
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
        assert_eq!((mu.state(), wakes.count()), (RGRANT | REF, 1));
        assert_eq!(poll_with(&mut live, &waker), Poll::Ready(Ok(())));
        assert!(!mu.rwunlock(Read));
        drop(live);
        assert_eq!(mu.state(), 0);
        assert!(mu.is_idle());
    }

    #[test]
    fn chain_of_dropped_waiters_with_nobody_live_frees_the_lock() {
        let mu = FdMutex::new();
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        for _ in 0..3 {
            assert!(poll_once(mu.rwlock(Write)).is_pending());
        }
        assert!(!mu.rwunlock(Write));
        assert_eq!(mu.state(), 0);
        assert!(mu.is_idle());
        assert_eq!(mu.try_rwlock(Write), Ok(true));
        assert!(!mu.rwunlock(Write));
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
        let full = REF_MASK | RLOCK | RWAIT;
        let mu = FdMutex::with_state(full);
        assert_eq!(mu.refs(), (1 << 20) - 1);
        assert_eq!(mu.incref(), Err(TooManyOperations));
        assert_eq!(mu.incref_and_close(), Err(TooManyOperations));
        assert_eq!(mu.try_rwlock(Write), Err(TooManyOperations));
        assert_eq!(poll_once(mu.rwlock(Write)), Poll::Ready(Err(TooManyOperations)));
        assert_eq!(mu.try_rwlock(Read), Ok(false), "held: busy before full");
        assert_eq!(mu.state(), full, "not closed either");

        assert!(!mu.decref());
        mu.incref().unwrap();
        assert_eq!(mu.state(), full);
    }

    #[test]
    fn close_of_a_full_word_reuses_a_revoked_grants_reference() {
        let mu = FdMutex::with_state(WGRANT | REF_MASK);
        mu.incref_and_close().unwrap();
        assert_eq!(mu.state(), CLOSED | REF_MASK);
    }

    #[test]
    fn waiter_overflow_fails_and_changes_nothing() {
        for access in [Read, Write] {
            let lane = access.lane();
            assert_eq!(lane.mask / lane.wait, (1 << 19) - 1);
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

    #[test]
    fn invalid_words_are_caught() {
        if !cfg!(debug_assertions) {
            return;
        }
        for word in [
            WLOCK | WGRANT | (2 * REF),
            RWAIT,
            CLOSED | RGRANT | REF,
            CLOSED | WLOCK | REF | WWAIT,
            RLOCK | WGRANT | REF,
        ] {
            assert!(std::panic::catch_unwind(|| check_word(word)).is_err(), "{word:#x}");
        }
        check_word(CLOSED | RLOCK | WLOCK | (2 * REF));
        check_word(RGRANT | WLOCK | (2 * REF) | WWAIT | RWAIT);
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

    impl Shared {
        /// The critical section of the `access` lock, then its unlock.
        /// `check` runs inside it.
        fn locked(&self, mu: &FdMutex, access: Access, check: impl FnOnce()) {
            let inside = &self.inside[access as usize];
            assert!(!inside.swap(true, Relaxed), "two holders of the {access:?} lock");
            check();
            self.locked.fetch_add(1, Relaxed);
            thread::yield_now();
            inside.store(false, Relaxed);
            if mu.rwunlock(access) {
                self.destroys.fetch_add(1, Relaxed);
            }
        }
    }

    const ITERS: usize = 2_000;

    /// Locks and unlocks `access` `ITERS` times, cancelling every fifth
    /// attempt after one poll, until the descriptor is closed.
    fn lock_worker(mu: &FdMutex, access: Access, shared: &Shared) {
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
                Ok(()) => shared.locked(mu, access, || {}),
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

    /// Closes `mu` once `start` iterations have started.
    fn closer(mu: &FdMutex, shared: &Shared, start: usize) {
        while shared.progress.load(Relaxed) < start {
            thread::yield_now();
        }
        mu.incref_and_close().unwrap();
        if mu.decref() {
            shared.destroys.fetch_add(1, Relaxed);
        }
    }

    /// Checks that `mu` is quiescent: no lock, grant, waiter or reference
    /// left in the word, and no registration or permit on either semaphore.
    fn assert_quiescent(mu: &FdMutex, closed: bool) {
        let end = if closed { CLOSED } else { 0 };
        assert_eq!(mu.state(), end, "a count leaked");
        assert!(mu.is_idle(), "a registration or permit leaked");
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
                s.spawn(|| closer(&mu, &shared, 4 * ITERS / 3));
            }
        });
        assert_quiescent(&mu, close);
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

    /// Issues `ITERS` numbered writes under the write lock, as one task's
    /// successive `write_all`s do: `try_rwlock`, else one poll of `rwlock`;
    /// a future still waiting is handed, registered, to a background thread
    /// that finishes it (every seventh is dropped instead: that write never
    /// happens), and the writer goes straight on with its next write. None
    /// may overtake an earlier one: inside the lock, each checks that its
    /// number is the highest `last` has seen.
    fn ordered_writer(mu: &FdMutex, shared: &Shared, last: &AtomicUsize) {
        let write = |n: usize| {
            shared.locked(mu, Write, || {
                let before = last.swap(n, Relaxed);
                assert!(before < n, "write {n} overtook write {before}");
            });
        };
        thread::scope(|s| {
            let (to_background, background) = mpsc::channel::<(RwLock<'_>, usize)>();
            s.spawn(move || {
                for (lock, n) in background {
                    if block_on(lock).is_ok() {
                        write(n);
                    }
                }
            });
            for n in 1..=ITERS {
                shared.progress.fetch_add(1, Relaxed);
                match mu.try_rwlock(Write) {
                    Ok(true) => {
                        write(n);
                        continue;
                    }
                    Ok(false) => {}
                    Err(Closed) => return,
                    Err(err) => panic!("{err}"),
                }
                let mut lock = mu.rwlock(Write);
                match poll_with(&mut lock, Waker::noop()) {
                    Poll::Ready(Ok(())) => write(n),
                    Poll::Ready(Err(Closed)) => return,
                    Poll::Ready(Err(err)) => panic!("{err}"),
                    Poll::Pending if n % 7 == 0 => drop(lock),
                    Poll::Pending => to_background.send((lock, n)).unwrap(),
                }
            }
        });
    }

    /// Two ordered writers, a plain lock worker on each lock, and with
    /// `close` a closer once a third of the work has started.
    fn stress_fifo(close: bool) -> Shared {
        let mu = FdMutex::new();
        let shared = Shared::default();
        let lasts = [AtomicUsize::new(0), AtomicUsize::new(0)];
        thread::scope(|s| {
            for last in &lasts {
                let (mu, shared) = (&mu, &shared);
                s.spawn(move || ordered_writer(mu, shared, last));
            }
            for access in [Read, Write] {
                let (mu, shared) = (&mu, &shared);
                s.spawn(move || lock_worker(mu, access, shared));
            }
            if close {
                s.spawn(|| closer(&mu, &shared, 4 * ITERS / 3));
            }
        });
        assert_quiescent(&mu, close);
        shared
    }

    #[test]
    fn stress_writes_stay_in_order() {
        with_timeout(Duration::from_secs(30), || {
            for _ in 0..5 {
                let shared = stress_fifo(false);
                assert_eq!(shared.destroys.load(Relaxed), 0);
            }
        });
    }

    #[test]
    fn stress_writes_stay_in_order_with_close_midway() {
        with_timeout(Duration::from_secs(30), || {
            for _ in 0..10 {
                let shared = stress_fifo(true);
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
    use crate::sync::test_util::{block_on, block_on_with, check, poll_once};
    use Access::{Read, Write};

    /// Whether nothing is held, granted, counted, parked or owed.
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
        done: [AtomicBool; 4],
        /// `done` as the destroyer saw it.
        seen: [AtomicBool; 4],
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

        /// Destroys the descriptor if `last` says so.
        fn destroy_if(&self, last: bool) {
            if last {
                self.destroy();
            }
        }

        /// Asserts that it was destroyed once, after every use ended.
        fn assert_destroyed_once_after_use(&self) {
            assert_eq!(self.destroyed.load(Ordering::Relaxed), 1);
            for (done, seen) in self.done.iter().zip(&self.seen) {
                assert_eq!(
                    done.load(Ordering::Relaxed),
                    seen.load(Ordering::Relaxed),
                    "destroyed before a use ended"
                );
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
                        fd.destroy_if(mu.rwunlock(Read));
                    }
                    Err(err) => assert_eq!(err, FdMutexError::Closed),
                }
            });
            let closer = thread::spawn({
                let (mu, fd) = (Arc::clone(&mu), Arc::clone(&fd));
                move || {
                    mu.incref_and_close().unwrap();
                    fd.finish(2);
                    fd.destroy_if(mu.decref());
                }
            });
            fd.finish(0);
            fd.destroy_if(mu.rwunlock(Read));
            locker.join().unwrap();
            closer.join().unwrap();
            fd.assert_destroyed_once_after_use();
            assert_quiescent(&mu, CLOSED);
        });
    }

    /// (c) A holder, a waiter that is cancelled after one poll, and a waiter
    /// that blocks: whatever the interleaving, the blocked waiter gets the
    /// lock (a lost wake-up, or a grant left with the cancelled one, would
    /// deadlock the model) and nothing leaks.
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

    /// (d) A holder, a waiter cancelled after one poll, a blocked waiter and
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

    /// A lock waiter that tells, through `queued`, when its first poll has
    /// returned `Pending`, and records its turn if it gets the lock. For the
    /// FIFO models.
    fn queued_waiter(mu: &FdMutex, queued: &AtomicBool, turns: &AtomicUsize) -> Result<usize, FdMutexError> {
        // Release: pairs with the arrival's Acquire, so that an arrival that
        // sees the flag comes after our first poll.
        block_on_with(mu.rwlock(Write), || queued.store(true, Ordering::Release))?;
        let word = mu.state.load(Ordering::Relaxed);
        assert_eq!(word & (WLOCK | WGRANT), WLOCK, "{word:#x}: Ok without the lock");
        // Relaxed: the lock orders the turns.
        Ok(turns.fetch_add(1, Ordering::Relaxed))
    }

    /// An arrival: looks whether the queued waiter is queued, then takes the
    /// lock with `try_rwlock`, or failing that `rwlock`. Returns what it saw
    /// and its turn, if it got the lock.
    fn arrival(mu: &FdMutex, queued: &AtomicBool, turns: &AtomicUsize) -> (bool, Result<usize, FdMutexError>) {
        let saw_queued = queued.load(Ordering::Acquire);
        let locked = match mu.try_rwlock(Write) {
            Ok(false) => block_on(mu.rwlock(Write)),
            tried => tried.map(drop),
        };
        (saw_queued, locked.map(|()| turns.fetch_add(1, Ordering::Relaxed)))
    }

    /// The FIFO property: an arrival that saw the waiter queued gets the
    /// lock only after the waiter had its turn.
    fn assert_fifo(waiter: Result<usize, FdMutexError>, (saw_queued, arrival): (bool, Result<usize, FdMutexError>)) {
        if let (true, Ok(arrival)) = (saw_queued, arrival) {
            let waiter = waiter.expect("the arrival took the lock from a queued waiter");
            assert!(waiter < arrival, "the arrival overtook a queued waiter");
        }
    }

    /// (e) FIFO. A holder, a waiter, and an arrival that first looks whether
    /// the waiter is queued (its `poll` returned `Pending`), then tries the
    /// lock and, failing, waits for it. If it saw the waiter queued, the
    /// waiter's turn comes first, however the unlock, the hand-off and the
    /// arrival's `try_rwlock` or `rwlock` interleave. (Go's barging lets the
    /// arrival in between the unlock and the woken waiter's poll.)
    #[test]
    fn arrival_does_not_overtake_waiter() {
        check("arrival_does_not_overtake_waiter", Some(3), || {
            let mu = Arc::new(FdMutex::new());
            let queued = Arc::new(AtomicBool::new(false));
            let turns = Arc::new(AtomicUsize::new(0));
            assert_eq!(mu.try_rwlock(Write), Ok(true));
            let waiter = thread::spawn({
                let (mu, queued, turns) = (Arc::clone(&mu), Arc::clone(&queued), Arc::clone(&turns));
                move || {
                    let turn = queued_waiter(&mu, &queued, &turns);
                    assert!(!mu.rwunlock(Write));
                    turn
                }
            });
            let arrival = thread::spawn({
                let (mu, queued, turns) = (Arc::clone(&mu), Arc::clone(&queued), Arc::clone(&turns));
                move || {
                    let arrived = arrival(&mu, &queued, &turns);
                    assert!(!mu.rwunlock(Write));
                    arrived
                }
            });
            assert!(!mu.rwunlock(Write));
            assert_fifo(waiter.join().unwrap(), arrival.join().unwrap());
            assert_quiescent(&mu, 0);
        });
    }

    /// (f) A hand-off to a waiter dropped at any point (before the unlock,
    /// woken but not yet polled, between its count and its registration)
    /// passes the lock on: to the live waiter queued behind it, and after
    /// that (FIFO) to the old holder locking again as a new arrival; or, if
    /// nobody waits, frees it for them. A grant left with nobody would hang
    /// the model; one taken twice, or a reference left behind, shows in the
    /// final word.
    #[test]
    fn dropped_grantee_passes_the_lock_on() {
        check("dropped_grantee_passes_the_lock_on", Some(2), || {
            let mu = Arc::new(FdMutex::new());
            let queued = Arc::new(AtomicBool::new(false));
            let turns = Arc::new(AtomicUsize::new(0));
            assert_eq!(mu.try_rwlock(Write), Ok(true));
            let dropper = thread::spawn({
                let (mu, turns) = (Arc::clone(&mu), Arc::clone(&turns));
                move || {
                    if let Poll::Ready(locked) = poll_once(mu.rwlock(Write)) {
                        locked.unwrap();
                        turns.fetch_add(1, Ordering::Relaxed);
                        assert!(!mu.rwunlock(Write));
                    }
                }
            });
            let waiter = thread::spawn({
                let (mu, queued, turns) = (Arc::clone(&mu), Arc::clone(&queued), Arc::clone(&turns));
                move || {
                    let turn = queued_waiter(&mu, &queued, &turns);
                    assert!(!mu.rwunlock(Write));
                    turn
                }
            });
            assert!(!mu.rwunlock(Write));
            let arrived = arrival(&mu, &queued, &turns);
            assert!(!mu.rwunlock(Write));
            dropper.join().unwrap();
            assert_fifo(waiter.join().unwrap(), arrived);
            assert_quiescent(&mu, 0);
            assert_eq!(mu.try_rwlock(Write), Ok(true));
        });
    }

    /// (g) Two waiters dropped after one poll, then a live one: the grant
    /// is passed along the chain (or the lock freed and taken), and the live
    /// waiter always gets it.
    #[test]
    fn chain_of_dropped_grantees() {
        check("chain_of_dropped_grantees", Some(2), || {
            let mu = Arc::new(FdMutex::new());
            let data = Arc::new(AtomicUsize::new(0));
            assert_eq!(mu.try_rwlock(Read), Ok(true));
            let droppers: Vec<_> = (0..2)
                .map(|_| {
                    let mu = Arc::clone(&mu);
                    thread::spawn(move || {
                        if let Poll::Ready(locked) = poll_once(mu.rwlock(Read)) {
                            locked.unwrap();
                            assert!(!mu.rwunlock(Read));
                        }
                    })
                })
                .collect();
            assert!(!mu.rwunlock(Read));
            locked_increment(&mu, Read, &data);
            for dropper in droppers {
                dropper.join().unwrap();
            }
            assert_eq!(data.load(Ordering::Relaxed), 1);
            assert_quiescent(&mu, 0);
        });
    }

    /// (h) Close racing a hand-off: a holder, a waiter, a closer, and the
    /// holder locking again as an arrival once it has unlocked. The waiter
    /// (woken by the grant's permit or by close's) and the arrival each
    /// either own the lock (the word says so, and they must unlock) or fail
    /// with `Closed` holding nothing; an arrival that saw the waiter queued
    /// is not served before it; references end at zero, and the descriptor
    /// is destroyed exactly once, after every use.
    #[test]
    fn close_races_hand_off() {
        check("close_races_hand_off", Some(2), || {
            let mu = Arc::new(FdMutex::new());
            let fd = Arc::new(Fd::default());
            let queued = Arc::new(AtomicBool::new(false));
            let turns = Arc::new(AtomicUsize::new(0));
            assert_eq!(mu.try_rwlock(Write), Ok(true));
            let waiter = thread::spawn({
                let (mu, fd, queued, turns) = (
                    Arc::clone(&mu),
                    Arc::clone(&fd),
                    Arc::clone(&queued),
                    Arc::clone(&turns),
                );
                move || {
                    let turn = queued_waiter(&mu, &queued, &turns);
                    match turn {
                        Ok(_) => {
                            fd.finish(1);
                            fd.destroy_if(mu.rwunlock(Write));
                        }
                        // Nothing held: nothing to order before destruction.
                        Err(err) => assert_eq!(err, FdMutexError::Closed),
                    }
                    turn
                }
            });
            let closer = thread::spawn({
                let (mu, fd) = (Arc::clone(&mu), Arc::clone(&fd));
                move || {
                    mu.incref_and_close().unwrap();
                    fd.finish(3);
                    fd.destroy_if(mu.decref());
                }
            });
            fd.finish(0);
            fd.destroy_if(mu.rwunlock(Write));
            let arrived = arrival(&mu, &queued, &turns);
            match arrived.1 {
                Ok(_) => {
                    let word = mu.state.load(Ordering::Relaxed);
                    assert_eq!(word & (WLOCK | WGRANT), WLOCK, "{word:#x}: Ok without the lock");
                    fd.finish(2);
                    fd.destroy_if(mu.rwunlock(Write));
                }
                Err(err) => assert_eq!(err, FdMutexError::Closed),
            }
            assert_fifo(waiter.join().unwrap(), arrived);
            closer.join().unwrap();
            fd.assert_destroyed_once_after_use();
            assert_quiescent(&mu, CLOSED);
        });
    }
}
