//! Helpers shared by the integration tests: runtimes, descriptor counting,
//! and the machinery of the cancellation, close and load tests (issue 9):
//! seeded randomness, a scale knob, a watchdog, random drop points, a
//! second runtime thread, checkable byte streams and descriptor reuse.

pub mod hosted;

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A runtime for tests (default settings).
pub fn runtime() -> ringio::Runtime {
    ringio::Runtime::new().expect("ringio runtime")
}

/// Number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

/// A bound on how long any single test step may take before we call it a hang.
pub const STEP: Duration = Duration::from_secs(10);

/// A runtime with `slots` fixed-file slots (0: plain descriptors only).
pub fn runtime_with_fixed(slots: u32) -> ringio::Runtime {
    ringio::Runtime::builder()
        .fixed_files(slots)
        .build()
        .expect("ringio runtime")
}

/// Polls `future` exactly once, then drops it: the way a `select!` or a
/// timeout abandons an operation mid-flight.
pub async fn poll_once<F: std::future::Future>(future: F) -> bool {
    poll_once_output(future).await.is_some()
}

/// Like [`poll_once`], but hands back the output when that one poll
/// completed the future (so a test can account for what it returned).
pub async fn poll_once_output<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        Poll::Ready(match future.as_mut().poll(cx) {
            Poll::Ready(out) => Some(out),
            Poll::Pending => None,
        })
    })
    .await
}

/// Yields until the runtime has no operation in the kernel and no slab entry
/// (abandoned operations are reaped asynchronously), or panics after `STEP`.
pub async fn settle() -> ringio::Stats {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let stats = ringio::runtime::stats().expect("inside a runtime");
        if stats.in_flight == 0 && stats.slab_entries == 0 {
            return stats;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "operations never drained: {stats:?}"
        );
        ringio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Serializes tests that count descriptors or depend on which number the
/// kernel hands out next: tests in one binary run on parallel threads.
pub fn fd_serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// An io_uring runtime from `builder`, or `None` (with a message) where the
/// kernel denies io_uring: tests of the ring itself skip there.
pub fn uring(builder: &mut ringio::Builder) -> Option<ringio::Runtime> {
    match builder.backend(ringio::Backend::IoUring).build() {
        Ok(rt) => Some(rt),
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
            eprintln!("skipped: io_uring unavailable here: {e}");
            None
        }
        Err(e) => panic!("building an io_uring runtime: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Scale and seeds
// ---------------------------------------------------------------------------

/// The stress factor, `RINGIO_STRESS` (default 1, the CI size), read once.
/// Every storm multiplies its round count by it: `RINGIO_STRESS=100` turns
/// the 10^4 drops of a storm into 10^6.
pub fn stress() -> usize {
    static STRESS: OnceLock<usize> = OnceLock::new();
    *STRESS.get_or_init(|| match std::env::var("RINGIO_STRESS") {
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("RINGIO_STRESS={v}: expected a positive integer")),
        Err(_) => 1,
    })
}

/// `n` rounds at the CI size, times [`stress`].
pub fn scaled(n: usize) -> usize {
    n * stress()
}

/// A xorshift64* generator: reproducible drop points, sizes and payloads
/// without a `rand` dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
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
        self.next_u64().is_multiple_of(n)
    }

    /// A generator of its own for a sub-task, derived from this one.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

/// The seed of one test run: `RINGIO_TEST_SEED` if set (to replay a
/// failure), else fresh. It is printed when the test starts and again if the
/// test fails, so a failing run names the seed that replays it.
pub struct Seed {
    what: String,
    value: u64,
}

impl Seed {
    /// The seed for the test called `what`.
    pub fn new(what: &str) -> Seed {
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
        Seed {
            what: what.to_string(),
            value,
        }
    }

    /// The seed.
    pub fn value(&self) -> u64 {
        self.value
    }

    /// A generator seeded with it.
    pub fn rng(&self) -> Rng {
        Rng::new(self.value)
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "{} failed with seed {}: replay with RINGIO_TEST_SEED={}",
                self.what, self.value, self.value
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Watchdog
// ---------------------------------------------------------------------------

/// What a watched body reports: the step it is at, and that it moved on.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<ProgressInner>,
}

struct ProgressInner {
    start: Instant,
    /// Nanoseconds after `start` of the last [`Progress::step`].
    last: AtomicU64,
    step: AtomicU64,
    /// What the body is doing within its step, for the hang message.
    doing: Mutex<&'static str>,
}

impl Progress {
    /// Records that the body reached step `n` (a round number): the
    /// watchdog's bound restarts from now.
    pub fn step(&self, n: usize) {
        self.doing("");
        self.inner.step.store(n as u64, Ordering::Relaxed);
        let now = self.inner.start.elapsed().as_nanos() as u64;
        // Relaxed: the watchdog only needs an approximately fresh value.
        self.inner.last.store(now, Ordering::Relaxed);
    }

    /// Records what the body is about to wait for within its step (named in
    /// the hang message; does not restart the bound).
    pub fn doing(&self, what: &'static str) {
        *self.inner.doing.lock().unwrap_or_else(|p| p.into_inner()) = what;
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_nanos(self.inner.last.load(Ordering::Relaxed));
        self.inner.start.elapsed().saturating_sub(last)
    }
}

/// Runs `body` on a thread of its own and returns what it returns. If the
/// body goes `limit` without calling [`Progress::step`] (or, if it never
/// calls it, takes longer than `limit` in all), panics with
/// "hung: `what` at step n", so a hang fails the test instead of blocking CI.
/// A panic in the body continues in the caller.
///
/// A hung body's thread is left behind (nothing can stop it); the test
/// binary exits when its tests are done.
pub fn watchdog<T, F>(what: &str, limit: Duration, body: F) -> T
where
    T: Send + 'static,
    F: FnOnce(Progress) -> T + Send + 'static,
{
    let progress = Progress {
        inner: Arc::new(ProgressInner {
            start: Instant::now(),
            last: AtomicU64::new(0),
            step: AtomicU64::new(0),
            doing: Mutex::new(""),
        }),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let watched = progress.clone();
    let thread = std::thread::Builder::new()
        .name(format!("watched: {what}"))
        .spawn(move || {
            let _ = tx.send(body(watched));
        })
        .expect("spawning the watched thread");
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(out) => {
                let _ = thread.join();
                return out;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the body returned without sending its result"),
            },
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if progress.idle_for() > limit {
                    let doing = *progress.inner.doing.lock().unwrap_or_else(|p| p.into_inner());
                    panic!(
                        "hung: {what} at step {}{}{doing}: no progress for {limit:?}",
                        progress.inner.step.load(Ordering::Relaxed),
                        if doing.is_empty() { "" } else { ", " },
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Random drop points
// ---------------------------------------------------------------------------

/// Runs `future` until a random point and drops it there, the two ways real
/// code does: half the time under `ringio::time::timeout` with a duration of
/// 0 to 50 µs, half the time polled exactly once (a `select!` branch that
/// another branch beat). `Some(output)` if it completed before that point.
///
/// Both ways poll the future at least once.
pub async fn interrupt<F: Future>(rng: &mut Rng, future: F) -> Option<F::Output> {
    if rng.one_in(2) {
        let d = Duration::from_micros(rng.range(0, 50) as u64);
        ringio::time::timeout(d, future).await.ok()
    } else {
        poll_once_output(future).await
    }
}

// ---------------------------------------------------------------------------
// A mailbox that wakes across threads, and a second runtime thread
// ---------------------------------------------------------------------------

/// A multi-producer, single-consumer queue whose receiver is a future: a
/// ringio task waits on it without blocking its runtime's thread, and any
/// thread may send.
pub struct Mailbox<T> {
    inner: Arc<Mutex<MailboxState<T>>>,
}

struct MailboxState<T> {
    queue: VecDeque<T>,
    waker: Option<Waker>,
    senders_gone: bool,
}

impl<T> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Mailbox {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox {
            inner: Arc::new(Mutex::new(MailboxState {
                queue: VecDeque::new(),
                waker: None,
                senders_gone: false,
            })),
        }
    }
}

impl<T> Mailbox<T> {
    /// An empty mailbox.
    pub fn new() -> Mailbox<T> {
        Mailbox::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MailboxState<T>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `value` and wakes the receiver.
    pub fn send(&self, value: T) {
        let waker = {
            let mut st = self.state();
            st.queue.push_back(value);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Tells the receiver nothing more will come: `recv` then returns `None`
    /// once the queue is empty.
    pub fn finish(&self) {
        let waker = {
            let mut st = self.state();
            st.senders_gone = true;
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The next value, waiting for it; `None` after [`Mailbox::finish`].
    pub async fn recv(&self) -> Option<T> {
        std::future::poll_fn(|cx| {
            let mut st = self.state();
            if let Some(v) = st.queue.pop_front() {
                return Poll::Ready(Some(v));
            }
            if st.senders_gone {
                return Poll::Ready(None);
            }
            st.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// A second thread with its own ringio runtime, inside `block_on` for its
/// whole life, running jobs sent from elsewhere as tasks. Operations that a
/// job runs on descriptors made on another runtime are *foreign*: they are
/// submitted to the descriptor's home runtime, which must be turning.
pub struct Foreign {
    jobs: Mailbox<Job>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Foreign {
    /// Starts the thread and its runtime.
    pub fn start() -> Foreign {
        let jobs: Mailbox<Job> = Mailbox::new();
        let queue = jobs.clone();
        let thread = std::thread::Builder::new()
            .name("ringio-foreign".into())
            .spawn(move || {
                runtime().block_on(async move {
                    let mut running = Vec::new();
                    while let Some(job) = queue.recv().await {
                        running.push(ringio::spawn(job()));
                        running.retain(|h: &ringio::JoinHandle<()>| !h.is_finished());
                    }
                    for h in running {
                        let _ = h.await;
                    }
                })
            })
            .expect("spawning the foreign runtime thread");
        Foreign {
            jobs,
            thread: Some(thread),
        }
    }

    /// Runs `make()` as a task on the foreign runtime and waits for its
    /// output without blocking the calling runtime (which keeps turning, so
    /// it serves the foreign operations on its descriptors meanwhile). A
    /// panic in the job continues here.
    pub async fn run<T, F, Fut>(&self, make: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
    {
        let reply: Mailbox<std::thread::Result<T>> = Mailbox::new();
        let sender = reply.clone();
        self.jobs.send(Box::new(move || {
            Box::pin(async move {
                sender.send(CatchUnwind(Box::pin(make())).await);
            })
        }));
        match reply.recv().await.expect("the foreign runtime went away") {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Starts `make()` as a task on the foreign runtime; its output arrives
    /// in the returned mailbox (a panic in the job arrives as `Err`).
    pub fn spawn<T, F, Fut>(&self, make: F) -> Mailbox<std::thread::Result<T>>
    where
        T: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
    {
        let reply = Mailbox::new();
        let sender = reply.clone();
        self.jobs.send(Box::new(move || {
            Box::pin(async move {
                sender.send(CatchUnwind(Box::pin(make())).await);
            })
        }));
        reply
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        self.jobs.finish();
        if let Some(t) = self.thread.take() {
            if std::thread::panicking() {
                return; // a job may be hung: do not wait for it
            }
            t.join().expect("the foreign runtime thread panicked");
        }
    }
}

/// Polls the future inside `catch_unwind`, so a panicking job reports its
/// panic instead of taking the foreign runtime down.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Sleeps in small steps until `done()` holds, letting the runtime turn.
pub async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        ringio::time::sleep(Duration::from_micros(200)).await;
    }
}

// ---------------------------------------------------------------------------
// Checkable byte streams
// ---------------------------------------------------------------------------

/// An endless pseudo-random byte stream: byte `i` of the stream of `seed` is
/// always the same, so a receiver can check every byte it gets and a lost,
/// duplicated or reordered byte shows up at its offset.
#[derive(Debug, Clone)]
pub struct Pattern {
    rng: Rng,
    word: [u8; 8],
    used: usize,
}

impl Pattern {
    /// The stream of `seed`, from its first byte.
    pub fn new(seed: u64) -> Pattern {
        Pattern {
            rng: Rng::new(seed),
            word: [0; 8],
            used: 8,
        }
    }

    /// Fills `out` with the next bytes of the stream.
    pub fn fill(&mut self, out: &mut [u8]) {
        // The rest of the current word, then whole words (fast even in debug
        // builds, which matters at tens of megabytes per storm).
        let head = (8 - self.used).min(out.len());
        out[..head].copy_from_slice(&self.word[self.used..self.used + head]);
        self.used += head;
        let mut words = out[head..].chunks_exact_mut(8);
        for w in &mut words {
            w.copy_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            self.word = self.rng.next_u64().to_le_bytes();
            tail.copy_from_slice(&self.word[..tail.len()]);
            self.used = tail.len();
        }
    }

    /// The next `n` bytes of the stream.
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }
}

/// Checks what a receiver got against a [`Pattern`], in order, and counts it.
#[derive(Debug)]
pub struct StreamCheck {
    pattern: Pattern,
    scratch: Vec<u8>,
    received: u64,
    first_mismatch: Option<u64>,
}

impl StreamCheck {
    /// Expects the stream of `seed`.
    pub fn new(seed: u64) -> StreamCheck {
        StreamCheck {
            pattern: Pattern::new(seed),
            scratch: Vec::new(),
            received: 0,
            first_mismatch: None,
        }
    }

    /// Takes the next bytes the receiver got.
    pub fn push(&mut self, got: &[u8]) {
        if self.first_mismatch.is_none() {
            self.scratch.resize(got.len(), 0);
            self.pattern.fill(&mut self.scratch);
            if let Some(at) = got.iter().zip(&self.scratch).position(|(a, b)| a != b) {
                self.first_mismatch = Some(self.received + at as u64);
            }
        }
        self.received += got.len() as u64;
    }

    /// Bytes taken so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Panics unless exactly the first `expected` bytes of the stream
    /// arrived, in order. `what` names the scenario.
    #[track_caller]
    pub fn assert_exactly(&self, expected: u64, what: &str) {
        if let Some(at) = self.first_mismatch {
            panic!(
                "{what}: the bytes received differ from the bytes expected from offset {at} on \
                 (lost, duplicated or reordered); received {} bytes, expected {expected} ({:+})",
                self.received,
                self.received as i128 - expected as i128
            );
        }
        assert_eq!(
            self.received,
            expected,
            "{what}: received {} bytes, expected {expected}: {} bytes {}",
            self.received,
            self.received.abs_diff(expected),
            if self.received < expected { "lost" } else { "extra" }
        );
    }
}

// ---------------------------------------------------------------------------
// Streams with a std peer
// ---------------------------------------------------------------------------

/// A ringio stream of either kind, so one storm runs over TCP and Unix.
#[derive(Debug)]
pub enum AnyStream {
    /// A TCP connection.
    Tcp(ringio::net::TcpStream),
    /// A Unix stream socket.
    Unix(ringio::net::UnixStream),
}

/// The std end of an [`AnyStream`] pair, used blocking from a plain thread.
#[derive(Debug)]
pub enum StdStream {
    /// A TCP connection.
    Tcp(std::net::TcpStream),
    /// A Unix stream socket.
    Unix(std::os::unix::net::UnixStream),
}

/// Which kind of stream a storm runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP over loopback.
    Tcp,
    /// A Unix socket pair.
    Unix,
}

impl Transport {
    /// A connected pair: a ringio stream registered with the current
    /// runtime (call inside `block_on`: that runtime is its home), and a
    /// blocking std stream for a peer thread.
    pub fn pair(self) -> (AnyStream, StdStream) {
        match self {
            Transport::Tcp => {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
                let (ours, _) = l.accept().unwrap();
                ours.set_nodelay(true).unwrap();
                peer.set_nodelay(true).unwrap();
                (
                    AnyStream::Tcp(ringio::net::TcpStream::from_std(ours).unwrap()),
                    StdStream::Tcp(peer),
                )
            }
            Transport::Unix => {
                let (ours, peer) = std::os::unix::net::UnixStream::pair().unwrap();
                (
                    AnyStream::Unix(ringio::net::UnixStream::from_std(ours).unwrap()),
                    StdStream::Unix(peer),
                )
            }
        }
    }
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStream::Tcp($s) => $e,
            AnyStream::Unix($s) => $e,
        }
    };
}

impl AnyStream {
    /// `read`.
    pub async fn read(&self, buf: Vec<u8>) -> ringio::BufResult<usize, Vec<u8>> {
        both!(self, s => s.read(buf).await)
    }

    /// `read_exact`.
    pub async fn read_exact(&self, buf: Vec<u8>) -> ringio::BufResult<(), Vec<u8>> {
        both!(self, s => s.read_exact(buf).await)
    }

    /// `write`.
    pub async fn write(&self, buf: Vec<u8>) -> ringio::BufResult<usize, Vec<u8>> {
        both!(self, s => s.write(buf).await)
    }

    /// `write_all`.
    pub async fn write_all(&self, buf: Vec<u8>) -> ringio::BufResult<(), Vec<u8>> {
        both!(self, s => s.write_all(buf).await)
    }

    /// `recv_multi` from `group`.
    pub fn recv_multi<'a>(&'a self, group: &ringio::buf::BufRing) -> ringio::net::RecvMulti<'a> {
        both!(self, s => s.recv_multi(group))
    }

    /// `close`.
    pub async fn close(&self) -> std::io::Result<()> {
        both!(self, s => s.close().await)
    }

    /// The descriptor number, -1 once closed.
    pub fn raw_fd(&self) -> RawFd {
        both!(self, s => s.as_raw_fd())
    }
}

impl std::io::Read for StdStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            StdStream::Tcp(s) => s.read(buf),
            StdStream::Unix(s) => s.read(buf),
        }
    }
}

impl std::io::Write for StdStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            StdStream::Tcp(s) => s.write(buf),
            StdStream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl StdStream {
    /// Sets a read timeout (so a peer thread cannot block forever).
    pub fn set_read_timeout(&self, d: Option<Duration>) -> std::io::Result<()> {
        match self {
            StdStream::Tcp(s) => s.set_read_timeout(d),
            StdStream::Unix(s) => s.set_read_timeout(d),
        }
    }
}

/// A peer thread writing the [`Pattern`] of `seed` into `w`, continuously,
/// in chunks of 1 B to 16 KiB with short random pauses (so a reader
/// sometimes finds data waiting and sometimes waits for it), until told to
/// stop; then it closes its end. [`Pusher::stop`] returns how many bytes it
/// sent.
pub struct Pusher {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Pusher {
    /// Starts pushing.
    pub fn start<W: std::io::Write + Send + 'static>(mut w: W, seed: u64) -> Pusher {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut pattern = Pattern::new(seed);
            let mut rng = Rng::new(seed ^ 0x5eed);
            let mut chunk = Vec::new();
            let mut sent = 0u64;
            while !stopped.load(Ordering::Relaxed) {
                chunk.resize(rng.range(1, 16 * 1024), 0);
                pattern.fill(&mut chunk);
                if w.write_all(&chunk).is_err() {
                    break; // the reader is gone: its test reports why
                }
                sent += chunk.len() as u64;
                if rng.one_in(4) {
                    std::thread::sleep(Duration::from_micros(rng.range(0, 100) as u64));
                }
            }
            drop(w);
            sent
        });
        Pusher {
            stop,
            thread: Some(thread),
        }
    }

    /// Asks the pusher to stop after its current chunk (the reader must keep
    /// reading until end of stream) and returns a handle to its total.
    pub fn stop(&mut self) -> std::thread::JoinHandle<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().expect("stopped twice")
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A peer thread reading `r` to end of stream, with random read sizes and
/// random pauses (so the writer's socket buffer is sometimes full), checking
/// every byte against the [`Pattern`] of `seed`. Returns the check.
pub fn drain_and_check<R: std::io::Read + Send + 'static>(
    mut r: R,
    seed: u64,
) -> std::thread::JoinHandle<std::io::Result<StreamCheck>> {
    std::thread::spawn(move || {
        let mut check = StreamCheck::new(seed);
        let mut rng = Rng::new(seed ^ 0xd7a1);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let want = rng.range(1, buf.len());
            match r.read(&mut buf[..want]) {
                Ok(0) => return Ok(check),
                Ok(n) => check.push(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if rng.one_in(8) {
                std::thread::sleep(Duration::from_micros(rng.range(0, 200) as u64));
            }
        }
    })
}

// ---------------------------------------------------------------------------
// Descriptor numbers and limits
// ---------------------------------------------------------------------------

/// `(st_dev, st_ino)` of an open descriptor.
pub fn identity(fd: RawFd) -> std::io::Result<(u64, u64)> {
    // SAFETY: the borrow lives for this one `fstat`; a number that is not
    // open only makes it fail with EBADF.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let st = rustix::fs::fstat(fd)?;
    Ok((st.st_dev, st.st_ino))
}

/// `/dev/null` opened on a number that a closed handle had: the reuser. A
/// pending operation of the old handle that still named the number would
/// now act on (or close) this file.
pub struct Reused {
    file: File,
    /// Lower numbers taken on the way, kept open while the reuser is checked.
    _fillers: Vec<File>,
    identity: (u64, u64),
}

impl Reused {
    /// Opens `/dev/null` until the kernel hands out `old` (keeping the lower
    /// numbers it hands out on the way, so they cannot go to anyone else),
    /// letting the runtime turn while `old` is still taken (a fixed slot is
    /// released on its ring's own thread). Panics if `old` never comes free
    /// within [`STEP`]: the closed handle still holds it.
    pub async fn take(old: RawFd) -> Reused {
        let deadline = Instant::now() + STEP;
        let mut fillers = Vec::new();
        loop {
            let f = File::open("/dev/null").unwrap();
            let n = f.as_raw_fd();
            if n == old {
                let identity = identity(n).unwrap();
                return Reused {
                    file: f,
                    _fillers: fillers,
                    identity,
                };
            }
            if n < old {
                fillers.push(f);
            } else {
                drop(f);
                assert!(
                    Instant::now() < deadline,
                    "descriptor {old} still open after close returned"
                );
                ringio::runtime::yield_now().await;
            }
        }
    }

    /// Panics unless the number still names the `/dev/null` opened on it:
    /// nothing closed it or replaced it behind its owner's back.
    #[track_caller]
    pub fn assert_untouched(&self, what: &str) {
        let fd = self.file.as_raw_fd();
        match identity(fd) {
            Ok(id) if id == self.identity => {}
            other => panic!("{what}: descriptor {fd}, reused after close, was touched: fstat says {other:?}"),
        }
    }
}

/// Raises `RLIMIT_NOFILE`'s soft limit to its hard limit and returns the
/// new soft limit.
pub fn raise_nofile_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if let Some(max) = limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(max),
                maximum: Some(max),
            },
        );
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Re-executes this test binary to run only the test `name`, with `env`
/// set (the child recognises itself by it) and `RINGIO_BACKEND` as given
/// (`None` removes it: the automatic choice). For tests that change
/// process-wide state, such as resource limits. Returns the child's output.
pub fn run_child(name: &str, env: &[(&str, &str)], backend: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    match backend {
        Some(b) => cmd.env("RINGIO_BACKEND", b),
        None => cmd.env_remove("RINGIO_BACKEND"),
    };
    cmd.output().expect("re-executing the test binary")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_does_not_depend_on_how_it_is_cut() {
        let whole = Pattern::new(7).take(1000);
        let mut p = Pattern::new(7);
        let mut rng = Rng::new(1);
        let mut cut = Vec::new();
        while cut.len() < 1000 {
            let n = rng.range(0, 13).min(1000 - cut.len());
            cut.extend(p.take(n));
        }
        assert_eq!(cut, whole);
        let mut check = StreamCheck::new(7);
        check.push(&whole[..500]);
        check.push(&whole[500..]);
        check.assert_exactly(1000, "pattern");
    }
}

/// How a buffer group takes receives (issue 11): one buffer per CQE
/// (`Plain`), several per CQE (`Bundles`, Linux 6.10), or pieces of one
/// buffer over several CQEs (`Incremental`, Linux 6.12). Where the backend
/// or kernel lacks a feature the group falls back to `Plain`, and the tests
/// run all the same (`BufRing::bundles`/`incremental` say what it got).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMode {
    /// One buffer per CQE (the default before bundles).
    Plain,
    /// `BufRing::builder(..).bundles(true)`: several buffers per CQE.
    Bundles,
    /// `BufRing::builder(..).incremental(true)`: pieces of one buffer.
    Incremental,
}

impl GroupMode {
    /// Every mode, for tests that run in each.
    pub const ALL: [GroupMode; 3] = [GroupMode::Plain, GroupMode::Bundles, GroupMode::Incremental];

    /// A group of `count` buffers of `buf_len` bytes taking receives this way.
    pub fn build(self, group: u16, count: usize, buf_len: usize) -> std::io::Result<ringio::buf::BufRing> {
        let built = ringio::buf::BufRing::builder(group, count, buf_len)
            .bundles(self == GroupMode::Bundles)
            .incremental(self == GroupMode::Incremental)
            .build()?;
        if !self.granted(&built) {
            eprintln!("{self:?}: not here (backend or kernel); the group takes plain receives");
        }
        Ok(built)
    }

    /// Whether `group` got the feature this mode asks for.
    pub fn granted(self, group: &ringio::buf::BufRing) -> bool {
        match self {
            GroupMode::Plain => !group.bundles() && !group.incremental(),
            GroupMode::Bundles => group.bundles(),
            GroupMode::Incremental => group.incremental(),
        }
    }
}

/// The next buffer, within `STEP`.
pub async fn recv_next(rx: &mut ringio::net::RecvMulti<'_>, what: &str) -> Option<ringio::buf::BufRingBuf> {
    ringio::time::timeout(STEP, rx.next())
        .await
        .unwrap_or_else(|_| panic!("hung: {what}"))
        .map(|res| res.unwrap_or_else(|e| panic!("{what}: {e}")))
}

/// Reads `rx` to end of stream, checking each buffer against `check`.
pub async fn recv_drain(rx: &mut ringio::net::RecvMulti<'_>, check: &mut StreamCheck, what: &str) {
    while let Some(buf) = recv_next(rx, what).await {
        assert!(!buf.is_empty(), "{what}: an empty buffer before end of stream");
        check.push(&buf);
    }
}

/// Every buffer is home and counted so.
pub async fn group_all_home(group: &ringio::buf::BufRing, what: &str) {
    settle().await;
    assert_eq!(
        group.available(),
        group.count(),
        "{what}: buffers still out of the group"
    );
    let stats = ringio::runtime::stats().unwrap();
    assert_eq!(
        stats.bufs_out, 0,
        "{what}: Stats::bufs_out after everything was dropped"
    );
}
