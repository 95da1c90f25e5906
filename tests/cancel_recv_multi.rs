//! Drop storms on `recv_multi` (issue 11): a `recv_multi` stream or one of
//! its `next()` futures dropped at any point loses no byte and no buffer.
//! Bytes the kernel put in buffers the stream did not hand out come first
//! from the stream's next read (another `recv_multi` or a plain `read`), and
//! every buffer goes back to its group.
//!
//! How: as in `cancel_stream_reads.rs`, a peer thread pushes a seeded
//! pseudo-random byte stream with random pauses. The reader opens
//! `recv_multi` streams with random caps on one small shared group, takes a
//! few buffers from each through `next()` futures dropped at random points
//! (`timeout` of 0 to 50 µs, or a single poll), sometimes keeps buffers a
//! while (so the group runs dry), sometimes reads with a plain `read`
//! instead, and drops each stream. 10^4 drops (times `RINGIO_STRESS`); a
//! third of the phases run on a second runtime thread (foreign submissions,
//! buffers given back from there). Every byte handed out is checked in order
//! against the stream; at the end the byte count must equal what the peer
//! sent, and every buffer must be home.
//!
//! Each storm runs in every `GroupMode` (one buffer per CQE, bundles,
//! incremental buffers; each falls back to plain where the kernel or
//! backend lacks it), so a bundle's buffers not yet handed out, and pieces
//! of a buffer shared by receives, are dropped at random points as well.
//!
//! The seed is printed; `RINGIO_TEST_SEED` replays it.

use ringio::buf::{BufRing, BufRingBuf};
use ringio_tests::{
    interrupt, runtime, scaled, settle, watchdog, AnyStream, Foreign, GroupMode, Pusher, Rng, Seed, StreamCheck,
    Transport, STEP,
};
use std::sync::Arc;
use std::time::Duration;

/// Drops per storm at the CI size.
const DROPS: usize = 10_000;
/// Longest a storm may go without finishing a phase.
const STALL: Duration = Duration::from_secs(30);
/// The shared group: small, so that kept buffers run it dry.
const COUNT: usize = 8;
const BUF_LEN: usize = 2048;
/// Most buffers the reader keeps at once: all of them, so the group runs
/// dry on every backend (each `next()` is dropped soon, so none waits for
/// the reader's own buffers for long).
const KEEP: usize = COUNT;

/// `n` drops' worth of interrupted receives; the bytes handed out, in
/// order, and how many drops it made.
async fn phase(stream: Arc<AnyStream>, group: BufRing, mut rng: Rng, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut kept: Vec<BufRingBuf> = Vec::new();
    let mut drops = 0;
    while drops < n {
        if rng.one_in(8) {
            // A plain read between streams: it must see the rescued bytes.
            let buf = Vec::with_capacity(rng.range(1, 8 * 1024));
            if let Some((res, buf)) = interrupt(&mut rng, stream.read(buf)).await {
                assert!(
                    res.expect("read failed") > 0,
                    "end of stream while the peer was still sending"
                );
                got.push(buf);
            }
            drops += 1;
            continue;
        }
        let cap = rng.range(1, 6);
        let mut rx = stream.recv_multi(&group).max_unread(cap);
        for _ in 0..rng.range(0, 6) {
            match interrupt(&mut rng, rx.next()).await {
                Some(Some(Ok(buf))) => {
                    assert!(!buf.is_empty(), "an empty buffer before end of stream");
                    got.push(buf.to_vec());
                    if rng.one_in(3) && kept.len() < KEEP {
                        kept.push(buf);
                    }
                }
                Some(Some(Err(e))) => panic!("recv_multi failed: {e}"),
                Some(None) => panic!("end of stream while the peer was still sending"),
                None => {}
            }
            drops += 1;
            if rng.one_in(4) {
                kept.clear();
            }
        }
        drop(rx);
        drops += 1;
    }
    got
}

fn storm(transport: Transport, mode: GroupMode) {
    let what = format!("{transport:?} {mode:?} recv_multi drop storm");
    let seed = Seed::new(&what);
    let s = seed.value();
    let label = what.clone();
    watchdog(&label, STALL, move |progress| {
        let foreign = Foreign::start();
        runtime().block_on(async {
            let group = mode.build(9, COUNT, BUF_LEN).unwrap();
            let (stream, writer) = transport.pair();
            let stream = Arc::new(stream);
            let mut pusher = Pusher::start(writer, s);
            let mut rng = Rng::new(s);
            let mut check = StreamCheck::new(s);
            let drops = scaled(DROPS);
            let (mut done, mut foreign_drops) = (0, 0);
            while done < drops {
                let n = rng.range(50, 500).min(drops - done);
                let phase_rng = rng.fork();
                let got = if rng.one_in(3) {
                    foreign_drops += n;
                    let (stream, group) = (stream.clone(), group.clone());
                    foreign.run(move || phase(stream, group, phase_rng, n)).await
                } else {
                    phase(stream.clone(), group.clone(), phase_rng, n).await
                };
                got.iter().for_each(|b| check.push(b));
                done += n;
                progress.step(done);
            }
            let total = pusher.stop();
            let mut rx = stream.recv_multi(&group);
            loop {
                let next = ringio::time::timeout(STEP, rx.next())
                    .await
                    .expect("hung: draining the stream after the storm");
                match next {
                    Some(buf) => check.push(&buf.expect("draining recv_multi failed")),
                    None => break,
                }
            }
            drop(rx);
            let sent = total.join().expect("pusher thread");
            let stats = settle().await;
            eprintln!(
                "{what}: {drops} drops ({foreign_drops} from a foreign thread), {} bytes checked, \
                 {} ENOBUFS, {} re-arms, {} receive CQEs (bundles {}, incremental {})",
                check.received(),
                stats.buf_enobufs,
                stats.buf_rearms,
                stats.buf_recv_cqes,
                group.bundles(),
                group.incremental()
            );
            check.assert_exactly(sent, &what);
            assert_eq!(group.available(), COUNT, "{what}: buffers lost");
            assert_eq!(stats.bufs_out, 0, "{what}: Stats::bufs_out after the storm");
        });
        drop(foreign);
    });
    drop(seed);
}

#[test]
fn tcp_recv_multi_drop_storm_loses_nothing() {
    storm(Transport::Tcp, GroupMode::Plain);
}

#[test]
fn unix_recv_multi_drop_storm_loses_nothing() {
    storm(Transport::Unix, GroupMode::Plain);
}

#[test]
fn tcp_bundled_recv_multi_drop_storm_loses_nothing() {
    storm(Transport::Tcp, GroupMode::Bundles);
}

#[test]
fn unix_bundled_recv_multi_drop_storm_loses_nothing() {
    storm(Transport::Unix, GroupMode::Bundles);
}

#[test]
fn tcp_incremental_recv_multi_drop_storm_loses_nothing() {
    storm(Transport::Tcp, GroupMode::Incremental);
}

#[test]
fn unix_incremental_recv_multi_drop_storm_loses_nothing() {
    storm(Transport::Unix, GroupMode::Incremental);
}
