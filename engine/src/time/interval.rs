//! `Interval`: ticks at a fixed period, with a choice of what to do about
//! ticks missed while the task was busy.

use super::sleep::{deadline_after, sleep_until, Sleep};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What an [`Interval`] does when a tick was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire missed ticks back to back until caught up (tokio's default).
    #[default]
    Burst,
    /// Restart the schedule from now.
    Delay,
    /// Skip missed ticks; stay on the original grid.
    Skip,
}

/// Ticks every `period`, the first tick immediately.
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// ringio::Runtime::new().unwrap().block_on(async {
///     let mut iv = ringio::time::interval(Duration::from_millis(2));
///     iv.tick().await; // immediately
///     iv.tick().await; // 2 ms later
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(super::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```no_run
/// use std::time::{Duration, Instant};
/// let iv = ringio::time::interval_at(Instant::now(), Duration::from_secs(1));
/// assert_eq!(iv.period(), Duration::from_secs(1));
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be non-zero");
    Interval {
        period,
        sleep: sleep_until(start),
        missed: MissedTickBehavior::default(),
    }
}

/// A periodic timer; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    sleep: Sleep,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Poll form of [`Interval::tick`].
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = super::now();
        let after = |t: Instant, d: Duration| t.checked_add(d).unwrap_or_else(|| deadline_after(Duration::MAX));
        let mut next = after(scheduled, self.period);
        if next <= now {
            next = match self.missed {
                MissedTickBehavior::Burst => next,
                MissedTickBehavior::Delay => after(now, self.period),
                MissedTickBehavior::Skip => {
                    let behind = (now - scheduled).as_nanos() / self.period.as_nanos();
                    let ticks = u32::try_from(behind + 1).unwrap_or(u32::MAX);
                    after(scheduled, self.period.saturating_mul(ticks))
                }
            };
        }
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Sets the missed-tick policy.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(deadline_after(self.period));
    }
}
