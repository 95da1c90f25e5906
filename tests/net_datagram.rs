//! UDP and Unix datagram sockets, Unix streams, and ancillary data.

use ringio::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};
use std::os::fd::{AsFd, AsRawFd};

#[test]
fn udp_send_to_recv_from_and_connected() {
    ringio_tests::runtime().block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (n, _) = a.send_to(b"ping".to_vec(), b.local_addr().unwrap()).await;
        assert_eq!(n.unwrap(), 4);
        let (res, buf) = b.recv_from(Vec::with_capacity(64)).await;
        let (n, from) = res.unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        a.send(b"pong".to_vec()).await.0.unwrap();
        let (n, buf) = b.recv(Vec::with_capacity(64)).await;
        assert_eq!(&buf[..n.unwrap()], b"pong");
        // sendmsg/recvmsg, gather and scatter.
        let (n, _, _) = a.send_msg(vec![b"ab".to_vec(), b"cd".to_vec()], Vec::new(), None).await;
        assert_eq!(n.unwrap(), 4);
        let (meta, bufs, _) = b
            .recv_msg(vec![Vec::with_capacity(1), Vec::with_capacity(8)], Vec::new())
            .await;
        let meta = meta.unwrap();
        assert_eq!(meta.bytes, 4);
        assert_eq!(meta.addr, Some(a.local_addr().unwrap()));
        assert_eq!((bufs[0].as_slice(), bufs[1].as_slice()), (&b"a"[..], &b"bcd"[..]));
        a.close().await.unwrap();
        let (res, _) = a.send(b"x".to_vec()).await;
        assert!(ringio::Error::is_closed(&res.unwrap_err()));
    });
}

#[test]
fn unix_datagram_passes_a_descriptor_with_scm_rights() {
    ringio_tests::runtime().block_on(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let control_bytes = scm_rights(file.as_fd().as_raw_fd());
        let (n, _, _) = a.send_msg(vec![b"fd".to_vec()], control_bytes).await;
        assert_eq!(n.unwrap(), 2);
        let (meta, bufs, control) = b.recv_msg(vec![Vec::with_capacity(8)], Vec::with_capacity(64)).await;
        let meta = meta.unwrap();
        assert_eq!(bufs[0], b"fd");
        assert_eq!(meta.control_len, control.len());
        assert!(meta.control_len > 0, "no ancillary data arrived");
        // The passed descriptor is a new number referring to the same file.
        let level = i32::from_ne_bytes(control[8..12].try_into().unwrap());
        let kind = i32::from_ne_bytes(control[12..16].try_into().unwrap());
        assert_eq!((level, kind), (libc::SOL_SOCKET, libc::SCM_RIGHTS));
        let passed = i32::from_ne_bytes(control[16..20].try_into().unwrap());
        assert_ne!(passed, file.as_raw_fd());
        let link = std::fs::read_link(format!("/proc/self/fd/{passed}")).unwrap();
        assert_eq!(link, std::fs::read_link("/proc/self/exe").unwrap());
        // SAFETY: the kernel installed `passed` for us; nothing else owns it.
        drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(passed) });
    });
}

/// One `SCM_RIGHTS` control message carrying `fd`, laid out as `cmsghdr`
/// (`cmsg_len: usize`, `cmsg_level: i32`, `cmsg_type: i32`, data, padding).
fn scm_rights(fd: i32) -> Vec<u8> {
    let header = size_of::<usize>() + 2 * size_of::<i32>();
    let len = header + size_of::<i32>();
    let mut v = Vec::with_capacity(len.next_multiple_of(size_of::<usize>()));
    v.extend_from_slice(&len.to_ne_bytes());
    v.extend_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
    v.extend_from_slice(&libc::SCM_RIGHTS.to_ne_bytes());
    v.extend_from_slice(&fd.to_ne_bytes());
    v.resize(len.next_multiple_of(size_of::<usize>()), 0);
    v
}

#[test]
fn unix_stream_listener_connect_and_addresses() {
    ringio_tests::runtime().block_on(async {
        let path = std::env::temp_dir().join(format!("ringio-test-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).unwrap();
        assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
        let p2 = path.clone();
        let c = ringio::spawn(async move { UnixStream::connect(&p2).await.unwrap() });
        let (s, peer) = l.accept().await.unwrap();
        assert!(peer.is_unnamed());
        let c = c.await.unwrap();
        assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
        c.write_all(b"unix".to_vec()).await.0.unwrap();
        let (res, buf) = s.read_exact(Vec::with_capacity(4)).await;
        res.unwrap();
        assert_eq!(buf, b"unix");
        let err = UnixStream::connect("/nonexistent/ringio.sock").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        l.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn unix_datagram_send_to_path() {
    ringio_tests::runtime().block_on(async {
        let path = std::env::temp_dir().join(format!("ringio-test-{}.dgram", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"hey".to_vec(), &path).await.0.unwrap();
        let (res, buf) = server.recv_from(Vec::with_capacity(8)).await;
        let (n, from) = res.unwrap();
        assert_eq!(&buf[..n], b"hey");
        assert!(from.is_unnamed());
        std::fs::remove_file(&path).unwrap();
    });
}
