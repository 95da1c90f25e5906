//! `EventFd`: counter and semaphore modes, many concurrent readers, wakeups
//! from plain threads, overflow, cancel-safety, and close.
#![cfg(target_os = "linux")]

use ringio::linux::EventFd;
use ringio_tests::{poll_once, runtime, STEP};
use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_read_takes_the_whole_counter() {
    runtime().block_on(async {
        let event = EventFd::new(1).unwrap();
        event.add(2).unwrap();
        event.add(3).unwrap();
        assert_eq!(event.read().await.unwrap(), 6);
        assert_eq!(event.try_read().unwrap(), None);
    });
}

#[test]
fn semaphore_mode_hands_out_one_per_read() {
    runtime().block_on(async {
        let sem = EventFd::semaphore(0).unwrap();
        sem.add(3).unwrap();
        for _ in 0..3 {
            assert_eq!(sem.read().await.unwrap(), 1);
        }
        assert_eq!(sem.try_read().unwrap(), None);
    });
}

/// Many tasks read one counter while another adds to it: every unit added
/// is read exactly once, and nobody hangs.
#[test]
fn many_tasks_reading_share_every_value_exactly_once() {
    const READERS: usize = 8;
    const ADDS: u64 = 200;
    runtime().block_on(async {
        let event = Rc::new(EventFd::new(0).unwrap());
        let total = Rc::new(Cell::new(0u64));
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let (event, total) = (event.clone(), total.clone());
                ringio::spawn(async move {
                    let mut reads = 0;
                    loop {
                        match event.read().await {
                            Ok(n) => {
                                total.set(total.get() + n);
                                reads += 1;
                            }
                            Err(e) if ringio::Error::is_closed(&e) => return reads,
                            Err(e) => panic!("read failed: {e}"),
                        }
                    }
                })
            })
            .collect();
        for i in 0..ADDS {
            event.add(1).unwrap();
            if i % 4 == 0 {
                ringio::runtime::yield_now().await;
            }
        }
        let deadline = std::time::Instant::now() + STEP;
        while total.get() < ADDS {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {ADDS} read",
                total.get()
            );
            ringio::time::sleep(Duration::from_millis(1)).await;
        }
        event.close().await.unwrap();
        let mut reads = 0;
        for r in readers {
            reads += ringio::time::timeout(STEP, r).await.expect("reader hung").unwrap();
        }
        assert_eq!(total.get(), ADDS, "a unit was read twice");
        assert!(reads > 1, "the readers did not run concurrently");
    });
}

#[test]
fn one_add_of_n_wakes_n_semaphore_readers() {
    const READERS: u64 = 16;
    runtime().block_on(async {
        let sem = Rc::new(EventFd::semaphore(0).unwrap());
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let sem = sem.clone();
                ringio::spawn(async move { sem.read().await })
            })
            .collect();
        ringio::runtime::yield_now().await;
        sem.add(READERS).unwrap();
        for r in readers {
            let got = ringio::time::timeout(STEP, r).await.expect("a reader was not woken");
            assert_eq!(got.unwrap().unwrap(), 1);
        }
        assert_eq!(sem.try_read().unwrap(), None);
    });
}

#[test]
fn an_add_from_a_plain_thread_wakes_the_runtime() {
    runtime().block_on(async {
        let event = Arc::new(EventFd::new(0).unwrap());
        let remote = event.clone();
        let adder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            remote.add(7)
        });
        let got = ringio::time::timeout(STEP, event.read()).await.expect("not woken");
        assert_eq!(got.unwrap(), 7);
        adder.join().unwrap().unwrap();
    });
}

#[test]
fn the_counter_saturates_instead_of_overflowing() {
    let event = EventFd::new(0).unwrap();
    event.add(u64::MAX - 1).unwrap();
    assert_eq!(event.add(1).unwrap_err().kind(), io::ErrorKind::WouldBlock);
    assert_eq!(event.add(u64::MAX).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(event.try_read().unwrap(), Some(u64::MAX - 1));
}

#[test]
fn a_dropped_read_takes_nothing() {
    runtime().block_on(async {
        let event = EventFd::new(0).unwrap();
        assert!(!poll_once(event.read()).await, "nothing to read yet");
        event.add(3).unwrap();
        ringio::time::sleep(Duration::from_millis(2)).await; // the abandoned wait completes
        assert_eq!(event.read().await.unwrap(), 3);
    });
}

#[test]
fn close_fails_pending_and_later_calls_and_is_idempotent() {
    runtime().block_on(async {
        let event = Rc::new(EventFd::new(0).unwrap());
        let pending = {
            let event = event.clone();
            ringio::spawn(async move { event.read().await })
        };
        ringio::runtime::yield_now().await;
        event.close().await.unwrap();
        let res = ringio::time::timeout(STEP, pending).await.expect("read not cancelled");
        assert!(ringio::Error::is_closed(&res.unwrap().unwrap_err()));
        assert!(ringio::Error::is_closed(&event.add(1).unwrap_err()));
        assert!(ringio::Error::is_closed(&event.try_read().unwrap_err()));
        assert!(ringio::Error::is_closed(&event.read().await.unwrap_err()));
        assert_eq!(event.fd().raw(), -1);
        event.close().await.unwrap();
    });
}
