//! A slow reader on the completion read path (issue 13): a connection
//! whose reader does not read holds at most its cap of the reactor's
//! shared buffers, so another connection on the same reactor still reads;
//! then every byte of the slow one arrives, in order. And connections that
//! together want more buffers than the group has (the group runs dry, and
//! receives re-arm on `ENOBUFS`) all get every byte.
//!
//! The binary asks for the completion path and makes the group small
//! (`RINGIO_COMPAT_READS`, `RINGIO_COMPAT_BUFS` and friends, set before any
//! reactor exists), so a reader without a cap
//! would exhaust it at once: then the second connection's read would wait
//! forever, and the run's limit reports it. On the readiness path (epoll,
//! `RINGIO_COMPAT_READS=readiness`) nothing is buffered ahead and the same
//! checks hold trivially. No check depends on timing.

mod common;

use common::net::TcpStream;
use common::{flavours, joined, payload, tcp_pair, write_and_shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The completion path (where the backend has it), with 16 buffers of
/// 4 KiB per reactor and 2 unread per connection.
fn small_group() {
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| {
        // Before any runtime (or thread reading the environment) exists:
        // each test of this binary calls this first.
        std::env::set_var("RINGIO_COMPAT_READS", "completion");
        std::env::set_var("RINGIO_COMPAT_BUFS", "16");
        std::env::set_var("RINGIO_COMPAT_BUF_LEN", "4096");
        std::env::set_var("RINGIO_COMPAT_MAX_UNREAD", "2");
    });
}

/// Reads `stream` to end of stream.
async fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.unwrap();
    got
}

#[test]
fn a_slow_reader_leaves_the_group_to_others() {
    small_group();
    flavours(|| async {
        // 4 MiB for the slow one: 64 times the whole group.
        let slow_data = payload(1, 4 << 20);
        let (mut slow_peer, mut slow) = tcp_pair().await;
        let (mut quick_peer, mut quick) = tcp_pair().await;
        let sent = slow_data.clone();
        let slow_writer = tokio::spawn(async move {
            slow_peer.write_all(&sent).await.unwrap();
            slow_peer.shutdown().await.unwrap();
        });
        // The slow stream's receive is armed and has received: from here
        // it would take every buffer of the group if nothing stopped it.
        slow.readable().await.unwrap();
        let quick_data = payload(2, 1 << 20);
        let sent = quick_data.clone();
        let quick_writer = tokio::spawn(async move { write_and_shutdown(&mut quick_peer, &sent, 3).await });
        let got = read_all(&mut quick).await;
        common::assert_bytes(&got, &quick_data, "the other connection, while one does not read");
        joined(quick_writer.await);
        // Now the slow reader reads: everything, in order.
        let got = read_all(&mut slow).await;
        common::assert_bytes(&got, &slow_data, "the slow connection, read at last");
        joined(slow_writer.await);
    });
}

#[test]
fn connections_that_overcommit_the_group_get_every_byte() {
    small_group();
    flavours(|| async {
        // 12 connections x 2 unread buffers: more than the 16 buffers.
        const CONNECTIONS: usize = 12;
        let mut pairs = Vec::new();
        for _ in 0..CONNECTIONS {
            pairs.push(tcp_pair().await);
        }
        let mut readers = Vec::new();
        let mut writers = Vec::new();
        for (i, (mut peer, stream)) in pairs.into_iter().enumerate() {
            let data = payload(10 + i as u64, (256 << 10) + i * 977);
            let sent = data.clone();
            writers.push(tokio::spawn(async move {
                write_and_shutdown(&mut peer, &sent, i as u64).await
            }));
            // Every receive armed and holding buffers before any reads.
            stream.readable().await.unwrap();
            readers.push((stream, data));
        }
        // All read at once (one by one, a reader could wait for buffers
        // the unread ones hold: the group is shared).
        let reads: Vec<_> = readers
            .into_iter()
            .enumerate()
            .map(|(i, (mut stream, data))| {
                tokio::spawn(async move {
                    let got = read_all(&mut stream).await;
                    common::assert_bytes(&got, &data, &format!("connection {i}"));
                })
            })
            .collect();
        for read in reads {
            joined(read.await);
        }
        for writer in writers {
            joined(writer.await);
        }
    });
}
