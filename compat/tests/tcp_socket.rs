//! `TcpSocket`: a configured socket listens and another connects to it and
//! carries bytes both ways; every option round-trips; two `SO_REUSEPORT`
//! sockets share a port while a plain bind of a taken port is `AddrInUse`;
//! a connect to a closed port is `ConnectionRefused`; `from_std_stream` and
//! the raw-descriptor conversions keep the socket usable.

mod common;

use common::net::{TcpListener, TcpSocket, TcpStream};
use common::{assert_bytes, flavours, payload};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Sends `data` from `a` and reads it at `b`, then the other way round.
async fn ping_pong(a: &mut TcpStream, b: &mut TcpStream, data: &[u8]) {
    let mut got = vec![0; data.len()];
    let (w, r) = tokio::join!(a.write_all(data), b.read_exact(&mut got));
    w.unwrap();
    r.unwrap();
    assert_bytes(&got, data, "a to b");
    let (w, r) = tokio::join!(b.write_all(data), a.read_exact(&mut got));
    w.unwrap();
    r.unwrap();
    assert_bytes(&got, data, "b to a");
}

#[test]
fn configured_socket_listens_and_another_connects() {
    flavours(|| async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(loopback()).unwrap();
        let addr = socket.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let listener: TcpListener = socket.listen(64).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);

        let client = TcpSocket::new_v4().unwrap();
        client.set_nodelay(true).unwrap();
        let (connected, accepted) = tokio::join!(client.connect(addr), listener.accept());
        let (mut client, (mut server, peer)) = (connected.unwrap(), accepted.unwrap());
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(client.peer_addr().unwrap(), addr);
        assert!(client.nodelay().unwrap());
        ping_pong(&mut client, &mut server, &payload(1, 256 * 1024)).await;
    });
}

#[test]
fn options_round_trip() {
    flavours(|| async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_keepalive(true).unwrap();
        assert!(socket.keepalive().unwrap());
        socket.set_keepalive(false).unwrap();
        assert!(!socket.keepalive().unwrap());
        socket.set_reuseaddr(true).unwrap();
        assert!(socket.reuseaddr().unwrap());
        socket.set_reuseport(true).unwrap();
        assert!(socket.reuseport().unwrap());
        socket.set_nodelay(true).unwrap();
        assert!(socket.nodelay().unwrap());
        socket.set_linger(Some(Duration::from_secs(3))).unwrap();
        assert_eq!(socket.linger().unwrap(), Some(Duration::from_secs(3)));
        socket.set_zero_linger().unwrap();
        assert_eq!(socket.linger().unwrap(), Some(Duration::ZERO));
        socket.set_linger(None).unwrap();
        assert_eq!(socket.linger().unwrap(), None);
        // The kernel doubles what it is asked for (and has a floor).
        socket.set_send_buffer_size(64 * 1024).unwrap();
        assert!(socket.send_buffer_size().unwrap() >= 64 * 1024);
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        assert!(socket.recv_buffer_size().unwrap() >= 64 * 1024);
        socket.set_tos_v4(0x10).unwrap();
        assert_eq!(socket.tos_v4().unwrap(), 0x10);
        assert!(socket.take_error().unwrap().is_none());
        assert_eq!(socket.device().unwrap(), None);
    });
}

#[test]
fn reuseport_shares_a_port_and_a_taken_port_is_addr_in_use() {
    flavours(|| async {
        let first = TcpSocket::new_v4().unwrap();
        first.set_reuseport(true).unwrap();
        first.bind(loopback()).unwrap();
        let addr = first.local_addr().unwrap();
        let second = TcpSocket::new_v4().unwrap();
        second.set_reuseport(true).unwrap();
        second.bind(addr).unwrap();
        let (_a, _b) = (first.listen(16).unwrap(), second.listen(16).unwrap());

        let third = TcpSocket::new_v4().unwrap();
        assert_eq!(third.bind(addr).unwrap_err().kind(), ErrorKind::AddrInUse);
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    flavours(|| async {
        let addr = {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind(loopback()).unwrap();
            socket.local_addr().unwrap() // bound, never listening
        };
        let err = TcpSocket::new_v4().unwrap().connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn from_std_stream_and_raw_fds_keep_the_socket() {
    flavours(|| async {
        // A socket made elsewhere, not connected yet, handed over as a std stream.
        let made = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let socket = TcpSocket::from_std_stream(std::net::TcpStream::from(std::os::fd::OwnedFd::from(made)));
        socket.bind(loopback()).unwrap();
        // Round trip through a raw descriptor.
        let raw = socket.into_raw_fd();
        // SAFETY: `raw` came from `into_raw_fd` just above and nothing else owns it.
        let socket = unsafe { TcpSocket::from_raw_fd(raw) };
        assert_eq!(socket.as_raw_fd(), raw);
        let listener = socket.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();

        let (connected, accepted) = tokio::join!(TcpSocket::new_v4().unwrap().connect(addr), listener.accept());
        let (mut client, (mut server, _)) = (connected.unwrap(), accepted.unwrap());
        ping_pong(&mut client, &mut server, b"through a raw descriptor").await;
    });
}
