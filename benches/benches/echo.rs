//! Loopback TCP echo of 64-byte messages: ringio server + client against
//! tokio server + client (tokio `current_thread` runtimes).
//!
//! The server runs on its own thread with its own runtime; the client runs on
//! the criterion thread with another runtime, so every round trip crosses
//! threads through the kernel's loopback like a real peer would. `TCP_NODELAY`
//! is set on both ends. No CPU pinning is done inside the bench (run the
//! whole process under `taskset` if you want it; see `benches/README.md`).
//!
//! | group            | measures                                                        |
//! |------------------|-----------------------------------------------------------------|
//! | `echo_64B_1conn` | latency of one ping-pong (write 64 B, read the 64 B echo)        |
//! | `echo_64B_16conn`| 16 connections ping-ponging concurrently; one iteration = one    |
//! |                  | message on each connection (throughput reported in messages/s)  |
//!
//! Contenders are named `ringio` and `tokio` in every group so
//! `benches/scripts/compare.sh` can line them up.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MSG: usize = 64;
const CONNS: usize = 16;

// ---------------------------------------------------------------- ringio ---

/// Starts a ringio echo server thread that accepts `conns` connections and
/// echoes `MSG`-byte messages on each until the peer closes.
fn ringio_server(conns: usize) -> (SocketAddr, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let h = thread::Builder::new()
        .name("ringio-echo-server".into())
        .spawn(move || {
            let rt = ringio::Runtime::new().expect("ringio runtime");
            rt.block_on(async move {
                let l = ringio::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                tx.send(l.local_addr().expect("local_addr")).expect("send addr");
                let mut tasks = Vec::with_capacity(conns);
                for _ in 0..conns {
                    let (s, _) = l.accept().await.expect("accept");
                    s.set_nodelay(true).expect("nodelay");
                    tasks.push(ringio::spawn(async move {
                        let mut buf = Vec::with_capacity(MSG);
                        loop {
                            buf.clear();
                            let (res, b) = s.read_exact(buf).await;
                            if res.is_err() {
                                break; // client closed
                            }
                            let (res, b) = s.write_all(b).await;
                            if res.is_err() {
                                break;
                            }
                            buf = b;
                        }
                        let _ = s.close().await;
                    }));
                }
                for t in tasks {
                    t.await.expect("server task");
                }
            });
        })
        .expect("spawn server thread");
    (rx.recv().expect("server addr"), h)
}

async fn ringio_connect(addr: SocketAddr) -> ringio::net::TcpStream {
    let s = ringio::net::TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// One ping-pong; hands the buffer back for reuse.
async fn ringio_pingpong(s: &ringio::net::TcpStream, mut buf: Vec<u8>) -> Vec<u8> {
    buf.clear();
    buf.resize(MSG, 0xab);
    let (res, mut buf) = s.write_all(buf).await;
    res.expect("write_all");
    buf.clear();
    let (res, buf) = s.read_exact(buf).await;
    res.expect("read_exact");
    debug_assert_eq!(buf.len(), MSG);
    buf
}

fn ringio_1conn(c: &mut Criterion) {
    let (addr, server) = ringio_server(1);
    let rt = ringio::Runtime::new().expect("ringio runtime");
    let s = rt.block_on(ringio_connect(addr));
    let mut slot = Some(Vec::with_capacity(MSG));
    let before = rt.stats();
    let ops = Cell::new(0u64);
    c.benchmark_group("echo_64B_1conn")
        .throughput(Throughput::Elements(1))
        .bench_function("ringio", |b| {
            b.iter_custom(|iters| {
                ops.set(ops.get() + iters);
                rt.block_on(async {
                    let mut buf = slot.take().expect("buffer");
                    let start = Instant::now();
                    for _ in 0..iters {
                        buf = ringio_pingpong(&s, buf).await;
                    }
                    let t = start.elapsed();
                    slot = Some(buf);
                    t
                })
            })
        });
    let after = rt.stats();
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / ops.get().max(1) as f64;
    eprintln!(
        "echo_64B_1conn/ringio client: {} round trips; per round trip: {:.3} SQEs, {:.3} io_uring_enter calls",
        ops.get(),
        per(after.submitted, before.submitted),
        per(after.enters, before.enters),
    );
    rt.block_on(async { s.close().await }).expect("close");
    drop(s);
    server.join().expect("server thread");
}

fn ringio_16conn(c: &mut Criterion) {
    let (addr, server) = ringio_server(CONNS);
    let rt = ringio::Runtime::new().expect("ringio runtime");
    let conns: Vec<Rc<ringio::net::TcpStream>> = rt.block_on(async {
        let mut v = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            v.push(Rc::new(ringio_connect(addr).await));
        }
        v
    });
    c.benchmark_group("echo_64B_16conn")
        .throughput(Throughput::Elements(CONNS as u64))
        .bench_function("ringio", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    let tasks: Vec<_> = conns
                        .iter()
                        .map(|s| {
                            let s = Rc::clone(s);
                            ringio::spawn(async move {
                                let mut buf = Vec::with_capacity(MSG);
                                for _ in 0..iters {
                                    buf = ringio_pingpong(&s, buf).await;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.expect("client task");
                    }
                    start.elapsed()
                })
            })
        });
    rt.block_on(async {
        for s in &conns {
            s.close().await.expect("close");
        }
    });
    drop(conns);
    server.join().expect("server thread");
}

// ----------------------------------------------------------------- tokio ---

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Starts a tokio (current_thread) echo server thread; mirror of
/// [`ringio_server`].
fn tokio_server(conns: usize) -> (SocketAddr, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let h = thread::Builder::new()
        .name("tokio-echo-server".into())
        .spawn(move || {
            tokio_rt().block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(l.local_addr().expect("local_addr")).expect("send addr");
                let mut tasks = Vec::with_capacity(conns);
                for _ in 0..conns {
                    let (mut s, _) = l.accept().await.expect("accept");
                    s.set_nodelay(true).expect("nodelay");
                    tasks.push(tokio::spawn(async move {
                        let mut buf = [0u8; MSG];
                        loop {
                            if s.read_exact(&mut buf).await.is_err() {
                                break; // client closed
                            }
                            if s.write_all(&buf).await.is_err() {
                                break;
                            }
                        }
                    }));
                }
                for t in tasks {
                    t.await.expect("server task");
                }
            });
        })
        .expect("spawn server thread");
    (rx.recv().expect("server addr"), h)
}

async fn tokio_connect(addr: SocketAddr) -> tokio::net::TcpStream {
    let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

async fn tokio_pingpong(s: &mut tokio::net::TcpStream, buf: &mut [u8; MSG]) {
    buf.fill(0xab);
    s.write_all(buf).await.expect("write_all");
    s.read_exact(buf).await.expect("read_exact");
}

fn tokio_1conn(c: &mut Criterion) {
    let (addr, server) = tokio_server(1);
    let rt = tokio_rt();
    let mut s = rt.block_on(tokio_connect(addr));
    c.benchmark_group("echo_64B_1conn")
        .throughput(Throughput::Elements(1))
        .bench_function("tokio", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut buf = [0u8; MSG];
                    let start = Instant::now();
                    for _ in 0..iters {
                        tokio_pingpong(&mut s, &mut buf).await;
                    }
                    start.elapsed()
                })
            })
        });
    drop(s);
    server.join().expect("server thread");
}

fn tokio_16conn(c: &mut Criterion) {
    let (addr, server) = tokio_server(CONNS);
    let rt = tokio_rt();
    let mut conns: Vec<tokio::net::TcpStream> = rt.block_on(async {
        let mut v = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            v.push(tokio_connect(addr).await);
        }
        v
    });
    c.benchmark_group("echo_64B_16conn")
        .throughput(Throughput::Elements(CONNS as u64))
        .bench_function("tokio", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    // Streams move into the tasks and come back with the result.
                    let tasks: Vec<_> = conns
                        .drain(..)
                        .map(|mut s| {
                            tokio::spawn(async move {
                                let mut buf = [0u8; MSG];
                                for _ in 0..iters {
                                    tokio_pingpong(&mut s, &mut buf).await;
                                }
                                s
                            })
                        })
                        .collect();
                    for t in tasks {
                        conns.push(t.await.expect("client task"));
                    }
                    start.elapsed()
                })
            })
        });
    drop(conns);
    server.join().expect("server thread");
}

// ----------------------------------------------------------------- setup ---

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = ringio_1conn, tokio_1conn, ringio_16conn, tokio_16conn
}
criterion_main!(benches);
