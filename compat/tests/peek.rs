//! The peek family: a TCP `peek` (on the stream, a borrowed read half and an
//! owned read half, async and poll-style) sees bytes that the next read
//! returns again, and end of stream as 0; UDP `peek`, `peek_from`,
//! `try_peek_from`, `poll_peek_from` and `peek_sender` see the next
//! datagram and its sender without taking it off the queue.

mod common;

use common::net::UdpSocket;
use common::{flavours, tcp_pair};
use std::future::poll_fn;
use std::io::ErrorKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};

#[test]
fn tcp_peek_leaves_bytes_for_the_read() {
    flavours(|| async {
        let (mut client, mut server) = tcp_pair().await;
        client.write_all(b"hello world").await.unwrap();
        let mut buf = [0; 5];
        // Peeking twice sees the same bytes (the first waits for them).
        assert_eq!(server.peek(&mut buf).await.unwrap(), 5);
        assert_eq!(&buf, b"hello");
        let mut storage = [0u8; 64];
        let mut rb = ReadBuf::new(&mut storage);
        let n = poll_fn(|cx| server.poll_peek(cx, &mut rb)).await.unwrap();
        assert_eq!(n, rb.filled().len());
        assert!(b"hello world".starts_with(rb.filled()) && n >= 5);
        let mut all = [0; 11];
        server.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"hello world");

        // The halves peek too.
        client.write_all(b"half").await.unwrap();
        {
            let (mut reader, _writer) = server.split();
            assert_eq!(reader.peek(&mut buf[..4]).await.unwrap(), 4);
            assert_eq!(&buf[..4], b"half");
            let mut rb = ReadBuf::new(&mut storage);
            poll_fn(|cx| reader.poll_peek(cx, &mut rb)).await.unwrap();
            assert_eq!(rb.filled(), b"half");
            reader.read_exact(&mut buf[..4]).await.unwrap();
        }
        let (mut reader, _writer) = server.into_split();
        client.write_all(b"owned").await.unwrap();
        assert_eq!(reader.peek(&mut buf).await.unwrap(), 5);
        assert_eq!(&buf, b"owned");
        reader.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"owned");

        // End of stream peeks as 0, and keeps doing so.
        client.shutdown().await.unwrap();
        assert_eq!(reader.peek(&mut buf).await.unwrap(), 0);
        assert_eq!(reader.peek(&mut buf).await.unwrap(), 0);
        assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn udp_peek_family_sees_the_next_datagram() {
    flavours(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut buf = [0; 64];
        assert_eq!(b.try_peek_from(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);

        a.send_to(b"first datagram", b_addr).await.unwrap();
        assert_eq!(b.peek_sender().await.unwrap(), a_addr);
        let (n, from) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"first datagram"[..], a_addr));
        // A short buffer cuts the peek, not the datagram.
        let mut short = [0; 5];
        assert_eq!(b.try_peek_from(&mut short).unwrap(), (5, a_addr));
        assert_eq!(&short, b"first");
        let mut storage = [0u8; 64];
        let mut rb = ReadBuf::new(&mut storage);
        let from = poll_fn(|cx| b.poll_peek_from(cx, &mut rb)).await.unwrap();
        assert_eq!((rb.filled(), from), (&b"first datagram"[..], a_addr));
        assert_eq!(poll_fn(|cx| b.poll_peek_sender(cx)).await.unwrap(), a_addr);
        assert_eq!(b.try_peek_sender().unwrap(), a_addr);
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"first datagram"[..], a_addr));

        // Connected peeks.
        a.connect(b_addr).await.unwrap();
        b.connect(a_addr).await.unwrap();
        a.send(b"second").await.unwrap();
        assert_eq!(b.peek(&mut buf).await.unwrap(), 6);
        assert_eq!(b.try_peek(&mut buf).unwrap(), 6);
        let mut rb = ReadBuf::new(&mut storage);
        poll_fn(|cx| b.poll_peek(cx, &mut rb)).await.unwrap();
        assert_eq!(rb.filled(), b"second");
        assert_eq!(b.recv(&mut buf).await.unwrap(), 6);
        assert_eq!(b.try_peek(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    });
}
