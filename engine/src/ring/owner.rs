//! `Owned<T>`: state that only the thread driving a ring touches, with no
//! lock. The one place the driver's "no lock on the owner thread" rests on.
//!
//! A ring is driven by one thread at a time: the runtime thread that built
//! it, or, for a hosted ring, whichever thread is inside its turn (turns
//! exclude each other). That thread is recorded in a thread-local
//! ([`OwnerGuard`]); every access checks it, so another thread can never
//! reach the state, and a flag catches a re-entrant access (a callback run
//! while the state is borrowed), so no two `&mut` to it ever exist.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// Id of the ring this thread drives right now (0: none).
    static DRIVING: Cell<usize> = const { Cell::new(0) };
}

/// Whether the calling thread drives the ring `id`.
pub(crate) fn is_owner(id: usize) -> bool {
    DRIVING.with(|d| d.get()) == id
}

/// Makes the calling thread the driver of ring `id` until dropped (then
/// restores what it replaced).
#[must_use = "the thread drives the ring only while the guard lives"]
pub(crate) struct OwnerGuard {
    previous: usize,
}

impl OwnerGuard {
    pub(crate) fn enter(id: usize) -> OwnerGuard {
        OwnerGuard {
            previous: DRIVING.with(|d| d.replace(id)),
        }
    }

    /// Clears the thread's ring, whatever it is (the thread leaves its runtime).
    pub(crate) fn leave() -> OwnerGuard {
        Self::enter(0)
    }
}

impl Drop for OwnerGuard {
    fn drop(&mut self) {
        DRIVING.with(|d| d.set(self.previous));
    }
}

/// State of ring `id` that only its driving thread may touch; see the module docs.
pub(crate) struct Owned<T> {
    id: usize,
    /// Set while `value` is borrowed. Only the owner reads or writes it, so
    /// Relaxed loads and stores (no read-modify-write) are enough; it is an
    /// atomic only so that `Owned` may be shared.
    borrowed: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is only reached through `with`, which runs solely on the
// thread currently driving ring `id` (checked on every call) and never twice
// at once on it (the `borrowed` flag); so it is never accessed from two
// threads at once, and moving that access between threads (a hosted ring's
// turns) moves a `T: Send`.
unsafe impl<T: Send> Sync for Owned<T> {}

impl<T> Owned<T> {
    pub(crate) fn new(id: usize, value: T) -> Owned<T> {
        Owned {
            id,
            borrowed: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` with the state.
    ///
    /// # Panics
    ///
    /// If the calling thread does not drive the ring, or if called from
    /// inside `f`: both are bugs of the driver, which must keep callbacks
    /// that may re-enter it (wakers, dropping operation data) out of `f`.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        assert!(
            is_owner(self.id),
            "ring state touched from a thread that does not drive it"
        );
        assert!(!self.borrowed.load(Ordering::Relaxed), "ring state borrowed twice");
        self.borrowed.store(true, Ordering::Relaxed);
        let _release = Release(&self.borrowed);
        // SAFETY: the checks above make this the only live reference: we are
        // on the one thread that may touch `value`, and not inside another
        // `with` on it (a panic in `f` leaves `borrowed` cleared by `_release`
        // only after the borrow below is gone).
        f(unsafe { &mut *self.value.get() })
    }
}

/// Clears the borrow flag when `with` ends, also by unwinding.
struct Release<'a>(&'a AtomicBool);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_driving_thread_gets_in() {
        let owned = std::sync::Arc::new(Owned::new(7, 1u32));
        {
            let _driving = OwnerGuard::enter(7);
            owned.with(|v| *v += 1);
            assert_eq!(owned.with(|v| *v), 2);
        }
        let other = owned.clone();
        let res = std::thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| other.with(|v| *v))).is_err()
        })
        .join()
        .unwrap();
        assert!(res, "another thread got in");
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| owned.with(|v| *v)));
        assert!(res.is_err(), "the thread left the ring and still got in");
    }

    #[test]
    fn a_reentrant_borrow_panics_and_the_state_stays_usable() {
        let owned = Owned::new(9, 0u32);
        let _driving = OwnerGuard::enter(9);
        let nested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| owned.with(|_| owned.with(|_| ()))));
        assert!(nested.is_err());
        assert_eq!(owned.with(|v| *v), 0);
    }
}
