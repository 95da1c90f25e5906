//! Drop storms on compat stream reads (issue 13): 10^5 reads (times
//! `RINGIO_STRESS`) abandoned at random points lose and duplicate nothing,
//! on the completion read path (asked for here; readiness on epoll and
//! without buffer rings, or with `RINGIO_COMPAT_READS=readiness`), on both
//! tokio flavours, over TCP and Unix sockets, whole streams and owned read
//! halves.
//!
//! How: a writer task pushes a seeded byte stream in chunks of random size,
//! yielding after each. The reader reads into random lengths (1 byte to more
//! than a receive buffer, so buffers are left partly read), through futures
//! it drops at random points: the losing branch of a `select!` against a
//! yield, a single poll, a `tokio::time::timeout` of a few microseconds;
//! between them it also peeks (the bytes must be the next ones), calls
//! `try_read`, waits in `readable()`, and reads whole. Every byte read is
//! checked in order against the stream; once the drops are done the writer
//! stops, and the reader must see exactly what it sent, then end of stream.
//!
//! The seed is printed; `RINGIO_TEST_SEED` replays it.

mod common;

use common::net::{TcpStream, UnixStream};
use common::{flavours_within, scaled, seed, tcp_pair, XorShift, LIMIT};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// Abandoned reads per storm at the CI size (split over the runs below).
const DROPS: usize = 100_000;
/// How far the writer may run ahead of the reader, in bytes.
const WINDOW: u64 = 32 * 1024;

/// Checks the bytes a reader gets against the writer's stream, in order.
struct Expect {
    rng: XorShift,
    pending: Vec<u8>,
    received: u64,
}

impl Expect {
    fn new(seed: u64) -> Expect {
        Expect {
            rng: XorShift::new(seed),
            pending: Vec::new(),
            received: 0,
        }
    }

    /// The next `n` bytes of the stream, without taking them.
    fn peek(&mut self, n: usize) -> &[u8] {
        while self.pending.len() < n {
            self.pending.extend_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        &self.pending[..n]
    }

    #[track_caller]
    fn take(&mut self, got: &[u8], what: &str) {
        let want = self.peek(got.len()).to_vec();
        if let Some(at) = got.iter().zip(&want).position(|(a, b)| a != b) {
            panic!(
                "{what}: byte {} differs (lost, duplicated or reordered)",
                self.received + at as u64
            );
        }
        self.pending.drain(..got.len());
        self.received += got.len() as u64;
    }
}

/// The writer: the stream of `seed` (8-byte words, as `Expect` makes it) in
/// chunks of random size until `stop`, then end of stream. Returns the bytes
/// sent.
async fn write_until<W: AsyncWrite + Unpin>(
    mut w: W,
    seed: u64,
    stop: Arc<AtomicBool>,
    mut received: watch::Receiver<u64>,
) -> u64 {
    let mut words = XorShift::new(seed);
    let mut rng = XorShift::new(!seed);
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // Mostly small chunks, so the reader often catches up and waits;
        // now and then a large one, which leaves buffers partly read.
        let words_now = if rng.one_in(16) {
            rng.range(1, 1024)
        } else {
            rng.range(1, 64)
        };
        let chunk: Vec<u8> = (0..words_now).flat_map(|_| words.next_u64().to_le_bytes()).collect();
        w.write_all(&chunk).await.unwrap();
        sent += chunk.len() as u64;
        tokio::task::yield_now().await;
        // At most `WINDOW` ahead of the reader (on a multi-thread runtime it
        // would run far ahead, and the reader's reads would never wait).
        let caught_up = received.wait_for(|&r| sent - r <= WINDOW || stop.load(Ordering::Relaxed));
        if caught_up.await.is_err() {
            break; // the reader is gone (it failed)
        }
    }
    w.shutdown().await.unwrap();
    sent
}

/// The read side under test: a whole stream or an owned read half.
trait Reader: AsyncRead + Unpin + Send {
    fn peek_now<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = std::io::Result<usize>> + Send + 'a;
    fn readable_now(&self) -> impl Future<Output = std::io::Result<()>> + Send + '_;
    fn try_read_now(&self, buf: &mut [u8]) -> std::io::Result<usize>;
}

impl Reader for TcpStream {
    fn peek_now<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = std::io::Result<usize>> + Send + 'a {
        TcpStream::peek(self, buf)
    }
    fn readable_now(&self) -> impl Future<Output = std::io::Result<()>> + Send + '_ {
        self.readable()
    }
    fn try_read_now(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.try_read(buf)
    }
}

impl Reader for common::net::tcp::OwnedReadHalf {
    fn peek_now<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = std::io::Result<usize>> + Send + 'a {
        self.peek(buf)
    }
    fn readable_now(&self) -> impl Future<Output = std::io::Result<()>> + Send + '_ {
        self.as_ref().readable()
    }
    fn try_read_now(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.as_ref().try_read(buf)
    }
}

impl Reader for UnixStream {
    /// (Unix streams have no `peek` in tokio: a `try_read` stands in.)
    fn peek_now<'a>(&'a mut self, _: &'a mut [u8]) -> impl Future<Output = std::io::Result<usize>> + Send + 'a {
        std::future::ready(Err(std::io::ErrorKind::Unsupported.into()))
    }
    fn readable_now(&self) -> impl Future<Output = std::io::Result<()>> + Send + '_ {
        self.readable()
    }
    fn try_read_now(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.try_read(buf)
    }
}

/// One storm: `drops` abandoned reads on `reader`, then the rest of the
/// stream read whole; every byte checked.
async fn storm<R: Reader, W: AsyncWrite + Unpin + Send + 'static>(mut reader: R, writer: W, drops: usize, seed: u64) {
    let what = format!("storm of seed {seed}");
    let stop = Arc::new(AtomicBool::new(false));
    let (progress, received) = watch::channel(0);
    let write = tokio::spawn(write_until(writer, seed, stop.clone(), received));
    let mut rng = XorShift::new(seed.rotate_left(17));
    let mut expect = Expect::new(seed);
    let mut buf = vec![0u8; 40 * 1024];
    let mut dropped = 0;
    let mut eof = false;
    while dropped < drops {
        let len = match rng.range(0, 3) {
            0 => rng.range(1, 16),
            1 => rng.range(1, 4096),
            _ => rng.range(1, buf.len()),
        };
        let got = match rng.range(0, 19) {
            // The losing branch of a select! against a yield.
            0..=7 => tokio::select! {
                biased;
                () = tokio::task::yield_now() => { dropped += 1; None }
                n = reader.read(&mut buf[..len]) => Some(n.unwrap()),
            },
            // Polled once, then dropped.
            8..=13 => {
                let mut read = pin!(reader.read(&mut buf[..len]));
                let once = poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
                match once {
                    Poll::Ready(n) => Some(n.unwrap()),
                    Poll::Pending => {
                        dropped += 1;
                        None
                    }
                }
            }
            // Racing a few microseconds (the timer rounds up, so rarely).
            14 if rng.one_in(16) => {
                let micros = rng.range(1, 20) as u64;
                match tokio::time::timeout(Duration::from_micros(micros), reader.read(&mut buf[..len])).await {
                    Ok(n) => Some(n.unwrap()),
                    Err(_) => {
                        dropped += 1;
                        None
                    }
                }
            }
            // A peek must show the next bytes and leave them there.
            15 => {
                let peeked = {
                    let mut peek = pin!(reader.peek_now(&mut buf[..len]));
                    poll_fn(|cx| Poll::Ready(peek.as_mut().poll(cx))).await
                };
                if let Poll::Ready(Ok(n)) = peeked {
                    let want = expect.peek(n).to_vec();
                    assert_eq!(&buf[..n], &want[..], "{what}: a peek saw other bytes than the next");
                }
                None
            }
            16 => match reader.try_read_now(&mut buf[..len]) {
                Ok(n) => Some(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
                Err(e) => panic!("{what}: try_read: {e}"),
            },
            17 => {
                reader.readable_now().await.unwrap();
                None
            }
            _ => Some(reader.read(&mut buf[..len]).await.unwrap()),
        };
        match got {
            Some(0) => {
                eof = true;
                break;
            }
            Some(n) => {
                expect.take(&buf[..n], &what);
                progress.send_replace(expect.received);
            }
            None => {}
        }
    }
    assert!(!eof, "{what}: end of stream while the writer was still writing");
    stop.store(true, Ordering::Relaxed);
    progress.send_replace(expect.received); // wakes the writer to see `stop`
    loop {
        let len = rng.range(1, buf.len());
        match reader.read(&mut buf[..len]).await.unwrap() {
            0 => break,
            n => expect.take(&buf[..n], &what),
        }
    }
    let sent = write.await.unwrap();
    assert_eq!(expect.received, sent, "{what}: bytes received, bytes sent");
    assert_eq!(reader.read(&mut buf).await.unwrap(), 0, "{what}: end of stream stays");
}

/// The runs: TCP whole, TCP owned half, Unix whole; each on both flavours.
const RUNS: usize = 3;

/// Each run's share of [`DROPS`], per flavour. Also asks for the
/// completion read path (where the backend has it; readiness is the
/// default), before any reactor exists.
fn per_run() -> usize {
    completion_path();
    scaled(DROPS).div_ceil(2 * RUNS)
}

fn completion_path() {
    static SET: std::sync::Once = std::sync::Once::new();
    // Unless the run asks for a path itself (to storm the readiness path).
    SET.call_once(|| {
        if std::env::var_os("RINGIO_COMPAT_READS").is_none() {
            std::env::set_var("RINGIO_COMPAT_READS", "completion");
        }
    });
}

/// A hang detector (not a timing check): far above what a run takes.
fn limit() -> Duration {
    LIMIT * u32::try_from(scaled(1)).unwrap_or(u32::MAX)
}

#[test]
fn abandoned_tcp_reads_lose_nothing() {
    completion_path();
    let seed = seed("abandoned_tcp_reads_lose_nothing");
    flavours_within(limit(), move || async move {
        let (client, server) = tcp_pair().await;
        storm(server, client, per_run(), seed).await;
    });
}

#[test]
fn abandoned_reads_on_an_owned_half_lose_nothing() {
    completion_path();
    let seed = seed("abandoned_reads_on_an_owned_half_lose_nothing");
    flavours_within(limit(), move || async move {
        let (client, server) = tcp_pair().await;
        let (reader, _keep) = server.into_split();
        storm(reader, client, per_run(), seed).await;
    });
}

#[test]
fn abandoned_unix_reads_lose_nothing() {
    completion_path();
    let seed = seed("abandoned_unix_reads_lose_nothing");
    flavours_within(limit(), move || async move {
        let (a, b) = UnixStream::pair().unwrap();
        storm(a, b, per_run(), seed).await;
    });
}
