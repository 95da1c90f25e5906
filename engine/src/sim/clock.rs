//! Virtual time: the simulation's clock and its queue of future events.
//!
//! Time moves only when the driver's turn finds every task idle; it then
//! jumps to whichever comes first, the next network event or the runtime's
//! next timer. So a test that sleeps for an hour takes no real time.
//! Events due at the same instant run in an order drawn from the seed.

use super::rng::Rng;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The clock and the events scheduled on it.
pub(crate) struct Clock<E> {
    /// What `Duration::ZERO` of virtual time is as an `Instant`, so the
    /// runtime's timers (which hold `Instant`s) work unchanged.
    origin: Instant,
    now: Duration,
    seq: u64,
    /// Keyed by (due time, seeded tie-break, insertion order).
    events: BTreeMap<(Duration, u64, u64), E>,
}

impl<E> Clock<E> {
    pub(crate) fn new() -> Clock<E> {
        Clock {
            origin: Instant::now(),
            now: Duration::ZERO,
            seq: 0,
            events: BTreeMap::new(),
        }
    }

    /// Virtual time since the simulation started.
    pub(crate) fn now(&self) -> Duration {
        self.now
    }

    /// The virtual now as an `Instant`.
    pub(crate) fn instant(&self) -> Instant {
        self.origin + self.now
    }

    /// `instant` as virtual time (instants before the start count as zero).
    pub(crate) fn since_origin(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.origin)
    }

    /// Schedules `event` at `at` (or now, if `at` has passed); among events
    /// due at the same instant it takes a place drawn from `rng`.
    pub(crate) fn schedule(&mut self, rng: &mut Rng, at: Duration, event: E) {
        let place = rng.next_u64();
        self.schedule_in(place, at, event);
    }

    /// Schedules `event` at `at` in lane `lane`: events of one lane due at
    /// the same instant keep their order (a path's datagrams).
    pub(crate) fn schedule_in(&mut self, lane: u64, at: Duration, event: E) {
        self.seq += 1;
        self.events.insert((at.max(self.now), lane, self.seq), event);
    }

    /// When the next event is due.
    pub(crate) fn next_due(&self) -> Option<Duration> {
        self.events.first_key_value().map(|(k, _)| k.0)
    }

    /// The next event due by now.
    pub(crate) fn pop_due(&mut self) -> Option<E> {
        match self.events.first_key_value() {
            Some((k, _)) if k.0 <= self.now => self.events.pop_first().map(|(_, e)| e),
            _ => None,
        }
    }

    /// Moves time forward to `to` (never back).
    pub(crate) fn advance_to(&mut self, to: Duration) {
        self.now = self.now.max(to);
    }
}
