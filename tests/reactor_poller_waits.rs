//! A hosted reactor's readiness waits: on io_uring an unpinned reactor
//! waits through an epoll of its own, which holds the ring's descriptor and
//! is what the host watches (`Builder::ring_waits` makes each wait a
//! `POLL_ADD` on the ring instead). Either way the host's descriptor must
//! be readable exactly while a turn has work, a wait must end when data
//! arrives, when the stream closes and when the reactor shuts down, and a
//! stream must leave the poller when it closes, so that the next
//! descriptor with its number waits correctly. On the epoll backend the
//! same checks hold for its own poller.

use ringio::net::{TcpStream, UnixStream};
use ringio::reactor::Reactor;
use ringio_tests::hosted::{self, readable};
use std::future::Future;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

fn pair(reactor: &Reactor) -> (TcpStream, std::net::TcpStream) {
    hosted::pair(reactor, || {
        let _ = readable(reactor, Duration::from_millis(100));
    })
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    (count.clone(), Waker::from(count))
}

fn poll_read_ready(reactor: &Reactor, stream: &TcpStream, waker: &Waker) -> Poll<std::io::Result<()>> {
    let _entered = reactor.enter();
    stream.poll_read_ready(&mut Context::from_waker(waker))
}

/// Whether a wait on `reactor` is a `POLL_ADD` on its ring.
fn waits_on_ring(reactor: &Reactor, ring_waits: bool) -> bool {
    reactor.backend() == ringio::Backend::IoUring && ring_waits
}

fn reactor(ring_waits: bool) -> Reactor {
    ringio::Builder::new().ring_waits(ring_waits).build_reactor().unwrap()
}

#[test]
fn a_wait_goes_through_the_poller_and_ends_when_data_arrives() {
    waits_and_wakes(reactor(false), false);
}

#[test]
fn with_ring_waits_a_wait_is_an_operation_and_ends_when_data_arrives() {
    waits_and_wakes(reactor(true), true);
}

fn waits_and_wakes(reactor: Reactor, ring_waits: bool) {
    let (server, mut client) = pair(&reactor);
    let mut buf = [0u8; 64];
    for round in 0..50u8 {
        assert_eq!(
            server.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock,
            "round {round}"
        );
        let submitted = reactor.stats().submitted;
        let (woken, waker) = counting();
        assert!(poll_read_ready(&reactor, &server, &waker).is_pending(), "round {round}");
        reactor.turn().unwrap();
        let made = reactor.stats().submitted - submitted;
        if waits_on_ring(&reactor, ring_waits) {
            assert_eq!(made, 1, "round {round}: a ring wait is one POLL_ADD");
        } else {
            assert_eq!(made, 0, "round {round}: a wait through the poller made an operation");
        }
        assert!(
            !readable(&reactor, Duration::ZERO),
            "round {round}: readable with nothing to do (a level-triggered host would spin)"
        );
        client.write_all(&[round; 10]).unwrap();
        assert!(
            readable(&reactor, ringio_tests::STEP),
            "round {round}: the data did not make the host's descriptor readable"
        );
        reactor.turn().unwrap();
        assert_eq!(
            woken.0.load(Ordering::SeqCst),
            1,
            "round {round}: the waiter was not woken once"
        );
        assert!(
            matches!(poll_read_ready(&reactor, &server, &waker), Poll::Ready(Ok(()))),
            "round {round}"
        );
        assert_eq!(server.try_read(&mut buf).unwrap(), 10, "round {round}");
        assert_eq!(&buf[..10], &[round; 10][..]);
        reactor.turn().unwrap();
        assert!(
            !readable(&reactor, Duration::ZERO),
            "round {round}: still readable after the turn took every event"
        );
    }
    // The host's last step (the reactor's contract): the stream's close is
    // still on the ring, holding its descriptor, until shutdown reaps it.
    drop(server);
    reactor.shutdown();
}

/// The ring's own completions still reach the host through the poller: a
/// read operation (not a wait) in flight completes when data arrives.
#[test]
fn a_ring_operation_completes_through_the_poller() {
    let reactor = reactor(false);
    let (server, mut client) = pair(&reactor);
    for round in 0..20u8 {
        client.write_all(&[round; 5]).unwrap();
        let (n, buf) = hosted::host(
            &reactor,
            || {
                let _ = readable(&reactor, Duration::from_millis(100));
            },
            server.read(vec![0u8; 64]),
        );
        assert_eq!(&buf[..n.unwrap()], &[round; 5][..]);
    }
    drop(server);
    reactor.shutdown();
}

/// Closing a stream ends its waits (the waiter is woken, and a poll after
/// the close fails), and takes it out of the poller: the streams after it,
/// which the kernel usually gives the same numbers, wait and wake as the
/// first did.
#[test]
fn close_ends_a_wait_and_the_next_stream_with_the_number_waits_again() {
    let reactor = reactor(false);
    for round in 0..30 {
        let (server, mut client) = pair(&reactor);
        let (woken, waker) = counting();
        assert!(poll_read_ready(&reactor, &server, &waker).is_pending(), "round {round}");
        if round % 2 == 0 {
            // A live wait first: the stream is in the poller and works.
            client.write_all(b"x").unwrap();
            assert!(readable(&reactor, ringio_tests::STEP), "round {round}");
            reactor.turn().unwrap();
            assert_eq!(woken.0.load(Ordering::SeqCst), 1, "round {round}: not woken by data");
            let mut buf = [0u8; 8];
            assert_eq!(server.try_read(&mut buf).unwrap(), 1);
            assert!(poll_read_ready(&reactor, &server, &waker).is_pending(), "round {round}");
        }
        let before = woken.0.load(Ordering::SeqCst);
        hosted::host(&reactor, || {}, server.close()).unwrap();
        assert!(
            woken.0.load(Ordering::SeqCst) > before,
            "round {round}: close did not wake the waiter"
        );
        let after = poll_read_ready(&reactor, &server, &waker);
        assert!(matches!(after, Poll::Ready(Err(_))), "round {round}: {after:?}");
    }
}

/// A reactor that shuts down ends every wait on its poller.
#[test]
fn shutdown_ends_waits_on_the_poller() {
    let reactor = reactor(false);
    let (server, _client) = pair(&reactor);
    let (woken, waker) = counting();
    assert!(poll_read_ready(&reactor, &server, &waker).is_pending());
    reactor.turn().unwrap();
    reactor.shutdown();
    assert!(woken.0.load(Ordering::SeqCst) >= 1, "shutdown did not wake the waiter");
    match poll_read_ready(&reactor, &server, &waker) {
        Poll::Ready(Err(err)) => assert_eq!(ringio::Error::of(&err), Some(&ringio::Error::RuntimeShutDown), "{err}"),
        other => panic!("a wait after shutdown: {other:?}"),
    }
}

/// A stream's first wait joins the poller lazily, so a close on another
/// thread can run while the join is under way: the close must still end
/// that wait. Each round races the two on a fresh stream (a Unix pair: no
/// ports to run out of); afterwards the wait either ended at once or was
/// woken, and polling again fails.
#[test]
fn a_close_racing_the_first_wait_ends_it() {
    close_races_a_wait(reactor(false));
}

/// The same race where each wait is a `POLL_ADD` kept between polls, which
/// the close drops: the task that polled it must still be woken.
#[test]
fn with_ring_waits_a_close_racing_a_wait_ends_it() {
    close_races_a_wait(reactor(true));
}

fn close_races_a_wait(reactor: Reactor) {
    let rounds = 20_000 * ringio_tests::stress();
    for round in 0..rounds {
        let (stream, _peer) = {
            let _entered = reactor.enter();
            UnixStream::pair().unwrap()
        };
        let (stream, waker) = race_close_with_a_wait(&reactor, stream, round);
        let again = {
            let _entered = reactor.enter();
            stream.poll_read_ready(&mut Context::from_waker(&waker))
        };
        assert!(matches!(again, Poll::Ready(Err(_))), "round {round}: {again:?}");
    }
    reactor.shutdown();
}

/// One round of the race: `stream`'s `poll_read_ready` on one thread
/// against its close on this one, started together. Once the close has
/// finished, the wait must have ended at once or been woken. Returns the
/// closed stream and the waiter's waker.
fn race_close_with_a_wait(reactor: &Reactor, stream: UnixStream, round: usize) -> (Arc<UnixStream>, Waker) {
    let stream = Arc::new(stream);
    let start = Arc::new(std::sync::Barrier::new(2));
    let (woken, waker) = counting();
    let waiter = {
        let (reactor, stream, start, waker) = (reactor.clone(), stream.clone(), start.clone(), waker.clone());
        std::thread::spawn(move || {
            start.wait();
            let _entered = reactor.enter();
            stream.poll_read_ready(&mut Context::from_waker(&waker)).is_ready()
        })
    };
    let ended_at_once = {
        let mut close = std::pin::pin!(stream.close());
        start.wait();
        // The close's first poll starts it (marks the descriptor closed and
        // cancels what waits; on epoll it also ends it); the rest is the
        // protocol's.
        let first = {
            let _entered = reactor.enter();
            close.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        };
        let ended_at_once = waiter.join().unwrap();
        match first {
            Poll::Ready(closed) => closed.unwrap(),
            Poll::Pending => hosted::host(reactor, || {}, close).unwrap(),
        }
        ended_at_once
    };
    assert!(
        ended_at_once || woken.0.load(Ordering::SeqCst) >= 1,
        "round {round}: a wait that started during close was never woken"
    );
    (stream, waker)
}

/// A descriptor made outside any runtime registers with one at its first
/// use, which can race a close on another thread: the registration must
/// not outlive the descriptor (a fixed slot or a poller entry for a number
/// that closed, and that the next descriptor gets).
#[test]
fn a_close_racing_the_first_use_leaves_no_registration() {
    close_races_first_use(reactor(false));
}

#[test]
fn with_ring_waits_a_close_racing_the_first_use_leaves_no_registration() {
    close_races_first_use(reactor(true));
}

fn close_races_first_use(reactor: Reactor) {
    let rounds = 20_000 * ringio_tests::stress();
    for round in 0..rounds {
        let (mine, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        // Outside the reactor: not registered yet.
        let stream = UnixStream::from_std(mine).unwrap();
        race_close_with_a_wait(&reactor, stream, round);
    }
    // Every close has finished; nothing may still hold a slot.
    for _ in 0..10 {
        reactor.turn().unwrap();
    }
    let stats = reactor.stats();
    assert_eq!(
        stats.fixed_in_use, 0,
        "fixed slots still held after every close: {stats:?}"
    );
    // The numbers those streams had are free again: the next stream's
    // wait registers and is woken by data.
    let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let fresh = {
        let _entered = reactor.enter();
        UnixStream::from_std(mine).unwrap()
    };
    let (woken, waker) = counting();
    let poll = |waker: &Waker| {
        let _entered = reactor.enter();
        fresh.poll_read_ready(&mut Context::from_waker(waker))
    };
    assert!(poll(&waker).is_pending());
    reactor.turn().unwrap(); // submits the wait, where it is an operation
    peer.write_all(b"x").unwrap();
    assert!(
        readable(&reactor, ringio_tests::STEP),
        "the data did not reach the host"
    );
    reactor.turn().unwrap();
    assert_eq!(
        woken.0.load(Ordering::SeqCst),
        1,
        "the fresh stream's wait was not woken"
    );
    assert!(matches!(poll(&waker), Poll::Ready(Ok(()))));
    drop(fresh);
    reactor.shutdown();
}
