//! `UnixSocket`, `UnixStream::peer_cred` and the Unix `SocketAddr`
//! conversions: a bound stream socket listens and another bound one
//! connects, both see each other's paths and bytes flow both ways; a bound
//! datagram socket sends and receives through `datagram()`; each call on the
//! wrong kind of socket fails as tokio's does; a configured socket and one
//! passed through a raw descriptor stay usable; `peer_cred` reports this
//! process on both ends of a pair and of an accepted connection; an address
//! keeps its path, its abstract name or its lack of a name through std's
//! type and back; a name in Linux's abstract namespace (a path with a
//! leading NUL) binds and connects.

mod common;

use common::net::unix::{SocketAddr, UCred};
use common::net::{UnixListener, UnixSocket, UnixStream};
use common::{assert_bytes, flavours, payload, TempPath};
use std::io::ErrorKind;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `data` from `a` and reads it at `b`, then the other way round.
async fn ping_pong(a: &mut UnixStream, b: &mut UnixStream, data: &[u8]) {
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

fn path_of(addr: &SocketAddr) -> &Path {
    addr.as_pathname().expect("a pathname address")
}

#[test]
fn stream_socket_listens_and_another_connects() {
    flavours(|| async {
        let (server_path, client_path) = (TempPath::new("us-server"), TempPath::new("us-client"));
        let socket = UnixSocket::new_stream().unwrap();
        socket.bind(&server_path).unwrap();
        let listener: UnixListener = socket.listen(16).unwrap();
        assert_eq!(path_of(&listener.local_addr().unwrap()), server_path.as_ref());

        let client = UnixSocket::new_stream().unwrap();
        client.bind(&client_path).unwrap();
        let (connected, accepted) = tokio::join!(client.connect(&server_path), listener.accept());
        let (mut client, (mut server, peer)) = (connected.unwrap(), accepted.unwrap());
        assert_eq!(path_of(&peer), client_path.as_ref());
        assert_eq!(path_of(&server.peer_addr().unwrap()), client_path.as_ref());
        assert_eq!(path_of(&client.local_addr().unwrap()), client_path.as_ref());
        assert_eq!(path_of(&client.peer_addr().unwrap()), server_path.as_ref());

        ping_pong(&mut client, &mut server, &payload(7, 256 * 1024)).await;
        drop(client);
        let mut rest = Vec::new();
        assert_eq!(server.read_to_end(&mut rest).await.unwrap(), 0);
    });
}

#[test]
fn unbound_stream_socket_connects_unnamed() {
    flavours(|| async {
        let path = TempPath::new("us-unbound");
        let listener = UnixListener::bind(&path).unwrap();
        let (connected, accepted) = tokio::join!(UnixSocket::new_stream().unwrap().connect(&path), listener.accept());
        let (mut client, (mut server, peer)) = (connected.unwrap(), accepted.unwrap());
        assert!(peer.is_unnamed());
        assert!(client.local_addr().unwrap().is_unnamed());
        ping_pong(&mut client, &mut server, b"unnamed").await;
    });
}

#[test]
fn datagram_socket_sends_and_receives() {
    flavours(|| async {
        let (pa, pb) = (TempPath::new("us-dgram-a"), TempPath::new("us-dgram-b"));
        let a = UnixSocket::new_datagram().unwrap();
        a.bind(&pa).unwrap();
        let a = a.datagram().unwrap();
        let b = UnixSocket::new_datagram().unwrap();
        b.bind(&pb).unwrap();
        let b = b.datagram().unwrap();
        assert_eq!(path_of(&a.local_addr().unwrap()), pa.as_ref());

        let mut buf = [0u8; 64];
        assert_eq!(a.send_to(b"ping", &pb).await.unwrap(), 4);
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], path_of(&from)), (&b"ping"[..], pa.as_ref()));

        b.connect(&pa).unwrap();
        assert_eq!(b.send(b"pong").await.unwrap(), 4);
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], path_of(&from)), (&b"pong"[..], pb.as_ref()));
    });
}

#[test]
fn calls_on_the_wrong_kind_fail_as_tokio_does() {
    flavours(|| async {
        let path = TempPath::new("us-wrong-kind");
        let err = UnixSocket::new_datagram().unwrap().listen(16).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        assert_eq!(err.to_string(), "listen cannot be called on a datagram socket");

        let err = UnixSocket::new_datagram().unwrap().connect(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        assert_eq!(err.to_string(), "connect cannot be called on a datagram socket");

        let err = UnixSocket::new_stream().unwrap().datagram().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        assert_eq!(err.to_string(), "datagram cannot be called on a stream socket");

        // Nobody listens at `path`.
        let err = UnixSocket::new_stream().unwrap().connect(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);

        // A path already bound is taken.
        let first = UnixSocket::new_stream().unwrap();
        first.bind(&path).unwrap();
        let err = UnixSocket::new_stream().unwrap().bind(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
    });
}

#[test]
fn configured_and_raw_fd_sockets_stay_usable() {
    flavours(|| async {
        let path = TempPath::new("us-raw");
        let socket = UnixSocket::new_stream().unwrap();
        // An option UnixSocket has no setter for, through its descriptor.
        let sock = socket2::SockRef::from(&socket);
        sock.set_recv_buffer_size(64 * 1024).unwrap();
        assert!(sock.recv_buffer_size().unwrap() >= 64 * 1024);
        socket.bind(&path).unwrap();
        let fd = socket.into_raw_fd();
        // SAFETY: `fd` was just given up by `into_raw_fd`; nothing else owns it.
        let socket = unsafe { UnixSocket::from_raw_fd(fd) };
        let listener = socket.listen(16).unwrap();

        let client = UnixSocket::new_stream().unwrap();
        let fd = client.into_raw_fd();
        // SAFETY: as above.
        let client = unsafe { UnixSocket::from_raw_fd(fd) };
        let (connected, accepted) = tokio::join!(client.connect(&path), listener.accept());
        let (mut client, (mut server, _)) = (connected.unwrap(), accepted.unwrap());
        ping_pong(&mut client, &mut server, &payload(8, 4096)).await;
    });
}

/// This process's credentials, as `SO_PEERCRED` reports them.
fn this_process() -> (u32, u32, i32) {
    (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
        rustix::process::getpid().as_raw_pid(),
    )
}

fn assert_this_process(cred: UCred, end: &str) {
    let (uid, gid, pid) = this_process();
    assert_eq!((cred.uid(), cred.gid(), cred.pid()), (uid, gid, Some(pid)), "{end}");
}

#[test]
fn peer_cred_of_a_pair() {
    flavours(|| async {
        let (a, b) = UnixStream::pair().unwrap();
        let (ca, cb) = (a.peer_cred().unwrap(), b.peer_cred().unwrap());
        assert_eq!(ca, cb);
        assert_this_process(ca, "a");
        assert_this_process(cb, "b");
    });
}

#[test]
fn peer_cred_of_an_accepted_connection() {
    flavours(|| async {
        let path = TempPath::new("us-cred");
        let listener = UnixListener::bind(&path).unwrap();
        let (connected, accepted) = tokio::join!(UnixStream::connect(&path), listener.accept());
        let (client, (server, _)) = (connected.unwrap(), accepted.unwrap());
        assert_this_process(client.peer_cred().unwrap(), "client");
        assert_this_process(server.peer_cred().unwrap(), "server");
        // Copy and Debug, as tokio's.
        let cred = server.peer_cred().unwrap();
        let copy = cred;
        assert_eq!(format!("{copy:?}"), format!("{cred:?}"));
    });
}

#[test]
fn pathname_round_trips() {
    let std_addr = std::os::unix::net::SocketAddr::from_pathname("/tmp/ringio-compat-addr.sock").unwrap();
    let debug = format!("{std_addr:?}");
    let addr = SocketAddr::from(std_addr);
    assert_eq!(addr.as_pathname(), Some(Path::new("/tmp/ringio-compat-addr.sock")));
    assert!(!addr.is_unnamed());
    assert_eq!(addr.as_abstract_name(), None);
    assert_eq!(format!("{addr:?}"), debug);
    let back = std::os::unix::net::SocketAddr::from(addr);
    assert_eq!(back.as_pathname(), Some(Path::new("/tmp/ringio-compat-addr.sock")));
}

#[test]
fn abstract_name_round_trips() {
    let std_addr = std::os::unix::net::SocketAddr::from_abstract_name(b"ringio-compat-abstract").unwrap();
    let addr = SocketAddr::from(std_addr);
    assert_eq!(addr.as_abstract_name(), Some(&b"ringio-compat-abstract"[..]));
    assert_eq!(addr.as_pathname(), None);
    assert!(!addr.is_unnamed());
    let back = std::os::unix::net::SocketAddr::from(addr);
    assert_eq!(back.as_abstract_name(), Some(&b"ringio-compat-abstract"[..]));
}

#[test]
fn unnamed_round_trips() {
    let std_addr = std::os::unix::net::UnixDatagram::unbound()
        .unwrap()
        .local_addr()
        .unwrap();
    let addr = SocketAddr::from(std_addr);
    assert!(addr.is_unnamed());
    assert_eq!((addr.as_pathname(), addr.as_abstract_name()), (None, None));
    assert_eq!(format!("{addr:?}"), "(unnamed)");
    assert!(std::os::unix::net::SocketAddr::from(addr).is_unnamed());
}

#[test]
fn socket_addresses_convert_to_std() {
    flavours(|| async {
        let path = TempPath::new("us-to-std");
        let listener = UnixListener::bind(&path).unwrap();
        let (connected, accepted) = tokio::join!(UnixStream::connect(&path), listener.accept());
        let (client, (_server, peer)) = (connected.unwrap(), accepted.unwrap());
        let server_addr = std::os::unix::net::SocketAddr::from(client.peer_addr().unwrap());
        assert_eq!(server_addr.as_pathname(), Some(path.as_ref()));
        assert!(std::os::unix::net::SocketAddr::from(peer).is_unnamed());
        assert!(std::os::unix::net::SocketAddr::from(client.local_addr().unwrap()).is_unnamed());
    });
}

/// A fresh path naming `\0ringio-compat-<pid>-<n>-<what>` in the abstract
/// namespace (nothing removes an abstract name but the close of its socket,
/// which a ring may finish later).
fn abstract_name(what: &str) -> std::ffi::OsString {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("\0ringio-compat-{}-{n}-{what}", std::process::id()).into()
}

#[test]
fn abstract_names_bind_and_connect() {
    flavours(|| async {
        let name = abstract_name("stream");
        let name = Path::new(&name);
        let listener = UnixListener::bind(name).unwrap();
        let (connected, accepted) = tokio::join!(UnixStream::connect(name), listener.accept());
        let (mut client, (mut server, _)) = (connected.unwrap(), accepted.unwrap());
        ping_pong(&mut client, &mut server, b"abstract").await;
        let local = server.into_std().unwrap().local_addr().unwrap();
        assert_eq!(local.as_abstract_name(), Some(&name.as_os_str().as_bytes()[1..]));

        // The same through UnixSocket, on a name of its own.
        let name = abstract_name("socket");
        let name = Path::new(&name);
        let socket = UnixSocket::new_stream().unwrap();
        socket.bind(name).unwrap();
        let listener = socket.listen(16).unwrap();
        let (connected, accepted) = tokio::join!(UnixSocket::new_stream().unwrap().connect(name), listener.accept());
        let (mut client, (mut server, _)) = (connected.unwrap(), accepted.unwrap());
        ping_pong(&mut client, &mut server, b"abstract socket").await;
    });
}
