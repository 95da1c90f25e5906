//! The rest of `UdpSocket`'s tokio API: `poll_send`/`poll_recv`/
//! `poll_send_to`/`poll_recv_from` and the `poll_*_ready` pair; the `*_buf`
//! receives into a `BufMut`'s spare capacity; `ready(Interest)`; and the
//! socket options (TTL, broadcast, multicast loop and TTL, `IP_TOS`, group
//! membership) round-tripping; `async_io` around `try_recv_from`.

mod common;

use common::net::UdpSocket;
use common::{flavours, payload};
use std::future::poll_fn;
use std::io::ErrorKind;
use std::net::Ipv4Addr;
use tokio::io::{Interest, ReadBuf};

async fn pair() -> (UdpSocket, UdpSocket) {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (a, b)
}

#[test]
fn poll_style_send_and_receive() {
    flavours(|| async {
        let (a, b) = pair().await;
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut storage = vec![0u8; 9000];
        for i in 0..50u64 {
            let msg = payload(i, (i as usize * 131) % 8192);
            poll_fn(|cx| a.poll_send_ready(cx)).await.unwrap();
            let n = poll_fn(|cx| a.poll_send_to(cx, &msg, b_addr)).await.unwrap();
            assert_eq!(n, msg.len());
            poll_fn(|cx| b.poll_recv_ready(cx)).await.unwrap();
            let mut rb = ReadBuf::new(&mut storage);
            let from = poll_fn(|cx| b.poll_recv_from(cx, &mut rb)).await.unwrap();
            assert_eq!((rb.filled(), from), (&msg[..], a_addr), "datagram {i}");
        }
        a.connect(b_addr).await.unwrap();
        b.connect(a_addr).await.unwrap();
        assert_eq!(poll_fn(|cx| b.poll_send(cx, b"connected")).await.unwrap(), 9);
        let mut rb = ReadBuf::new(&mut storage);
        poll_fn(|cx| a.poll_recv(cx, &mut rb)).await.unwrap();
        assert_eq!(rb.filled(), b"connected");
    });
}

#[test]
fn buf_receives_and_ready() {
    flavours(|| async {
        let (a, b) = pair().await;
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut vec = Vec::with_capacity(32);
        assert_eq!(b.try_recv_buf_from(&mut vec).unwrap_err().kind(), ErrorKind::WouldBlock);
        a.send_to(b"one", b_addr).await.unwrap();
        let (n, from) = b.recv_buf_from(&mut vec).await.unwrap();
        assert_eq!((n, from, &vec[..]), (3, a_addr, &b"one"[..]));
        a.send_to(b"two", b_addr).await.unwrap();
        let ready = b.ready(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable());
        assert_eq!(b.try_recv_buf_from(&mut vec).unwrap(), (3, a_addr));
        assert_eq!(&vec, b"onetwo");

        b.connect(a_addr).await.unwrap();
        a.send_to(b"three", b_addr).await.unwrap();
        assert_eq!(b.recv_buf(&mut vec).await.unwrap(), 5);
        assert_eq!(b.try_recv_buf(&mut vec).unwrap_err().kind(), ErrorKind::WouldBlock);
        assert_eq!(&vec, b"onetwothree");
        let ready = b.ready(Interest::WRITABLE).await.unwrap();
        assert!(ready.is_writable());
    });
}

#[test]
fn options_round_trip() {
    flavours(|| async {
        let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        socket.set_ttl(17).unwrap();
        assert_eq!(socket.ttl().unwrap(), 17);
        assert!(!socket.broadcast().unwrap());
        socket.set_broadcast(true).unwrap();
        assert!(socket.broadcast().unwrap());
        socket.set_multicast_loop_v4(false).unwrap();
        assert!(!socket.multicast_loop_v4().unwrap());
        socket.set_multicast_ttl_v4(5).unwrap();
        assert_eq!(socket.multicast_ttl_v4().unwrap(), 5);
        socket.set_tos_v4(0x20).unwrap();
        assert_eq!(socket.tos_v4().unwrap(), 0x20);
        assert!(socket.take_error().unwrap().is_none());
        // IPv6-only options fail on an IPv4 socket, as with tokio.
        assert!(socket.multicast_loop_v6().is_err());
        // Joining a group needs a multicast-capable interface; the loopback
        // of a container may have none, so only check that a join that
        // worked can be left.
        let group = Ipv4Addr::new(239, 255, 42, 99);
        if socket.join_multicast_v4(group, Ipv4Addr::LOCALHOST).is_ok() {
            socket.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap();
        }
    });
}

#[test]
fn async_io_waits_and_retries() {
    flavours(|| async {
        let (a, b) = pair().await;
        let b_addr = b.local_addr().unwrap();
        let mut buf = [0; 16];
        let (sent, got) = tokio::join!(
            a.send_to(b"io", b_addr),
            b.async_io(Interest::READABLE, || b.try_recv_from(&mut buf))
        );
        sent.unwrap();
        let (n, from) = got.unwrap();
        assert_eq!((&buf[..n], from), (&b"io"[..], a.local_addr().unwrap()));
        assert_eq!(
            b.try_io(Interest::READABLE, || b.try_recv(&mut buf))
                .unwrap_err()
                .kind(),
            ErrorKind::WouldBlock
        );
    });
}
