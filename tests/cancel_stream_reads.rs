//! Drop storms on stream reads: a read (`read`, `read_exact`, or
//! `ringio::fd::Fd::read` on a pipe) dropped at any point loses nothing.
//! Bytes that arrived for it stay with the stream and come back first from
//! the next read, so the concatenation of what the completed reads returned
//! is exactly what the peer sent: no byte lost, duplicated or reordered.
//!
//! How: a peer thread (plain blocking std socket or pipe) pushes a seeded
//! pseudo-random byte stream continuously, with random pauses, so a read
//! sometimes finds data waiting and sometimes waits for it. The reader
//! drops 10^4 reads (times `RINGIO_STRESS`) at random points: under
//! `timeout` of 0 to 50 µs, or after exactly one poll, as a losing
//! `select!` branch does. In random phases the reads are polled on a second
//! runtime thread, not the descriptor's home (which meanwhile waits inside
//! its `block_on`). Every completed read's bytes are checked in order
//! against the stream; at the end the reader stops the peer, reads to end
//! of stream, and the byte count must equal what the peer sent.
//!
//! The seed is printed; `RINGIO_TEST_SEED` replays it.

use ringio::fd::Fd;
use ringio_tests::{
    interrupt, runtime, scaled, watchdog, AnyStream, Foreign, Pusher, Rng, Seed, StreamCheck, Transport, STEP,
};
use std::sync::Arc;
use std::time::Duration;

/// Drops per storm at the CI size.
const DROPS: usize = 10_000;
/// Longest a storm may go without finishing a phase.
const STALL: Duration = Duration::from_secs(30);

/// What the reader reads from.
#[derive(Debug)]
enum Source {
    Stream(AnyStream),
    Pipe(Fd),
}

/// Which read operation the storm drops.
#[derive(Debug, Clone, Copy)]
enum ReadOp {
    Read,
    ReadExact,
}

impl Source {
    /// One read of up to `cap` bytes (exactly `cap` for `read_exact`),
    /// dropped at a random point; the bytes it returned if it completed.
    async fn interrupted(&self, rng: &mut Rng, op: ReadOp, cap: usize) -> Option<Vec<u8>> {
        let buf = Vec::with_capacity(cap);
        let cap = buf.capacity(); // what read_exact fills
        match (self, op) {
            (Source::Stream(s), ReadOp::Read) => interrupt(rng, s.read(buf)).await.map(|(res, buf)| {
                let n = res.expect("read failed");
                assert!(n > 0, "end of stream while the peer was still sending");
                assert_eq!(buf.len(), n);
                buf
            }),
            (Source::Stream(s), ReadOp::ReadExact) => interrupt(rng, s.read_exact(buf)).await.map(|(res, buf)| {
                res.expect("read_exact failed");
                assert_eq!(buf.len(), cap, "read_exact returned a short buffer");
                buf
            }),
            (Source::Pipe(fd), ReadOp::Read) => interrupt(rng, fd.read(buf)).await.map(|(res, buf)| {
                let n = res.expect("pipe read failed");
                assert!(n > 0, "end of file while the writer was still writing");
                buf
            }),
            (Source::Pipe(_), ReadOp::ReadExact) => unreachable!("Fd has no read_exact"),
        }
    }

    /// A plain read to drain what is left; empty at end of stream.
    async fn read_rest(&self) -> Vec<u8> {
        let buf = Vec::with_capacity(64 * 1024);
        let (res, buf) = match self {
            Source::Stream(s) => s.read(buf).await,
            Source::Pipe(fd) => fd.read(buf).await,
        };
        res.expect("draining read failed");
        buf
    }
}

/// `n` interrupted reads in a row; the completed reads' bytes, in order.
async fn phase(source: Arc<Source>, mut rng: Rng, op: ReadOp, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    for _ in 0..n {
        let cap = rng.range(1, 16 * 1024);
        if let Some(bytes) = source.interrupted(&mut rng, op, cap).await {
            got.push(bytes);
        }
    }
    got
}

/// The storm: `make` builds the source and the peer's writer on the home
/// runtime.
fn storm<W>(what: &str, op: ReadOp, make: impl FnOnce() -> (Source, W) + Send + 'static)
where
    W: std::io::Write + Send + 'static,
{
    let seed = Seed::new(what);
    let s = seed.value();
    let what = what.to_string();
    let label = what.clone();
    watchdog(&label, STALL, move |progress| {
        let foreign = Foreign::start();
        runtime().block_on(async {
            let (source, writer) = make();
            let source = Arc::new(source);
            let mut pusher = Pusher::start(writer, s);
            let mut rng = Rng::new(s);
            let mut check = StreamCheck::new(s);
            let drops = scaled(DROPS);
            let (mut done, mut foreign_drops) = (0, 0);
            while done < drops {
                let n = rng.range(50, 500).min(drops - done);
                let phase_rng = rng.fork();
                let got = if rng.one_in(3) {
                    // Polled on the foreign runtime; the home waits in block_on.
                    foreign_drops += n;
                    let source = source.clone();
                    foreign.run(move || phase(source, phase_rng, op, n)).await
                } else {
                    phase(source.clone(), phase_rng, op, n).await
                };
                got.iter().for_each(|b| check.push(b));
                done += n;
                progress.step(done);
            }
            let total = pusher.stop();
            loop {
                let rest = ringio::time::timeout(STEP, source.read_rest())
                    .await
                    .expect("hung: draining the stream after the storm");
                if rest.is_empty() {
                    break;
                }
                check.push(&rest);
            }
            let sent = total.join().expect("pusher thread");
            eprintln!(
                "{what}: {drops} drops ({foreign_drops} from a foreign thread), {} bytes checked",
                check.received()
            );
            check.assert_exactly(sent, &what);
        });
        drop(foreign);
    });
    drop(seed);
}

fn stream_storm(transport: Transport, op: ReadOp) {
    let what = format!("{transport:?} {op:?} drop storm");
    storm(&what, op, move || {
        let (stream, peer) = transport.pair();
        (Source::Stream(stream), peer)
    });
}

#[test]
fn tcp_read_drop_storm_loses_nothing() {
    stream_storm(Transport::Tcp, ReadOp::Read);
}

#[test]
fn unix_read_drop_storm_loses_nothing() {
    stream_storm(Transport::Unix, ReadOp::Read);
}

#[test]
fn tcp_read_exact_drop_storm_loses_nothing() {
    stream_storm(Transport::Tcp, ReadOp::ReadExact);
}

#[test]
fn unix_read_exact_drop_storm_loses_nothing() {
    stream_storm(Transport::Unix, ReadOp::ReadExact);
}

#[test]
fn pipe_fd_read_drop_storm_loses_nothing() {
    storm("pipe Fd::read drop storm", ReadOp::Read, || {
        // Blocking write end for the pusher thread, non-blocking read end.
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let r = Fd::new(r);
        r.set_nonblocking(true).unwrap();
        (Source::Pipe(r), std::fs::File::from(w))
    });
}

/// `read_exact` fills the buffer's whole capacity from its start, even when
/// the buffer already holds initialized bytes (issue 10): `vec![0u8; 16]`
/// gets 16 bytes of the stream, and the next read continues after them.
#[test]
fn read_exact_fills_an_initialized_buffer_from_the_start() {
    watchdog("read_exact into vec![0u8; 16]", STEP, |_| {
        runtime().block_on(async {
            for transport in [Transport::Tcp, Transport::Unix] {
                let (stream, mut peer) = transport.pair();
                let data: Vec<u8> = (1..=40).collect();
                std::io::Write::write_all(&mut peer, &data).unwrap();
                let (res, buf) = ringio::time::timeout(STEP, stream.read_exact(vec![0u8; 16]))
                    .await
                    .expect("read_exact(vec![0u8; 16]) hung with 40 bytes pending");
                res.unwrap();
                assert_eq!(
                    buf,
                    data[..16],
                    "{transport:?}: read_exact did not fill the buffer from byte 0"
                );
                // Initialized bytes are overwritten too, and capacity counts.
                let mut partly = Vec::with_capacity(16);
                partly.extend_from_slice(&[0xAA; 4]);
                let cap = partly.capacity();
                let (res, buf) = stream.read_exact(partly).await;
                res.unwrap();
                assert_eq!(buf, data[16..16 + cap], "{transport:?}: second read_exact");
                let (res, rest) = stream.read(Vec::with_capacity(64)).await;
                assert_eq!(rest, data[16 + cap..], "{transport:?}: bytes after the read_exacts");
                res.unwrap();
            }
        })
    });
}
