//! Receive bundles and incremental buffer rings (issue 11): a bundle's
//! buffers come out one by one, in order; pieces of an incremental buffer
//! share it, each holds only its own bytes, and the buffer counts as home
//! once the last piece is gone; the unread cap counts every buffer of a
//! bundle. (`buf_ring.rs` runs the general tests in every mode, and
//! `cancel_recv_multi.rs` the drop storms.)
//!
//! What a test needs of the kernel it checks with `GroupMode::granted`, and
//! says so where it is missing; on epoll the groups take plain receives and
//! the tests that do not need a feature run all the same. The bytes are in
//! the socket before the receive that takes them is armed, so what the
//! kernel does with them does not depend on timing; every wait is on an
//! event, bounded by a watchdog.

use ringio::buf::IoBuf;
use ringio_tests::{
    group_all_home, recv_drain, recv_next, runtime, until, watchdog, GroupMode, Pattern, StreamCheck, Transport, STEP,
};
use std::collections::HashSet;
use std::io::Write;

#[test]
fn a_bundle_hands_out_each_of_its_buffers_in_order() {
    const LEN: usize = 1024;
    const BUNDLE: usize = 8;
    watchdog("one bundle, eight buffers", STEP * 2, |_| {
        runtime().block_on(async {
            let group = GroupMode::Bundles.build(1, 16, LEN).unwrap();
            let (stream, mut peer) = Transport::Unix.pair();
            let mut pattern = Pattern::new(21);
            let mut check = StreamCheck::new(21);
            let mut rx = stream.recv_multi(&group).max_unread(16);
            // The first CQE of a bundled receive takes one buffer (6.10).
            peer.write_all(&pattern.take(100)).unwrap();
            let first = recv_next(&mut rx, "the first chunk").await.unwrap();
            check.push(&first);
            drop(first);
            let before = ringio::runtime::stats().unwrap();
            // One write, one socket buffer: one CQE where bundles are on.
            peer.write_all(&pattern.take(BUNDLE * LEN)).unwrap();
            let mut held = Vec::new();
            while check.received() < (100 + BUNDLE * LEN) as u64 {
                let buf = recv_next(&mut rx, "the bundle").await.expect("end of stream");
                assert_eq!(buf.len(), LEN, "every buffer of the bundle full");
                check.push(&buf);
                held.push(buf);
            }
            let ids: HashSet<_> = held.iter().map(|b| b.buffer_id().unwrap()).collect();
            assert_eq!(ids.len(), BUNDLE, "{BUNDLE} distinct buffers: {ids:?}");
            let cqes = ringio::runtime::stats().unwrap().buf_recv_cqes - before.buf_recv_cqes;
            if GroupMode::Bundles.granted(&group) {
                assert!(cqes < BUNDLE as u64, "bundles on, yet {cqes} CQEs for {BUNDLE} buffers");
            }
            eprintln!("{BUNDLE} buffers in {cqes} CQEs (bundles: {})", group.bundles());
            drop(held);
            drop(peer);
            recv_drain(&mut rx, &mut check, "after the bundle").await;
            check.assert_exactly((100 + BUNDLE * LEN) as u64, "a bundle");
            drop(rx);
            group_all_home(&group, "bundles").await;
        })
    });
}

#[test]
fn pieces_of_an_incremental_buffer_share_it_and_it_comes_home_after_the_last() {
    watchdog("pieces of one buffer", STEP * 2, |_| {
        runtime().block_on(async {
            let group = GroupMode::Incremental.build(2, 2, 4096).unwrap();
            if !GroupMode::Incremental.granted(&group) {
                return eprintln!("skipped: no incremental buffer rings here (Linux 6.12, io_uring)");
            }
            let (stream, mut peer) = Transport::Unix.pair();
            let mut pattern = Pattern::new(22);
            let (one, two, three) = (pattern.take(100), pattern.take(200), pattern.take(300));
            let mut rx = stream.recv_multi(&group).max_unread(2);
            peer.write_all(&one).unwrap();
            let mut a = recv_next(&mut rx, "the first piece").await.unwrap();
            peer.write_all(&two).unwrap();
            let b = recv_next(&mut rx, "the second piece").await.unwrap();
            assert_eq!(a.buffer_id(), b.buffer_id(), "both pieces in one buffer");
            assert_eq!((&a[..], &b[..]), (&one[..], &two[..]), "each piece its own bytes");
            // A piece may hold only its own bytes: past them is the next
            // piece (here `b`), or the kernel's.
            assert_eq!(a.bytes_total(), a.len(), "a piece's capacity is its bytes");
            a.fill(0xAA);
            assert_eq!(&b[..], &two[..], "writing a piece leaves the next one alone");
            // The kernel is still filling the buffer: once no piece is out
            // it counts as home, though it never left the ring.
            assert_eq!(group.available(), 1, "the buffer is out while pieces are");
            drop(a);
            assert_eq!(group.available(), 1, "one piece is still out");
            let id = b.buffer_id();
            drop(b);
            assert_eq!(group.available(), 2, "no piece out: home");
            // ... but not back in the ring: the kernel goes on where it was.
            peer.write_all(&three).unwrap();
            let c = recv_next(&mut rx, "the third piece").await.unwrap();
            assert_eq!(c.buffer_id(), id, "the third piece in the same buffer");
            assert_eq!(&c[..], &three[..], "the third piece's bytes");
            drop(c);
            drop(peer);
            assert!(recv_next(&mut rx, "end of stream").await.is_none());
            drop(rx);
            group_all_home(&group, "incremental").await;
        })
    });
}

#[test]
fn the_unread_cap_counts_every_buffer_of_a_bundle() {
    watchdog("max_unread and bundles", STEP * 3, |_| {
        runtime().block_on(async {
            if ringio::runtime::backend() != Some(ringio::Backend::IoUring) {
                return eprintln!("skipped: the unread cap is io_uring's");
            }
            for (i, mode) in GroupMode::ALL.into_iter().enumerate() {
                let what = format!("{mode:?}");
                let group = mode.build(3 + i as u16, 16, 512).unwrap();
                let (stream, mut peer) = Transport::Unix.pair();
                let mut pattern = Pattern::new(23);
                let mut check = StreamCheck::new(23);
                let base = ringio::runtime::stats().unwrap().in_flight;
                let mut rx = stream.recv_multi(&group).max_unread(3);
                peer.write_all(&pattern.take(100)).unwrap();
                let first = recv_next(&mut rx, &what).await.unwrap();
                check.push(&first);
                drop(first);
                // Four buffers' worth in one write: one bundle of four (or
                // four, or five, CQEs without): three unread stop the receive.
                peer.write_all(&pattern.take(4 * 512)).unwrap();
                until(|| ringio::runtime::stats().unwrap().in_flight == base).await;
                let out = ringio::runtime::stats().unwrap().bufs_out;
                assert!(out <= 5, "{what}: {out} buffers out with a cap of 3 unread");
                // More data waits in the socket, not in the group.
                peer.write_all(&pattern.take(8 * 512)).unwrap();
                drop(peer);
                recv_drain(&mut rx, &mut check, &what).await;
                check.assert_exactly((100 + 12 * 512) as u64, &what);
                drop(rx);
                group_all_home(&group, &what).await;
            }
        })
    });
}

/// Not a test: prints, per group mode, receive CQEs per MiB and throughput
/// for a bulk TCP transfer on loopback (the group holds 4 MiB each way).
/// Asserts nothing about either; run it on a quiet machine with
/// `cargo test --release -p ringio-tests --test buf_ring_bundles -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: prints numbers, checks only the bytes"]
fn measure_cqes_per_mib_and_throughput() {
    const MIB: usize = 1 << 20;
    let total: usize = ringio_tests::scaled(256) * MIB;
    for (i, mode) in GroupMode::ALL.into_iter().enumerate() {
        let (count, len) = match mode {
            GroupMode::Incremental => (16, 256 * 1024),
            _ => (256, 16 * 1024),
        };
        runtime().block_on(async {
            let group = mode.build(20 + i as u16, count, len).unwrap();
            let (stream, mut peer) = Transport::Tcp.pair();
            let writer = std::thread::spawn(move || {
                let chunk = Pattern::new(24).take(64 * 1024);
                for _ in 0..total / chunk.len() {
                    peer.write_all(&chunk).unwrap();
                }
            });
            let before = ringio::runtime::stats().unwrap();
            let start = std::time::Instant::now();
            let mut rx = stream.recv_multi(&group);
            let mut got = 0;
            while let Some(buf) = rx.next().await {
                got += buf.unwrap().len();
            }
            let secs = start.elapsed().as_secs_f64();
            writer.join().unwrap();
            assert_eq!(got, total, "{mode:?}: bytes lost");
            let cqes = ringio::runtime::stats().unwrap().buf_recv_cqes - before.buf_recv_cqes;
            eprintln!(
                "{mode:?} ({count} x {} KiB, bundles {}, incremental {}): {:.0} CQEs/MiB, {:.0} MiB/s",
                len / 1024,
                group.bundles(),
                group.incremental(),
                cqes as f64 / (total / MIB) as f64,
                (total / MIB) as f64 / secs
            );
        });
    }
}
