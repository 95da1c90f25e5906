//! Runtimes' lifetimes and time: how a runtime with many operations in
//! flight goes away, what operations on a descriptor do when its home
//! runtime is idle or gone, durations that overflow an `Instant`, and
//! reads into empty buffers.
//!
//! * Dropping a runtime with 10^4 operations in flight (a receive on each
//!   of 10^4 sockets) is linear in their number: it is timed against 10^3
//!   in the same test, and the only timing assertion in these tests is that
//!   generous ratio (it was quadratic: 3,000 ops took 0.47 s, 10,000 took
//!   12.6 s).
//! * A descriptor whose home runtime is alive but idle (no thread inside
//!   its `block_on`) fails at once with `Error::HomeIdle` when another
//!   runtime uses it, and so does a foreign read already in flight when the
//!   home leaves `block_on`; a descriptor whose home runtime was dropped
//!   fails with `Error::RuntimeShutDown`. None of them may hang (each is
//!   bounded by a watchdog).
//! * `sleep(Duration::MAX)` and `timeout(Duration::MAX, f)` never panic:
//!   they saturate to a far deadline, as tokio's do.
//! * `read(Vec::new())` on a stream returns `Ok(0)` at once, without
//!   waiting for data.

use ringio::net::{UdpSocket, UnixStream};
use ringio_tests::{fd_serial, poll_once, raise_nofile_limit, runtime, until, watchdog, Transport, STEP};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Bound on each of the lifetime scenarios.
const LIMIT: Duration = Duration::from_secs(30);

/// Where the operations in flight are when a runtime is dropped.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `n` readiness waits (`readable()`, one `POLL_ADD` each) on one
    /// Unix stream.
    OneStream,
    /// One `recv_from` on each of `n` UDP sockets: a server with `n` idle
    /// connections (receives on one socket queue behind its read lock).
    SocketEach,
}

/// How long dropping a runtime takes with `n` operations in flight.
fn drop_time(shape: Shape, n: usize) -> Duration {
    let rt = runtime();
    // The peer of `OneStream` lives until after the drop: its end of
    // stream would make the waits complete.
    let mut peer = None;
    match shape {
        Shape::OneStream => {
            let (a, b) = rt.block_on(async { UnixStream::pair().unwrap() });
            peer = Some(b);
            let a = Rc::new(a);
            for _ in 0..n {
                let a = a.clone();
                rt.spawn(async move {
                    let _ = a.readable().await;
                });
            }
        }
        Shape::SocketEach => {
            let sockets: Vec<_> =
                rt.block_on(async { (0..n).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect() });
            for socket in sockets {
                rt.spawn(async move {
                    let _ = socket.recv_from(Vec::with_capacity(16)).await;
                });
            }
        }
    }
    rt.block_on(async {
        let deadline = Instant::now() + STEP;
        loop {
            let stats = ringio::runtime::stats().unwrap();
            if stats.in_flight as usize >= n {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{shape:?}: only {} of {n} operations in flight",
                stats.in_flight
            );
            ringio::runtime::yield_now().await;
        }
    });
    let start = Instant::now();
    drop(rt);
    let took = start.elapsed();
    drop(peer);
    took
}

/// Times dropping a runtime with 10^3 and with 10^4 operations in flight.
fn drop_is_linear(shape: Shape) {
    // Room for one descriptor per operation, and more.
    let limit = raise_nofile_limit();
    let (small_n, large_n) = if limit >= 10_500 {
        (1_000, 10_000)
    } else {
        let large = (limit.saturating_sub(500) as usize / 1_000 * 1_000).max(1_000);
        eprintln!(
            "RLIMIT_NOFILE allows {limit} descriptors: timing {} and {large} ops instead",
            large / 10
        );
        (large / 10, large)
    };
    let what = format!("dropping runtimes with 10^3 and 10^4 ops in flight, {shape:?}");
    let (small, large) = watchdog(&what, Duration::from_secs(120), move |_| {
        // The slowest of three small runs: the bound only gets more generous.
        let small = (0..3).map(|_| drop_time(shape, small_n)).max().unwrap();
        (small, drop_time(shape, large_n))
    });
    let bound = small * 30 + Duration::from_millis(200);
    eprintln!("runtime drop, {shape:?}: {small_n} ops {small:?}, {large_n} ops {large:?} (bound {bound:?})");
    assert!(
        large < bound,
        "{shape:?}: dropping a runtime with {large_n} ops in flight took {large:?}, with {small_n} {small:?}: \
         more than 30 × + 200 ms, so not linear"
    );
}

#[test]
fn dropping_a_runtime_with_many_waits_on_one_stream_is_linear() {
    let _serial = fd_serial(); // timed: not beside the other timing test
    drop_is_linear(Shape::OneStream);
}

#[test]
fn dropping_a_runtime_with_a_receive_on_each_of_many_sockets_is_linear() {
    let _serial = fd_serial();
    drop_is_linear(Shape::SocketEach);
}

/// A thread that builds a runtime, makes a Unix stream pair inside its
/// `block_on` (the pair's home), hands the pair over, and then keeps the
/// runtime alive but idle until told to drop it.
struct IdleHome {
    release: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl IdleHome {
    fn start() -> (IdleHome, UnixStream, UnixStream) {
        let (tx, rx) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = runtime();
            tx.send(rt.block_on(async { UnixStream::pair().unwrap() })).unwrap();
            let _ = released.recv(); // idle: alive, nobody in block_on
            drop(rt);
        });
        let (a, b) = rx.recv().unwrap();
        (IdleHome { release, thread }, a, b)
    }

    fn stop(self) {
        let _ = self.release.send(());
        self.thread.join().unwrap();
    }
}

#[track_caller]
fn assert_kind(err: &std::io::Error, want: ringio::Error, what: &str) {
    assert_eq!(
        ringio::Error::of(err),
        Some(&want),
        "{what}: failed with {err:?} ({err}), not Error::{want:?}"
    );
}

/// An operation from another runtime on a descriptor whose home runtime is
/// idle fails at once with `HomeIdle` (on io_uring it hung; on epoll a read
/// waiting for data was never woken).
#[test]
fn ops_on_a_descriptor_whose_home_is_idle_fail_with_home_idle() {
    watchdog("ops with an idle home runtime", LIMIT, |_| {
        let (home, a, b) = IdleHome::start();
        runtime().block_on(async {
            let (res, _) = ringio::time::timeout(STEP, a.read(Vec::with_capacity(16)))
                .await
                .expect("a read on a descriptor whose home runtime is idle hung");
            assert_kind(&res.unwrap_err(), ringio::Error::HomeIdle, "read, idle home");
            let (res, _) = ringio::time::timeout(STEP, b.write(b"x".to_vec()))
                .await
                .expect("a write on a descriptor whose home runtime is idle hung");
            assert_kind(&res.unwrap_err(), ringio::Error::HomeIdle, "write, idle home");
        });
        drop((a, b));
        home.stop();
    });
}

/// A foreign read in flight (the home runtime is turning) when the home
/// leaves `block_on` ends promptly with `HomeIdle` instead of hanging.
#[test]
fn a_foreign_read_in_flight_when_the_home_goes_idle_ends_with_home_idle() {
    watchdog("a foreign read when its home goes idle", LIMIT, |_| {
        let (tx, rx) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let (leave, left) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let home = std::thread::spawn({
            let (leave, left) = (leave.clone(), left.clone());
            move || {
                let rt = runtime();
                rt.block_on(async {
                    tx.send(UnixStream::pair().unwrap()).unwrap();
                    // Turn until the foreign read has been submitted, and
                    // (if the stats show it) has arrived here.
                    until(|| leave.load(Ordering::Acquire)).await;
                    let since = Instant::now();
                    until(|| {
                        ringio::runtime::stats().unwrap().in_flight >= 1 || since.elapsed() > Duration::from_secs(1)
                    })
                    .await;
                });
                left.store(true, Ordering::Release);
                let _ = released.recv();
                drop(rt);
            }
        });
        let (a, b) = rx.recv().unwrap();
        let a = Rc::new(a);
        runtime().block_on(async {
            let polled = Arc::new(AtomicBool::new(false));
            let reader = ringio::spawn({
                let (a, polled) = (a.clone(), polled.clone());
                async move {
                    let mut read = std::pin::pin!(a.read(Vec::with_capacity(16)));
                    std::future::poll_fn(|cx| {
                        let r = read.as_mut().poll(cx);
                        polled.store(true, Ordering::Release);
                        r
                    })
                    .await
                    .0
                }
            });
            until(|| polled.load(Ordering::Acquire)).await;
            leave.store(true, Ordering::Release);
            until(|| left.load(Ordering::Acquire)).await;
            let res = ringio::time::timeout(STEP, reader)
                .await
                .expect("a foreign read hung after its home runtime left block_on")
                .unwrap();
            assert_kind(
                &res.expect_err("the read completed with no data sent"),
                ringio::Error::HomeIdle,
                "read in flight when the home left block_on",
            );
        });
        drop((a, b));
        let _ = release.send(());
        home.join().unwrap();
    });
}

/// A descriptor whose home runtime was dropped: operations from another
/// runtime fail with `RuntimeShutDown` (they failed with EIO).
#[test]
fn ops_on_a_descriptor_whose_home_was_dropped_fail_with_runtime_shut_down() {
    watchdog("ops with a dropped home runtime", LIMIT, |_| {
        let (a, b) = std::thread::spawn(|| {
            let rt = runtime();
            let pair = rt.block_on(async { UnixStream::pair().unwrap() });
            drop(rt);
            pair
        })
        .join()
        .unwrap();
        runtime().block_on(async {
            let (res, _) = ringio::time::timeout(STEP, a.read(Vec::with_capacity(16)))
                .await
                .expect("a read on a descriptor whose home runtime is gone hung");
            assert_kind(&res.unwrap_err(), ringio::Error::RuntimeShutDown, "read, dropped home");
            let (res, _) = ringio::time::timeout(STEP, b.write(b"x".to_vec()))
                .await
                .expect("a write on a descriptor whose home runtime is gone hung");
            assert_kind(&res.unwrap_err(), ringio::Error::RuntimeShutDown, "write, dropped home");
        });
    });
}

/// `Duration::MAX` saturates: no "overflow when adding duration to
/// instant" panic, and a far deadline does not disturb near ones.
#[test]
fn duration_max_saturates() {
    watchdog("Duration::MAX", LIMIT, |_| {
        runtime().block_on(async {
            assert!(!poll_once(ringio::time::sleep(Duration::MAX)).await);
            assert_eq!(ringio::time::timeout(Duration::MAX, async { 5 }).await, Ok(5));
            assert!(!poll_once(ringio::time::timeout(Duration::MAX, std::future::pending::<()>())).await);
            let far = ringio::spawn(ringio::time::sleep(Duration::MAX));
            let far_timeout = ringio::spawn(ringio::time::timeout(Duration::MAX, std::future::pending::<()>()));
            ringio::runtime::yield_now().await;
            let start = Instant::now();
            ringio::time::sleep(Duration::from_millis(1)).await;
            assert!(start.elapsed() >= Duration::from_millis(1));
            assert!(!far.is_finished() && !far_timeout.is_finished());
            far.abort();
            far_timeout.abort();
        })
    });
}

/// `read(Vec::new())` returns `Ok(0)` at once, as std and tokio do: with
/// nothing to read, it must not wait for data (it waited, then returned
/// `Ok(0)`, which looks like end of stream).
#[test]
fn a_read_into_an_empty_buffer_returns_at_once() {
    watchdog("read(Vec::new())", LIMIT, |_| {
        runtime().block_on(async {
            for transport in [Transport::Tcp, Transport::Unix] {
                let (stream, mut peer) = transport.pair();
                let (res, buf) = ringio::time::timeout(Duration::from_secs(1), stream.read(Vec::new()))
                    .await
                    .unwrap_or_else(|_| panic!("{transport:?}: read(Vec::new()) waited for data"));
                assert_eq!(res.unwrap(), 0, "{transport:?}");
                assert!(buf.is_empty());
                // The stream is unaffected.
                std::io::Write::write_all(&mut peer, b"after").unwrap();
                let (res, buf) = stream.read_exact(Vec::with_capacity(5)).await;
                res.unwrap();
                assert_eq!(buf, b"after", "{transport:?}");
            }
        })
    });
}
