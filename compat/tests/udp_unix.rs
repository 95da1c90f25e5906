//! Datagram and Unix-domain sockets. UDP: `send_to`/`recv_from` report the
//! right sizes and source addresses, and connected `send`/`recv` keep datagram
//! boundaries in bursts; empty datagrams included. Unix streams: a
//! `UnixListener` bound to a temporary path accepts a `UnixStream` that echoes
//! megabytes, and owned halves carry data both ways from separate tasks.

mod common;

use common::net::{UdpSocket, UnixListener, UnixStream};
use common::{assert_bytes, exchange, flavours, joined, payload, write_and_shutdown, TempPath, XorShift};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn udp_send_to_and_recv_from() {
    flavours(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut rng = XorShift::new(1);
        let mut buf = vec![0; 64 * 1024];
        for i in 0..200 {
            let len = if i % 50 == 0 { 0 } else { rng.range(1, 8192) };
            let msg = payload(i, len);
            assert_eq!(a.send_to(&msg, b_addr).await.unwrap(), len);
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, a_addr);
            assert_bytes(&buf[..n], &msg, &format!("datagram {i} at b"));
            // Echo it back to where it came from.
            assert_eq!(b.send_to(&buf[..n], from).await.unwrap(), n);
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, b_addr);
            assert_bytes(&buf[..n], &msg, &format!("datagram {i} back at a"));
        }
    });
}

#[test]
fn connected_udp_keeps_datagram_boundaries() {
    const BURST: usize = 8;
    flavours(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        let mut rng = XorShift::new(2);
        let mut buf = vec![0; 64 * 1024];
        for round in 0..25 {
            // A burst (one datagram empty, at most 64 KiB in all: well inside
            // the receive buffer) sent before any of it is received.
            let burst: Vec<Vec<u8>> = (0..BURST)
                .map(|i| payload((round * BURST + i) as u64, if i == 0 { 0 } else { rng.range(1, 8192) }))
                .collect();
            for msg in &burst {
                assert_eq!(a.send(msg).await.unwrap(), msg.len());
            }
            for (i, msg) in burst.iter().enumerate() {
                let n = b.recv(&mut buf).await.unwrap();
                assert_bytes(&buf[..n], msg, &format!("round {round}, datagram {i}"));
                assert_eq!(b.send(&buf[..n]).await.unwrap(), n);
            }
            for (i, msg) in burst.iter().enumerate() {
                let n = a.recv(&mut buf).await.unwrap();
                assert_bytes(&buf[..n], msg, &format!("round {round}, datagram {i} back"));
            }
        }
    });
}

/// A listener on a fresh path and a stream connected to it: `(client, server)`.
async fn unix_pair(path: &TempPath) -> (UnixStream, UnixStream) {
    let listener = UnixListener::bind(path).unwrap();
    let (client, accepted) = tokio::join!(UnixStream::connect(path), listener.accept());
    let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(path.as_ref()));
    assert_eq!(server.local_addr().unwrap().as_pathname(), Some(path.as_ref()));
    (client, server)
}

#[test]
fn unix_stream_echo() {
    flavours(|| async {
        let path = TempPath::new("echo.sock");
        let (mut client, mut server) = unix_pair(&path).await;
        let echo = tokio::spawn(async move {
            let (mut reader, mut writer) = server.split();
            tokio::io::copy(&mut reader, &mut writer).await.unwrap();
            writer.shutdown().await.unwrap();
        });
        let data = payload(1, 3 << 20);
        let (reader, writer) = client.split();
        let echoed = exchange(reader, writer, &data, 1).await;
        assert_bytes(&echoed, &data, "echo over a Unix stream");
        joined(echo.await);
    });
}

#[test]
fn unix_owned_halves_in_separate_tasks() {
    flavours(|| async {
        let path = TempPath::new("halves.sock");
        let (a, b) = unix_pair(&path).await;
        let (mut a_read, mut a_write) = a.into_split();
        let (mut b_read, mut b_write) = b.into_split();
        let (a_data, b_data) = (payload(2, 2 << 20), payload(3, (2 << 20) + 3));
        let writes = [
            tokio::spawn({
                let data = a_data.clone();
                async move { write_and_shutdown(&mut a_write, &data, 2).await }
            }),
            tokio::spawn({
                let data = b_data.clone();
                async move { write_and_shutdown(&mut b_write, &data, 3).await }
            }),
        ];
        let a_got = tokio::spawn(async move {
            let mut got = Vec::new();
            a_read.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut b_got = Vec::new();
        b_read.read_to_end(&mut b_got).await.unwrap();
        assert_bytes(&b_got, &a_data, "a to b");
        assert_bytes(&joined(a_got.await), &b_data, "b to a");
        for write in writes {
            joined(write.await);
        }
    });
}
