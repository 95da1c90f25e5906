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

/// Two runtimes, one per core, each with its own `SO_REUSEPORT` listener on
/// one port, serving clients that both runtimes connect to that port. The
/// kernel decides which listener gets each connection, and it may give all
/// of them to one (which made the old version of this test, one accept per
/// runtime, hang now and then). So each runtime accepts in a loop until
/// the runtimes together have served every client, counted in a shared
/// atomic; only then do they close their listeners, which ends the loops.
/// Both binds must succeed (that needs `SO_REUSEPORT`), every client is
/// served once, and the outcome never depends on the kernel's spread.
#[test]
fn one_runtime_per_core_with_reuseport() {
    use ringio::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    const CORES: usize = 2;
    const CLIENTS_PER_CORE: usize = 4;
    const CLIENTS: usize = CORES * CLIENTS_PER_CORE;
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let served = Arc::new(AtomicUsize::new(0));
    let bound = Arc::new(Barrier::new(CORES));
    let results = ringio_tests::watchdog(
        "one runtime per core with reuseport",
        Duration::from_secs(60),
        move |_| {
            let cores = ringio::runtime::spawn_per_core(&ringio::Runtime::builder(), CORES, move |i| {
                let (served, bound) = (served.clone(), bound.clone());
                async move {
                    let listener = Rc::new(TcpListener::bind_reuseport(addr)?);
                    // Both listeners exist before any client connects.
                    bound.wait();
                    let server = ringio::spawn({
                        let (listener, served) = (listener.clone(), served.clone());
                        async move {
                            let mut mine = 0;
                            // Ends when the listener is closed below.
                            while let Ok((s, _)) = listener.accept().await {
                                let (res, buf) = s.read_exact(Vec::with_capacity(1)).await;
                                res?;
                                s.write_all(buf).await.0?;
                                served.fetch_add(1, Ordering::SeqCst);
                                mine += 1;
                            }
                            Ok::<usize, std::io::Error>(mine)
                        }
                    });
                    for k in 0..CLIENTS_PER_CORE {
                        let byte = (i * CLIENTS_PER_CORE + k) as u8;
                        let c = TcpStream::connect(addr).await?;
                        c.write_all(vec![byte]).await.0?;
                        let (res, echo) = c.read_exact(Vec::with_capacity(1)).await;
                        res?;
                        assert_eq!(echo, [byte]);
                    }
                    ringio_tests::until(|| served.load(Ordering::SeqCst) == CLIENTS).await;
                    listener.close().await?;
                    let mine = server.await.map_err(std::io::Error::other)??;
                    Ok::<(usize, usize, std::thread::ThreadId), std::io::Error>((i, mine, std::thread::current().id()))
                }
            })
            .unwrap();
            cores.join()
        },
    );
    let results: Vec<_> = results.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(results.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 1]);
    assert_ne!(results[0].2, results[1].2, "the runtimes share a thread");
    assert_eq!(
        results.iter().map(|r| r.1).sum::<usize>(),
        CLIENTS,
        "served {results:?}"
    );
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
