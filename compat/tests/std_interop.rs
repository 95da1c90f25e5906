//! std and raw-descriptor interop: every socket type converts from std
//! (`from_std` and `TryFrom`) and back (`into_std`, still non-blocking, with
//! queued data intact); `AsRawFd` names the live descriptor, and `AsFd`
//! lends it, so `socket2::SockRef` sets options on every socket type.

mod common;

use common::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use common::{flavours, tcp_pair, TempPath};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn tcp_round_trips_through_std() {
    flavours(|| async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener: TcpListener = std_listener.try_into().unwrap();
        assert!(listener.as_raw_fd() >= 0);
        let std_client = std::net::TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut client = TcpStream::try_from(std_client).unwrap();
        client.write_all(b"queued before into_std").await.unwrap();

        // Back to std: the bytes are still there, and the socket is non-blocking.
        let mut std_server = server.into_std().unwrap();
        let mut buf = [0; 22];
        let mut got = 0;
        while got < buf.len() {
            match std_server.read(&mut buf[got..]) {
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => tokio::task::yield_now().await,
                Err(e) => panic!("read: {e}"),
            }
        }
        assert_eq!(&buf, b"queued before into_std");
        assert_eq!(std_server.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        std_server.set_nonblocking(false).unwrap();
        std_server.write_all(b"back").unwrap();
        let mut four = [0; 4];
        client.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"back");

        let std_listener = listener.into_std().unwrap();
        assert_eq!(std_listener.local_addr().unwrap(), addr);
    });
}

#[test]
fn udp_and_unix_round_trip_through_std() {
    flavours(|| async {
        let std_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::from_std(std_udp).unwrap();
        let other: UdpSocket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().try_into().unwrap();
        other.send_to(b"dgram", udp.local_addr().unwrap()).await.unwrap();
        udp.readable().await.unwrap();
        let std_udp = udp.into_std().unwrap();
        let mut buf = [0; 16];
        let (n, from) = std_udp.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"dgram"[..], other.local_addr().unwrap()));

        let path = TempPath::new("interop.sock");
        let listener: UnixListener = std::os::unix::net::UnixListener::bind(&path)
            .unwrap()
            .try_into()
            .unwrap();
        let std_client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut client = UnixStream::from_std(std_client).unwrap();
        client.write_all(b"unix").await.unwrap();
        let mut std_server = server.into_std().unwrap();
        std_server.set_nonblocking(false).unwrap();
        let mut four = [0; 4];
        std_server.read_exact(&mut four).unwrap();
        assert_eq!(&four, b"unix");
        let (a, _b) = tcp_pair().await;
        assert!(a.as_raw_fd() >= 0);
        assert!(listener
            .into_std()
            .unwrap()
            .local_addr()
            .unwrap()
            .as_pathname()
            .is_some());
    });
}

#[test]
fn sock_ref_sets_options_through_as_fd() {
    flavours(|| async {
        let (client, server) = tcp_pair().await;
        for stream in [&client, &server] {
            let sock = socket2::SockRef::from(stream);
            sock.set_tcp_nodelay(true).unwrap();
            assert!(stream.nodelay().unwrap(), "set through SockRef, read through compat");
            assert_eq!(stream.as_fd().as_raw_fd(), stream.as_raw_fd());
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(socket2::SockRef::from(&listener).reuse_address().unwrap());

        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket2::SockRef::from(&udp).set_broadcast(true).unwrap();
        assert!(udp.broadcast().unwrap());

        let path = TempPath::new("sockref.sock");
        let unix_listener = UnixListener::bind(&path).unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let (da, _db) = UnixDatagram::pair().unwrap();
        for fd in [unix_listener.as_fd(), a.as_fd(), b.as_fd(), da.as_fd()] {
            let sock = socket2::SockRef::from(&fd);
            assert_eq!(sock.domain().unwrap(), socket2::Domain::UNIX);
        }
    });
}
