//! A pinned reactor under an edge-triggered host
//! (`Builder::edge_triggered_host`, what tokio's `AsyncFd` is): its turns
//! never read the eventfd behind `Reactor::as_fd` back, and the host must
//! still be woken for every completion, the first and each after it,
//! though the descriptor has stayed readable since the first signal.

use ringio::net::TcpStream;
use ringio::reactor::Reactor;
use ringio_tests::hosted;
use rustix::event::epoll;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::future::Future;
use std::io::Write;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

/// An edge-triggered epoll watching the reactor's descriptor.
struct EdgeHost {
    epoll: OwnedFd,
}

impl EdgeHost {
    fn new(reactor: &Reactor) -> EdgeHost {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
        epoll::add(
            &epoll,
            reactor,
            epoll::EventData::new_u64(1),
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )
        .unwrap();
        EdgeHost { epoll }
    }

    /// Whether an edge is reported within `wait`.
    fn woken(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut events = [MaybeUninit::<epoll::Event>::uninit(); 4];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: left.subsec_nanos() as i64,
            };
            match epoll::wait(&self.epoll, &mut events[..], Some(&timeout)) {
                Ok((fired, _)) => return !fired.is_empty(),
                Err(rustix::io::Errno::INTR) => continue,
                Err(err) => panic!("epoll_wait: {err}"),
            }
        }
    }
}

/// Level-checks the descriptor without waiting.
fn readable_now(reactor: &Reactor) -> bool {
    let mut fds = [PollFd::new(reactor, PollFlags::IN)];
    poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })).unwrap() == 1
}

/// Polls `future` under the reactor, turning it first and then whenever
/// the host is woken, until it is ready.
fn host<T>(reactor: &Reactor, edges: &EdgeHost, future: impl Future<Output = T>) -> T {
    hosted::host(
        reactor,
        || {
            let _ = edges.woken(Duration::from_millis(100));
        },
        future,
    )
}

fn pair(reactor: &Reactor, edges: &EdgeHost) -> (TcpStream, std::net::TcpStream) {
    hosted::pair(reactor, || {
        let _ = edges.woken(Duration::from_millis(100));
    })
}

#[test]
fn every_completion_wakes_an_edge_triggered_host_of_an_undrained_pinned_reactor() {
    let reactor = ringio::Builder::new()
        .edge_triggered_host(true)
        .build_pinned_reactor()
        .unwrap();
    let pinned = reactor.setup_mode() == Some(ringio::SetupMode::Defer);
    let edges = EdgeHost::new(&reactor);
    let (server, mut client) = pair(&reactor, &edges);
    for round in 0..50u8 {
        let mut read = pin!(async {
            let _entered = reactor.enter();
            server.read(vec![0u8; 64]).await
        });
        let mut cx = Context::from_waker(Waker::noop());
        assert!(read.as_mut().poll(&mut cx).is_pending());
        reactor.turn().unwrap();
        // Whatever edges the set-up and the submission made are taken.
        while edges.woken(Duration::ZERO) {}
        client.write_all(&[round; 10]).unwrap();
        assert!(
            edges.woken(ringio_tests::STEP),
            "round {round}: a completion made no edge for the host"
        );
        let (n, buf) = host(&reactor, &edges, read.as_mut());
        assert_eq!(&buf[..n.unwrap()], &[round; 10][..]);
        if pinned {
            // The point of the option: no turn read the eventfd back.
            assert!(readable_now(&reactor), "round {round}: a turn drained the eventfd");
        }
    }
    reactor.shutdown();
}
