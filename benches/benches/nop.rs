//! One trip through the runtime: `ringio::nop()` (an `IORING_OP_NOP` round
//! trip) against tokio's closest equivalents, plus scheduler-only yield and
//! spawn+join costs on both runtimes.
//!
//! Every contender in a group has the function id `ringio` or `tokio`, so
//! `target/criterion/<group>/<contender>/new/estimates.json` lines up and
//! `benches/scripts/compare.sh` can print tokio/ringio ratios.
//!
//! Each sample runs its whole batch of `iters` operations inside a single
//! `block_on` (`iter_custom`), so runtime creation and `block_on` entry are
//! not part of the measured time.
//!
//! | group           | ringio                          | tokio (current_thread)               |
//! |-----------------|---------------------------------|--------------------------------------|
//! | `nop_roundtrip` | `ringio::nop().await`           | `tokio::task::yield_now().await`     |
//! | `yield_now`     | `ringio::runtime::yield_now()`  | `tokio::task::yield_now().await`     |
//! | `spawn_join`    | `ringio::spawn(async {}).await` | `tokio::task::spawn(async {}).await` |

use criterion::{criterion_group, criterion_main, Criterion};
use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn ringio_rt() -> ringio::Runtime {
    ringio::Runtime::new().expect("ringio runtime (is io_uring allowed here?)")
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn nop_roundtrip(c: &mut Criterion) {
    let mut g = c.benchmark_group("nop_roundtrip");
    let rt = ringio_rt();
    let before = rt.stats();
    let ops = Cell::new(0u64);
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            ops.set(ops.get() + iters);
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    ringio::nop().await.expect("nop");
                }
                start.elapsed()
            })
        })
    });
    report_stats("nop_roundtrip/ringio", &before, &rt.stats(), ops.get());
    let trt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            trt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    tokio::task::yield_now().await;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// Prints ring activity per measured operation (context for the timings).
fn report_stats(what: &str, before: &ringio::Stats, after: &ringio::Stats, ops: u64) {
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / ops.max(1) as f64;
    eprintln!(
        "{what}: {ops} ops; per op: {:.3} SQEs submitted, {:.3} CQEs reaped, {:.3} io_uring_enter calls ({:?})",
        per(after.submitted, before.submitted),
        per(after.completed, before.completed),
        per(after.enters, before.enters),
        std::env::var("RINGIO_URING_SETUP").unwrap_or_else(|_| "default setup".into()),
    );
}

fn yield_now(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield_now");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    ringio::runtime::yield_now().await;
                }
                start.elapsed()
            })
        })
    });
    let trt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            trt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    tokio::task::yield_now().await;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let v = ringio::spawn(async move { black_box(i) }).await.expect("join");
                    black_box(v);
                }
                start.elapsed()
            })
        })
    });
    let trt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            trt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let v = tokio::task::spawn(async move { black_box(i) }).await.expect("join");
                    black_box(v);
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = nop_roundtrip, yield_now, spawn_join
}
criterion_main!(benches);
