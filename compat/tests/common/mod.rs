//! Helpers shared by the consumer tests: the switch between tokio's types and
//! ringio-compat's, both tokio runtime flavours, seeded payloads, an echo server.
//!
//! The tests name every I/O type through [`net`] and [`fs`], so the same suite
//! can run against tokio (the reference) by flipping the lines marked `SWITCH`.

#![allow(dead_code, unused_imports)] // every test binary uses its own subset

pub use ringio_compat::fs; // SWITCH: pub use tokio::fs;
pub use ringio_compat::net; // SWITCH: pub use tokio::net;

use std::any::Any;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::{JoinError, JoinHandle, JoinSet};

/// The backend of the calling thread's compat reactor; `None` when the
/// tests run on tokio's own types.
fn reactor_backend() -> Option<io::Result<ringio::Backend>> {
    Some(ringio_compat::backend()) // SWITCH: None
}

/// Asserts that this thread's compat reactor runs on the backend that
/// `RINGIO_BACKEND` asks for (no-op on tokio, and when the variable is unset).
pub fn assert_backend() {
    let Some(backend) = reactor_backend() else { return };
    let backend = backend.expect("the compat reactor of this thread");
    let wanted = match std::env::var("RINGIO_BACKEND").as_deref() {
        Ok("uring" | "io_uring") => ringio::Backend::IoUring,
        Ok("epoll") => ringio::Backend::Epoll,
        _ => return,
    };
    assert_eq!(backend, wanted, "RINGIO_BACKEND asks for {wanted:?}");
}

/// How long one run of a test body may take before it counts as a hang,
/// at the CI size; a storm scaled by `RINGIO_STRESS` gets that many times it.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Runs `test` on a current-thread runtime, then on a multi-thread runtime
/// with two workers. The body runs as a spawned task, so on the multi-thread
/// runtime it (and everything it spawns) may move between worker threads.
/// A body that does not finish within [`LIMIT`] (times `RINGIO_STRESS`) fails the test.
pub fn flavours<F, Fut>(test: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    flavours_within(LIMIT * scaled(1) as u32, test);
}

/// [`flavours`] with a limit of its own per run (storms that scale with
/// `RINGIO_STRESS`).
pub fn flavours_within<F, Fut>(limit: Duration, test: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runtimes = [
        ("current_thread", tokio::runtime::Builder::new_current_thread()),
        ("multi_thread", {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }),
    ];
    for (flavour, mut builder) in runtimes {
        let rt = builder.enable_all().build().expect("tokio runtime");
        let outcome = rt.block_on(async {
            assert_backend();
            let body = test();
            let task = tokio::spawn(async move {
                assert_backend();
                body.await
            });
            tokio::time::timeout(limit, task).await
        });
        rt.shutdown_timeout(Duration::from_secs(1));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.is_panic() => panic!("{flavour} runtime: {}", panic_message(&e.into_panic())),
            Ok(Err(e)) => panic!("{flavour} runtime: {e}"),
            Err(_) => panic!("{flavour} runtime: the test did not finish within {limit:?}"),
        }
    }
}

fn panic_message(payload: &Box<dyn Any + Send>) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

/// The output of a finished task; a panic in the task continues here.
pub fn joined<T>(result: Result<T, JoinError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("task failed: {e}"),
    }
}

/// A xorshift64* generator: reproducible payloads and chunk sizes without a
/// `rand` dependency.
pub struct XorShift(u64);

impl XorShift {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `low..=high`.
    pub fn range(&mut self, low: usize, high: usize) -> usize {
        low + (self.next_u64() % (high - low + 1) as u64) as usize
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.next_u64() % n == 0
    }
}

/// `n` rounds at the CI size, times `RINGIO_STRESS` (default 1), as in the
/// engine's storms: `RINGIO_STRESS=10` makes a storm ten times longer.
pub fn scaled(n: usize) -> usize {
    let stress = match std::env::var("RINGIO_STRESS") {
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("RINGIO_STRESS={v}: expected a positive integer")),
        Err(_) => 1,
    };
    n * stress
}

/// The seed of a storm: `RINGIO_TEST_SEED` to replay one, else fresh. It is
/// printed (shown when the test fails), so a failure names its replay.
pub fn seed(what: &str) -> u64 {
    let value = match std::env::var("RINGIO_TEST_SEED") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("RINGIO_TEST_SEED={v}: expected an integer")),
        Err(_) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            nanos ^ (u64::from(std::process::id()) << 32)
        }
    };
    eprintln!("{what}: seed {value} (replay with RINGIO_TEST_SEED={value})");
    value
}

/// `len` pseudo-random bytes determined by `seed`.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = XorShift::new(seed);
    let mut data = vec![0; len];
    for chunk in data.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes()[..chunk.len()]);
    }
    data
}

/// Asserts `got == want` without printing megabytes: reports the lengths and
/// the first differing offset.
#[track_caller]
pub fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        let at = at.unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: got {} bytes, want {}; first difference at byte {at}",
            got.len(),
            want.len()
        );
    }
}

/// A connected loopback pair `(client, server)`; checks both ends' addresses.
pub async fn tcp_pair() -> (net::TcpStream, net::TcpStream) {
    let listener = net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(net::TcpStream::connect(addr), listener.accept());
    let (client, (server, peer)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(client.peer_addr().unwrap(), addr);
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.local_addr().unwrap(), addr);
    (client, server)
}

/// An echo server for exactly `connections` connections. Each connection is
/// echoed until EOF, then the server shuts down its write side. The handle
/// finishes when every connection has; a failure in any of them panics it.
pub async fn echo_server(connections: usize) -> (SocketAddr, JoinHandle<()>) {
    let listener = net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut echoes = JoinSet::new();
        for _ in 0..connections {
            let (mut stream, _) = listener.accept().await.unwrap();
            echoes.spawn(async move {
                let (mut reader, mut writer) = stream.split();
                tokio::io::copy(&mut reader, &mut writer).await.unwrap();
                writer.shutdown().await.unwrap();
            });
        }
        while let Some(done) = echoes.join_next().await {
            joined(done);
        }
    });
    (addr, server)
}

/// Writes `data` with `write_all` calls of pseudo-random lengths (seeded by
/// `seed`, 1 byte to 64 KiB).
pub async fn write_chunked<W: AsyncWrite + Unpin>(writer: &mut W, data: &[u8], seed: u64) {
    let mut rng = XorShift::new(seed);
    let mut rest = data;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rng.range(1, 64 * 1024).min(rest.len()));
        writer.write_all(chunk).await.unwrap();
        rest = tail;
    }
}

/// [`write_chunked`], then `shutdown`: the peer reads `data` and then EOF.
pub async fn write_and_shutdown<W: AsyncWrite + Unpin>(writer: &mut W, data: &[u8], seed: u64) {
    write_chunked(writer, data, seed).await;
    writer.shutdown().await.unwrap();
}

/// Sends `data` through `writer` (see [`write_and_shutdown`]) while reading
/// from `reader` until EOF, concurrently; returns what was read.
pub async fn exchange<R, W>(mut reader: R, mut writer: W, data: &[u8], seed: u64) -> Vec<u8>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut received = Vec::with_capacity(data.len());
    let ((), read) = tokio::join!(
        write_and_shutdown(&mut writer, data, seed),
        reader.read_to_end(&mut received)
    );
    read.unwrap();
    received
}

/// A unique path in the temporary directory, removed on drop.
pub struct TempPath(PathBuf);

impl TempPath {
    /// `$TMPDIR/ringio-compat-<pid>-<n>-<name>`; nothing is created.
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let file = format!("ringio-compat-{}-{n}-{name}", std::process::id());
        Self(std::env::temp_dir().join(file))
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Polls `future` up to `polls` times, with a yield between polls, and
/// drops it there, finished or not (drop storms); whether it finished.
pub async fn poll_up_to<F: Future>(future: F, polls: usize) -> bool {
    let mut future = std::pin::pin!(future);
    for _ in 0..polls {
        if std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx)))
            .await
            .is_ready()
        {
            return true;
        }
        tokio::task::yield_now().await;
    }
    false
}
