//! `Slot`: where one in-flight operation's completion meets its future. The
//! lifecycle of an operation is the state of its slot, and the slot owns
//! every transition:
//!
//! ```text
//!            alloc                complete (owner, on its last CQE)
//!   Free ──────────► Pending ───────────────────────────────► Done
//!    ▲                  │                                        │
//!    │                  │ orphan (its future was dropped)        │ take (the future)
//!    │                  ▼                                        ▼
//!    └──── release ── Orphaned ─── (owner, on its last CQE) ── release
//! ```
//!
//! The future may be polled, and dropped, on any thread, while the driver
//! completes slots on the ring's owner thread, so the state is one atomic
//! word, with a generation that changes on every reuse: a stale handle (a
//! cancel for an operation whose slot was reused) never matches. The
//! completion is published with the state (Release/Acquire); the future's
//! waker lives in an `AtomicWaker`. Slot memory never moves or goes away
//! while the driver lives (see [`super::slots`]).

use crate::op::Completion;
use atomic_waker::AtomicWaker;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};

/// The state bits of a slot's word; the generation is the rest.
const STATE: u32 = 0b11;
const FREE: u32 = 0;
const PENDING: u32 = 1;
const DONE: u32 = 2;
const ORPHANED: u32 = 3;
/// One generation.
const GEN: u32 = 1 << 2;

/// One slot; see the module docs.
#[derive(Default)]
pub(crate) struct Slot {
    /// Generation and state.
    word: AtomicU32,
    /// The completion, valid once the state is `Done`.
    completion: AtomicU64,
    waker: AtomicWaker,
    /// Submitted, or polled, from a thread other than the ring's owner: its
    /// future is not one of the owner's tasks, so it is cancelled when the
    /// owner goes idle (nothing would reap its completion).
    foreign: AtomicBool,
    /// Link of the free list (see `slots.rs`); meaningful while `Free`.
    pub(super) next_free: AtomicU32,
}

/// What the owner found when it completed a slot.
pub(crate) enum Completed {
    /// The future will take the completion.
    Delivered,
    /// The future was dropped: the completion is the driver's to dispose of.
    Orphaned,
}

/// Names one use of one slot: its index (the `user_data` low half) and the
/// generation it had when allocated (the high half).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub index: u32,
    pub generation: u32,
}

impl Ticket {
    /// The `user_data` an SQE of this operation carries.
    pub(crate) fn user_data(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    pub(crate) fn from_user_data(user_data: u64) -> Ticket {
        Ticket {
            index: user_data as u32,
            generation: (user_data >> 32) as u32,
        }
    }
}

fn pack(c: Completion) -> u64 {
    (u64::from(c.flags) << 32) | u64::from(c.result as u32)
}

fn unpack(v: u64) -> Completion {
    Completion {
        result: v as u32 as i32,
        flags: (v >> 32) as u32,
    }
}

impl Slot {
    /// A free slot just taken off the free list becomes `Pending` for a new
    /// operation; returns its ticket. Only the allocator, which holds the
    /// slot exclusively, calls this.
    pub(super) fn start(&self, index: u32) -> Ticket {
        // Relaxed: the slot is exclusively ours (just popped); the future
        // that gets the ticket is handed over with its own synchronisation.
        let generation = self.word.load(Ordering::Relaxed) & !STATE;
        self.word.store(generation | PENDING, Ordering::Relaxed);
        Ticket { index, generation }
    }

    /// Back to `Free`, one generation on. Whoever ends the slot's use (the
    /// future that took the completion, or the driver for an orphan) calls
    /// this, once, and then puts the index on the free list.
    pub(super) fn reset(&self) {
        // Relaxed: nobody else holds this use of the slot any more; the free
        // list's CAS publishes the slot to its next user.
        let generation = self.word.load(Ordering::Relaxed) & !STATE;
        self.foreign.store(false, Ordering::Relaxed);
        self.word.store(generation.wrapping_add(GEN) | FREE, Ordering::Relaxed);
    }

    /// Records that a thread other than the owner submitted or polled the
    /// operation. Relaxed: read by the owner only when it goes idle, after
    /// the foreign thread's poll reached it through a waker or the queue.
    pub(crate) fn mark_foreign(&self) {
        if !self.foreign.load(Ordering::Relaxed) {
            self.foreign.store(true, Ordering::Relaxed);
        }
    }

    pub(crate) fn is_foreign(&self) -> bool {
        self.foreign.load(Ordering::Relaxed)
    }

    /// Whether the future of `ticket`'s operation was dropped.
    pub(crate) fn is_orphaned(&self, ticket: Ticket) -> bool {
        // Acquire: pairs with the Release in `orphan`.
        self.word.load(Ordering::Acquire) == ticket.generation | ORPHANED
    }

    /// The ticket of the operation using slot `index`, if one is.
    pub(crate) fn live_ticket(&self, index: u32) -> Option<Ticket> {
        // Relaxed: read by the owner, which put the slot in this state itself
        // or learned of it through the remote queue.
        let word = self.word.load(Ordering::Relaxed);
        matches!(word & STATE, PENDING | ORPHANED).then_some(Ticket {
            index,
            generation: word & !STATE,
        })
    }

    /// Whether the slot is in use (for statistics).
    pub(crate) fn in_use(&self) -> bool {
        self.word.load(Ordering::Relaxed) & STATE != FREE
    }

    /// The owner's side of the last CQE: publishes `c` and wakes the future,
    /// or reports that the future is gone.
    pub(crate) fn complete(&self, ticket: Ticket, c: Completion) -> Completed {
        // Relaxed: published by the Release CAS below.
        self.completion.store(pack(c), Ordering::Relaxed);
        let pending = ticket.generation | PENDING;
        // Release: a future that sees `Done` sees the completion. Acquire
        // on failure: the slot is `Orphaned`, set by the dropping thread.
        match self
            .word
            .compare_exchange(pending, ticket.generation | DONE, Ordering::Release, Ordering::Acquire)
        {
            Ok(_) => {
                self.waker.wake();
                Completed::Delivered
            }
            Err(now) => {
                debug_assert_eq!(
                    now,
                    ticket.generation | ORPHANED,
                    "completion for a slot in the wrong state"
                );
                Completed::Orphaned
            }
        }
    }

    /// The future's poll: the completion once it is there (the caller then
    /// releases the slot), else registers `cx`'s waker.
    pub(crate) fn poll(&self, ticket: Ticket, cx: &mut Context<'_>) -> Poll<Completion> {
        if let Some(c) = self.take(ticket) {
            return Poll::Ready(c);
        }
        self.waker.register(cx.waker());
        // Checked again after registering: a completion published in between
        // either is seen here or wakes the waker just registered.
        match self.take(ticket) {
            Some(c) => Poll::Ready(c),
            None => Poll::Pending,
        }
    }

    fn take(&self, ticket: Ticket) -> Option<Completion> {
        // Acquire: pairs with the Release in `complete`.
        let word = self.word.load(Ordering::Acquire);
        (word == ticket.generation | DONE).then(|| unpack(self.completion.load(Ordering::Relaxed)))
    }

    /// The future is being dropped before it took a completion: marks the
    /// slot orphaned, so the driver disposes of the last CQE. `Err` with the
    /// completion if it arrived first (the caller disposes of it and
    /// releases the slot).
    pub(crate) fn orphan(&self, ticket: Ticket) -> Result<(), Completion> {
        // Release: pairs with `is_orphaned`'s Acquire (the orphan's data
        // itself travels to the owner through its own synchronisation).
        // Acquire on failure: pairs with `complete`'s Release.
        match self.word.compare_exchange(
            ticket.generation | PENDING,
            ticket.generation | ORPHANED,
            Ordering::Release,
            Ordering::Acquire,
        ) {
            Ok(_) => Ok(()),
            Err(now) => {
                debug_assert_eq!(now, ticket.generation | DONE, "orphaning a slot in the wrong state");
                Err(unpack(self.completion.load(Ordering::Relaxed)))
            }
        }
    }

    /// A multishot stream is being dropped: marks its slot orphaned if it
    /// is still pending, so later CQEs go to the orphan handler. Unlike
    /// [`Slot::orphan`], finding it otherwise is no error: a stream that
    /// closed its queue first may have had its last CQE refused there and
    /// handed to the orphan handler, which released the slot (the ticket is
    /// stale then, and the slot may be in use again).
    pub(crate) fn orphan_stream(&self, ticket: Ticket) {
        // Release: as in `orphan`. A failed exchange changes nothing.
        let _ = self.word.compare_exchange(
            ticket.generation | PENDING,
            ticket.generation | ORPHANED,
            Ordering::Release,
            Ordering::Relaxed,
        );
    }

    /// Whether `ticket` still names a live (not yet reaped) use of this slot:
    /// the guard that keeps a late cancel off a slot that was reused.
    pub(crate) fn is_live(&self, ticket: Ticket) -> bool {
        // Relaxed: a hint for whether a cancel is worth sending; a cancel for
        // a finished operation finds nothing in the kernel anyway (ENOENT).
        let word = self.word.load(Ordering::Relaxed);
        word == ticket.generation | PENDING || word == ticket.generation | ORPHANED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn c(result: i32) -> Completion {
        Completion { result, flags: 7 }
    }

    #[test]
    fn completion_reaches_the_future() {
        let slot = Slot::default();
        let t = slot.start(3);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(slot.poll(t, &mut cx).is_pending());
        assert!(matches!(slot.complete(t, c(-5)), Completed::Delivered));
        assert_eq!(slot.poll(t, &mut cx), Poll::Ready(c(-5)));
        slot.reset();
        let t2 = slot.start(3);
        assert_ne!(t, t2, "a reused slot has a new generation");
        assert!(!slot.is_live(t) && slot.is_live(t2));
    }

    #[test]
    fn an_orphan_leaves_the_completion_to_the_driver() {
        let slot = Slot::default();
        let t = slot.start(0);
        assert_eq!(slot.orphan(t), Ok(()));
        assert!(slot.is_live(t));
        assert!(matches!(slot.complete(t, c(1)), Completed::Orphaned));
    }

    #[test]
    fn a_completion_that_came_first_goes_to_the_dropping_future() {
        let slot = Slot::default();
        let t = slot.start(0);
        assert!(matches!(slot.complete(t, c(9)), Completed::Delivered));
        assert_eq!(slot.orphan(t), Err(c(9)));
    }

    #[test]
    fn orphaning_a_stream_whose_slot_moved_on_changes_nothing() {
        let slot = Slot::default();
        let t = slot.start(0);
        slot.orphan_stream(t);
        assert!(slot.is_live(t), "orphaned, still live");
        slot.reset();
        let t2 = slot.start(0);
        slot.orphan_stream(t);
        assert!(slot.is_live(t2) && !slot.is_live(t));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            matches!(slot.complete(t2, c(4)), Completed::Delivered),
            "the new use is untouched"
        );
        assert_eq!(slot.poll(t2, &mut cx), Poll::Ready(c(4)));
    }

    #[test]
    fn user_data_round_trips() {
        let t = Ticket {
            index: 0xdead,
            generation: 0xbeef << 2,
        };
        assert_eq!(Ticket::from_user_data(t.user_data()), t);
        let c = Completion {
            result: -125,
            flags: 0xffff_0003,
        };
        assert_eq!(unpack(pack(c)), c);
    }
}
