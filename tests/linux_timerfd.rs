//! `TimerFd`: relative and absolute, one-shot and periodic, on the monotonic
//! and realtime clocks; deadlines in the past (which must fire, not disarm
//! or hang); disarming; re-arming; close.
#![cfg(target_os = "linux")]

use ringio::linux::{Clock, TimerFd};
use ringio_tests::{runtime, STEP};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MS: Duration = Duration::from_millis(1);
/// "At once", with room for a loaded machine; the deadlines tested are in
/// the past, so the only way to take this long is not to fire.
const AT_ONCE: Duration = Duration::from_secs(1);

#[test]
fn a_one_shot_relative_timer_fires_once_after_its_delay() {
    runtime().block_on(async {
        let timer = TimerFd::new(Clock::Monotonic).unwrap();
        let start = Instant::now();
        timer.set_after(20 * MS, None).unwrap();
        assert!(timer.remaining().unwrap().is_some());
        assert_eq!(timer.tick().await.unwrap(), 1);
        assert!(start.elapsed() >= 20 * MS, "fired early: {:?}", start.elapsed());
        assert_eq!(timer.remaining().unwrap(), None, "a one-shot timer is spent");
        assert!(ringio::time::timeout(20 * MS, timer.tick()).await.is_err());
    });
}

#[test]
fn a_periodic_timer_keeps_ticking() {
    runtime().block_on(async {
        let timer = TimerFd::new(Clock::Monotonic).unwrap();
        timer.set_after(2 * MS, Some(2 * MS)).unwrap();
        let mut expirations = 0;
        let mut ticks = 0;
        while expirations < 5 {
            expirations += ringio::time::timeout(STEP, timer.tick()).await.unwrap().unwrap();
            ticks += 1;
        }
        assert!(ticks >= 2);
        timer.disarm().unwrap();
        assert_eq!(timer.remaining().unwrap(), None);
    });
}

#[test]
fn an_absolute_deadline_in_the_past_fires_at_once() {
    runtime().block_on(async {
        let timer = TimerFd::new(Clock::Monotonic).unwrap();
        timer.set_at(timer.now() - Duration::from_secs(1), None).unwrap();
        let count = ringio::time::timeout(AT_ONCE, timer.tick())
            .await
            .expect("did not fire");
        assert_eq!(count.unwrap(), 1);
    });
}

#[test]
fn a_periodic_timer_armed_in_the_past_counts_the_missed_periods() {
    runtime().block_on(async {
        let timer = TimerFd::new(Clock::Monotonic).unwrap();
        timer.set_at(timer.now() - 100 * MS, Some(10 * MS)).unwrap();
        let count = ringio::time::timeout(AT_ONCE, timer.tick())
            .await
            .expect("did not fire");
        let count = count.unwrap();
        // ~11 (100 ms / 10 ms, plus the one at the deadline); more only if
        // this thread was descheduled for a while.
        assert!((10..=50).contains(&count), "expected ~11 expirations, got {count}");
    });
}

/// Zero is the one value `timerfd_settime` reads as "disarm"; both a zero
/// delay and the clock's epoch are in the past, so both must fire.
#[test]
fn zero_delay_and_the_epoch_fire_instead_of_disarming() {
    runtime().block_on(async {
        let timer = TimerFd::new(Clock::Monotonic).unwrap();
        timer.set_after(Duration::ZERO, None).unwrap();
        let count = ringio::time::timeout(AT_ONCE, timer.tick())
            .await
            .expect("zero delay disarmed");
        assert_eq!(count.unwrap(), 1);
        timer.set_at(Duration::ZERO, None).unwrap();
        let count = ringio::time::timeout(AT_ONCE, timer.tick())
            .await
            .expect("epoch disarmed");
        assert_eq!(count.unwrap(), 1);
    });
}

#[test]
fn a_realtime_timer_takes_system_time() {
    runtime().block_on(async {
        let timer = TimerFd::new(Clock::Realtime).unwrap();
        let at = SystemTime::now() + 5 * MS;
        timer.set_at(at.duration_since(UNIX_EPOCH).unwrap(), None).unwrap();
        assert_eq!(ringio::time::timeout(STEP, timer.tick()).await.unwrap().unwrap(), 1);
        assert!(SystemTime::now() >= at);
    });
}

#[test]
fn a_disarmed_timer_never_ticks() {
    runtime().block_on(async {
        let timer = TimerFd::new(Clock::Boottime).unwrap();
        assert!(ringio::time::timeout(20 * MS, timer.tick()).await.is_err());
        timer.set_after(5 * MS, None).unwrap();
        timer.disarm().unwrap();
        assert!(ringio::time::timeout(20 * MS, timer.tick()).await.is_err());
    });
}

#[test]
fn re_arming_resets_the_count() {
    runtime().block_on(async {
        let timer = TimerFd::new(Clock::Monotonic).unwrap();
        timer.set_after(MS, Some(MS)).unwrap();
        ringio::time::sleep(10 * MS).await;
        timer.set_after(Duration::from_secs(3600), None).unwrap();
        assert_eq!(timer.try_tick().unwrap(), None);
    });
}

#[test]
fn close_fails_a_pending_tick_and_is_idempotent() {
    runtime().block_on(async {
        let timer = Rc::new(TimerFd::new(Clock::Monotonic).unwrap());
        timer.set_after(Duration::from_secs(3600), None).unwrap();
        let pending = {
            let timer = timer.clone();
            ringio::spawn(async move { timer.tick().await })
        };
        ringio::runtime::yield_now().await;
        let (a, b) = (timer.close(), timer.close());
        a.await.unwrap();
        b.await.unwrap();
        let res = ringio::time::timeout(STEP, pending).await.expect("tick not cancelled");
        assert!(ringio::Error::is_closed(&res.unwrap().unwrap_err()));
        assert!(ringio::Error::is_closed(&timer.set_after(MS, None).unwrap_err()));
        assert!(ringio::Error::is_closed(&timer.tick().await.unwrap_err()));
    });
}
