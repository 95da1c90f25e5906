//! Buffer groups and `recv_multi` (issue 11): messages of 1 B and 1 MiB
//! arrive whole and in order; buffers go back to their group when dropped,
//! from any thread; a dry group stalls a receive without losing anything and
//! it recovers once a buffer comes back; a reader that falls behind stops
//! its receive (io_uring) and resumes; hundreds of connections share one
//! small group. The first three run in every `GroupMode` (plain, bundles,
//! incremental; `buf_ring_bundles.rs` has what is particular to the last
//! two). Runs on whichever backend `RINGIO_BACKEND` picks.
//!
//! Every wait is on an event (a counter reaching a value, a future
//! completing), bounded by a watchdog; none relies on a delay.

use ringio::buf::BufRing;
use ringio_tests::{
    group_all_home as all_home, recv_drain as drain, recv_next as next, runtime, settle, until, watchdog, AnyStream,
    GroupMode, Pattern, StreamCheck, Transport, STEP,
};
use std::future::Future;
use std::io::Write;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

const TRANSPORTS: [Transport; 2] = [Transport::Tcp, Transport::Unix];

/// A group id of its own for each mode and transport of test `test`
/// (a group dropped under a receive goes with the receive's last CQE).
fn group_id(test: u16, i: usize) -> u16 {
    test * 16 + i as u16
}

/// Every way a group takes receives, on every transport.
fn modes() -> impl Iterator<Item = (GroupMode, Transport)> {
    GroupMode::ALL
        .into_iter()
        .flat_map(|mode| TRANSPORTS.into_iter().map(move |t| (mode, t)))
}

#[test]
fn messages_of_one_byte_and_one_mib_arrive_whole() {
    watchdog("1 B and 1 MiB through recv_multi", STEP * 6, |_| {
        runtime().block_on(async {
            for (i, (mode, transport)) in modes().enumerate() {
                let group = mode.build(group_id(1, i), 64, 16 * 1024).unwrap();
                let what = format!("{mode:?} {transport:?}");
                let (stream, mut peer) = transport.pair();
                let (ack, acked) = std::sync::mpsc::channel::<()>();
                let writer = std::thread::spawn(move || {
                    peer.write_all(&[0x42]).unwrap();
                    acked.recv().unwrap();
                    peer.write_all(&Pattern::new(11).take(1 << 20)).unwrap();
                    // Dropped: end of stream.
                });
                let mut rx = stream.recv_multi(&group);
                let one = next(&mut rx, &what).await.expect("end of stream before 1 byte");
                assert_eq!(&one[..], &[0x42], "{what}: the 1-byte message");
                assert!(one.buffer_id().is_some(), "{what}: a group buffer");
                drop(one);
                ack.send(()).unwrap();
                let mut check = StreamCheck::new(11);
                drain(&mut rx, &mut check, &what).await;
                check.assert_exactly(1 << 20, &what);
                assert!(rx.next().await.is_none(), "{what}: the stream ends for good");
                drop(rx);
                writer.join().unwrap();
                all_home(&group, &what).await;
            }
        })
    });
}

#[test]
fn buffers_go_back_when_dropped_on_any_thread() {
    watchdog("buffers dropped here and on another thread", STEP * 2, |_| {
        runtime().block_on(async {
            for (i, (mode, transport)) in modes().enumerate() {
                let group = mode.build(group_id(2, i), 8, 256).unwrap();
                let what = format!("{mode:?} {transport:?}");
                let (stream, mut peer) = transport.pair();
                peer.write_all(&Pattern::new(2).take(8 * 256)).unwrap();
                let mut rx = stream.recv_multi(&group).max_unread(8);
                let mut check = StreamCheck::new(2);
                let mut held = Vec::new();
                while check.received() < 8 * 256 {
                    let buf = next(&mut rx, &what).await.expect("end of stream");
                    check.push(&buf);
                    held.push(buf);
                }
                // (Pieces of an incremental group may share a buffer.)
                let buffers: std::collections::HashSet<_> = held.iter().map(|b| b.buffer_id()).collect();
                let stats = ringio::runtime::stats().unwrap();
                assert!(
                    stats.bufs_out >= buffers.len() as u64,
                    "{what}: {} buffers held, Stats::bufs_out {}",
                    buffers.len(),
                    stats.bufs_out
                );
                assert!(
                    group.available() <= 8 - buffers.len(),
                    "{what}: held buffers counted as home"
                );
                // Half go back from a plain thread, half from here.
                let there = held.split_off(held.len() / 2);
                std::thread::spawn(move || drop(there)).join().unwrap();
                drop(held);
                drop(rx);
                all_home(&group, &what).await;
                drop(peer);
                // The stream is still readable after its recv_multi went.
                let (res, _) = stream.read(Vec::with_capacity(16)).await;
                assert_eq!(res.unwrap(), 0, "{what}: end of stream");
            }
        })
    });
}

/// Polls `future` until `done()` holds, while it stays pending (each poll
/// lets the runtime turn); panics if it completes first.
async fn pending_until<F: Future + Unpin>(future: &mut F, mut done: impl FnMut() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + STEP;
    while !done() {
        let polled = std::future::poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut *future).poll(cx).is_ready())).await;
        assert!(!polled, "{what}: completed while the group was dry");
        assert!(std::time::Instant::now() < deadline, "hung: {what}");
        ringio::time::sleep(Duration::from_micros(200)).await;
    }
}

#[test]
fn a_dry_group_stalls_the_receive_and_it_recovers() {
    watchdog("exhaustion and recovery", STEP * 6, |_| {
        runtime().block_on(async {
            for (i, (mode, transport)) in modes().enumerate() {
                // Written before the receive, the bytes fill every buffer
                // whole, incremental or not.
                let group = mode.build(group_id(3, i), 4, 64).unwrap();
                let what = format!("{mode:?} {transport:?}");
                let (stream, mut peer) = transport.pair();
                const TOTAL: usize = 64 * 64;
                peer.write_all(&Pattern::new(3).take(TOTAL)).unwrap();
                let before = ringio::runtime::stats().unwrap();
                let mut rx = stream.recv_multi(&group).max_unread(64);
                let mut check = StreamCheck::new(3);
                // Take every buffer of the group and keep it.
                let mut held = Vec::new();
                while held.len() < 4 {
                    let buf = next(&mut rx, &what).await.expect("end of stream");
                    check.push(&buf);
                    held.push(buf);
                }
                assert_eq!(group.available(), 0, "{what}: all four are out");
                {
                    // With none left, a receive waits, and says why.
                    let mut waiting = pin!(rx.next());
                    pending_until(
                        &mut waiting,
                        || ringio::runtime::stats().unwrap().buf_enobufs > before.buf_enobufs,
                        &what,
                    )
                    .await;
                    // One buffer back: the receive resumes where it stopped.
                    drop(held.remove(0));
                    let buf = ringio::time::timeout(STEP, waiting)
                        .await
                        .expect("hung: the receive did not resume after a buffer came back")
                        .expect("end of stream")
                        .unwrap();
                    check.push(&buf);
                    held.push(buf);
                }
                drop(held);
                while check.received() < TOTAL as u64 {
                    let buf = next(&mut rx, &what).await.expect("end of stream");
                    check.push(&buf);
                }
                check.assert_exactly(TOTAL as u64, &what);
                let after = ringio::runtime::stats().unwrap();
                if ringio::runtime::backend() == Some(ringio::Backend::IoUring) {
                    assert!(
                        after.buf_rearms > before.buf_rearms,
                        "{what}: never re-armed: {after:?}"
                    );
                }
                drop(rx);
                all_home(&group, &what).await;
            }
        })
    });
}

#[test]
fn a_reader_that_falls_behind_stops_its_receive() {
    watchdog("max_unread", STEP * 2, |_| {
        runtime().block_on(async {
            if ringio::runtime::backend() != Some(ringio::Backend::IoUring) {
                // A readiness backend receives only when asked: nothing queues.
                return eprintln!("skipped: the unread cap is io_uring's");
            }
            let group = BufRing::new(4, 16, 512).unwrap();
            let (stream, mut peer) = Transport::Unix.pair();
            let mut pattern = Pattern::new(4);
            let mut check = StreamCheck::new(4);
            let base = ringio::runtime::stats().unwrap().in_flight;
            let mut rx = stream.recv_multi(&group).max_unread(1);
            peer.write_all(&pattern.take(100)).unwrap();
            let first = next(&mut rx, "first chunk").await.unwrap();
            check.push(&first);
            drop(first);
            // One unread buffer reaches the cap: the driver stops the receive.
            peer.write_all(&pattern.take(100)).unwrap();
            until(|| ringio::runtime::stats().unwrap().in_flight == base).await;
            let out = ringio::runtime::stats().unwrap().bufs_out;
            assert!(out <= 1, "{out} buffers out with a cap of 1 unread");
            // More data waits in the socket, not in the group.
            peer.write_all(&pattern.take(3000)).unwrap();
            drop(peer);
            let mut got = Vec::new();
            while let Some(buf) = next(&mut rx, "after the cap").await {
                got.extend_from_slice(&buf);
            }
            check.push(&got);
            check.assert_exactly(3200, "a capped receive");
            let stats = ringio::runtime::stats().unwrap();
            assert!(stats.buf_rearms >= 1, "never re-armed: {stats:?}");
            drop(rx);
            all_home(&group, "max_unread").await;
        })
    });
}

#[test]
fn hundreds_of_connections_share_one_small_group() {
    const CONNS: usize = 400;
    const EACH: usize = 8 * 1024;
    ringio_tests::raise_nofile_limit();
    watchdog("many connections, one group", Duration::from_secs(60), |progress| {
        runtime().block_on(async {
            let group = BufRing::new(5, 32, 1024).unwrap();
            let mut peers = Vec::new();
            let mut tasks = Vec::new();
            for i in 0..CONNS {
                let transport = TRANSPORTS[i % 2];
                let (stream, peer) = transport.pair();
                peers.push(peer);
                let group = group.clone();
                tasks.push(ringio::spawn(async move {
                    let stream: AnyStream = stream;
                    let mut rx = stream.recv_multi(&group);
                    let mut check = StreamCheck::new(100 + i as u64);
                    drain(&mut rx, &mut check, "one of many").await;
                    check.assert_exactly(EACH as u64, &format!("connection {i}"));
                }));
            }
            // Every peer's bytes fit its socket buffer: written in one go.
            let writer = std::thread::spawn(move || {
                for (i, mut peer) in peers.into_iter().enumerate() {
                    peer.write_all(&Pattern::new(100 + i as u64).take(EACH)).unwrap();
                }
            });
            for (i, task) in tasks.into_iter().enumerate() {
                task.await.unwrap();
                progress.step(i);
            }
            writer.join().unwrap();
            let stats = ringio::runtime::stats().unwrap();
            eprintln!(
                "{CONNS} connections, 32 buffers: {} ENOBUFS, {} re-arms",
                stats.buf_enobufs, stats.buf_rearms
            );
            all_home(&group, "many connections").await;
        })
    });
}

#[test]
fn group_arguments_are_checked() {
    runtime().block_on(async {
        for (count, len) in [(0, 64), (3, 64), (1 << 16, 64), (8, 0)] {
            let err = BufRing::new(6, count, len).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "count {count}, len {len}");
        }
        let group = BufRing::new(6, 8, 64).unwrap();
        if ringio::runtime::backend() == Some(ringio::Backend::IoUring) {
            let err = BufRing::new(6, 8, 64).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        }
        drop(group);
        // Once it is gone its id is free again.
        settle().await;
        BufRing::new(6, 8, 64).unwrap();
    });
    assert!(BufRing::new(7, 8, 64).is_err(), "outside a runtime");
}

#[test]
fn close_ends_a_waiting_recv_multi() {
    watchdog("close under recv_multi", STEP * 2, |_| {
        runtime().block_on(async {
            let group = BufRing::new(8, 8, 256).unwrap();
            for transport in TRANSPORTS {
                let what = format!("{transport:?}");
                let (stream, _peer) = transport.pair();
                let stream = std::sync::Arc::new(stream);
                let base = ringio::runtime::stats().unwrap().in_flight;
                let reader = {
                    let (stream, group) = (stream.clone(), group.clone());
                    ringio::spawn(async move {
                        let mut rx = stream.recv_multi(&group);
                        let first = rx.next().await;
                        let err = first.expect("a closed stream reports it").unwrap_err();
                        assert!(ringio::Error::is_closed(&err), "not Closed: {err}");
                    })
                };
                // The receive (or its readiness wait) is in the kernel.
                until(|| ringio::runtime::stats().unwrap().in_flight > base).await;
                ringio::time::timeout(STEP, stream.close())
                    .await
                    .unwrap_or_else(|_| panic!("hung: {what}: close with recv_multi armed"))
                    .unwrap();
                ringio::time::timeout(STEP, reader)
                    .await
                    .unwrap_or_else(|_| panic!("hung: {what}: recv_multi after close"))
                    .unwrap();
                all_home(&group, &what).await;
            }
        })
    });
}

#[test]
fn a_runtime_dropped_under_an_armed_recv_multi_lets_go() {
    for keep_group in [true, false] {
        watchdog("runtime drop under recv_multi", STEP, move |_| {
            let rt = runtime();
            let group = rt.block_on(async {
                let group = BufRing::new(10, 8, 256).unwrap();
                let (stream, peer) = Transport::Unix.pair();
                let base = ringio::runtime::stats().unwrap().in_flight;
                let g = group.clone();
                drop(ringio::spawn(async move {
                    let _peer = peer;
                    let mut rx = stream.recv_multi(&g);
                    while rx.next().await.is_some() {}
                }));
                until(|| ringio::runtime::stats().unwrap().in_flight > base).await;
                // Without this handle, the group goes with the task, while
                // the runtime shuts down.
                keep_group.then_some(group)
            });
            drop(rt);
            // A group that outlives its runtime frees its memory when dropped.
            drop(group);
        });
    }
}
