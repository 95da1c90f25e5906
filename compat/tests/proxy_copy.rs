//! `tokio::io::copy_bidirectional` between compat TCP streams: a proxy in
//! front of an echo server carries several concurrent multi-megabyte
//! connections byte for byte and reports the right counts, and a client's
//! half-close travels through the proxy to the server while the server's
//! answer still travels back.

mod common;

use common::net::{TcpListener, TcpStream};
use common::{assert_bytes, echo_server, exchange, flavours, joined, payload};
use std::net::SocketAddr;
use tokio::io::{copy_bidirectional, AsyncReadExt, AsyncWriteExt};
use tokio::task::{JoinHandle, JoinSet};

/// A proxy to `upstream` for exactly `connections` connections. Its handle
/// yields the `(client to upstream, upstream to client)` byte counts that
/// `copy_bidirectional` returned, one pair per connection, in completion order.
async fn proxy(upstream: SocketAddr, connections: usize) -> (SocketAddr, JoinHandle<Vec<(u64, u64)>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let proxy = tokio::spawn(async move {
        let mut copies = JoinSet::new();
        for _ in 0..connections {
            let (mut inbound, _) = listener.accept().await.unwrap();
            copies.spawn(async move {
                let mut outbound = TcpStream::connect(upstream).await.unwrap();
                outbound.set_nodelay(true).unwrap();
                copy_bidirectional(&mut inbound, &mut outbound).await.unwrap()
            });
        }
        copies.join_all().await
    });
    (addr, proxy)
}

#[test]
fn concurrent_connections_through_a_proxy() {
    const CONNECTIONS: usize = 4;
    flavours(|| async {
        let (echo, echo_done) = echo_server(CONNECTIONS).await;
        let (proxy, proxy_done) = proxy(echo, CONNECTIONS).await;
        let mut clients = JoinSet::new();
        for i in 0..CONNECTIONS {
            clients.spawn(async move {
                // Different lengths, so a mixed-up connection shows.
                let data = payload(i as u64, (2 << 20) + i * 4099);
                let mut stream = TcpStream::connect(proxy).await.unwrap();
                let (reader, writer) = stream.split();
                let echoed = exchange(reader, writer, &data, i as u64).await;
                assert_bytes(&echoed, &data, &format!("connection {i} through the proxy"));
                data.len() as u64
            });
        }
        let mut sent = clients.join_all().await;
        sent.sort_unstable();
        let mut copied = joined(proxy_done.await);
        copied.sort_unstable();
        let want: Vec<_> = sent.iter().map(|&n| (n, n)).collect();
        assert_eq!(copied, want, "copy_bidirectional byte counts");
        joined(echo_done.await);
    });
}

#[test]
fn half_close_travels_through_a_proxy() {
    flavours(|| async {
        let request = payload(10, 300_000);
        let answer = payload(11, 700_000);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = listener.local_addr().unwrap();
        let server = tokio::spawn({
            let (request, answer) = (request.clone(), answer.clone());
            async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut got = Vec::new();
                stream.read_to_end(&mut got).await.unwrap();
                assert_bytes(&got, &request, "request at the server");
                // Sent only after EOF: its arrival proves the half-close got through.
                stream.write_all(&answer).await.unwrap();
                stream.shutdown().await.unwrap();
            }
        });
        let (proxy, proxy_done) = proxy(upstream, 1).await;

        let mut client = TcpStream::connect(proxy).await.unwrap();
        client.write_all(&request).await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_bytes(&got, &answer, "answer at the half-closed client");

        joined(server.await);
        let counts = joined(proxy_done.await);
        assert_eq!(counts, [(request.len() as u64, answer.len() as u64)]);
    });
}
