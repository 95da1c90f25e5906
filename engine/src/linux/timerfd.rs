//! `TimerFd`: a kernel timer (`timerfd_create(2)`) on a chosen clock, armed
//! relative or absolute, one-shot or periodic, whose expirations a task
//! awaits as a count.

use crate::fd::{Fd, Interest};
use rustix::time::{ClockId, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

/// The clock a [`TimerFd`] measures.
///
/// # Examples
///
/// ```
/// let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Realtime)?;
/// assert_eq!(timer.clock(), ringio::linux::Clock::Realtime);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clock {
    /// `CLOCK_MONOTONIC`: never jumps; stops while the system is suspended.
    /// The clock of [`std::time::Instant`].
    Monotonic,
    /// `CLOCK_REALTIME`: wall-clock time since the Unix epoch; jumps when the
    /// system time is set. The clock of [`std::time::SystemTime`].
    Realtime,
    /// `CLOCK_BOOTTIME`: like `Monotonic`, but counts suspended time too.
    Boottime,
}

impl Clock {
    fn timerfd_id(self) -> TimerfdClockId {
        match self {
            Clock::Monotonic => TimerfdClockId::Monotonic,
            Clock::Realtime => TimerfdClockId::Realtime,
            Clock::Boottime => TimerfdClockId::Boottime,
        }
    }

    fn id(self) -> ClockId {
        match self {
            Clock::Monotonic => ClockId::Monotonic,
            Clock::Realtime => ClockId::Realtime,
            Clock::Boottime => ClockId::Boottime,
        }
    }
}

/// A `timerfd` timer: arm it with [`set_after`](TimerFd::set_after) or
/// [`set_at`](TimerFd::set_at), await expirations with
/// [`tick`](TimerFd::tick).
///
/// [`tick`](TimerFd::tick) returns how many times the timer expired since
/// the last tick (more than 1 when a periodic timer's ticks were not
/// collected in time, or when it was armed at a time already passed). A
/// deadline in the past fires at once; a periodic timer armed in the past
/// counts every period since that deadline. Re-arming resets the count.
///
/// Created `TFD_CLOEXEC | TFD_NONBLOCK`. `TimerFd` is `Send + Sync`; close it
/// with [`close`](TimerFd::close) (idempotent; a pending `tick` fails with
/// [`Error::Closed`](crate::Error::Closed)) or by dropping it.
///
/// # Examples
///
/// A periodic timer:
///
/// ```no_run
/// use ringio::linux::{Clock, TimerFd};
/// use std::time::Duration;
/// ringio::Runtime::new()?.block_on(async {
///     let timer = TimerFd::new(Clock::Monotonic)?;
///     timer.set_after(Duration::from_millis(10), Some(Duration::from_millis(10)))?;
///     let mut ticks = 0;
///     while ticks < 3 {
///         ticks += timer.tick().await?;
///     }
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TimerFd {
    fd: Fd,
    clock: Clock,
}

impl TimerFd {
    /// A disarmed timer on `clock`.
    ///
    /// # Errors
    ///
    /// Any error of `timerfd_create(2)` (`EMFILE`, `ENFILE`, `ENOMEM`).
    ///
    /// # Examples
    ///
    /// ```
    /// let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Monotonic)?;
    /// assert_eq!(timer.try_tick()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(clock: Clock) -> io::Result<TimerFd> {
        let fd = rustix::time::timerfd_create(clock.timerfd_id(), TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK)?;
        Ok(TimerFd {
            fd: Fd::adopt(fd, true),
            clock,
        })
    }

    /// The timer's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{Clock, TimerFd};
    /// assert_eq!(TimerFd::new(Clock::Boottime)?.clock(), Clock::Boottime);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The current time of the timer's clock (what [`set_at`](TimerFd::set_at)
    /// takes): since boot for `Monotonic` and `Boottime`, since the Unix epoch
    /// for `Realtime`.
    ///
    /// # Examples
    ///
    /// ```
    /// let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Monotonic)?;
    /// assert!(timer.now() > std::time::Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn now(&self) -> Duration {
        let ts = rustix::time::clock_gettime(self.clock.id());
        Duration::try_from(ts).unwrap_or(Duration::ZERO)
    }

    /// Arms the timer to expire after `delay`, then every `interval` if
    /// given (`None`, or zero: once). A zero `delay` expires at once.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed); `EINVAL` for durations past
    /// what the kernel accepts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Monotonic)?;
    /// timer.set_after(Duration::ZERO, None)?;
    /// std::thread::sleep(Duration::from_millis(1));
    /// assert_eq!(timer.try_tick()?, Some(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_after(&self, delay: Duration, interval: Option<Duration>) -> io::Result<()> {
        self.set(TimerfdTimerFlags::empty(), delay, interval)
    }

    /// Arms the timer to expire when the clock reads `time` (see
    /// [`now`](TimerFd::now)), then every `interval` if given. A `time`
    /// already passed expires at once, counting, for a periodic timer, every
    /// interval since `time`.
    ///
    /// # Errors
    ///
    /// As for [`set_after`](TimerFd::set_after).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::linux::{Clock, TimerFd};
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// ringio::Runtime::new()?.block_on(async {
    ///     let timer = TimerFd::new(Clock::Realtime)?;
    ///     let at = SystemTime::now() + Duration::from_millis(5);
    ///     timer.set_at(at.duration_since(UNIX_EPOCH).unwrap(), None)?;
    ///     assert_eq!(timer.tick().await?, 1);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_at(&self, time: Duration, interval: Option<Duration>) -> io::Result<()> {
        self.set(TimerfdTimerFlags::ABSTIME, time, interval)
    }

    /// Disarms the timer: no expiration until it is set again.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Monotonic)?;
    /// timer.set_after(Duration::from_secs(60), None)?;
    /// timer.disarm()?;
    /// assert_eq!(timer.remaining()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn disarm(&self) -> io::Result<()> {
        let zero = Itimerspec {
            it_interval: timespec(Duration::ZERO),
            it_value: timespec(Duration::ZERO),
        };
        let guard = self.fd.incref()?;
        rustix::time::timerfd_settime(&guard, TimerfdTimerFlags::empty(), &zero)?;
        Ok(())
    }

    /// Time left until the next expiration, or `None` if disarmed.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Monotonic)?;
    /// timer.set_after(Duration::from_secs(60), None)?;
    /// assert!(timer.remaining()?.unwrap() > Duration::from_secs(59));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remaining(&self) -> io::Result<Option<Duration>> {
        let guard = self.fd.incref()?;
        let current = rustix::time::timerfd_gettime(&guard)?;
        let left = Duration::try_from(current.it_value).unwrap_or(Duration::ZERO);
        Ok(Some(left).filter(|d| !d.is_zero()))
    }

    fn set(&self, flags: TimerfdTimerFlags, value: Duration, interval: Option<Duration>) -> io::Result<()> {
        let spec = Itimerspec {
            it_interval: timespec(interval.unwrap_or(Duration::ZERO)),
            // An all-zero value disarms the timer: a deadline of zero (right
            // now, or the clock's epoch) is in the past and must fire instead.
            it_value: timespec(value.max(Duration::from_nanos(1))),
        };
        let guard = self.fd.incref()?;
        rustix::time::timerfd_settime(&guard, flags, &spec)?;
        Ok(())
    }

    /// Waits for the timer to expire and returns how many times it has since
    /// the last tick (at least 1). Waits forever on a disarmed timer, until
    /// it is set or closed.
    ///
    /// Cancel-safe: a dropped `tick` collects nothing; the count carries over.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if the handle is or gets
    /// closed; [`Error::NoRuntime`](crate::Error::NoRuntime) outside a
    /// runtime; `ECANCELED` if the realtime clock was set under an absolute
    /// timer armed with cancel-on-set (not done by this API).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// ringio::Runtime::new()?.block_on(async {
    ///     let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Monotonic)?;
    ///     timer.set_after(Duration::from_millis(1), None)?;
    ///     assert_eq!(timer.tick().await?, 1);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn tick(&self) -> io::Result<u64> {
        self.fd.async_io(Interest::READABLE, read_expirations).await
    }

    /// The expirations since the last tick, if any, without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Monotonic)?;
    /// assert_eq!(timer.try_tick()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_tick(&self) -> io::Result<Option<u64>> {
        let guard = self.fd.incref()?;
        match read_expirations(guard.as_fd()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            res => res.map(Some),
        }
    }

    /// Closes the timer once the operations in flight are done; see
    /// [`Fd::close`]. Idempotent.
    ///
    /// # Errors
    ///
    /// None today (see [`Fd::close`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Monotonic)?;
    ///     timer.close().await?;
    ///     assert!(ringio::Error::is_closed(&timer.tick().await.unwrap_err()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn close(&self) -> io::Result<()> {
        self.fd.close().await
    }

    /// The underlying descriptor handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let timer = ringio::linux::TimerFd::new(ringio::linux::Clock::Monotonic)?;
    /// assert!(timer.fd().raw() >= 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fd(&self) -> &Fd {
        &self.fd
    }
}

/// A `Timespec` for `d`, saturating at the largest one the kernel takes.
fn timespec(d: Duration) -> Timespec {
    Timespec::try_from(d).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 999_999_999,
    })
}

/// One non-blocking `read(2)` of the 8-byte expiration count.
fn read_expirations(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut count = [0u8; 8];
    let n = rustix::io::read(fd, &mut count)?;
    debug_assert_eq!(n, 8, "timerfd reads are all or nothing");
    Ok(u64::from_ne_bytes(count))
}
