//! `UnixDatagram`: a pair keeps datagram boundaries (an empty one included);
//! bound sockets see each other's paths in `recv_from`, an unbound sender
//! reads as unnamed; `try_recv` is `WouldBlock` until something is queued;
//! the poll-style calls, the `*_buf` receives and `ready` work; a receive
//! dropped before its datagram arrived loses nothing; a send to a path
//! nobody bound is `NotFound`.

mod common;

use common::net::UnixDatagram;
use common::{assert_bytes, flavours, payload, TempPath};
use std::future::{poll_fn, Future};
use std::io::ErrorKind;
use std::task::Poll;
use tokio::io::{Interest, ReadBuf};

#[test]
fn pair_keeps_datagram_boundaries() {
    flavours(|| async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let msgs: Vec<Vec<u8>> = (0..16)
            .map(|i| payload(i, if i == 3 { 0 } else { 100 + i as usize * 97 }))
            .collect();
        for msg in &msgs {
            assert_eq!(a.send(msg).await.unwrap(), msg.len());
        }
        let mut buf = vec![0; 4096];
        for (i, msg) in msgs.iter().enumerate() {
            let n = b.recv(&mut buf).await.unwrap();
            assert_bytes(&buf[..n], msg, &format!("datagram {i}"));
        }
        assert_eq!(b.try_recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        assert!(a.peer_addr().unwrap().is_unnamed());
        assert!(a.take_error().unwrap().is_none());
    });
}

#[test]
fn bound_sockets_see_paths_and_unbound_reads_unnamed() {
    flavours(|| async {
        let (pa, pb) = (TempPath::new("dgram-a.sock"), TempPath::new("dgram-b.sock"));
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        assert_eq!(a.local_addr().unwrap().as_pathname(), Some(pa.as_ref()));
        assert_eq!(a.send_to(b"from a", &pb).await.unwrap(), 6);
        let mut buf = [0; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from.as_pathname()), (&b"from a"[..], Some(pa.as_ref())));

        let unbound = UnixDatagram::unbound().unwrap();
        unbound.send_to(b"anonymous", &pb).await.unwrap();
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"anonymous");
        assert!(from.is_unnamed());

        unbound.connect(&pa).unwrap();
        assert_eq!(unbound.peer_addr().unwrap().as_pathname(), Some(pa.as_ref()));
        unbound.send(b"connected").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"connected");

        let nobody = TempPath::new("dgram-nobody.sock");
        let err = a.send_to(b"lost", &nobody).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    });
}

#[test]
fn try_poll_buf_and_ready() {
    flavours(|| async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0; 64];
        assert_eq!(b.try_recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        assert_eq!(a.try_send(b"one").unwrap(), 3);
        b.readable().await.unwrap();
        assert_eq!(b.try_recv(&mut buf).unwrap(), 3);

        // Poll-style send and receive.
        let n = poll_fn(|cx| a.poll_send(cx, b"two")).await.unwrap();
        assert_eq!(n, 3);
        let mut storage = [0u8; 64];
        let mut rb = ReadBuf::new(&mut storage);
        poll_fn(|cx| b.poll_recv(cx, &mut rb)).await.unwrap();
        assert_eq!(rb.filled(), b"two");
        let mut rb = ReadBuf::new(&mut storage);
        a.send(b"three").await.unwrap();
        let from = poll_fn(|cx| b.poll_recv_from(cx, &mut rb)).await.unwrap();
        assert_eq!(rb.filled(), b"three");
        assert!(from.is_unnamed());
        poll_fn(|cx| a.poll_send_ready(cx)).await.unwrap();

        // `*_buf` receives fill spare capacity and advance the buffer.
        a.send(b"four").await.unwrap();
        let mut vec = Vec::with_capacity(16);
        assert_eq!(b.recv_buf(&mut vec).await.unwrap(), 4);
        a.send(b"five").await.unwrap();
        let (n, _) = b.recv_buf_from(&mut vec).await.unwrap();
        assert_eq!((n, &vec[..]), (4, &b"fourfive"[..]));
        assert_eq!(b.try_recv_buf(&mut vec).unwrap_err().kind(), ErrorKind::WouldBlock);

        // `ready` reports writable at once, readable once something is queued.
        let ready = a.ready(Interest::WRITABLE).await.unwrap();
        assert!(ready.is_writable());
        a.send(b"six").await.unwrap();
        let ready = b.ready(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable());
        assert_eq!(b.try_recv_buf_from(&mut vec).unwrap().0, 3);
    });
}

#[test]
fn a_dropped_receive_loses_nothing() {
    flavours(|| async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0; 64];
        for round in 0..100u8 {
            {
                // The receive is polled (and waits), then dropped.
                let recv = b.recv(&mut buf);
                tokio::pin!(recv);
                poll_fn(|cx| {
                    assert!(recv.as_mut().poll(cx).is_pending());
                    Poll::Ready(())
                })
                .await;
            }
            a.send(&[round; 7]).await.unwrap();
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[round; 7], "round {round}");
        }
    });
}

#[test]
fn std_round_trip() {
    flavours(|| async {
        let (std_a, std_b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let a = UnixDatagram::from_std(std_a).unwrap();
        let b: UnixDatagram = std_b.try_into().unwrap();
        a.send(b"via std").await.unwrap();
        let std_b = b.into_std().unwrap();
        let mut buf = [0; 16];
        let n = std_b.recv(&mut buf).unwrap(); // still queued, and non-blocking
        assert_eq!(&buf[..n], b"via std");
        assert_eq!(std_b.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    });
}

#[test]
fn bind_addr_and_connect_addr_use_the_path() {
    use common::net::{UnixListener, UnixStream};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    flavours(|| async {
        let path = TempPath::new("by-addr.sock");
        let first = UnixListener::bind(&path).unwrap();
        let addr = first.local_addr().unwrap();
        drop(first);
        std::fs::remove_file(&path).unwrap();
        let listener = UnixListener::bind_addr(&addr).unwrap();
        let (client, accepted) = tokio::join!(UnixStream::connect_addr(&addr), listener.accept());
        let (mut client, (mut server, _)) = (client.unwrap(), accepted.unwrap());
        client.write_all(b"addr").await.unwrap();
        let mut buf = [0; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"addr");
    });
}

#[test]
fn a_fresh_pair_is_writable_at_once_and_not_readable() {
    flavours(|| async {
        let (a, b) = UnixDatagram::pair().unwrap();
        // Nothing has turned the reactor since `pair()`: the empty buffers
        // make both ends writable by assumption, as tokio's are.
        poll_fn(|cx| {
            assert!(a.poll_send_ready(cx).is_ready(), "a fresh pair is writable");
            assert!(b.poll_send_ready(cx).is_ready(), "a fresh pair is writable");
            assert!(a.poll_recv_ready(cx).is_pending(), "nothing was sent");
            Poll::Ready(())
        })
        .await;
        a.writable().await.unwrap();
        a.try_send(b"hi").unwrap();
        b.readable().await.unwrap();
        let mut buf = [0; 4];
        assert_eq!(b.try_recv(&mut buf).unwrap(), 2);
        // A full queue makes the assumption go: the next wait is the kernel's.
        while a.try_send(&[0; 1024]).is_ok() {}
        poll_fn(|cx| {
            assert!(a.poll_send_ready(cx).is_pending(), "full after WouldBlock");
            Poll::Ready(())
        })
        .await;
    });
}
