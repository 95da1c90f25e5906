//! Drop storms on stream writes, TCP and Unix. The rules:
//!
//! * `write` (tokio's rule): a dropped `write` has sent nothing, a completed
//!   one sent exactly the `n` it returned. So a caller that resends the bytes
//!   of a dropped write (as every retry loop does) produces exactly its byte
//!   stream: the peer receives the concatenation of `buf[..n]` of the
//!   completed writes, in order.
//! * `write_all`: once polled, it sends all of its bytes even if dropped (it
//!   finishes in the background, and later writes go after it). `timeout`
//!   and "poll once then drop" always poll, so the peer receives every
//!   buffer that was handed to a `write_all`, in order.
//!
//! How: the writer drops 10^4 writes (times `RINGIO_STRESS`) at random
//! points (`timeout` of 0 to 50 µs, or one poll), in random phases polled on
//! a second runtime thread instead of the descriptor's home. A peer thread
//! (blocking std socket) reads with random sizes and random pauses, so the
//! socket buffer is sometimes full and writes wait; it checks every byte
//! against the seeded stream the writer meant to send.
//!
//! The seed is printed; `RINGIO_TEST_SEED` replays it.

use ringio_tests::{
    drain_and_check, interrupt, runtime, scaled, watchdog, AnyStream, Foreign, Pattern, Rng, Seed, Transport, STEP,
};
use std::sync::Arc;
use std::time::Duration;

/// Drops per storm at the CI size.
const DROPS: usize = 10_000;
/// Longest a storm may go without finishing a phase.
const STALL: Duration = Duration::from_secs(30);

/// The writer's side of the stream: what it has not managed to send yet,
/// and how much it has.
struct Outgoing {
    pattern: Pattern,
    /// Bytes of the stream taken from `pattern` but not yet sent.
    pending: Vec<u8>,
    /// Bytes the peer must receive.
    expected: u64,
}

#[derive(Debug, Clone, Copy)]
enum WriteOp {
    Write,
    WriteAll,
    /// `write_all_zc` (TCP only): the `write_all` rule, with zero-copy sends.
    WriteAllZc,
}

/// `n` interrupted writes in a row.
async fn phase(stream: Arc<AnyStream>, mut rng: Rng, mut out: Outgoing, op: WriteOp, n: usize) -> Outgoing {
    for _ in 0..n {
        let len = rng.range(1, 8 * 1024);
        match op {
            WriteOp::Write => {
                // Resend what a dropped write did not send, plus more.
                if out.pending.len() < len {
                    let more = out.pattern.take(len - out.pending.len());
                    out.pending.extend(more);
                }
                let chunk = out.pending[..len].to_vec();
                if let Some((res, _)) = interrupt(&mut rng, stream.write(chunk)).await {
                    let n = res.expect("write failed");
                    assert!(n > 0 && n <= len, "write returned {n} for {len} bytes");
                    out.pending.drain(..n);
                    out.expected += n as u64;
                }
            }
            WriteOp::WriteAll => {
                // Polled at least once, so all of it must arrive: count it first.
                let chunk = out.pattern.take(len);
                out.expected += len as u64;
                if let Some((res, _)) = interrupt(&mut rng, stream.write_all(chunk)).await {
                    res.expect("write_all failed");
                }
            }
            WriteOp::WriteAllZc => {
                let chunk = out.pattern.take(len);
                out.expected += len as u64;
                let AnyStream::Tcp(tcp) = &*stream else {
                    panic!("zero-copy sends are TCP's")
                };
                if let Some((res, _)) = interrupt(&mut rng, tcp.write_all_zc(chunk)).await {
                    res.expect("write_all_zc failed");
                }
            }
        }
    }
    out
}

fn storm(transport: Transport, op: WriteOp) {
    let what = format!("{transport:?} {op:?} drop storm");
    let seed = Seed::new(&what);
    let s = seed.value();
    let label = what.clone();
    watchdog(&label, STALL, move |progress| {
        let foreign = Foreign::start();
        runtime().block_on(async {
            let (stream, peer) = transport.pair();
            let stream = Arc::new(stream);
            let reader = drain_and_check(peer, s);
            let mut rng = Rng::new(s);
            let mut out = Outgoing {
                pattern: Pattern::new(s),
                pending: Vec::new(),
                expected: 0,
            };
            let drops = scaled(DROPS);
            let (mut done, mut foreign_drops) = (0, 0);
            while done < drops {
                let n = rng.range(50, 500).min(drops - done);
                let phase_rng = rng.fork();
                out = if rng.one_in(3) {
                    foreign_drops += n;
                    let stream = stream.clone();
                    foreign.run(move || phase(stream, phase_rng, out, op, n)).await
                } else {
                    phase(stream.clone(), phase_rng, out, op, n).await
                };
                done += n;
                progress.step(done);
            }
            // One last write, awaited: it goes after anything still being
            // sent in the background, so once it returns everything is out.
            // (The next byte of the stream: one a dropped write did not send, if any.)
            let last = match out.pending.first() {
                Some(&b) => vec![b],
                None => out.pattern.take(1),
            };
            out.expected += 1;
            let (res, _) = ringio::time::timeout(STEP, stream.write_all(last))
                .await
                .expect("hung: the last write_all after the storm");
            res.expect("the last write_all");
            ringio::time::timeout(STEP, stream.close())
                .await
                .expect("hung: close after the storm")
                .unwrap();
            let check = reader.join().expect("reader thread").expect("peer read failed");
            eprintln!(
                "{what}: {drops} drops ({foreign_drops} from a foreign thread), {} bytes checked",
                check.received()
            );
            check.assert_exactly(out.expected, &what);
        });
        drop(foreign);
    });
    drop(seed);
}

#[test]
fn tcp_write_drop_storm_sends_exactly_the_completed_writes() {
    storm(Transport::Tcp, WriteOp::Write);
}

#[test]
fn unix_write_drop_storm_sends_exactly_the_completed_writes() {
    storm(Transport::Unix, WriteOp::Write);
}

#[test]
fn tcp_write_all_drop_storm_sends_every_polled_buffer() {
    storm(Transport::Tcp, WriteOp::WriteAll);
}

#[test]
fn unix_write_all_drop_storm_sends_every_polled_buffer() {
    storm(Transport::Unix, WriteOp::WriteAll);
}

/// Dropped zero-copy sends finish in the background, their buffers held by
/// the driver until each notification.
#[test]
fn tcp_write_all_zc_drop_storm_sends_every_polled_buffer() {
    storm(Transport::Tcp, WriteOp::WriteAllZc);
}
