//! A hosted reactor under a level-triggered host: `Reactor::as_fd` must be
//! readable exactly while there is something for a turn to do, so a host
//! that sleeps in `poll(2)` is woken for every completion and does not spin
//! once the turn has reaped it. (tokio's epoll is edge-triggered, which
//! forgives a descriptor that stays readable; `poll(2)` does not.) Both
//! kinds: a reactor any thread may turn, and a pinned one (`DEFER_TASKRUN`
//! on io_uring), which also refuses other threads without hanging.

use ringio::net::TcpStream;
use ringio::reactor::Reactor;
use ringio_tests::hosted::{self, readable};
use std::future::Future;
use std::io::Write;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

/// Polls `future` under the reactor, turning it whenever `poll(2)` says so
/// (the host's loop of the module docs), until it is ready.
fn host<T>(reactor: &Reactor, future: impl Future<Output = T>) -> T {
    hosted::host(
        reactor,
        || {
            let _ = readable(reactor, Duration::from_millis(100));
        },
        future,
    )
}

/// A connected pair on a hosted reactor: (ringio server side, std client).
fn pair(reactor: &Reactor) -> (TcpStream, std::net::TcpStream) {
    hosted::pair(reactor, || {
        let _ = readable(reactor, Duration::from_millis(100));
    })
}

#[test]
fn the_descriptor_is_readable_exactly_while_a_turn_has_work() {
    readable_exactly_while_a_turn_has_work(Reactor::new().unwrap());
}

#[test]
fn a_pinned_reactor_is_readable_exactly_while_a_turn_has_work() {
    let reactor = ringio::Builder::new().build_pinned_reactor().unwrap();
    if reactor.backend() == ringio::Backend::IoUring {
        assert_eq!(
            reactor.setup_mode(),
            Some(ringio::SetupMode::Defer),
            "Linux 6.1+ has DEFER_TASKRUN"
        );
    }
    readable_exactly_while_a_turn_has_work(reactor);
}

/// A pinned reactor belongs to the thread of its first turn: another
/// thread's turn is refused, and a shutdown from there returns at once
/// (leaking the ring, whose buffers the kernel may still hold) instead of
/// waiting forever for completions only the first thread could reap.
#[test]
fn a_pinned_reactor_refuses_other_threads_and_their_shutdown_does_not_hang() {
    let reactor = ringio::Builder::new().build_pinned_reactor().unwrap();
    if reactor.setup_mode() != Some(ringio::SetupMode::Defer) {
        return; // epoll, or no DEFER_TASKRUN: an ordinary reactor
    }
    let (server, _client) = pair(&reactor);
    // A read in flight (nothing arrives), submitted by this thread's turn.
    let mut read = pin!(async {
        let _entered = reactor.enter();
        server.read(vec![0u8; 64]).await
    });
    assert!(read.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
    reactor.turn().unwrap();
    let other = reactor.clone();
    let (refused, shut_down_in) = std::thread::spawn(move || {
        let refused = other.turn().unwrap_err();
        let started = Instant::now();
        other.shutdown();
        (refused, started.elapsed())
    })
    .join()
    .unwrap();
    assert_eq!(
        ringio::Error::of(&refused),
        Some(&ringio::Error::PinnedElsewhere),
        "{refused}"
    );
    assert!(shut_down_in < ringio_tests::STEP, "shutdown from another thread hung");
    // The thread it is pinned to still turns it (nothing was freed).
    reactor.turn().unwrap();
    assert!(read.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
}

fn readable_exactly_while_a_turn_has_work(reactor: Reactor) {
    let (server, mut client) = pair(&reactor);
    for round in 0..50u8 {
        let mut read = pin!(async {
            let _entered = reactor.enter();
            server.read(vec![0u8; 64]).await
        });
        let mut cx = Context::from_waker(Waker::noop());
        // Submitted, nothing arrived: a turn has nothing to do.
        assert!(read.as_mut().poll(&mut cx).is_pending());
        reactor.turn().unwrap();
        assert!(
            !readable(&reactor, Duration::ZERO),
            "round {round}: readable with nothing to reap (a level-triggered host would spin)"
        );
        // Data arrives: the host is told without any turn of ours.
        client.write_all(&[round; 10]).unwrap();
        assert!(
            readable(&reactor, ringio_tests::STEP),
            "round {round}: a completion did not make the descriptor readable"
        );
        let (n, buf) = host(&reactor, read.as_mut());
        assert_eq!(&buf[..n.unwrap()], &[round; 10][..]);
        // Reaped: quiet again.
        assert!(
            !readable(&reactor, Duration::ZERO),
            "round {round}: still readable after the turn reaped everything"
        );
    }
    reactor.shutdown();
}
