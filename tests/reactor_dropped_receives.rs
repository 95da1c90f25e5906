//! A hosted reactor's multishot receive armed on a thread that is not
//! turning (its SQE waits in the reactor's remote queue) and dropped by the
//! reactor's driver before a turn pushed that SQE (`Reactor::as_driver`,
//! as compat's completion reads disarm idle streams). Its cancel must reach
//! the kernel after the receive itself: sent first, it found nothing, the
//! receive was armed after it and never ended, and, orphaned, it kept the
//! stream's read lock and took every later byte into the rescue queue,
//! where no read could reach it (the next receive waited for the lock
//! forever). io_uring only in effect: a readiness backend's receive is a
//! plain read made when polled, and nothing is in flight to cancel.
//!
//! Every wait is bounded by the host loop's watchdog; none relies on a delay.

use ringio::reactor::Reactor;
use ringio_tests::hosted::{host, pair, readable};
use std::io::Write;
use std::task::{Context, Waker};
use std::time::Duration;

/// The host's sleep: on the reactor's descriptor, at most 100 ms (the host
/// loop turns again either way).
fn wait(reactor: &Reactor) {
    let _ = readable(reactor, Duration::from_millis(100));
}

#[test]
fn a_receive_the_driver_drops_before_its_sqe_went_in_ends() {
    let reactor = Reactor::new().unwrap();
    let group = reactor.buf_ring(3, 16, 4096).unwrap();
    let (stream, mut client) = pair(&reactor, || wait(&reactor));
    for round in 0..64u8 {
        // Armed outside a turn: the SQE goes to the remote queue.
        let mut rx = stream.recv_multi(&group).into_owned();
        {
            let _entered = reactor.enter();
            assert!(
                rx.poll_next(&mut Context::from_waker(Waker::noop())).is_pending(),
                "round {round}: nothing was sent yet"
            );
        }
        // Dropped by the driver before any turn: the SQE is still queued.
        reactor.as_driver(|| drop(rx));

        let sent = [round; 300];
        client.write_all(&sent).unwrap();
        let got = host(&reactor, || wait(&reactor), async {
            let mut rx = stream.recv_multi(&group);
            let mut got = Vec::new();
            while got.len() < sent.len() {
                let buf = rx.next().await.expect("end of stream").expect("receive");
                got.extend_from_slice(&buf);
            }
            got
        });
        assert_eq!(got, sent, "round {round}: the next receive got other bytes");
    }
    // Every receive ended, so every buffer came home.
    host(
        &reactor,
        || wait(&reactor),
        std::future::poll_fn(|_| {
            if group.available() == group.count() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        }),
    );
    // The last receive's drop is still in the remote queue: shut down, so
    // that nothing is left to the reactor's drop.
    drop(stream);
    reactor.shutdown();
}
