//! What the engine adds to a ring round trip: `ringio::nop()` against a raw
//! `io-uring` loop with the same setup flags, in the same process and run.
//!
//! | group         | ringio                                   | raw_uring                                        |
//! |---------------|------------------------------------------|--------------------------------------------------|
//! | `nop_single`  | `ringio::nop().await`, one at a time     | push one NOP, `submit_and_wait(1)`, reap it      |
//! | `nop_batch32` | 32 tasks, each awaiting `nop()` in turn  | push 32 NOPs, `submit_and_wait(32)`, reap all 32 |
//!
//! Both use `SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL |
//! NO_SQARRAY`, 256 SQ and 8192 CQ entries: ringio's default `Defer` setup.
//! (ringio also registers its ring descriptor, which the `io-uring` crate
//! does not offer; that saves ringio a descriptor lookup per enter.)
//! Times are per NOP. `benches/scripts/compare.sh` prints `ring/raw`, the
//! factor ringio costs over the raw loop; issue 10's target is at most 1.3x.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use io_uring::{opcode, IoUring};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BATCH: u64 = 32;

fn ringio_rt() -> ringio::Runtime {
    ringio::Runtime::new().expect("ringio runtime (is io_uring allowed here?)")
}

/// A ring set up as ringio's default `Defer` mode sets up its own.
fn raw_ring() -> IoUring {
    IoUring::builder()
        .setup_cqsize(8192)
        .setup_no_sqarray()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .setup_submit_all()
        .build(256)
        .expect("io_uring_setup")
}

/// Pushes `n` NOPs, enters once waiting for all of them, and reaps them.
fn raw_round(ring: &mut IoUring, n: u64) {
    {
        let mut sq = ring.submission();
        for i in 0..n {
            let nop = opcode::Nop::new().build().user_data(i);
            // SAFETY: a NOP names no descriptor and no memory, so nothing has
            // to outlive the SQE; `n` never exceeds the 256-entry SQ.
            unsafe { sq.push(&nop) }.expect("SQ has room for the batch");
        }
    }
    ring.submit_and_wait(n as usize).expect("io_uring_enter");
    let mut reaped = 0;
    for cqe in ring.completion() {
        black_box(cqe.result());
        reaped += 1;
    }
    assert_eq!(reaped, n, "every NOP completes before submit_and_wait returns");
}

fn nop_single(c: &mut Criterion) {
    let mut g = c.benchmark_group("nop_single");
    g.throughput(Throughput::Elements(1));
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    ringio::nop().await.expect("nop");
                }
                start.elapsed()
            })
        })
    });
    let mut ring = raw_ring();
    g.bench_function("raw_uring", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                raw_round(&mut ring, 1);
            }
            start.elapsed()
        })
    });
    g.finish();
}

fn nop_batch32(c: &mut Criterion) {
    let mut g = c.benchmark_group("nop_batch32");
    // One iteration is a batch of 32 NOPs; criterion reports per element.
    g.throughput(Throughput::Elements(BATCH));
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                let tasks: Vec<_> = (0..BATCH)
                    .map(|_| {
                        ringio::spawn(async move {
                            for _ in 0..iters {
                                ringio::nop().await.expect("nop");
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("nop task");
                }
                start.elapsed()
            })
        })
    });
    let mut ring = raw_ring();
    g.bench_function("raw_uring", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                raw_round(&mut ring, BATCH);
            }
            start.elapsed()
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
    targets = nop_single, nop_batch32
}
criterion_main!(benches);
