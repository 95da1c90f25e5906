//! `fileio`: one file I/O workload on one contender, for
//! `benches/scripts/storage_bench.sh`. Prints one line:
//! `contender=.. workload=.. qd=.. direct=.. ops=.. seconds=.. iops=.. mib_per_s=..`.
//!
//! Contenders:
//! - `ringio`: one ringio runtime (io_uring unless `RINGIO_BACKEND` says
//!   otherwise), `qd` tasks each with one `AlignedBuf`, `File::read_at` /
//!   `write_at` in a loop (plain buffers: no registered buffers or files
//!   beyond ringio's default fixed-file slot).
//! - `ringio-fixed`: the same, with each task's buffer a `FixedBuf` of one
//!   `BufPool` registered with the ring (`read_fixed_at` / `write_fixed_at`:
//!   `IORING_OP_READ_FIXED` / `WRITE_FIXED`).
//! - `tokio`: a current-thread tokio runtime, `qd` tasks each with its own
//!   `tokio::fs::File` (`seek` + `read_exact` / `write_all`: every call is a
//!   trip to tokio's blocking pool). For `O_DIRECT`, where `tokio::fs` copies
//!   through an unaligned internal buffer and the kernel refuses it, the
//!   same tasks call `spawn_blocking` with `pread`/`pwrite` into an aligned
//!   buffer, which is what `tokio::fs` does underneath.
//!
//! Workloads: `randread` (random `bs`-aligned offsets over the file), and
//! `seqread` / `seqwrite` (task `i` of `qd` takes blocks `i, i+qd, ...`,
//! wrapping). Offsets come from a per-task xorshift, the same on every run.

use clap::{Parser, ValueEnum};
use ringio::buf::{AlignedBuf, FixedBuf};
use std::cell::Cell;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Contender {
    Ringio,
    RingioFixed,
    Tokio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    Randread,
    Seqread,
    Seqwrite,
}

#[derive(Parser, Debug, Clone)]
#[command(about = "One file I/O workload on ringio or tokio::fs")]
struct Args {
    #[arg(long, value_enum)]
    contender: Contender,
    #[arg(long, value_enum)]
    workload: Workload,
    /// The file (must exist and be at least a few blocks long).
    #[arg(long)]
    file: PathBuf,
    /// Block size in bytes.
    #[arg(long, default_value_t = 4096)]
    bs: usize,
    /// Operations in flight.
    #[arg(long, default_value_t = 32)]
    qd: usize,
    /// O_DIRECT.
    #[arg(long)]
    direct: bool,
    /// Measured seconds (after a 0.3 s warm-up).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

const WARMUP: Duration = Duration::from_millis(300);

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// Which block task `task` touches for its `n`th operation.
fn block(args: &Args, blocks: u64, task: usize, n: u64, rng: &mut u64) -> u64 {
    match args.workload {
        Workload::Randread => xorshift(rng) % blocks,
        Workload::Seqread | Workload::Seqwrite => (task as u64 + n * args.qd as u64) % blocks,
    }
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let len = std::fs::metadata(&args.file)?.len();
    let blocks = len / args.bs as u64;
    if blocks < 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "file too small for this block size",
        ));
    }
    let (ops, secs) = match args.contender {
        Contender::Ringio => ringio_run(&args, blocks, false)?,
        Contender::RingioFixed => ringio_run(&args, blocks, true)?,
        Contender::Tokio => tokio_run(&args, blocks)?,
    };
    let iops = ops as f64 / secs;
    println!(
        "contender={:?} workload={:?} qd={} bs={} direct={} ops={} seconds={:.3} iops={:.0} mib_per_s={:.1}",
        args.contender,
        args.workload,
        args.qd,
        args.bs,
        args.direct,
        ops,
        secs,
        iops,
        iops * args.bs as f64 / (1 << 20) as f64
    );
    Ok(())
}

/// Counts operations completed inside the measured window.
struct Window {
    start: Instant,
    end: Instant,
    ops: Cell<u64>,
}

impl Window {
    fn new(seconds: f64) -> Rc<Window> {
        let start = Instant::now() + WARMUP;
        Rc::new(Window {
            start,
            end: start + Duration::from_secs_f64(seconds),
            ops: Cell::new(0),
        })
    }

    /// Records one operation that finished now; false once the window closed.
    fn tick(&self) -> bool {
        let now = Instant::now();
        if now >= self.end {
            return false;
        }
        if now >= self.start {
            self.ops.set(self.ops.get() + 1);
        }
        true
    }
}

/// One `ringio` task's buffer: plain aligned memory, or a registered one.
enum TaskBuf {
    Plain(AlignedBuf),
    Fixed(FixedBuf),
}

impl TaskBuf {
    /// One read into (or write from) the buffer at `off`.
    async fn transfer(self, file: &ringio::fs::File, off: u64, write: bool) -> (io::Result<usize>, TaskBuf) {
        match (self, write) {
            (TaskBuf::Plain(b), true) => {
                let (res, b) = file.write_at(b, off).await;
                (res, TaskBuf::Plain(b))
            }
            (TaskBuf::Plain(mut b), false) => {
                b.clear();
                let (res, b) = file.read_at(b, off).await;
                (res, TaskBuf::Plain(b))
            }
            (TaskBuf::Fixed(b), true) => {
                let (res, b) = file.write_fixed_at(b, off).await;
                (res, TaskBuf::Fixed(b))
            }
            (TaskBuf::Fixed(mut b), false) => {
                b.clear();
                let (res, b) = file.read_fixed_at(b, off).await;
                (res, TaskBuf::Fixed(b))
            }
        }
    }
}

/// The `ringio` contenders: `fixed` gives every task a buffer of one
/// registered `BufPool` instead of its own `AlignedBuf`.
fn ringio_run(args: &Args, blocks: u64, fixed: bool) -> io::Result<(u64, f64)> {
    let rt = ringio::Runtime::new()?;
    eprintln!("ringio backend: {}", rt.backend());
    rt.block_on(async {
        let mut o = ringio::fs::OpenOptions::new();
        o.read(true)
            .write(args.workload == Workload::Seqwrite)
            .direct(args.direct);
        let file = Rc::new(o.open(&args.file).await?);
        let align = if args.direct {
            file.dio_alignment().await?.memory().max(4096)
        } else {
            4096
        };
        let pool = if fixed {
            let qd = u16::try_from(args.qd).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "qd too large"))?;
            let pool = ringio::buf::BufPool::new(qd, args.bs)?;
            eprintln!("buffers registered: {}", pool.is_registered());
            Some(pool)
        } else {
            None
        };
        let write = args.workload == Workload::Seqwrite;
        let window = Window::new(args.seconds);
        let mut tasks = Vec::new();
        for task in 0..args.qd {
            let (file, window, args) = (file.clone(), window.clone(), args.clone());
            let mut buf = match &pool {
                Some(pool) => {
                    let mut buf = pool.try_get().expect("one buffer per task");
                    if write {
                        buf.append(&vec![0x5a; args.bs]);
                    }
                    TaskBuf::Fixed(buf)
                }
                None => TaskBuf::Plain(AlignedBuf::zeroed(args.bs, align)?),
            };
            tasks.push(ringio::spawn(async move {
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (task as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
                let mut n = 0u64;
                loop {
                    let off = block(&args, blocks, task, n, &mut rng) * args.bs as u64;
                    let (res, b) = buf.transfer(&file, off, write).await;
                    buf = b;
                    if res? == 0 {
                        return Err(io::Error::other("zero-length transfer"));
                    }
                    n += 1;
                    if !window.tick() {
                        return Ok::<(), io::Error>(());
                    }
                }
            }));
        }
        for t in tasks {
            t.await.map_err(|e| io::Error::other(e.to_string()))??;
        }
        Ok((window.ops.get(), window.end.duration_since(window.start).as_secs_f64()))
    })
}

fn tokio_run(args: &Args, blocks: u64) -> io::Result<(u64, f64)> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let window = Window::new(args.seconds);
        let mut tasks = Vec::new();
        for task in 0..args.qd {
            let (window, args) = (window.clone(), args.clone());
            tasks.push(tokio::task::spawn_local(async move {
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (task as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
                let mut n = 0u64;
                if args.direct {
                    // tokio::fs reads through its own unaligned buffer, which
                    // O_DIRECT refuses: do what it does inside, into aligned memory.
                    use std::os::unix::fs::{FileExt, OpenOptionsExt};
                    let file = std::sync::Arc::new(
                        std::fs::OpenOptions::new()
                            .read(true)
                            .write(args.workload == Workload::Seqwrite)
                            .custom_flags(libc::O_DIRECT)
                            .open(&args.file)?,
                    );
                    let mut buf = AlignedBuf::zeroed(args.bs, 4096)?;
                    loop {
                        let off = block(&args, blocks, task, n, &mut rng) * args.bs as u64;
                        let (f, write) = (file.clone(), args.workload == Workload::Seqwrite);
                        let (res, b) = tokio::task::spawn_blocking(move || {
                            let r = if write {
                                f.write_at(&buf, off)
                            } else {
                                f.read_at(&mut buf, off)
                            };
                            (r, buf)
                        })
                        .await
                        .map_err(io::Error::other)?;
                        buf = b;
                        res?;
                        n += 1;
                        if !window.tick() {
                            return Ok::<(), io::Error>(());
                        }
                    }
                }
                let mut file = tokio::fs::OpenOptions::new()
                    .read(true)
                    .write(args.workload == Workload::Seqwrite)
                    .open(&args.file)
                    .await?;
                let mut buf = vec![0u8; args.bs];
                loop {
                    let off = block(&args, blocks, task, n, &mut rng) * args.bs as u64;
                    file.seek(io::SeekFrom::Start(off)).await?;
                    if args.workload == Workload::Seqwrite {
                        file.write_all(&buf).await?;
                        file.flush().await?;
                    } else {
                        file.read_exact(&mut buf).await?;
                    }
                    n += 1;
                    if !window.tick() {
                        return Ok(());
                    }
                }
            }));
        }
        for t in tasks {
            t.await.map_err(io::Error::other)??;
        }
        Ok((window.ops.get(), window.end.duration_since(window.start).as_secs_f64()))
    })
}
