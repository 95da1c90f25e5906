//! A host's loop for a hosted [`Reactor`], for the tests that play the
//! host themselves (`reactor_*`): turn, poll the future under the reactor,
//! and sleep in the host's own wait when the reactor says it may; and that
//! wait, `poll(2)` on the reactor's descriptor.

use ringio::net::{TcpListener, TcpStream};
use ringio::reactor::Reactor;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// `poll(2)` on the reactor's descriptor for at most `wait`: readable?
pub fn readable(reactor: &Reactor, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        let mut fds = [PollFd::new(reactor, PollFlags::IN)];
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        match poll(&mut fds, Some(&timeout)) {
            Ok(n) => return n == 1 && fds[0].revents().contains(PollFlags::IN),
            // The ring's task work interrupts the sleep; go on waiting.
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => panic!("poll on the reactor's descriptor: {err}"),
        }
    }
}

/// Polls `future` under `reactor` until it is ready, turning the reactor
/// before each poll and calling `wait` (the host's sleep on the reactor's
/// descriptor, bounded) whenever the reactor may be parked. Panics after
/// [`crate::STEP`].
pub fn host<T>(reactor: &Reactor, mut wait: impl FnMut(), future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    let deadline = Instant::now() + crate::STEP;
    loop {
        reactor.turn().unwrap();
        let polled = {
            let _entered = reactor.enter();
            future.as_mut().poll(&mut cx)
        };
        if let Poll::Ready(out) = polled {
            return out;
        }
        assert!(Instant::now() < deadline, "the hosted operation never completed");
        if reactor.park(Waker::noop()) {
            wait();
        }
    }
}

/// A connected pair on a hosted reactor: (ringio server side, std client),
/// accepted through [`host`] with `wait`.
pub fn pair(reactor: &Reactor, wait: impl FnMut()) -> (TcpStream, std::net::TcpStream) {
    let listener = {
        let _entered = reactor.enter();
        TcpListener::bind("127.0.0.1:0").unwrap()
    };
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = host(reactor, wait, poll_fn(|cx| listener.poll_accept(cx))).unwrap();
    (server, client)
}
