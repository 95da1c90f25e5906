//! The timer queue: deadlines ordered in a `BTreeMap`, each with the waker of
//! the `Sleep` waiting on it. `Send + Sync` so a `Sleep` may be polled anywhere.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::Waker;
use std::time::Instant;

/// Identifies one registration: deadline plus a tiebreaker.
pub(crate) type TimerKey = (Instant, u64);

#[derive(Default)]
pub(crate) struct Timers {
    state: Mutex<State>,
    /// Registrations in `state`, so the scheduler's turn skips the lock and
    /// the clock entirely when no timer is armed.
    armed: AtomicUsize,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<TimerKey, Waker>,
    next_id: u64,
}

impl Timers {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn register(&self, deadline: Instant, waker: Waker) -> TimerKey {
        let mut st = self.lock();
        st.next_id += 1;
        let key = (deadline, st.next_id);
        st.entries.insert(key, waker);
        self.armed.store(st.entries.len(), Ordering::Release);
        key
    }

    /// Refreshes the waker; false if the timer already fired.
    pub(crate) fn update(&self, key: TimerKey, waker: &Waker) -> bool {
        match self.lock().entries.get_mut(&key) {
            Some(w) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn cancel(&self, key: TimerKey) {
        let mut st = self.lock();
        st.entries.remove(&key);
        self.armed.store(st.entries.len(), Ordering::Release);
    }

    fn is_empty(&self) -> bool {
        // Acquire: pairs with the Release stores above; a timer registered
        // by another thread is seen at the latest on the turn after its
        // unpark.
        self.armed.load(Ordering::Acquire) == 0
    }

    /// Wakes every timer that is due; returns the time it read, if any
    /// timer was armed (`None`: it did not read the clock).
    pub(crate) fn fire(&self) -> Option<Instant> {
        if self.is_empty() {
            return None;
        }
        let now = super::now();
        let due = {
            let mut st = self.lock();
            match st.entries.first_key_value() {
                Some((k, _)) if k.0 <= now => {}
                _ => return Some(now),
            }
            let later = st.entries.split_off(&(now, u64::MAX));
            let due = std::mem::replace(&mut st.entries, later);
            self.armed.store(st.entries.len(), Ordering::Release);
            due
        };
        due.into_values().for_each(Waker::wake);
        Some(now)
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.is_empty() {
            return None;
        }
        self.lock().entries.first_key_value().map(|(k, _)| k.0)
    }

    pub(crate) fn clear(&self) {
        let entries = {
            let mut st = self.lock();
            self.armed.store(0, Ordering::Release);
            std::mem::take(&mut st.entries)
        };
        drop(entries);
    }
}
