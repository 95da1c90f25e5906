//! Split compat TCP streams: owned halves driven from four different tasks
//! carry a large transfer in both directions at once; borrowed halves work
//! under `join!` and leave the stream usable; `shutdown` closes only the write
//! direction (the peer reads EOF, the shutting side still reads, and a later
//! write fails); dropping an owned write half shuts down writes too.

mod common;

use common::net::TcpStream;
use common::{assert_bytes, echo_server, exchange, flavours, joined, payload, tcp_pair, write_and_shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn owned_halves_in_separate_tasks_carry_both_directions() {
    flavours(|| async {
        let (a, b) = tcp_pair().await;
        let (a_read, mut a_write) = a.into_split();
        let (b_read, mut b_write) = b.into_split();
        let (a_data, b_data) = (payload(1, 4 << 20), payload(2, (4 << 20) + 1));
        let read_all = |mut half: common::net::tcp::OwnedReadHalf| async move {
            let mut got = Vec::new();
            half.read_to_end(&mut got).await.unwrap();
            got
        };
        let a_got = tokio::spawn(read_all(a_read));
        let b_got = tokio::spawn(read_all(b_read));
        let a_sent = tokio::spawn({
            let data = a_data.clone();
            async move { write_and_shutdown(&mut a_write, &data, 1).await }
        });
        let b_sent = tokio::spawn({
            let data = b_data.clone();
            async move { write_and_shutdown(&mut b_write, &data, 2).await }
        });
        joined(a_sent.await);
        joined(b_sent.await);
        assert_bytes(&joined(b_got.await), &a_data, "a to b");
        assert_bytes(&joined(a_got.await), &b_data, "b to a");
    });
}

#[test]
fn borrowed_halves_under_join() {
    flavours(|| async {
        let (addr, server) = echo_server(1).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let data = payload(3, 3 << 20);
        let (reader, writer) = stream.split();
        let echoed = exchange(reader, writer, &data, 3).await;
        assert_bytes(&echoed, &data, "echo through borrowed halves");
        // The halves are gone; the stream is whole again, and stays at EOF.
        assert_eq!(stream.read(&mut [0; 16]).await.unwrap(), 0);
        joined(server.await);
    });
}

#[test]
fn shutdown_closes_only_the_write_direction() {
    flavours(|| async {
        let (mut client, mut server) = tcp_pair().await;
        let (request, answer) = (payload(5, 100_000), payload(6, 1 << 20));
        client.write_all(&request).await.unwrap();
        client.shutdown().await.unwrap();

        let late = async {
            client.write_all(b"late").await?;
            client.flush().await
        };
        assert!(late.await.is_err(), "a write after shutdown succeeded");

        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_bytes(&got, &request, "request before EOF");

        let mut got = Vec::new();
        let ((), read) = tokio::join!(
            write_and_shutdown(&mut server, &answer, 6),
            client.read_to_end(&mut got)
        );
        assert_eq!(read.unwrap(), answer.len());
        assert_bytes(&got, &answer, "answer to the half-closed side");
    });
}

#[test]
fn dropping_an_owned_write_half_shuts_down_writes() {
    flavours(|| async {
        let (client, mut server) = tcp_pair().await;
        let (mut read, write) = client.into_split();
        drop(write);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty());

        let answer = payload(7, 200_000);
        let mut got = Vec::new();
        let ((), read) = tokio::join!(write_and_shutdown(&mut server, &answer, 7), read.read_to_end(&mut got));
        read.unwrap();
        assert_bytes(&got, &answer, "answer to the read half");
    });
}
