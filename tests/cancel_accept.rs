//! Drop storms on accepts. The rule: a dropped `accept()` (or a dropped
//! `incoming()` stream or `next()` future) loses no connection. A connection
//! the kernel accepted for a future that is gone waits on the listener for
//! the next accept; it is closed only when the listener closes. So every
//! client is served, and `accept()` right after a timed-out `accept()`
//! gets the connection that is already queued.
//!
//! How: a client thread (blocking std sockets) connects again and again,
//! with up to [`CLIENTS_WAITING`] clients waiting at once; each sends its
//! number and waits for a one-byte answer. The server drops 10^4 accepts
//! (times `RINGIO_STRESS`) at random points (`timeout` of 0 to 50 µs, or
//! one poll), in random phases polled on a second runtime thread instead
//! of the listener's home; every accept that completes serves its client.
//! A client whose connection is closed without an answer counts as lost.
//! At the end every client the thread connected must have been served
//! exactly once.
//!
//! The seed is printed; `RINGIO_TEST_SEED` replays it.

use ringio::net::{TcpListener, TcpStream};
use ringio_tests::{interrupt, runtime, scaled, watchdog, Foreign, Rng, Seed, STEP};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Drops per storm at the CI size.
const DROPS: usize = 10_000;
/// Longest a storm may go without finishing a phase.
const STALL: Duration = Duration::from_secs(30);
/// Clients connected and waiting for their answer, at most (far below the
/// listen backlog, so the kernel never refuses one).
const CLIENTS_WAITING: usize = 8;
/// How long a client waits for its answer before it counts as lost.
const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// What the client thread saw.
struct ClientReport {
    connected: u32,
    /// Clients whose connection ended (EOF, reset, timeout) without an answer.
    lost: Vec<(u32, String)>,
}

/// The client thread: connects until `stop`, then waits for every answer.
fn clients(addr: SocketAddr, seed: u64, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<ClientReport> {
    std::thread::spawn(move || {
        let mut rng = Rng::new(seed ^ 0xc11e);
        let mut waiting: VecDeque<(u32, std::net::TcpStream)> = VecDeque::new();
        let mut report = ClientReport {
            connected: 0,
            lost: Vec::new(),
        };
        let answer = |(id, mut s): (u32, std::net::TcpStream), report: &mut ClientReport| {
            s.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
            let mut byte = [0u8; 1];
            match s.read(&mut byte) {
                Ok(1) => {}
                Ok(_) => report.lost.push((id, "closed without an answer".into())),
                Err(e) => report.lost.push((id, e.to_string())),
            }
        };
        while !stop.load(Ordering::Relaxed) {
            if waiting.len() >= CLIENTS_WAITING {
                answer(waiting.pop_front().unwrap(), &mut report);
            }
            let mut s = std::net::TcpStream::connect(addr).expect("client connect");
            let id = report.connected;
            s.write_all(&id.to_le_bytes()).expect("client write");
            waiting.push_back((id, s));
            report.connected += 1;
            if rng.one_in(4) {
                std::thread::sleep(Duration::from_micros(rng.range(0, 100) as u64));
            }
        }
        while let Some(w) = waiting.pop_front() {
            answer(w, &mut report);
        }
        report
    })
}

/// Serves one accepted client: reads its number, answers, closes.
async fn serve(stream: TcpStream) -> u32 {
    let (res, id) = ringio::time::timeout(STEP, stream.read_exact(Vec::with_capacity(4)))
        .await
        .expect("hung: reading a client's number");
    res.expect("reading a client's number");
    let (res, _) = stream.write_all(vec![1u8]).await;
    res.expect("answering a client");
    stream.close().await.expect("closing a served client");
    u32::from_le_bytes(id[..4].try_into().unwrap())
}

#[derive(Debug, Clone, Copy)]
enum AcceptOp {
    /// `listener.accept()`.
    Accept,
    /// `incoming.next()`, and now and then the `Incoming` itself dropped.
    Incoming,
}

/// `n` interrupted accepts; the numbers of the clients served.
async fn phase(listener: Arc<TcpListener>, mut rng: Rng, op: AcceptOp, n: usize) -> Vec<u32> {
    let mut served = Vec::new();
    let mut incoming = listener.incoming();
    for _ in 0..n {
        let accepted = match op {
            AcceptOp::Accept => interrupt(&mut rng, listener.accept()).await.map(|r| r.map(|(s, _)| s)),
            AcceptOp::Incoming => {
                if rng.one_in(20) {
                    incoming = listener.incoming(); // drops the old one, armed or not
                }
                interrupt(&mut rng, incoming.next())
                    .await
                    .map(|next| next.expect("incoming() ended while the listener is open"))
            }
        };
        if let Some(stream) = accepted {
            served.push(serve(stream.expect("accept failed")).await);
        }
    }
    served
}

fn storm(op: AcceptOp) {
    let what = format!("TCP {op:?} drop storm");
    let seed = Seed::new(&what);
    let s = seed.value();
    let label = what.clone();
    watchdog(&label, STALL, move |progress| {
        let foreign = Foreign::start();
        runtime().block_on(async {
            let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
            let stop = Arc::new(AtomicBool::new(false));
            let client_thread = clients(listener.local_addr().unwrap(), s, stop.clone());
            let mut rng = Rng::new(s);
            let mut served: Vec<u32> = Vec::new();
            let drops = scaled(DROPS);
            let (mut done, mut foreign_drops) = (0, 0);
            while done < drops {
                let n = rng.range(50, 500).min(drops - done);
                let phase_rng = rng.fork();
                let got = if rng.one_in(3) {
                    foreign_drops += n;
                    let listener = listener.clone();
                    foreign.run(move || phase(listener, phase_rng, op, n)).await
                } else {
                    phase(listener.clone(), phase_rng, op, n).await
                };
                served.extend(got);
                done += n;
                progress.step(done);
            }
            // Serve the clients still waiting until the thread has heard
            // from every one (a lost one hears EOF and stops waiting).
            stop.store(true, Ordering::Relaxed);
            while !client_thread.is_finished() {
                if let Ok(accepted) = ringio::time::timeout(Duration::from_millis(5), listener.accept()).await {
                    served.push(serve(accepted.expect("accept failed").0).await);
                }
            }
            let report = client_thread.join().expect("client thread");
            listener.close().await.unwrap();
            eprintln!(
                "{what}: {drops} drops ({foreign_drops} from a foreign thread), {} clients",
                report.connected
            );
            served.sort_unstable();
            let twice = served.windows(2).filter(|w| w[0] == w[1]).count();
            assert!(
                report.lost.is_empty() && twice == 0 && served.len() == report.connected as usize,
                "{what}: of {} clients, {} were served, {twice} of them twice, and {} lost their connection \
                 (first: {:?})",
                report.connected,
                served.len(),
                report.lost.len(),
                &report.lost[..report.lost.len().min(3)],
            );
        });
        drop(foreign);
    });
    drop(seed);
}

#[test]
fn tcp_accept_drop_storm_loses_no_connection() {
    storm(AcceptOp::Accept);
}

#[test]
fn tcp_incoming_drop_storm_loses_no_connection() {
    storm(AcceptOp::Incoming);
}

/// A timed-out `accept()` leaves nothing behind that takes the next
/// connection: the next `accept()` returns the client that is already
/// queued. On io_uring, in each setup mode: where completions run at any
/// return from the kernel (`Coop`, `Plain`), the client's own `connect` on
/// the runtime thread lets the abandoned accept take the connection before
/// its cancel is submitted (50 of 50 missed it before).
#[test]
fn accept_after_a_timed_out_accept_gets_the_queued_connection() {
    watchdog("accept after a timed-out accept", Duration::from_secs(60), |_| {
        for mode in [
            ringio::SetupMode::Defer,
            ringio::SetupMode::Coop,
            ringio::SetupMode::Plain,
        ] {
            // (The mode is ignored on a readiness backend.)
            let rt = ringio::Runtime::builder().setup_mode(mode).build().unwrap();
            rt.block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                for round in 0..50 {
                    let idle = ringio::time::timeout(Duration::from_millis(1), listener.accept()).await;
                    assert!(
                        idle.is_err(),
                        "{mode:?}, round {round}: accepted with no client connecting"
                    );
                    // Connected: the connection is in the listener's queue now.
                    let client = std::net::TcpStream::connect(addr).unwrap();
                    let (stream, peer) = ringio::time::timeout(STEP, listener.accept())
                        .await
                        .unwrap_or_else(|_| {
                            panic!(
                                "{mode:?}, round {round}: accept() missed the connection queued after a \
                                 timed-out accept()"
                            )
                        })
                        .unwrap();
                    assert_eq!(
                        peer,
                        client.local_addr().unwrap(),
                        "{mode:?}, round {round}: another client"
                    );
                    stream.close().await.unwrap();
                }
            });
        }
    });
}
