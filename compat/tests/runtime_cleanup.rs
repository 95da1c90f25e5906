//! A compat reactor goes with its tokio runtime: after 200 current-thread
//! runtimes, created and dropped in turn on one thread and each using a
//! compat `TcpStream` and `UdpSocket`, the process has no more open
//! descriptors than before. (The thread kept its last hosted reactor, and
//! with it the dropped runtime's epoll and eventfd: 2 to 5 descriptors.)
//!
//! The count is checked after every runtime, on the thread that ran them
//! (which is still alive), against a count taken after a warm-up run on a
//! thread that has exited (so process-wide, created-once state is counted
//! in the baseline). Its own test binary: nothing else opens descriptors
//! meanwhile.

mod common;

use ringio_compat::net::{TcpStream, UdpSocket};
use std::io::{Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RUNTIMES: usize = 200;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// One tokio runtime that uses a compat TCP stream and UDP socket, dropped.
fn one_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        common::assert_backend();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).unwrap();
        server.write_all(b"pong").unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");

        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp.send_to(b"self", udp.local_addr().unwrap()).await.unwrap();
        let (n, _) = udp.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"self");
    });
    drop(rt);
}

#[test]
fn dropped_tokio_runtimes_leave_no_descriptors_open() {
    std::thread::spawn(one_runtime).join().unwrap();
    let before = open_fds();
    for i in 0..RUNTIMES {
        one_runtime();
        let now = open_fds();
        assert!(
            now <= before,
            "after tokio runtime {i} was dropped, {} more descriptors are open than before the first ({before})",
            now - before
        );
    }
}
