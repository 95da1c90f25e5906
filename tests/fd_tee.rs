//! `Fd::tee` between pipes (`IORING_OP_TEE`, or `tee(2)` inside `poll`):
//! it duplicates without consuming, waits for an empty source and for a
//! full destination, reports end of stream, fails on what is not a pipe,
//! and a drop storm checks the cancel rule: a dropped tee duplicated a
//! prefix of the source onto the destination (on io_uring, maybe; on
//! readiness backends, never) and consumed nothing.
//!
//! The storm drops 10^4 tees (times `RINGIO_STRESS`) at random points
//! (`timeout` of 0 to 50 µs, or one poll), a third of them polled on a
//! second runtime thread, with the source sometimes empty and the
//! destination sometimes full. After each, once no operation is in flight,
//! it drains the destination and checks that it got the head of the
//! source (exactly `n` bytes for a tee that returned `n`), then consumes
//! that head from the source, so every source byte is mirrored exactly
//! once. The seed is printed; `RINGIO_TEST_SEED` replays it.

use ringio::fd::Fd;
use ringio_tests::{interrupt, runtime, scaled, watchdog, Foreign, Pattern, Seed, STEP};
use rustix::pipe::{pipe_with, PipeFlags};
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Drops per storm at the CI size.
const DROPS: usize = 10_000;

/// A non-blocking pipe as `(read end, write end)`.
fn pipe() -> (Fd, Fd) {
    let (r, w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).unwrap();
    (Fd::new(r), Fd::new(w))
}

/// Whatever `fd` holds right now (non-blocking reads until "would block").
fn drain(fd: &Fd) -> Vec<u8> {
    let guard = fd.incref().unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match rustix::io::read(guard.as_fd(), &mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(rustix::io::Errno::AGAIN) => return out,
            Err(e) => panic!("draining a pipe: {e}"),
        }
    }
}

/// Writes as much of `bytes` as `fd` takes now; returns how much.
fn fill(fd: &Fd, bytes: &[u8]) -> usize {
    let guard = fd.incref().unwrap();
    let mut done = 0;
    while done < bytes.len() {
        match rustix::io::write(guard.as_fd(), &bytes[done..]) {
            Ok(n) => done += n,
            Err(rustix::io::Errno::AGAIN) => break,
            Err(e) => panic!("filling a pipe: {e}"),
        }
    }
    done
}

#[test]
fn tee_duplicates_without_consuming() {
    runtime().block_on(async {
        let (a_r, a_w) = pipe();
        let (b_r, b_w) = pipe();
        assert_eq!(fill(&a_w, b"hello, mirror"), 13);
        assert_eq!(a_r.tee(&b_w, 5).await.unwrap(), 5, "at most len");
        assert_eq!(drain(&b_r), b"hello");
        assert_eq!(a_r.tee(&b_w, 1 << 20).await.unwrap(), 13, "from the head again");
        assert_eq!(drain(&b_r), b"hello, mirror");
        assert_eq!(drain(&a_r), b"hello, mirror", "the source is untouched");
        assert_eq!(a_r.tee(&b_w, 0).await.unwrap(), 0);
    });
}

#[test]
fn tee_waits_for_bytes_and_for_room_and_reports_end_of_stream() {
    runtime().block_on(async {
        let (a_r, a_w) = pipe();
        let (b_r, b_w) = pipe();
        // An empty source: the tee waits until a writer comes.
        let a_w = Arc::new(a_w);
        let writer = a_w.clone();
        let late = ringio::spawn(async move {
            ringio::runtime::yield_now().await;
            writer.write(b"late".to_vec()).await.0.unwrap()
        });
        assert_eq!(a_r.tee(&b_w, 64).await.unwrap(), 4);
        assert_eq!(late.await.unwrap(), 4);
        assert_eq!(drain(&b_r), b"late");
        // A full destination: the tee waits until someone reads it.
        let filler = vec![7u8; 1 << 20];
        let full = fill(&b_w, &filler);
        assert!(full > 0 && full < filler.len());
        let b_r = Arc::new(b_r);
        let reader = b_r.clone();
        let drained = ringio::spawn(async move {
            ringio::runtime::yield_now().await;
            drain(&reader)
        });
        assert_eq!(a_r.tee(&b_w, 64).await.unwrap(), 4);
        assert_eq!(drained.await.unwrap().len(), full);
        assert_eq!(drain(&b_r), b"late");
        // No writer and nothing left: end of stream.
        drain(&a_r);
        Arc::try_unwrap(a_w).ok().unwrap().close().await.unwrap();
        assert_eq!(a_r.tee(&b_w, 64).await.unwrap(), 0);
    });
}

#[test]
fn tee_fails_on_what_is_not_a_pipe_and_on_close() {
    runtime().block_on(async {
        let file = Fd::new(std::fs::File::open("/dev/null").unwrap().into());
        let (_b_r, b_w) = pipe();
        assert_eq!(file.tee(&b_w, 8).await.unwrap_err().kind(), ErrorKind::InvalidInput);
        // Closed while it waits on an empty source.
        let (a_r, _a_w) = pipe();
        let a_r = Arc::new(a_r);
        let waiter = a_r.clone();
        let tee = ringio::spawn(async move { waiter.tee(&b_w, 8).await });
        ringio::runtime::yield_now().await;
        a_r.close().await.unwrap();
        let err = ringio::time::timeout(STEP, tee)
            .await
            .expect("hung")
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(
                err.get_ref().and_then(|e| e.downcast_ref()),
                Some(ringio::Error::Closed)
            ),
            "{err:?}"
        );
    });
}

/// Yields until the runtime has nothing in the kernel (a dropped tee's CQE
/// is in), so what it did is on the destination.
async fn quiet() {
    let deadline = Instant::now() + STEP;
    loop {
        let stats = ringio::runtime::stats().unwrap();
        if stats.in_flight == 0 && stats.slab_entries == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "operations never drained: {stats:?}");
        ringio::runtime::yield_now().await;
    }
}

#[test]
fn tee_drop_storm_mirrors_every_byte_exactly_once() {
    let what = "tee drop storm";
    let seed = Seed::new(what);
    let s = seed.value();
    watchdog(what, Duration::from_secs(30), move |progress| {
        let foreign = Foreign::start();
        runtime().block_on(async {
            let on_ring = ringio::runtime::backend().unwrap() == ringio::Backend::IoUring;
            let (src_r, src_w) = pipe();
            let (dst_r, dst_w) = pipe();
            let (src_r, dst_w) = (Arc::new(src_r), Arc::new(dst_w));
            let mut rng = ringio_tests::Rng::new(s);
            let mut pattern = Pattern::new(s);
            // What the source holds, head first.
            let mut held: VecDeque<u8> = VecDeque::new();
            let drops = scaled(DROPS);
            let (mut mirrored, mut dropped_with_bytes, mut completed) = (0u64, 0usize, 0usize);
            for round in 0..drops {
                // Top the source up, unless this round tries it empty.
                if held.is_empty() || !rng.one_in(8) {
                    let more = pattern.take(rng.range(1, 32 * 1024));
                    let n = fill(&src_w, &more);
                    held.extend(&more[..n]);
                    // The rest of `more` is dropped from the stream: the
                    // pattern is only a source of bytes here.
                }
                // Sometimes a full destination, which the tee must wait out.
                let filler = if rng.one_in(8) {
                    fill(&dst_w, &vec![0xA5; 1 << 20])
                } else {
                    0
                };
                let len = rng.range(1, 16 * 1024);
                let out = if rng.one_in(3) {
                    let (src, dst, mut r) = (src_r.clone(), dst_w.clone(), rng.fork());
                    foreign
                        .run(move || async move { interrupt(&mut r, src.tee(&dst, len)).await })
                        .await
                } else {
                    interrupt(&mut rng, src_r.tee(&dst_w, len)).await
                };
                quiet().await;
                let got = drain(&dst_r);
                assert!(
                    got[..filler].iter().all(|&b| b == 0xA5),
                    "round {round}: the filler first"
                );
                let got = &got[filler..];
                let m = got.len();
                assert!(
                    m <= len,
                    "round {round}: a tee of {len} put {m} bytes on the destination"
                );
                assert!(
                    got.iter().zip(held.iter()).all(|(a, b)| a == b) && m <= held.len(),
                    "round {round}: the destination did not get the head of the source"
                );
                match out {
                    Some(res) => {
                        let n = res.unwrap_or_else(|e| panic!("round {round}: tee failed: {e}"));
                        assert_eq!(n, m, "round {round}: a tee returned {n} but duplicated {m}");
                        completed += 1;
                    }
                    None if m > 0 => {
                        assert!(on_ring, "round {round}: a dropped tee duplicated bytes off a ring");
                        dropped_with_bytes += 1;
                    }
                    None => {}
                }
                // Consume what was mirrored, and check the source still had it.
                let mut head = vec![0u8; m];
                let guard = src_r.incref().unwrap();
                let mut at = 0;
                while at < m {
                    at += rustix::io::read(guard.as_fd(), &mut head[at..]).expect("reading the source");
                }
                drop(guard);
                assert!(
                    head.iter().eq(held.drain(..m).collect::<Vec<_>>().iter()),
                    "round {round}: source"
                );
                mirrored += m as u64;
                progress.step(round + 1);
            }
            assert_eq!(drain(&dst_r), b"", "nothing left over on the destination");
            assert_eq!(
                drain(&src_r).len(),
                held.len(),
                "the source holds what was not mirrored"
            );
            eprintln!(
                "{what}: {drops} rounds, {completed} tees completed, {dropped_with_bytes} dropped after \
                 duplicating, {mirrored} bytes mirrored and checked"
            );
        });
        drop(foreign);
    });
    drop(seed);
}
