//! TCP: every stream and listener operation, including the error paths.

use ringio::net::{TcpListener, TcpStream};
use std::io::ErrorKind;
use std::net::Shutdown;
use std::os::fd::AsRawFd;

async fn async_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let c = ringio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (s, peer) = l.accept().await.unwrap();
    let c = c.await.unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    assert_eq!(c.peer_addr().unwrap(), addr);
    (s, c)
}

#[test]
fn echo_round_trips_and_addresses() {
    ringio_tests::runtime().block_on(async {
        let (server, client) = async_pair().await;
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        for i in 0..100u32 {
            let msg = format!("message {i}").into_bytes();
            client.write_all(msg.clone()).await.0.unwrap();
            let (res, buf) = server.read_exact(Vec::with_capacity(msg.len())).await;
            res.unwrap();
            assert_eq!(buf, msg);
            server.write_all(buf).await.0.unwrap();
            let (res, back) = client.read_exact(Vec::with_capacity(msg.len())).await;
            res.unwrap();
            assert_eq!(back, msg);
        }
    });
}

#[test]
fn read_waits_for_data() {
    ringio_tests::runtime().block_on(async {
        let (server, client) = async_pair().await;
        let reader = ringio::spawn(async move {
            let (n, buf) = server.read(Vec::with_capacity(8)).await;
            buf[..n.unwrap()].to_vec()
        });
        ringio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!reader.is_finished(), "read completed with no data sent");
        client.write_all(b"late".to_vec()).await.0.unwrap();
        assert_eq!(reader.await.unwrap(), b"late");
    });
}

#[test]
fn connect_refused() {
    ringio_tests::runtime().block_on(async {
        // Bind then drop to find a port nobody listens on.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn shutdown_write_gives_peer_eof_and_reading_still_works() {
    ringio_tests::runtime().block_on(async {
        let (server, client) = async_pair().await;
        client.write_all(b"bye".to_vec()).await.0.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let (res, buf) = server.read_exact(Vec::with_capacity(3)).await;
        res.unwrap();
        assert_eq!(buf, b"bye");
        let (n, _) = server.read(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0, "EOF after peer shutdown(Write)");
        server.write_all(b"reply".to_vec()).await.0.unwrap();
        let (res, buf) = client.read_exact(Vec::with_capacity(5)).await;
        res.unwrap();
        assert_eq!(buf, b"reply");
    });
}

#[test]
fn operations_on_closed_stream_fail_with_closed() {
    ringio_tests::runtime().block_on(async {
        let (server, client) = async_pair().await;
        let raw = client.as_raw_fd();
        assert!(raw >= 0);
        client.close().await.unwrap();
        client.close().await.unwrap(); // idempotent
        assert_eq!(client.as_raw_fd(), -1);
        let (res, _) = client.read(Vec::with_capacity(4)).await;
        assert!(ringio::Error::is_closed(&res.unwrap_err()));
        let (res, _) = client.write(b"x".to_vec()).await;
        assert!(ringio::Error::is_closed(&res.unwrap_err()));
        assert!(ringio::Error::is_closed(&client.set_nodelay(true).unwrap_err()));
        assert!(ringio::Error::is_closed(&client.shutdown(Shutdown::Both).unwrap_err()));
        // The peer sees EOF: the socket really closed (its fixed slot was released).
        let (n, _) = server.read(Vec::with_capacity(4)).await;
        assert_eq!(n.unwrap(), 0);
    });
}

#[test]
fn peer_reset_mid_stream_is_an_error_not_a_signal() {
    ringio_tests::runtime().block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().await.unwrap();
        // SO_LINGER 0: close sends RST instead of FIN.
        rustix::net::sockopt::set_socket_linger(&peer, Some(std::time::Duration::ZERO)).unwrap();
        drop(peer);
        let mut saw_error = false;
        for _ in 0..50 {
            let (res, _) = server.write(vec![0u8; 65536]).await;
            match res {
                Ok(_) => ringio::time::sleep(std::time::Duration::from_millis(1)).await,
                Err(e) => {
                    assert!(
                        matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
                        "unexpected {e:?}"
                    );
                    saw_error = true;
                    break;
                }
            }
        }
        assert!(saw_error, "writing to a reset peer never failed");
        let (res, _) = server.read(Vec::with_capacity(16)).await;
        match res {
            Ok(0) => {}
            Err(e) => assert!(matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)),
            Ok(n) => panic!("read {n} bytes from a reset connection"),
        }
    });
}

#[test]
fn incoming_multishot_accepts_many() {
    ringio_tests::runtime().block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let clients = ringio::spawn(async move {
            let mut v = Vec::new();
            for _ in 0..20 {
                v.push(TcpStream::connect(addr).await.unwrap());
            }
            v
        });
        let mut incoming = l.incoming();
        for _ in 0..20 {
            let s = incoming.next().await.unwrap().unwrap();
            assert!(s.peer_addr().is_ok());
        }
        drop(incoming);
        assert_eq!(clients.await.unwrap().len(), 20);
    });
}

#[test]
fn concurrent_reads_are_serialized_not_interleaved() {
    ringio_tests::runtime().block_on(async {
        let (server, client) = async_pair().await;
        let server = std::rc::Rc::new(server);
        // Several tasks each read_exact 1000 bytes; the writer sends blocks of
        // 1000 identical bytes. Serialized reads see uniform blocks.
        let mut readers = Vec::new();
        for _ in 0..8 {
            let s = server.clone();
            readers.push(ringio::spawn(async move {
                let (res, buf) = s.read_exact(Vec::with_capacity(1000)).await;
                res.unwrap();
                buf
            }));
        }
        for b in 0..8u8 {
            for chunk in vec![b; 1000].chunks(100) {
                client.write_all(chunk.to_vec()).await.0.unwrap();
                ringio::runtime::yield_now().await;
            }
        }
        let mut seen = Vec::new();
        for r in readers {
            let buf = r.await.unwrap();
            assert!(buf.iter().all(|&x| x == buf[0]), "a read interleaved with another");
            seen.push(buf[0]);
        }
        seen.sort();
        assert_eq!(seen, (0..8).collect::<Vec<u8>>());
    });
}

/// A stream dropped outside `block_on` (its runtime idle, but alive) is
/// closed at once: its peer reads the end of stream without waiting for the
/// runtime's next turn or its drop.
#[test]
fn a_stream_dropped_outside_block_on_closes_at_once() {
    use std::io::Read;
    let rt = ringio_tests::runtime();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (ours, _) = l.accept().unwrap();
    let stream = rt.block_on(async move {
        let s = ringio::net::TcpStream::from_std(ours).unwrap();
        // An operation, so the stream is registered (fixed slot on a ring).
        s.write_all(b"x".to_vec()).await.0.unwrap();
        ringio::nop().await.unwrap();
        s
    });
    drop(stream);
    peer.set_read_timeout(Some(ringio_tests::STEP)).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(peer.read(&mut buf).unwrap(), 1);
    let n = peer
        .read(&mut buf)
        .expect("the peer saw no end of stream while the runtime idled");
    assert_eq!(n, 0);
    drop(rt);
}
