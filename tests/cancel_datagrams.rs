//! Drop storms on UDP sockets. The rules:
//!
//! * receives (`recv_from`, `recv`, `recv_msg`): a dropped receive loses
//!   nothing; a datagram that arrived for it goes to the next receive. So
//!   every datagram the peer sent is received exactly once.
//! * sends (`send_to`, `send`, `send_msg`), tokio's rule: a dropped send has
//!   sent nothing, a completed one sent its datagram. So the peer receives
//!   exactly the datagrams of the completed sends, each once, even though
//!   the sender retries a dropped send with the same datagram.
//!
//! How: 10^4 operations (times `RINGIO_STRESS`) dropped at random points
//! (`timeout` of 0 to 50 µs, or one poll), in random phases polled on a
//! second runtime thread instead of the socket's home. The peer is a plain
//! std socket on its own thread. Each datagram carries its sequence number
//! and a length derived from it. The sender keeps at most [`WINDOW`]
//! datagrams unreceived, so the kernel never has a reason to drop one on
//! loopback (a full receive buffer): every datagram missing at the end was
//! lost by the engine.
//!
//! The seed is printed; `RINGIO_TEST_SEED` replays it.

use ringio::net::UdpSocket;
use ringio_tests::{interrupt, runtime, scaled, until, watchdog, Foreign, Rng, Seed, STEP};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Drops per storm at the CI size.
const DROPS: usize = 10_000;
/// Longest a storm may go without finishing a phase.
const STALL: Duration = Duration::from_secs(30);
/// Datagrams sent but not yet received, at most (about 32 × 1 KiB of
/// receive buffer, far below the default).
const WINDOW: u64 = 32;
/// After the last datagram, how long the receiver waits for stragglers
/// before it calls the missing ones lost (only a failing run waits this).
const QUIET: Duration = Duration::from_millis(500);

/// The datagram with sequence number `seq`: the number, then a filler whose
/// length (0 to 200 bytes) depends on it.
fn datagram(seq: u64) -> Vec<u8> {
    let len = 8 + (Rng::new(seq).next_u64() % 201) as usize;
    let mut d = vec![(seq % 251) as u8; len];
    d[..8].copy_from_slice(&seq.to_le_bytes());
    d
}

/// The sequence number of a received datagram, after checking it is whole.
#[track_caller]
fn parse(bytes: &[u8]) -> u64 {
    assert!(bytes.len() >= 8, "a datagram of {} bytes", bytes.len());
    let seq = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    assert_eq!(bytes, datagram(seq), "datagram {seq} arrived damaged");
    seq
}

/// How many times each sequence number arrived.
#[derive(Default)]
struct Tally(Vec<u32>);

impl Tally {
    fn add(&mut self, seq: u64) {
        let i = seq as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] += 1;
    }

    /// Panics unless 0..total each arrived exactly once, and nothing else.
    /// `kernel_drops` (from [`kernel_drops`]) is reported with a failure:
    /// the window should make it zero.
    #[track_caller]
    fn assert_each_once(&self, total: u64, kernel_drops: Option<u64>, what: &str) {
        let count = |seq: usize| self.0.get(seq).copied().unwrap_or(0);
        let lost: Vec<usize> = (0..total as usize).filter(|&s| count(s) == 0).collect();
        let twice: Vec<usize> = (0..self.0.len()).filter(|&s| count(s) > 1).collect();
        let unsent: Vec<usize> = (total as usize..self.0.len()).filter(|&s| count(s) > 0).collect();
        assert!(
            lost.is_empty() && twice.is_empty() && unsent.is_empty(),
            "{what}: of {total} datagrams, {} lost (first: {:?}), {} received more than once (first: {:?}), \
             {} received that were never sent (first: {:?}); the kernel dropped {:?} for a full receive buffer",
            lost.len(),
            &lost[..lost.len().min(5)],
            twice.len(),
            &twice[..twice.len().min(5)],
            unsent.len(),
            &unsent[..unsent.len().min(5)],
            kernel_drops,
        );
    }
}

/// The `drops` counter of the IPv4 UDP socket bound to `port`, from
/// `/proc/net/udp`.
fn kernel_drops(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.get(1).is_some_and(|a| a.ends_with(&local)))
        .and_then(|cols| cols.last()?.parse().ok())
}

#[derive(Debug, Clone, Copy)]
enum RecvOp {
    RecvFrom,
    Recv,
    RecvMsg,
}

/// One receive, dropped at a random point; the datagram if it completed.
async fn interrupted_recv(socket: &UdpSocket, rng: &mut Rng, op: RecvOp) -> Option<Vec<u8>> {
    let buf = Vec::with_capacity(512);
    match op {
        RecvOp::RecvFrom => interrupt(rng, socket.recv_from(buf)).await.map(|(res, buf)| {
            let (n, _from) = res.expect("recv_from failed");
            assert_eq!(buf.len(), n);
            buf
        }),
        RecvOp::Recv => interrupt(rng, socket.recv(buf)).await.map(|(res, buf)| {
            assert_eq!(buf.len(), res.expect("recv failed"));
            buf
        }),
        RecvOp::RecvMsg => interrupt(rng, socket.recv_msg(vec![buf], Vec::new()))
            .await
            .map(|(res, mut bufs, _)| {
                let meta = res.expect("recv_msg failed");
                let buf = bufs.pop().unwrap();
                assert_eq!(buf.len(), meta.bytes);
                buf
            }),
    }
}

async fn recv_phase(socket: Arc<UdpSocket>, mut rng: Rng, op: RecvOp, n: usize, received: Arc<AtomicU64>) -> Vec<u64> {
    let mut got = Vec::new();
    for _ in 0..n {
        if let Some(d) = interrupted_recv(&socket, &mut rng, op).await {
            got.push(parse(&d));
            // Release: the sender reads it to open its window.
            received.fetch_add(1, Ordering::Release);
        }
    }
    got
}

/// A std sender thread: datagrams 0, 1, 2, ... to `to`, never more than
/// [`WINDOW`] ahead of `received`, with random pauses, until `stop`.
/// Returns how many it sent.
fn sender(
    from: std::net::UdpSocket,
    to: SocketAddr,
    seed: u64,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut rng = Rng::new(seed ^ 0x5e4d);
        let mut seq = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if seq.saturating_sub(received.load(Ordering::Acquire)) >= WINDOW {
                std::thread::sleep(Duration::from_micros(20));
                continue;
            }
            from.send_to(&datagram(seq), to).expect("std send_to");
            seq += 1;
            if rng.one_in(4) {
                std::thread::sleep(Duration::from_micros(rng.range(0, 100) as u64));
            }
        }
        seq
    })
}

fn recv_storm(op: RecvOp) {
    let what = format!("UDP {op:?} drop storm");
    let seed = Seed::new(&what);
    let s = seed.value();
    let label = what.clone();
    watchdog(&label, STALL, move |progress| {
        let foreign = Foreign::start();
        runtime().block_on(async {
            let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
            let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            if matches!(op, RecvOp::Recv) {
                socket.connect(peer.local_addr().unwrap()).unwrap();
            }
            let received = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let sending = sender(peer, socket.local_addr().unwrap(), s, received.clone(), stop.clone());
            let mut rng = Rng::new(s);
            let mut tally = Tally::default();
            let drops = scaled(DROPS);
            let (mut done, mut foreign_drops) = (0, 0);
            while done < drops {
                let n = rng.range(50, 500).min(drops - done);
                let phase_rng = rng.fork();
                let got = if rng.one_in(3) {
                    foreign_drops += n;
                    let (socket, received) = (socket.clone(), received.clone());
                    foreign
                        .run(move || recv_phase(socket, phase_rng, op, n, received))
                        .await
                } else {
                    recv_phase(socket.clone(), phase_rng, op, n, received.clone()).await
                };
                got.into_iter().for_each(|seq| tally.add(seq));
                done += n;
                progress.step(done);
            }
            stop.store(true, Ordering::Relaxed);
            let sent = sending.join().expect("sender thread");
            // Whatever is still queued; a datagram the engine lost never comes.
            while received.load(Ordering::Relaxed) < sent {
                match ringio::time::timeout(QUIET, socket.recv_from(Vec::with_capacity(512))).await {
                    Ok((res, buf)) => {
                        res.expect("draining recv_from");
                        tally.add(parse(&buf));
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
            eprintln!("{what}: {drops} drops ({foreign_drops} from a foreign thread), {sent} datagrams sent");
            let drops_here = kernel_drops(socket.local_addr().unwrap().port());
            tally.assert_each_once(sent, drops_here, &what);
        });
        drop(foreign);
    });
    drop(seed);
}

#[test]
fn udp_recv_from_drop_storm_receives_every_datagram_once() {
    recv_storm(RecvOp::RecvFrom);
}

#[test]
fn udp_recv_drop_storm_receives_every_datagram_once() {
    recv_storm(RecvOp::Recv);
}

#[test]
fn udp_recv_msg_drop_storm_receives_every_datagram_once() {
    recv_storm(RecvOp::RecvMsg);
}

#[derive(Debug, Clone, Copy)]
enum SendOp {
    SendTo,
    Send,
    SendMsg,
}

/// `n` interrupted sends; a dropped one is retried with the same datagram.
/// Returns the next sequence number.
async fn send_phase(
    socket: Arc<UdpSocket>,
    to: SocketAddr,
    mut rng: Rng,
    op: SendOp,
    n: usize,
    mut seq: u64,
    received: Arc<AtomicU64>,
) -> u64 {
    for _ in 0..n {
        until(|| seq.saturating_sub(received.load(Ordering::Acquire)) < WINDOW).await;
        let d = datagram(seq);
        let len = d.len();
        let sent = match op {
            SendOp::SendTo => interrupt(&mut rng, socket.send_to(d, to)).await.map(|r| r.0),
            SendOp::Send => interrupt(&mut rng, socket.send(d)).await.map(|r| r.0),
            SendOp::SendMsg => interrupt(&mut rng, socket.send_msg(vec![d], Vec::new(), Some(to)))
                .await
                .map(|r| r.0),
        };
        if let Some(res) = sent {
            assert_eq!(res.expect("send failed"), len, "a datagram sent in part");
            seq += 1;
        }
    }
    seq
}

fn send_storm(op: SendOp) {
    let what = format!("UDP {op:?} drop storm");
    let seed = Seed::new(&what);
    let s = seed.value();
    let label = what.clone();
    watchdog(&label, STALL, move |progress| {
        let foreign = Foreign::start();
        runtime().block_on(async {
            let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
            let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let to = peer.local_addr().unwrap();
            // Room for the duplicates a broken engine sends, so they show as
            // duplicates rather than as kernel drops.
            rustix::net::sockopt::set_socket_recv_buffer_size(&peer, 4 << 20).unwrap();
            if matches!(op, SendOp::Send) {
                socket.connect(to).unwrap();
            }
            let received = Arc::new(AtomicU64::new(0));
            let done_sending = Arc::new(AtomicBool::new(false));
            let receiver = {
                let (received, done_sending) = (received.clone(), done_sending.clone());
                std::thread::spawn(move || {
                    peer.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
                    let mut tally = Tally::default();
                    let mut buf = [0u8; 512];
                    let mut quiet_since = None;
                    loop {
                        match peer.recv_from(&mut buf) {
                            Ok((n, _)) => {
                                tally.add(parse(&buf[..n]));
                                received.fetch_add(1, Ordering::Release);
                                quiet_since = None;
                            }
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) =>
                            {
                                // Done once the sender is and nothing more comes.
                                if done_sending.load(Ordering::Acquire) {
                                    let since = *quiet_since.get_or_insert_with(std::time::Instant::now);
                                    if since.elapsed() > Duration::from_millis(50) {
                                        return (tally, kernel_drops(to.port()));
                                    }
                                }
                            }
                            Err(e) => panic!("peer recv_from: {e}"),
                        }
                    }
                })
            };
            let mut rng = Rng::new(s);
            let mut seq = 0u64;
            let drops = scaled(DROPS);
            let (mut done, mut foreign_drops) = (0, 0);
            while done < drops {
                let n = rng.range(50, 500).min(drops - done);
                let phase_rng = rng.fork();
                seq = if rng.one_in(3) {
                    foreign_drops += n;
                    let (socket, received) = (socket.clone(), received.clone());
                    foreign
                        .run(move || send_phase(socket, to, phase_rng, op, n, seq, received))
                        .await
                } else {
                    send_phase(socket.clone(), to, phase_rng, op, n, seq, received.clone()).await
                };
                done += n;
                progress.step(done);
            }
            // Close, so no dropped send can still go out after this point.
            ringio::time::timeout(STEP, socket.close())
                .await
                .expect("hung: close after the storm")
                .unwrap();
            done_sending.store(true, Ordering::Release);
            let (tally, drops_there) = receiver.join().expect("receiver thread");
            eprintln!("{what}: {drops} drops ({foreign_drops} from a foreign thread), {seq} datagrams sent");
            tally.assert_each_once(seq, drops_there, &what);
        });
        drop(foreign);
    });
    drop(seed);
}

#[test]
fn udp_send_to_drop_storm_sends_exactly_the_completed_sends() {
    send_storm(SendOp::SendTo);
}

#[test]
fn udp_send_drop_storm_sends_exactly_the_completed_sends() {
    send_storm(SendOp::Send);
}

#[test]
fn udp_send_msg_drop_storm_sends_exactly_the_completed_sends() {
    send_storm(SendOp::SendMsg);
}
