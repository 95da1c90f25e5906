//! Every waiter is served: several tasks waiting in `accept()` on one
//! listener, or in `recv_from()` on one UDP socket, each get a connection or
//! a datagram. (On io_uring a new connection or datagram woke only the task
//! that polled last, as tokio allows for its `poll_*` methods alone; the
//! others waited forever, and tokio's own `accept_many` test hung.)
//!
//! How: [`WAITERS`] tasks are spawned and allowed to park in the call, then
//! as many clients connect (datagrams are sent). Every task must finish,
//! each with a different client. On both tokio flavours.

mod common;

use common::net::{TcpListener, TcpStream, UdpSocket};
use common::{flavours, joined};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// Tasks waiting on one socket.
const WAITERS: usize = 8;
/// How long the waiters may take once their clients arrived.
const SERVED_WITHIN: Duration = Duration::from_secs(10);

/// Spawns the waiters (`wait` is each one's call) and returns once all of
/// them have started it and had a few turns to park in it.
async fn park_waiters<T, F, Fut>(wait: F) -> JoinSet<T>
where
    T: Send + 'static,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let started = Arc::new(AtomicUsize::new(0));
    let mut waiters = JoinSet::new();
    for _ in 0..WAITERS {
        let (started, call) = (started.clone(), wait());
        waiters.spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            call.await
        });
    }
    while started.load(Ordering::SeqCst) < WAITERS {
        tokio::task::yield_now().await;
    }
    // A detail of scheduling only: waiters not parked yet are served too.
    tokio::time::sleep(Duration::from_millis(20)).await;
    waiters
}

/// Collects every waiter's output, or panics naming how many finished.
async fn all_served<T: 'static>(mut waiters: JoinSet<T>, what: &str) -> Vec<T> {
    let mut out = Vec::new();
    let collect = async {
        while let Some(done) = waiters.join_next().await {
            out.push(joined(done));
        }
    };
    let finished = tokio::time::timeout(SERVED_WITHIN, collect).await.is_ok();
    assert!(
        finished,
        "{what}: only {} of {WAITERS} waiters were woken and served",
        out.len()
    );
    out
}

#[test]
fn every_task_waiting_in_accept_gets_a_connection() {
    flavours(|| async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let waiters = park_waiters(|| {
            let listener = listener.clone();
            async move { listener.accept().await.unwrap().1 }
        })
        .await;
        let mut clients = Vec::new();
        for _ in 0..WAITERS {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let peers: BTreeSet<_> = all_served(waiters, "accept()").await.into_iter().collect();
        let want: BTreeSet<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        assert_eq!(peers, want, "each waiter must get a different client");
    });
}

#[test]
fn every_task_waiting_in_recv_from_gets_a_datagram() {
    flavours(|| async {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = socket.local_addr().unwrap();
        let waiters = park_waiters(|| {
            let socket = socket.clone();
            async move {
                let mut buf = [0u8; 16];
                let (n, _) = socket.recv_from(&mut buf).await.unwrap();
                assert_eq!(n, 1);
                buf[0]
            }
        })
        .await;
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..WAITERS as u8 {
            sender.send_to(&[i], addr).unwrap();
        }
        let got: BTreeSet<u8> = all_served(waiters, "recv_from()").await.into_iter().collect();
        assert_eq!(
            got,
            (0..WAITERS as u8).collect(),
            "each waiter must get a different datagram"
        );
    });
}
