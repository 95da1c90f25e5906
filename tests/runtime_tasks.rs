//! The runtime: tasks, join handles, abort, panics, timers, per-core runtimes.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[test]
fn spawn_join_and_local_state() {
    ringio_tests::runtime().block_on(async {
        let counter = Rc::new(Cell::new(0)); // !Send state is fine in local tasks
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let c = counter.clone();
                ringio::spawn(async move {
                    ringio::runtime::yield_now().await;
                    c.set(c.get() + 1);
                    i * 2
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, (0..100).map(|i| i * 2).sum::<i32>());
        assert_eq!(counter.get(), 100);
    });
}

#[test]
fn abort_and_panic_are_reported() {
    ringio_tests::runtime().block_on(async {
        let h = ringio::spawn(std::future::pending::<()>());
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        let h = ringio::spawn(async { panic!("boom") });
        assert!(h.await.unwrap_err().is_panic());
        // The runtime keeps going after a task panicked.
        assert_eq!(ringio::spawn(async { 5 }).await.unwrap(), 5);
    });
}

#[test]
fn wakes_from_other_threads_unpark_the_runtime() {
    ringio_tests::runtime().block_on(async {
        let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d2 = done.clone();
        let t = std::thread::spawn(move || {
            let waker = rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            d2.store(true, std::sync::atomic::Ordering::SeqCst);
            waker.wake();
        });
        let mut sent = Some(tx);
        std::future::poll_fn(|cx| {
            if done.load(std::sync::atomic::Ordering::SeqCst) {
                return std::task::Poll::Ready(());
            }
            if let Some(tx) = sent.take() {
                tx.send(cx.waker().clone()).unwrap();
            }
            std::task::Poll::Pending
        })
        .await;
        t.join().unwrap();
    });
}

#[test]
fn sleep_is_never_early_and_timeout_fires() {
    ringio_tests::runtime().block_on(async {
        for ms in [0u64, 1, 2, 5, 10, 25] {
            let start = Instant::now();
            ringio::time::sleep(Duration::from_millis(ms)).await;
            assert!(
                start.elapsed() >= Duration::from_millis(ms),
                "sleep({ms}ms) returned early"
            );
        }
        let r = ringio::time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
        assert!(r.is_err());
        let r = ringio::time::timeout(Duration::from_secs(5), async { 3 }).await;
        assert_eq!(r.unwrap(), 3);
        // Many concurrent sleeps, all complete, none early.
        let start = Instant::now();
        let hs: Vec<_> = (0..200u64)
            .map(|i| ringio::spawn(ringio::time::sleep(Duration::from_millis(i % 20))))
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        assert!(start.elapsed() >= Duration::from_millis(19));
    });
}

#[test]
fn interval_ticks_on_schedule() {
    ringio_tests::runtime().block_on(async {
        let start = Instant::now();
        let mut iv = ringio::time::interval(Duration::from_millis(3));
        let first = iv.tick().await;
        for k in 1..=5u32 {
            let t = iv.tick().await;
            assert_eq!(t, first + Duration::from_millis(3) * k);
            assert!(Instant::now() >= t);
        }
        assert!(start.elapsed() >= Duration::from_millis(15));
    });
}

#[test]
fn one_runtime_per_core_with_reuseport() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let cores = ringio::runtime::spawn_per_core(&ringio::Runtime::builder(), 2, move |i| async move {
        let l = ringio::net::TcpListener::bind_reuseport(addr)?;
        // Each runtime serves connections until it has seen one.
        let client = ringio::spawn(async move { ringio::net::TcpStream::connect(addr).await });
        let (_s, _) = ringio::time::timeout(ringio_tests::STEP, l.accept()).await??;
        client.await.map_err(std::io::Error::other)??;
        Ok::<usize, std::io::Error>(i)
    })
    .unwrap();
    let results: Vec<usize> = cores.join().into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(results, vec![0, 1]);
}

#[test]
fn operations_outside_a_runtime_fail_cleanly() {
    let err = std::thread::spawn(|| {
        // A future polled by hand on a thread without a runtime.
        let fut = ringio::nop();
        let mut fut = std::pin::pin!(fut);
        let waker = std::task::Waker::noop();
        match fut.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(r) => r.unwrap_err(),
            std::task::Poll::Pending => panic!("no runtime, yet pending"),
        }
    })
    .join()
    .unwrap();
    assert_eq!(ringio::Error::of(&err), Some(&ringio::Error::NoRuntime));
}
