//! `OpTimeout::timeout`: deadlines for the operations a future submits (a
//! linked `IORING_OP_LINK_TIMEOUT` on io_uring, the runtime's timers on
//! readiness backends). An operation past its deadline fails with
//! `TimedOut` and hands its buffer back; nothing it waited for is lost; a
//! close still reads as `Error::Closed`; deadlines nest.

use ringio::net::{TcpListener, TcpStream};
use ringio::time::OpTimeout;
use ringio_tests::{scaled, watchdog, Pattern, Seed, StreamCheck, STEP};
use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_millis(30);

fn pair() -> (TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (ours, _) = l.accept().unwrap();
    (TcpStream::from_std(ours).unwrap(), peer)
}

#[test]
fn a_read_past_its_deadline_times_out_and_the_stream_goes_on() {
    ringio_tests::runtime()
        .block_on(ringio::time::timeout(STEP, async {
            let (stream, mut peer) = pair();
            let started = Instant::now();
            let (res, buf) = stream.read(Vec::with_capacity(64)).timeout(SHORT).await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::TimedOut);
            assert!(started.elapsed() >= SHORT, "timed out early");
            assert_eq!(buf.capacity(), 64, "the buffer came back");
            // Nothing was lost: the next read gets what the peer sends now.
            peer.write_all(b"later").unwrap();
            let (n, buf) = stream.read(buf).timeout(STEP).await;
            assert_eq!(&buf[..n.unwrap()], b"later");
        }))
        .expect("hung");
}

#[test]
fn an_operation_done_in_time_is_unaffected() {
    ringio_tests::runtime()
        .block_on(ringio::time::timeout(STEP, async {
            let (stream, mut peer) = pair();
            peer.write_all(b"now").unwrap();
            let (n, buf) = stream.read(Vec::with_capacity(8)).timeout(STEP).await;
            assert_eq!(&buf[..n.unwrap()], b"now");
            // read_exact: each part takes the time left.
            let feeder = std::thread::spawn(move || {
                for chunk in [&b"ab"[..], b"cd", b"ef"] {
                    std::thread::sleep(Duration::from_millis(5));
                    peer.write_all(chunk).unwrap();
                }
                peer
            });
            let (res, buf) = stream.read_exact(Vec::with_capacity(6)).timeout(STEP).await;
            res.unwrap();
            assert_eq!(&buf[..], b"abcdef");
            drop(feeder.join().unwrap());
        }))
        .expect("hung");
}

#[test]
fn an_accept_past_its_deadline_loses_no_later_connection() {
    ringio_tests::runtime()
        .block_on(ringio::time::timeout(STEP, async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let err = listener.accept().timeout(SHORT).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TimedOut);
            let client = std::net::TcpStream::connect(addr).unwrap();
            let (accepted, peer) = listener.accept().timeout(STEP).await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            drop(accepted);
        }))
        .expect("hung");
}

#[test]
fn a_write_waiting_for_room_times_out() {
    ringio_tests::runtime()
        .block_on(ringio::time::timeout(STEP, async {
            let (stream, peer) = pair();
            // Fill both socket buffers: the peer never reads.
            let chunk = vec![1u8; 64 * 1024];
            let mut filled = false;
            for _ in 0..10_000 {
                let (res, _) = stream.write(chunk.clone()).timeout(SHORT).await;
                match res {
                    Ok(_) => continue,
                    Err(e) if e.kind() == ErrorKind::TimedOut => {
                        filled = true;
                        break;
                    }
                    Err(e) => panic!("write: {e}"),
                }
            }
            assert!(filled, "the socket never filled up");
            drop(peer);
        }))
        .expect("hung");
}

#[test]
fn a_close_is_still_a_close_under_a_deadline() {
    ringio_tests::runtime()
        .block_on(ringio::time::timeout(STEP, async {
            let (stream, _peer) = pair();
            let stream = std::rc::Rc::new(stream);
            let reader = {
                let stream = stream.clone();
                ringio::spawn(async move { stream.read(Vec::with_capacity(8)).timeout(STEP).await.0 })
            };
            ringio::time::sleep(Duration::from_millis(10)).await;
            stream.close().await.unwrap();
            let err = reader.await.unwrap().unwrap_err();
            assert!(ringio::Error::is_closed(&err), "{err:?}");
        }))
        .expect("hung");
}

#[test]
fn deadlines_nest_and_the_tighter_wins() {
    ringio_tests::runtime()
        .block_on(ringio::time::timeout(STEP, async {
            let (stream, _peer) = pair();
            let started = Instant::now();
            let (res, _) = async { stream.read(Vec::with_capacity(8)).timeout(SHORT).await }
                .timeout(STEP)
                .await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::TimedOut);
            assert!(started.elapsed() < STEP, "the outer deadline was used");
            let (res, _) = async { stream.read(Vec::with_capacity(8)).timeout(STEP).await }
                .timeout(SHORT)
                .await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::TimedOut);
            assert!(started.elapsed() < STEP, "the inner, looser deadline was used");
        }))
        .expect("hung");
}

const READS: usize = 4_000;

/// Reads with deadlines of 0 to 50 µs against a peer streaming a pattern:
/// most time out, and every byte still arrives exactly once, in order.
#[test]
fn timed_out_reads_lose_nothing() {
    let seed = Seed::new("timed-out reads");
    watchdog("timed-out reads", STEP * 6, move |progress| {
        let mut rng = seed.rng();
        ringio_tests::runtime().block_on(async {
            let (stream, mut peer) = pair();
            let total = scaled(READS) * 512;
            let feeder_seed = seed.value();
            let feeder = std::thread::spawn(move || {
                let mut pattern = Pattern::new(feeder_seed);
                let mut left = total;
                while left > 0 {
                    let n = left.min(700);
                    peer.write_all(&pattern.take(n)).unwrap();
                    left -= n;
                    // Gaps, so that reads wait and deadlines cut them.
                    std::thread::sleep(Duration::from_micros(100));
                }
            });
            let mut check = StreamCheck::new(seed.value());
            let (mut timeouts, mut buf) = (0usize, Vec::with_capacity(2048));
            while check.received() < total as u64 {
                buf.clear();
                let limit = Duration::from_micros(rng.range(0, 50) as u64);
                let (res, b) = stream.read(buf).timeout(limit).await;
                buf = b;
                match res {
                    Ok(n) => check.push(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::TimedOut => timeouts += 1,
                    Err(e) => panic!("read: {e}"),
                }
                progress.step(timeouts);
            }
            feeder.join().unwrap();
            eprintln!(
                "timed-out reads: {timeouts} timeouts, {} bytes checked",
                check.received()
            );
            check.assert_exactly(total as u64, "timed-out reads");
        });
    });
}
