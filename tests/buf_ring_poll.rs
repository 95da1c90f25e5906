//! `RecvMulti::poll_next` and `RecvMulti::into_owned` (the poll-style,
//! owned form `ringio-compat` keeps beside each stream): polled by hand
//! through a group small enough to run dry, an owned receive hands out
//! every byte in order; once its stream is dropped it ends with `Closed`
//! and gives every buffer back. Runs on whichever backend `RINGIO_BACKEND`
//! picks; every wait is bounded by a watchdog, none relies on a delay.

use ringio::buf::BufRing;
use ringio::net::RecvMulti;
use ringio_tests::{runtime, settle, watchdog, Pattern, StreamCheck, Transport, STEP};
use std::future::poll_fn;
use std::io::Write;

/// `poll_next`, awaited.
async fn poll_once_ready(rx: &mut RecvMulti<'static>) -> Option<std::io::Result<ringio::buf::BufRingBuf>> {
    poll_fn(|cx| rx.poll_next(cx)).await
}

#[test]
fn an_owned_receive_polled_by_hand_hands_out_every_byte() {
    fn assert_send<T: Send>(_: &T) {}
    watchdog("poll_next through a dry group", STEP * 3, |_| {
        runtime().block_on(async {
            // 4 buffers of 1 KiB: a 1 MiB stream runs the group dry often.
            let group = BufRing::new(4, 4, 1024).unwrap();
            for transport in [Transport::Tcp, Transport::Unix] {
                let what = format!("{transport:?}");
                let (stream, mut peer) = transport.pair();
                let writer = std::thread::spawn(move || {
                    peer.write_all(&Pattern::new(5).take(1 << 20)).unwrap();
                });
                let mut rx = stream.recv_multi(&group).max_unread(2).into_owned();
                assert_send(&rx);
                let mut check = StreamCheck::new(5);
                while let Some(buf) = poll_once_ready(&mut rx).await {
                    check.push(&buf.unwrap_or_else(|e| panic!("{what}: {e}")));
                }
                check.assert_exactly(1 << 20, &what);
                assert!(poll_once_ready(&mut rx).await.is_none(), "{what}: ends for good");
                writer.join().unwrap();
                drop(rx);
                drop(stream);
                settle().await;
                assert_eq!(group.available(), group.count(), "{what}: buffers out after the drops");
            }
        })
    });
}

#[test]
fn an_owned_receive_ends_with_closed_once_its_stream_is_dropped() {
    watchdog("owned RecvMulti after its stream", STEP * 3, |_| {
        runtime().block_on(async {
            let group = BufRing::new(5, 8, 4096).unwrap();
            let (stream, _peer) = Transport::Tcp.pair();
            let mut rx = stream.recv_multi(&group).into_owned();
            // Armed (or waiting for readability) with nothing to receive.
            let waker = std::task::Waker::noop();
            assert!(rx.poll_next(&mut std::task::Context::from_waker(waker)).is_pending());
            drop(stream);
            let err = poll_once_ready(&mut rx)
                .await
                .expect("an item after close")
                .expect_err("a receive on a closed stream");
            assert!(ringio::Error::is_closed(&err), "not Closed: {err}");
            drop(rx);
            settle().await;
            assert_eq!(group.available(), group.count(), "buffers out after the drops");
        })
    });
}

#[test]
fn a_hosted_reactor_registers_a_group_from_a_thread_that_does_not_turn_it() {
    watchdog("Reactor::buf_ring from another thread", STEP, |_| {
        let reactor = ringio::reactor::Reactor::new().unwrap();
        // Another thread turns the reactor all along, as a host does.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let turner = {
            let (reactor, stop) = (reactor.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    reactor.turn().unwrap();
                }
            })
        };
        let groups: Vec<BufRing> = (0..8).map(|g| reactor.buf_ring(10 + g, 8, 4096).unwrap()).collect();
        // `as_driver` takes the same turn: it runs while nobody turns.
        assert_eq!(reactor.as_driver(|| 42), 42);
        let on_ring = reactor.backend() == ringio::Backend::IoUring;
        for group in &groups {
            assert_eq!(group.kernel_ring(), on_ring, "a kernel ring exactly on io_uring");
            assert_eq!(group.available(), 8);
        }
        assert!(
            reactor.buf_ring(10, 8, 4096).is_err() || !on_ring,
            "a group id registered twice"
        );
        drop(groups);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        turner.join().unwrap();
        reactor.shutdown();
    });
}
