//! The timer queue: deadlines ordered in a `BTreeMap`, each with the waker of
//! the `Sleep` waiting on it. `Send + Sync` so a `Sleep` may be polled anywhere.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::task::Waker;
use std::time::Instant;

/// Identifies one registration: deadline plus a tiebreaker.
pub(crate) type TimerKey = (Instant, u64);

#[derive(Default)]
pub(crate) struct Timers {
    state: Mutex<State>,
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
        self.lock().entries.remove(&key);
    }

    /// Wakes every timer due at `now`.
    pub(crate) fn fire(&self, now: Instant) {
        let due = {
            let mut st = self.lock();
            match st.entries.first_key_value() {
                Some((k, _)) if k.0 <= now => {}
                _ => return,
            }
            let later = st.entries.split_off(&(now, u64::MAX));
            std::mem::replace(&mut st.entries, later)
        };
        due.into_values().for_each(Waker::wake);
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.lock().entries.first_key_value().map(|(k, _)| k.0)
    }

    pub(crate) fn clear(&self) {
        let entries = std::mem::take(&mut self.lock().entries);
        drop(entries);
    }
}
