//! The readiness API of compat TCP streams: `try_read` on an idle stream is
//! `WouldBlock`; `try_write` fills a socket whose peer does not read until
//! `WouldBlock`; then `writable`/`try_write` and `readable`/`try_read` loops
//! move everything across (each side waits on the other) with every byte
//! checked; `set_nodelay` round-trips.

mod common;

use common::net::TcpStream;
use common::{assert_bytes, flavours, payload, tcp_pair};
use std::io::ErrorKind::WouldBlock;
use tokio::io::AsyncWriteExt;

/// Writes all of `data` with `writable` and `try_write`.
async fn try_write_all(stream: &TcpStream, mut data: &[u8]) {
    while !data.is_empty() {
        stream.writable().await.unwrap();
        match stream.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == WouldBlock => {}
            Err(e) => panic!("try_write: {e}"),
        }
    }
}

/// Reads until EOF with `readable` and `try_read`.
async fn try_read_to_end(stream: &TcpStream, received: &mut Vec<u8>) {
    let mut buf = vec![0; 32 * 1024];
    loop {
        stream.readable().await.unwrap();
        match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == WouldBlock => {}
            Err(e) => panic!("try_read: {e}"),
        }
    }
}

#[test]
fn nodelay_round_trips() {
    flavours(|| async {
        let (client, _server) = tcp_pair().await;
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.set_nodelay(false).unwrap();
        assert!(!client.nodelay().unwrap());
    });
}

#[test]
fn try_write_and_try_read_move_every_byte() {
    flavours(|| async {
        let (mut client, server) = tcp_pair().await;
        let mut buf = [0; 16];
        let idle = server.try_read(&mut buf).expect_err("try_read on an idle stream");
        assert_eq!(idle.kind(), WouldBlock);

        // Nobody reads yet: `try_write` fills the socket until `WouldBlock`.
        let fill = payload(1, 1 << 20);
        let mut sent = Vec::new();
        loop {
            let at = sent.len() % fill.len();
            match client.try_write(&fill[at..]) {
                Ok(n) => sent.extend_from_slice(&fill[at..at + n]),
                Err(e) if e.kind() == WouldBlock => break,
                Err(e) => panic!("try_write: {e}"),
            }
        }

        // The writer must wait for `writable` until the reader drains.
        let more = payload(2, 2 << 20);
        sent.extend_from_slice(&more);
        let write = async {
            try_write_all(&client, &more).await;
            client.shutdown().await.unwrap();
        };
        let mut received = Vec::new();
        tokio::join!(write, try_read_to_end(&server, &mut received));
        assert_bytes(&received, &sent, "bytes through try_write and try_read");
    });
}
