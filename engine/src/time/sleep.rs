//! `Sleep`: a future that completes at a deadline, never before it.

use super::timers::{TimerKey, Timers};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has elapsed. A duration too large to add to the
/// clock (`Duration::MAX`) saturates to a deadline decades away.
///
/// # Panics
///
/// When polled outside a ringio runtime.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new().unwrap().block_on(async {
///     ringio::time::sleep(std::time::Duration::from_millis(5)).await;
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(deadline_after(duration))
}

/// `now + duration`, saturating at a deadline about 30 years away (as tokio
/// does): `sleep(Duration::MAX)` waits "forever" instead of panicking.
pub(crate) fn deadline_after(duration: Duration) -> Instant {
    let now = super::now();
    now.checked_add(duration).unwrap_or_else(|| far_future(now))
}

fn far_future(now: Instant) -> Instant {
    const THIRTY_YEARS: Duration = Duration::from_secs(86_400 * 365 * 30);
    now.checked_add(THIRTY_YEARS).unwrap_or(now)
}

/// Waits until `deadline`.
///
/// # Examples
///
/// ```no_run
/// use std::time::{Duration, Instant};
/// ringio::Runtime::new().unwrap().block_on(async {
///     ringio::time::sleep_until(Instant::now() + Duration::from_millis(5)).await;
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        registration: None,
    }
}

/// Future returned by [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    registration: Option<(Arc<Timers>, TimerKey)>,
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Timers")
    }
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        super::now() >= self.deadline
    }

    /// Moves the deadline (works before or after completion).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut s = ringio::time::sleep(Duration::from_secs(60));
    /// let soon = Instant::now() + Duration::from_millis(1);
    /// s.reset(soon);
    /// assert_eq!(s.deadline(), soon);
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline;
    }

    fn deregister(&mut self) {
        if let Some((timers, key)) = self.registration.take() {
            timers.cancel(key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if super::now() >= self.deadline {
            self.deregister();
            return Poll::Ready(());
        }
        if let Some((timers, key)) = &self.registration {
            if timers.update(*key, cx.waker()) {
                return Poll::Pending;
            }
            // Fired, but woke us a hair before `now` caught up: register again.
        }
        let timers = crate::runtime::context::timers().expect("ringio::time used outside of a ringio runtime");
        let key = timers.register(self.deadline, cx.waker().clone());
        self.registration = Some((timers, key));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}
