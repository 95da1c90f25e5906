//! Load generator for `benches/scripts/compat_compare.sh`: drives an echo or
//! HTTP/1.1 server over `--conns` keep-alive connections, closed loop (each
//! connection sends its next request when the previous answer is in) or open
//! loop at a fixed total `--rate`, and prints one JSON line of results.
//!
//! It is the client, not a contender: plain tokio, one `current_thread`
//! runtime (pin it to its own CPU with `taskset`). With `--server-pid` it also
//! reads the server's CPU time (the sum of `/proc/<pid>/task/*/schedstat`, in
//! nanoseconds) at the start and the end of the measured window, and reports
//! CPU time per request.
//!
//! With `--idle N` it measures memory instead: see [`idle`].
//!
//! Timeline: connect all, then `--warmup` seconds of load that are not
//! counted, then `--duration` seconds that are. A request counts if its answer
//! arrives inside the window.
//!
//! Fixed rate (`--rate R`, R > 0): connection `c` of `N` sends its k-th request
//! at `start + (c + k * N) / R` seconds, so the sends of all connections are
//! evenly spaced (one every `1/R` s). Latency is measured from that scheduled
//! time, not from the actual send, so a server that falls behind is charged
//! for the queueing it causes (no coordinated omission). A connection has one
//! request in flight: if answers take longer than `N/R` s the achieved rate
//! drops below R, which the `rps` field shows. Between sends a connection
//! sleeps on a timerfd and polls for the last `--spin-us` (see [`Pacer`]);
//! `send_lag_*` report how late sends left against their schedule, a check on
//! the loadgen rather than on the server.

mod idle;

use clap::{Parser, ValueEnum};
use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec,
};
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(about = "echo / HTTP load generator with server CPU accounting (for compat_compare.sh)")]
struct Args {
    /// Server address.
    #[arg(long)]
    addr: SocketAddr,
    /// Protocol the server speaks.
    #[arg(long, value_enum, default_value_t = Proto::Echo)]
    proto: Proto,
    /// Concurrent connections (one request in flight on each).
    #[arg(long, default_value_t = 16)]
    conns: usize,
    /// Length of the measured window, seconds.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Load before the measured window, not counted, seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Total requests per second over all connections (open loop); 0 = closed loop, as fast as answers come.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Echo payload bytes per request.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Fixed rate: sleep on a timerfd until this many microseconds before each scheduled send, then
    /// poll until it. Polling keeps the loadgen's CPU awake: sends leave on time, and the server's
    /// loopback sends do not have to wake an idle CPU (which a VM charges to the server). At the
    /// default, 1000, every connection sending more often than once per millisecond only polls.
    /// 0 = only sleep.
    #[arg(long, default_value_t = 1000)]
    spin_us: u64,
    /// Server process whose CPU time to measure over the window.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Instead of load: hold this many idle connections (one request each) and report the
    /// server's resident memory per connection (needs `--server-pid`).
    #[arg(long)]
    idle: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Proto {
    /// Write `--size` bytes, read them back.
    Echo,
    /// `GET /` HTTP/1.1 keep-alive; reads one response with a `Content-Length` body.
    Http,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Echo => "echo",
            Proto::Http => "http",
        }
    }
}

// ------------------------------------------------------------ histogram ---

/// Sub-buckets per power of two, as a bit count: 2^7 = 128, so a bucket is at
/// most 1/128 of its value wide and the reported midpoint is within 0.4%.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;

/// Log-linear latency histogram in nanoseconds (the HdrHistogram layout):
/// values below `2 * SUB` have a bucket each; above, each power of two is
/// split into `SUB` equal buckets.
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    max: u64,
}

impl Histogram {
    fn new() -> Histogram {
        let buckets = Self::index(u64::MAX) + 1;
        Histogram {
            counts: vec![0; buckets],
            total: 0,
            sum: 0,
            max: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < 2 * SUB {
            return v as usize;
        }
        let shift = 63 - v.leading_zeros() - SUB_BITS; // >= 1; v >> shift is in [SUB, 2 * SUB)
        (u64::from(shift) * SUB + (v >> shift)) as usize
    }

    /// The midpoint of bucket `i`.
    fn value_at(i: usize) -> u64 {
        let i = i as u64;
        if i < 2 * SUB {
            return i;
        }
        let shift = i / SUB - 1;
        let low = (i % SUB + SUB) << shift;
        low + ((1u64 << shift) - 1) / 2
    }

    fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
        self.sum += u128::from(ns);
        self.max = self.max.max(ns);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// The `q`-quantile (0..=1) in nanoseconds; 0 if empty.
    fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value_at(i).min(self.max);
            }
        }
        self.max
    }

    fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }
}

// ------------------------------------------------------------ CPU time ---

/// One reading of a process's scheduler statistics, summed over its threads.
struct Sample {
    /// CPU time (user + system) so far, nanoseconds.
    run_ns: u64,
    /// Time its threads were runnable but waiting for a CPU, nanoseconds
    /// (`None` without schedstat).
    wait_ns: Option<u64>,
    /// Its thread ids, sorted.
    tids: Vec<u64>,
}

/// Reads `/proc/<pid>/task/*/schedstat` (`pid` "self" for this process):
/// the first two fields are time on a CPU and time waiting on a run queue,
/// in nanoseconds. Falls back to `utime + stime` from `/proc/<pid>/stat`
/// (10 ms ticks) where schedstat is missing. CPU time of a thread that exits
/// between two readings is lost: [`Window::finish`] warns if the thread set
/// changed.
fn sample(pid: &str) -> io::Result<Sample> {
    let mut s = Sample {
        run_ns: 0,
        wait_ns: Some(0),
        tids: Vec::new(),
    };
    for entry in fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        match fs::read_to_string(entry.path().join("schedstat")) {
            Ok(text) => {
                let mut f = text.split_whitespace().map(|f| f.parse::<u64>().unwrap_or(0));
                s.run_ns += f.next().unwrap_or(0);
                s.wait_ns = s.wait_ns.map(|w| w + f.next().unwrap_or(0));
                s.tids.push(tid);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && s.tids.is_empty() => {
                // No schedstat at all (or the first thread just exited): use the coarse counters.
                return Ok(Sample {
                    run_ns: stat_cpu_time(pid)?,
                    wait_ns: None,
                    tids: Vec::new(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {} // the thread just exited
            Err(e) => return Err(e),
        }
    }
    s.tids.sort_unstable();
    Ok(s)
}

/// `utime + stime` of `/proc/<pid>/stat` in nanoseconds (USER_HZ = 100).
fn stat_cpu_time(pid: &str) -> io::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    match f[..] {
        [u, s] => Ok((u + s) * 10_000_000),
        _ => Err(io::Error::other(format!("cannot parse /proc/{pid}/stat"))),
    }
}

/// Scheduler statistics of one process at the start of the measured window.
struct Window {
    pid: String,
    start: Option<Sample>,
}

/// What a process used over the window.
struct Usage {
    run_ns: u64,
    wait_ns: Option<u64>,
}

impl Window {
    fn begin(pid: String) -> Window {
        let start = sample(&pid)
            .map_err(|e| eprintln!("loadgen: cannot read CPU time of {pid}: {e}"))
            .ok();
        Window { pid, start }
    }

    fn finish(self) -> Option<Usage> {
        let s0 = self.start?;
        let s1 = sample(&self.pid)
            .map_err(|e| eprintln!("loadgen: cannot read CPU time of {}: {e}", self.pid))
            .ok()?;
        if s0.tids != s1.tids {
            eprintln!(
                "loadgen: warning: threads of {} changed during the window ({} -> {}); CPU time may be undercounted",
                self.pid,
                s0.tids.len(),
                s1.tids.len()
            );
        }
        Some(Usage {
            run_ns: s1.run_ns.saturating_sub(s0.run_ns),
            wait_ns: s0.wait_ns.zip(s1.wait_ns).map(|(w0, w1)| w1.saturating_sub(w0)),
        })
    }
}

// -------------------------------------------------------------- clients ---

const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: loadgen\r\n\r\n";

/// One connection and its reusable buffer.
struct Client {
    stream: TcpStream,
    proto: Proto,
    size: usize,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr, proto: Proto, size: usize) -> io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            proto,
            size,
            buf: Vec::with_capacity(size.max(4096)),
        })
    }

    /// One request and its complete answer.
    async fn request(&mut self) -> io::Result<()> {
        match self.proto {
            Proto::Echo => {
                self.buf.clear();
                self.buf.resize(self.size, 0xab);
                self.stream.write_all(&self.buf).await?;
                self.stream.read_exact(&mut self.buf).await?;
                Ok(())
            }
            Proto::Http => {
                self.stream.write_all(HTTP_REQUEST).await?;
                self.read_http_response().await
            }
        }
    }

    /// Reads one `200` response with a `Content-Length` body. There is no
    /// pipelining, so nothing may follow it.
    async fn read_http_response(&mut self) -> io::Result<()> {
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = &self.buf[..head_end];
        if !head.starts_with(b"HTTP/1.1 200") {
            let line = head.split(|&b| b == b'\r').next().unwrap_or(b"");
            return Err(io::Error::other(format!(
                "unexpected response: {}",
                String::from_utf8_lossy(line)
            )));
        }
        let total = head_end + content_length(head)?;
        while self.buf.len() < total {
            self.fill().await?;
        }
        if self.buf.len() > total {
            return Err(io::Error::other("bytes after the response body"));
        }
        Ok(())
    }

    async fn fill(&mut self) -> io::Result<()> {
        self.buf.reserve(4096);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

fn content_length(head: &[u8]) -> io::Result<usize> {
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line[..colon].eq_ignore_ascii_case(b"content-length") {
            return std::str::from_utf8(&line[colon + 1..])
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| io::Error::other("bad Content-Length"));
        }
    }
    Err(io::Error::other("response without Content-Length"))
}

// ------------------------------------------------------------- the run ---

/// When the load starts, when counting starts, when it all ends.
#[derive(Clone, Copy)]
struct Plan {
    start: Instant,
    window: Instant,
    end: Instant,
}

/// Sleeps until a given instant with sub-millisecond precision: a timerfd
/// (CLOCK_MONOTONIC, the clock of `Instant`) waited on through tokio's
/// reactor, so the thread sleeps in `epoll_wait` between requests. tokio's own
/// timer rounds up to whole milliseconds, too coarse to pace at tens of
/// microseconds. A timerfd wake-up costs the loadgen a few microseconds of
/// latency (more if its CPU went into a deep idle state); `spin` trades CPU
/// for that: the last `spin` before the deadline are spent polling
/// `yield_now` instead (which still lets the runtime poll for I/O).
struct Pacer {
    timer: AsyncFd<OwnedFd>,
    spin: Duration,
}

impl Pacer {
    fn new(spin: Duration) -> io::Result<Pacer> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // SAFETY: `fd` is an open timerfd that the `AsyncFd` owns (an `OwnedFd`
        // is closed only on drop and always returns the same raw fd), so the fd
        // stays open and the same for the whole life of the registration.
        let timer = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) };
        Ok(Pacer {
            timer: timer.map_err(|e| e.into_parts().1)?,
            spin,
        })
    }

    /// Returns at once if `at` has passed.
    async fn wait_until(&self, at: Instant) -> io::Result<()> {
        let now = Instant::now();
        if at <= now {
            return Ok(());
        }
        if at - now > self.spin {
            self.sleep(at - now - self.spin).await?;
        }
        while Instant::now() < at {
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    async fn sleep(&self, d: Duration) -> io::Result<()> {
        let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
        let value = Timespec::try_from(d).map_err(|_| io::Error::other("wait too long"))?;
        if value == zero {
            return Ok(()); // a zero it_value would disarm the timer instead
        }
        timerfd_settime(
            self.timer.get_ref(),
            TimerfdTimerFlags::empty(),
            &Itimerspec {
                it_interval: zero,
                it_value: value,
            },
        )?;
        loop {
            let mut ready = self.timer.readable().await?;
            let mut expirations = [0u8; 8];
            match ready.try_io(|fd| rustix::io::read(fd.get_ref(), &mut expirations).map_err(io::Error::from)) {
                Ok(res) => {
                    res?;
                    // One read takes every expiration, and only the next call re-arms
                    // the timer, so nothing can become readable before then.
                    ready.clear_ready();
                    return Ok(());
                }
                Err(_would_block) => continue, // stale readiness; try_io cleared it
            }
        }
    }
}

struct ConnResult {
    hist: Histogram,
    /// Open loop only: how late each request was sent (actual send - scheduled).
    lag: Histogram,
    error: Option<io::Error>,
}

/// Closed loop on one connection: the next request as soon as the answer is in.
async fn closed_loop(mut client: Client, plan: Plan, pacer: Pacer) -> ConnResult {
    let mut r = ConnResult {
        hist: Histogram::new(),
        lag: Histogram::new(),
        error: None,
    };
    if let Err(e) = pacer.wait_until(plan.start).await {
        r.error = Some(e);
        return r;
    }
    loop {
        let sent = Instant::now();
        if sent >= plan.end {
            return r;
        }
        if let Err(e) = client.request().await {
            r.error = Some(e);
            return r;
        }
        let done = Instant::now();
        if done >= plan.window && done <= plan.end {
            r.hist.record(done - sent);
        }
    }
}

/// Open loop on one connection: request k at `start + offset + k * interval`;
/// latency from that scheduled time.
async fn open_loop(mut client: Client, plan: Plan, pacer: Pacer, offset: f64, interval: f64) -> ConnResult {
    let mut r = ConnResult {
        hist: Histogram::new(),
        lag: Histogram::new(),
        error: None,
    };
    for k in 0u64.. {
        let due = plan.start + Duration::from_secs_f64(offset + k as f64 * interval);
        if due >= plan.end {
            break;
        }
        if let Err(e) = pacer.wait_until(due).await {
            r.error = Some(e);
            break;
        }
        let sent = Instant::now();
        if let Err(e) = client.request().await {
            r.error = Some(e);
            break;
        }
        let done = Instant::now();
        if done >= plan.window && done <= plan.end {
            r.hist.record(done - due);
            r.lag.record(sent - due);
        }
    }
    r
}

fn secs(s: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|e| format!("--{what} {s}: {e}"))
}

async fn run(args: Args) -> Result<(), String> {
    if let Some(conns) = args.idle {
        let pid = args.server_pid.ok_or("--idle needs --server-pid")?;
        return idle::run(args.addr, args.proto, args.size, conns, pid).await;
    }
    let duration = secs(args.duration, "duration")?;
    let warmup = secs(args.warmup, "warmup")?;
    if args.conns == 0 || duration.is_zero() || !(args.rate >= 0.0 && args.rate.is_finite()) {
        return Err("need --conns > 0, --duration > 0 and --rate >= 0".into());
    }
    if args.proto == Proto::Echo && args.size == 0 {
        return Err("--size must be > 0".into());
    }

    let mut clients = Vec::with_capacity(args.conns);
    for _ in 0..args.conns {
        let c = Client::connect(args.addr, args.proto, args.size)
            .await
            .map_err(|e| format!("connect {}: {e}", args.addr))?;
        clients.push(c);
    }

    let start = Instant::now() + Duration::from_millis(10);
    let plan = Plan {
        start,
        window: start + warmup,
        end: start + warmup + duration,
    };
    let conns = args.conns as f64;
    let spin = Duration::from_micros(args.spin_us);
    let mut tasks = Vec::with_capacity(args.conns);
    for (c, client) in clients.into_iter().enumerate() {
        let pacer = Pacer::new(spin).map_err(|e| format!("timerfd: {e}"))?;
        tasks.push(if args.rate > 0.0 {
            tokio::spawn(open_loop(client, plan, pacer, c as f64 / args.rate, conns / args.rate))
        } else {
            tokio::spawn(closed_loop(client, plan, pacer))
        });
    }

    let pacer = Pacer::new(Duration::ZERO).map_err(|e| format!("timerfd: {e}"))?;
    let timer = |e: io::Error| format!("timerfd: {e}");
    pacer.wait_until(plan.window).await.map_err(timer)?;
    let server = args.server_pid.map(|p| Window::begin(p.to_string()));
    let client = Window::begin("self".into());
    pacer.wait_until(plan.end).await.map_err(timer)?;
    let server = server.and_then(Window::finish);
    let client = client.finish();

    let mut hist = Histogram::new();
    let mut lag = Histogram::new();
    let mut errors = 0;
    for t in tasks {
        let r = t.await.map_err(|e| format!("connection task: {e}"))?;
        hist.merge(&r.hist);
        lag.merge(&r.lag);
        if let Some(e) = r.error {
            errors += 1;
            eprintln!("loadgen: connection failed: {e}");
        }
    }

    let window = duration.as_secs_f64();
    let n = hist.total;
    let us = |ns: u64| format!("{:.1}", ns as f64 / 1e3);
    let opt = |v: Option<f64>, prec: usize| v.map_or("null".to_string(), |v| format!("{v:.prec$}"));
    let pct = |ns: Option<u64>| opt(ns.map(|ns| ns as f64 / 1e9 / window * 100.0), 1);
    let server_run = server.as_ref().map(|u| u.run_ns);
    let fields = [
        ("proto", format!("\"{}\"", args.proto.name())),
        ("conns", args.conns.to_string()),
        (
            "size",
            if args.proto == Proto::Echo { args.size } else { 0 }.to_string(),
        ),
        ("rate_target", args.rate.to_string()),
        ("duration_s", format!("{window:.3}")),
        ("requests", n.to_string()),
        ("errors", errors.to_string()),
        ("rps", format!("{:.1}", n as f64 / window)),
        ("p50_us", us(hist.quantile(0.50))),
        ("p90_us", us(hist.quantile(0.90))),
        ("p99_us", us(hist.quantile(0.99))),
        ("p999_us", us(hist.quantile(0.999))),
        ("max_us", us(hist.max)),
        ("mean_us", format!("{:.1}", hist.mean() / 1e3)),
        ("server_cpu_us", opt(server_run.map(|ns| ns as f64 / 1e3), 0)),
        ("server_cpu_pct", pct(server_run)),
        (
            "server_cpu_us_per_req",
            opt(server_run.filter(|_| n > 0).map(|ns| ns as f64 / 1e3 / n as f64), 3),
        ),
        // Time runnable but waiting for a CPU: another task competed for it.
        ("server_runq_pct", pct(server.as_ref().and_then(|u| u.wait_ns))),
        ("client_cpu_pct", pct(client.as_ref().map(|u| u.run_ns))),
        ("client_runq_pct", pct(client.as_ref().and_then(|u| u.wait_ns))),
        ("send_lag_p99_us", us(lag.quantile(0.99))),
        ("send_lag_max_us", us(lag.max)),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    println!("{{{}}}", body.join(","));
    if n == 0 {
        return Err("no request completed inside the window".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_contiguous_and_tight() {
        let mut prev = 0;
        for v in (0..1_000_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let i = Histogram::index(v);
            assert!(i == prev || i == prev + 1 || v > 1_000_000, "gap at {v}");
            prev = i;
            let mid = Histogram::value_at(i);
            assert!(
                mid.abs_diff(v) as f64 <= v as f64 / 128.0,
                "{v} -> bucket {i} mid {mid}"
            );
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5) as f64 / 1e3;
        let p99 = h.quantile(0.99) as f64 / 1e3;
        assert!((p50 - 500.0).abs() < 500.0 / 128.0, "{p50}");
        assert!((p99 - 990.0).abs() < 990.0 / 128.0, "{p99}");
        assert_eq!(h.quantile(1.0), 1_000_000);
    }

    #[test]
    fn parses_content_length() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\ndate: x\r\n\r\n";
        assert_eq!(content_length(head).unwrap(), 11);
        assert!(content_length(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }
}
