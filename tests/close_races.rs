//! `close().await` against operations in flight. The rule: close returns
//! once every operation on the handle has completed, whatever the mix: a
//! task in `write_all` (the peer is not reading) or in `read_exact` (the
//! peer sent part), an operation another thread submitted that is still
//! queued for the home runtime, a foreign thread's reader. The operations
//! it cancels report `ringio::Error::Closed`. After close returns the
//! number may be reused at once, and no pending operation may touch the
//! reuser.
//!
//! How: 10^3 rounds per scenario (times `RINGIO_STRESS`), each with random
//! timing, each bounded by the watchdog (a round that does not finish in
//! [`ROUND`] is a hang). After each close the test reopens the number with
//! `/dev/null` at once ([`Reused`]), waits for the cancelled operations'
//! results, and checks that `fstat` still names that `/dev/null`: a late
//! release of the old descriptor would close it. A cancelled read that
//! returned `Ok(0)` would have read the reuser. (These tests take turns:
//! descriptor numbers are shared by the whole process.)
//!
//! Last, 10^4 connect/accept/close rounds with random drops, in which no
//! close may hang (514 of 10^5 did on io_uring).
//!
//! The seed is printed; `RINGIO_TEST_SEED` replays it.

use ringio::net::{TcpListener, TcpStream};
use ringio_tests::{
    fd_serial, interrupt, poll_once_output, runtime, scaled, until, watchdog, Foreign, Reused, Seed, StdStream,
    Transport, STEP,
};
use std::future::Future;
use std::io::Read;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rounds per close scenario at the CI size.
const ROUNDS: usize = 1_000;
/// Connect/accept/close rounds at the CI size.
const CONNECT_ROUNDS: usize = 10_000;
/// A round that takes longer than this is a hang.
const ROUND: Duration = Duration::from_secs(20);

/// Asserts that `err` is `Error::Closed` (not a bare `ECANCELED`, not a
/// result from the descriptor that reused the number).
#[track_caller]
fn assert_closed(err: &std::io::Error, what: &str) {
    assert!(
        ringio::Error::is_closed(err),
        "{what}: an operation cancelled by close failed with {err:?} ({err}), not Error::Closed"
    );
}

/// Busy-waits `micros` µs without letting the runtime turn.
fn spin(micros: usize) {
    let until = Instant::now() + Duration::from_micros(micros as u64);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Bytes queued for reading on `fd` (`FIONREAD`).
fn unread(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points at `n`.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n as usize
}

/// Reads from the std peer until end of stream; the byte count.
fn read_to_end(mut peer: StdStream) -> usize {
    peer.set_read_timeout(Some(STEP)).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        match peer.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) => panic!("peer read after close: {e}"),
        }
    }
}

/// Close while another task is in `write_all`, which the peer (not reading)
/// keeps blocked. `write_all` ends with `Ok` (it finished first: the peer
/// got every byte) or `Error::Closed` (the peer got a prefix).
#[test]
fn close_while_another_task_is_in_write_all() {
    let _serial = fd_serial(); // the number must come back to this test
    let seed = Seed::new("close during write_all");
    let mut rng = seed.rng();
    watchdog("close during write_all", ROUND, move |progress| {
        runtime().block_on(async {
            let mut buf = vec![0x5a; 4 << 20];
            let mut finished_first = 0;
            for round in 0..scaled(ROUNDS) {
                progress.step(round);
                let transport = if rng.one_in(2) { Transport::Tcp } else { Transport::Unix };
                let (stream, peer) = transport.pair();
                let stream = Rc::new(stream);
                let old = stream.raw_fd();
                let len = buf.len();
                let writer = ringio::spawn({
                    let stream = stream.clone();
                    async move { stream.write_all(buf).await }
                });
                for _ in 0..rng.range(1, 3) {
                    ringio::runtime::yield_now().await;
                }
                if rng.one_in(2) {
                    ringio::time::sleep(Duration::from_micros(rng.range(0, 300) as u64)).await;
                }
                progress.doing("close() with write_all blocked");
                stream.close().await.unwrap();
                progress.doing("reusing the number");
                let reused = Reused::take(old).await;
                progress.doing("waiting for write_all to end");
                let (res, b) = writer.await.unwrap();
                progress.doing("reading what the peer got");
                buf = b;
                let received = read_to_end(peer);
                match res {
                    Ok(()) => {
                        finished_first += 1;
                        assert_eq!(received, len, "round {round}: write_all returned Ok, the peer got less");
                    }
                    Err(e) => {
                        assert_closed(&e, &format!("round {round}, {transport:?}, write_all"));
                        assert!(received <= len);
                    }
                }
                reused.assert_untouched(&format!("round {round}, {transport:?}, write_all"));
            }
            eprintln!("close during write_all: write_all finished first in {finished_first} rounds");
        })
    });
    drop(seed);
}

/// Close while another task is in `read_exact` and the peer sent part of
/// what it waits for (in half the rounds, the test waits until the partial
/// bytes were taken off the socket, so `read_exact` is between its partial
/// reads). It can only end with `Error::Closed`.
#[test]
fn close_while_another_task_is_in_read_exact() {
    let _serial = fd_serial(); // the number must come back to this test
    let seed = Seed::new("close during read_exact");
    let mut rng = seed.rng();
    watchdog("close during read_exact", ROUND, move |progress| {
        runtime().block_on(async {
            let mut partial = 0;
            for round in 0..scaled(ROUNDS) {
                progress.step(round);
                let transport = if rng.one_in(2) { Transport::Tcp } else { Transport::Unix };
                let (stream, mut peer) = transport.pair();
                let stream = Rc::new(stream);
                let old = stream.raw_fd();
                let want = rng.range(2, 4096);
                let reader = ringio::spawn({
                    let stream = stream.clone();
                    async move { stream.read_exact(Vec::with_capacity(want)).await.0 }
                });
                ringio::runtime::yield_now().await;
                let part = rng.range(1, want - 1);
                std::io::Write::write_all(&mut peer, &vec![7u8; part]).unwrap();
                if rng.one_in(2) {
                    let deadline = Instant::now() + STEP;
                    while unread(old) > 0 {
                        assert!(
                            Instant::now() < deadline,
                            "round {round}: read_exact never took the bytes"
                        );
                        ringio::runtime::yield_now().await;
                    }
                    partial += 1;
                } else {
                    ringio::time::sleep(Duration::from_micros(rng.range(0, 100) as u64)).await;
                }
                progress.doing("close() with read_exact between partial reads");
                stream.close().await.unwrap();
                progress.doing("reusing the number");
                let reused = Reused::take(old).await;
                progress.doing("waiting for read_exact to end");
                let err = reader
                    .await
                    .unwrap()
                    .expect_err("read_exact completed with only part of its bytes sent");
                assert_closed(&err, &format!("round {round}, {transport:?}, read_exact"));
                reused.assert_untouched(&format!("round {round}, {transport:?}, read_exact"));
                drop(peer);
            }
            eprintln!("close during read_exact: {partial} rounds closed between partial reads");
        })
    });
    drop(seed);
}

/// Close on the home thread while an operation another thread submitted is
/// still queued for the home runtime: the foreign thread starts a read
/// while the home thread spins (it does not turn its driver, so the read
/// waits in the home's queue), then the home closes. In most rounds the
/// home waits until the read's first poll has returned (it is queued for
/// sure); in the others it closes at a random moment of the submission.
/// The close must not wait for the read to end by itself (it never would:
/// no data comes).
#[test]
fn close_on_the_home_thread_while_a_foreign_op_is_queued() {
    let _serial = fd_serial(); // the number must come back to this test
    let seed = Seed::new("close with a foreign op queued");
    let mut rng = seed.rng();
    watchdog("close with a foreign op queued", ROUND, move |progress| {
        let foreign = Foreign::start();
        runtime().block_on(async {
            let mut queued = 0;
            for round in 0..scaled(ROUNDS) {
                progress.step(round);
                let transport = if rng.one_in(2) { Transport::Tcp } else { Transport::Unix };
                let (stream, peer) = transport.pair();
                let stream = Arc::new(stream);
                let old = stream.raw_fd();
                let [ready, go, polled] = [(); 3].map(|()| Arc::new(AtomicBool::new(false)));
                let result = foreign.spawn({
                    let (stream, ready, go, polled) = (stream.clone(), ready.clone(), go.clone(), polled.clone());
                    move || async move {
                        ready.store(true, Ordering::Release);
                        while !go.load(Ordering::Acquire) {
                            std::hint::spin_loop();
                        }
                        let mut read = std::pin::pin!(stream.read(Vec::with_capacity(64)));
                        std::future::poll_fn(|cx| {
                            let r = read.as_mut().poll(cx);
                            polled.store(true, Ordering::Release);
                            r
                        })
                        .await
                        .0
                    }
                });
                progress.doing("starting the foreign job");
                until(|| ready.load(Ordering::Acquire)).await;
                go.store(true, Ordering::Release);
                if !rng.one_in(4) {
                    let deadline = Instant::now() + STEP;
                    while !polled.load(Ordering::Acquire) {
                        assert!(
                            Instant::now() < deadline,
                            "round {round}: the foreign read never started"
                        );
                        std::hint::spin_loop();
                    }
                    queued += 1;
                }
                spin(rng.range(0, 50));
                progress.doing("close() with a foreign read queued");
                stream.close().await.unwrap();
                progress.doing("reusing the number");
                let reused = Reused::take(old).await;
                progress.doing("waiting for the foreign read to end (close returned)");
                let res = result
                    .recv()
                    .await
                    .unwrap()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                let err = res.expect_err("a read with no data completed");
                assert_closed(&err, &format!("round {round}, {transport:?}, queued foreign read"));
                reused.assert_untouched(&format!("round {round}, {transport:?}, queued foreign read"));
                drop(peer);
            }
            eprintln!("close with a foreign op queued: {queued} rounds closed with the read surely queued");
        });
        drop(foreign);
    });
    drop(seed);
}

/// Close against a reader on a foreign thread that keeps reading (the peer
/// keeps sending now and then, so the reader is often between reads: where
/// a cancel that lands between an operation's cancelled-check and its
/// waker registration would be lost, or where its next read waits in the
/// home runtime's queue).
#[test]
fn close_against_a_foreign_reader() {
    let _serial = fd_serial(); // the number must come back to this test
    let seed = Seed::new("close against a foreign reader");
    let mut rng = seed.rng();
    watchdog("close against a foreign reader", ROUND, move |progress| {
        let foreign = Foreign::start();
        runtime().block_on(async {
            for round in 0..scaled(ROUNDS) {
                progress.step(round);
                let transport = if rng.one_in(2) { Transport::Tcp } else { Transport::Unix };
                let (stream, mut peer) = transport.pair();
                let stream = Arc::new(stream);
                let old = stream.raw_fd();
                let reading = Arc::new(AtomicBool::new(false));
                let result = foreign.spawn({
                    let (stream, reading) = (stream.clone(), reading.clone());
                    move || async move {
                        reading.store(true, Ordering::Release);
                        loop {
                            match stream.read(Vec::with_capacity(16)).await.0 {
                                Ok(0) => return Ok(0),
                                Ok(_) => {}
                                Err(e) => return Err(e),
                            }
                        }
                    }
                });
                progress.doing("starting the foreign reader");
                until(|| reading.load(Ordering::Acquire)).await;
                // Bytes now and then; between them the home sometimes turns
                // (the reader's read completes and it submits the next one)
                // and sometimes spins (the next one waits in its queue).
                for _ in 0..rng.range(0, 20) {
                    let _ = std::io::Write::write(&mut peer, b"x");
                    for _ in 0..rng.range(0, 2) {
                        ringio::runtime::yield_now().await;
                    }
                    spin(rng.range(0, 20));
                }
                spin(rng.range(0, 50));
                progress.doing("close() against the foreign reader");
                stream.close().await.unwrap();
                progress.doing("reusing the number");
                let reused = Reused::take(old).await;
                progress.doing("waiting for the foreign reader to end (close returned)");
                let res = result
                    .recv()
                    .await
                    .unwrap()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                let err = res.expect_err("the foreign reader saw end of stream (read the reuser?)");
                assert_closed(&err, &format!("round {round}, {transport:?}, foreign reader"));
                reused.assert_untouched(&format!("round {round}, {transport:?}, foreign reader"));
                drop(peer);
            }
        });
        drop(foreign);
    });
    drop(seed);
}

/// 10^4 rounds of connect, accept, a little traffic and close, with drops
/// at random points everywhere: no close may hang. The connections that
/// dropped futures leave queued on the listener are taken off it
/// (`poll_accept`, which never waits) and closed each round.
#[test]
fn connect_accept_close_rounds_with_random_drops_never_hang_a_close() {
    // Its listener and connections take descriptor numbers: one that another
    // test closed and waits to see come back could be held here for the
    // whole run.
    let _serial = fd_serial();
    let seed = Seed::new("connect/accept/close rounds");
    let mut rng = seed.rng();
    watchdog("connect/accept/close rounds", ROUND, move |progress| {
        runtime().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (mut pairs, mut closes) = (0, 0);
            for round in 0..scaled(CONNECT_ROUNDS) {
                progress.step(round);
                progress.doing("connect and accept");
                let client = if rng.one_in(4) {
                    interrupt(&mut rng, TcpStream::connect(addr)).await
                } else {
                    Some(TcpStream::connect(addr).await)
                };
                let client = client.map(|c| c.expect("connect"));
                let server = match (&client, rng.one_in(4)) {
                    (Some(_), false) => Some(listener.accept().await),
                    _ => interrupt(&mut rng, listener.accept()).await,
                };
                let server = server.map(|s| s.expect("accept").0);
                let (client, server) = (client.map(Rc::new), server.map(Rc::new));
                let mut tasks = Vec::new();
                if let (Some(c), Some(s)) = (&client, &server) {
                    pairs += 1;
                    // A read_exact waiting for more than arrives, a write_all,
                    // and a read dropped at a random point.
                    let s2 = s.clone();
                    tasks.push(ringio::spawn(async move {
                        drop(s2.read_exact(Vec::with_capacity(64)).await)
                    }));
                    let c2 = c.clone();
                    let n = rng.range(0, 128);
                    tasks.push(ringio::spawn(async move { drop(c2.write_all(vec![1u8; n]).await) }));
                    interrupt(&mut rng, c.read(Vec::with_capacity(16))).await;
                    for _ in 0..rng.range(0, 2) {
                        ringio::runtime::yield_now().await;
                    }
                }
                let mut ends: Vec<Rc<TcpStream>> = client.into_iter().chain(server).collect();
                if rng.one_in(2) {
                    ends.reverse();
                }
                progress.doing("close()");
                for end in ends {
                    end.close().await.unwrap();
                    closes += 1;
                }
                progress.doing("waiting for the tasks of the closed streams");
                for t in tasks {
                    t.await.unwrap();
                }
                progress.doing("closing queued connections");
                while let Some(Ok((s, _))) = poll_once_output(std::future::poll_fn(|cx| listener.poll_accept(cx))).await
                {
                    s.close().await.unwrap();
                    closes += 1;
                }
            }
            listener.close().await.unwrap();
            eprintln!("connect/accept/close: {pairs} connected pairs, {closes} closes");
        })
    });
    drop(seed);
}
