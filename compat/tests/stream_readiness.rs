//! tokio's readiness model on compat streams, and the differences issue 13
//! found: a freshly accepted stream polls readable until a read finds
//! nothing, then not until data (or end of stream) arrives, and stays
//! readable after a read that emptied it until one finds it empty; a fresh
//! `UnixStream::pair()` polls writable at once; a Unix `connect` whose
//! listener is dropped mid-connect fails. Also `ready(Interest)`, vectored
//! `try_read_vectored`/`try_write_vectored`, `try_read_buf`, `set_linger`/
//! `set_zero_linger` (a reset at the peer) and `ttl`; `try_io` forgetting
//! readiness on `WouldBlock`, and `async_io` retrying until done.
//! `readable()` follows the same model (ready at once on an accepted
//! stream, which tokio assumes readable, and not on a connected one), and
//! `ready` reports a peer's shutdown (`is_read_closed`), a reset
//! (`is_write_closed` too) and nothing of the kind on a live
//! connection.

mod common;

use common::net::{TcpStream, UnixListener, UnixStream};
use common::{flavours, tcp_pair, TempPath};
use futures_util::FutureExt;
use std::future::{poll_fn, Future};
use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};

/// Reads with `try_read` until `WouldBlock`.
fn drain(stream: &TcpStream) {
    let mut buf = [0; 1024];
    loop {
        match stream.try_read(&mut buf) {
            Ok(0) => panic!("unexpected end of stream"),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => panic!("try_read: {e}"),
        }
    }
}

/// Asserts that one poll of `poll_read_ready` is pending.
async fn assert_not_readable(stream: &TcpStream) {
    poll_fn(|cx| {
        assert!(stream.poll_read_ready(cx).is_pending(), "should not be readable");
        Poll::Ready(())
    })
    .await;
}

#[test]
fn poll_read_ready_follows_tokio() {
    flavours(|| async {
        let (mut client, mut server) = tcp_pair().await;
        // A fresh stream is readable until a read finds nothing.
        poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
        drain(&server);
        assert_not_readable(&server).await;

        client.write_all(b"ping").await.unwrap();
        poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
        let mut buf = [0; 4];
        server.read_exact(&mut buf).await.unwrap();
        // Emptied, but no read has found it empty yet.
        poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
        drain(&server);
        assert_not_readable(&server).await;

        drop(client);
        poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
        assert_eq!(server.try_read(&mut buf).unwrap(), 0);
    });
}

#[test]
fn fresh_pair_is_writable_on_the_first_poll() {
    flavours(|| async {
        let (a, b) = UnixStream::pair().unwrap();
        poll_fn(|cx| {
            assert!(a.poll_write_ready(cx).is_ready(), "a fresh pair is writable");
            assert!(b.poll_write_ready(cx).is_ready(), "a fresh pair is writable");
            Poll::Ready(())
        })
        .await;
        assert!(a.writable().now_or_never().is_some(), "and writable() says so at once");
        assert!(
            a.readable().now_or_never().is_none(),
            "not readable before the peer writes"
        );
        assert_eq!(a.try_write(b"x").unwrap(), 1);
        poll_fn(|cx| b.poll_read_ready(cx)).await.unwrap();
        let mut buf = [0; 1];
        b.readable().await.unwrap();
        assert_eq!(b.try_read(&mut buf).unwrap(), 1);
    });
}

#[test]
fn unix_connect_sees_a_listener_dropped_mid_connect() {
    flavours(|| async {
        let path = TempPath::new("dropped-listener.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let connect = UnixStream::connect(&path);
        tokio::pin!(connect);
        poll_fn(|cx| {
            assert!(connect.as_mut().poll(cx).is_pending(), "connect done on its first poll");
            Poll::Ready(())
        })
        .await;
        drop(listener);
        let err = connect.await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused),
            "{err:?}"
        );
    });
}

#[test]
fn ready_interest_vectored_and_buf_reads() {
    flavours(|| async {
        let (client, server) = tcp_pair().await;
        let ready = client.ready(Interest::WRITABLE).await.unwrap();
        assert!(ready.is_writable());
        let parts = [IoSlice::new(b"vec"), IoSlice::new(b"tored")];
        assert_eq!(client.try_write_vectored(&parts).unwrap(), 8);
        let ready = server.ready(Interest::READABLE | Interest::WRITABLE).await.unwrap();
        assert!(ready.is_readable() || ready.is_writable());
        server.readable().await.unwrap();
        let (mut x, mut y) = ([0; 3], [0; 5]);
        let n = server
            .try_read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)])
            .unwrap();
        assert_eq!((n, &x, &y), (8, b"vec", b"tored"));
        assert_eq!(
            server
                .try_read_vectored(&mut [IoSliceMut::new(&mut x)])
                .unwrap_err()
                .kind(),
            ErrorKind::WouldBlock
        );

        client.try_write(b"into a BufMut").unwrap();
        let mut vec = Vec::with_capacity(64);
        loop {
            server.readable().await.unwrap();
            match server.try_read_buf(&mut vec) {
                Ok(n) => {
                    assert!(n > 0);
                    if vec.len() == 13 {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("try_read_buf: {e}"),
            }
        }
        assert_eq!(&vec, b"into a BufMut");
    });
}

#[test]
fn zero_linger_resets_and_ttl_round_trips() {
    flavours(|| async {
        let (client, mut server) = tcp_pair().await;
        client.set_ttl(42).unwrap();
        assert_eq!(client.ttl().unwrap(), 42);
        client.set_linger(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(1)));
        client.set_zero_linger().unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::ZERO));
        assert!(client.take_error().unwrap().is_none());
        drop(client);
        let mut buf = [0; 8];
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    });
}

#[test]
fn try_io_forgets_readiness_and_async_io_retries() {
    flavours(|| async {
        let (mut client, server) = tcp_pair().await;
        // Ready by tokio's model until a call says `WouldBlock`...
        poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
        let res: std::io::Result<()> = server.try_io(Interest::READABLE, || Err(ErrorKind::WouldBlock.into()));
        assert_eq!(res.unwrap_err().kind(), ErrorKind::WouldBlock);
        // ...then waiting for the kernel.
        assert_not_readable(&server).await;

        let mut buf = [0; 5];
        let (wrote, n) = tokio::join!(
            client.write_all(b"later"),
            server.async_io(Interest::READABLE, || server.try_read(&mut buf))
        );
        wrote.unwrap();
        let n = n.unwrap();
        assert!(n >= 1 && b"later".starts_with(&buf[..n]));
    });
}

/// Whether compat streams read on completions in this run: there
/// `readable()` means a received buffer waits, not tokio's assumption.
fn completion_reads() -> bool {
    std::env::var("RINGIO_COMPAT_READS").as_deref() == Ok("completion")
        && ringio_compat::backend().is_ok_and(|b| b == ringio::Backend::IoUring)
}

#[test]
fn readable_is_ready_at_once_on_an_accepted_stream_only() {
    flavours(|| async {
        let (client, server) = tcp_pair().await;
        // Accepted: assumed readable (nothing is queued yet) until a read
        // finds nothing; then it waits for the kernel.
        if !completion_reads() {
            assert!(server.readable().now_or_never().is_some(), "accepted: ready at once");
        }
        let mut buf = [0; 16];
        assert_eq!(server.try_read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        assert!(server.readable().now_or_never().is_none(), "after WouldBlock: waits");
        // Connected: waits for the kernel from the start.
        assert!(client.readable().now_or_never().is_none(), "connected: waits");
        server.try_write(b"hi").unwrap();
        client.readable().await.unwrap();
        assert_eq!(client.try_read(&mut buf).unwrap(), 2);
    });
}

#[test]
fn async_io_calls_again_after_the_assumed_readiness_was_wrong() {
    flavours(|| async {
        let (mut client, server) = tcp_pair().await;
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let mut buf = [0; 8];
        let (wrote, n) = tokio::join!(
            async {
                // Let `async_io` make its first call on the assumed readiness.
                tokio::task::yield_now().await;
                client.write_all(b"xyz").await
            },
            server.async_io(Interest::READABLE, || {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                server.try_read(&mut buf)
            })
        );
        wrote.unwrap();
        assert!(n.unwrap() >= 1);
        // On completion reads the wait is for a received buffer: one call.
        let least = if completion_reads() { 1 } else { 2 };
        assert!(
            calls.into_inner() >= least,
            "a first call on the assumed readiness, then one after the wait"
        );
    });
}

#[test]
fn peek_on_an_empty_accepted_stream_waits() {
    flavours(|| async {
        let (mut client, server) = tcp_pair().await;
        let mut buf = [0; 4];
        // The first try finds nothing, which must make the wait a real one
        // (a peek that kept the assumed readiness would spin here forever).
        let mut peek = std::pin::pin!(server.peek(&mut buf));
        assert!(poll_fn(|cx| Poll::Ready(peek.as_mut().poll(cx).is_pending())).await);
        client.write_all(b"data").await.unwrap();
        assert_eq!(peek.await.unwrap(), 4);
    });
}

/// Waits, through `ready(interest)`, until `done` accepts what it reports;
/// reads in between, as a program would, so that readiness is cleared.
async fn ready_until(stream: &TcpStream, interest: Interest, done: impl Fn(tokio::io::Ready) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ready = tokio::time::timeout_at(deadline, stream.ready(interest))
            .await
            .expect("the condition was never reported")
            .unwrap();
        if done(ready) {
            return;
        }
        // Data, the end, an error or `WouldBlock`: as a program would. A
        // read that fails with the reset keeps the assumed readiness, so
        // yield too (as tokio's own test does): the runtime must get to
        // close the peer, whose close a ring batches to the next turn.
        let _ = stream.try_read(&mut [0; 64]);
        tokio::task::yield_now().await;
    }
}

#[test]
fn ready_reports_a_peer_shutdown_and_no_false_one() {
    flavours(|| async {
        let (mut client, server) = tcp_pair().await;
        // Live peer: readable, not closed.
        client.write_all(b"ping").await.unwrap();
        let ready = server.ready(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable());
        assert!(!ready.is_read_closed() && !ready.is_write_closed());
        let mut buf = [0; 4];
        server.try_read(&mut buf).unwrap();
        // The peer shuts down its writing half: read closed, write open.
        client.shutdown().await.unwrap();
        ready_until(&server, Interest::READABLE, |r| r.is_read_closed()).await;
        let ready = server.ready(Interest::READABLE | Interest::WRITABLE).await.unwrap();
        assert!(ready.is_read_closed() && !ready.is_write_closed(), "{ready:?}");
        // Only what was asked for: no read condition for a write interest.
        assert!(!server.ready(Interest::WRITABLE).await.unwrap().is_read_closed());
    });
}

#[test]
fn ready_reports_a_reset_as_both_directions_closed() {
    flavours(|| async {
        let (client, server) = tcp_pair().await;
        client.set_zero_linger().unwrap();
        drop(client);
        ready_until(
            &server,
            Interest::READABLE | Interest::WRITABLE | Interest::ERROR,
            |r| r.is_write_closed(),
        )
        .await;
        let ready = server
            .ready(Interest::READABLE | Interest::WRITABLE | Interest::ERROR)
            .await
            .unwrap();
        assert!(ready.is_read_closed() && ready.is_write_closed(), "{ready:?}");
    });
}
