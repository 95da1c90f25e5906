//! A dropped listener or datagram socket lets its address go before the
//! drop returns, as with tokio: its port binds again at once, and a
//! datagram sent to it is refused (`ConnectionRefused` on the connected
//! sender). On io_uring such a close used to wait for the reactor's next
//! turn; on a current-thread runtime nothing turns between the drop and
//! the bind below, so both tests failed every time.

mod common;

use common::flavours;
use common::net::{TcpListener, UdpSocket};
use std::io::ErrorKind;
use std::time::{Duration, Instant};

/// Binds `addr`, spinning (never yielding to the runtime) while it is in use:
/// on a multi-thread runtime the drop may have found another worker in the
/// middle of this reactor's turn, which then does the close.
fn bind_again(addr: std::net::SocketAddr) -> std::net::TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        // As tokio's `TcpListener::bind` and std's: reuse past TIME_WAIT,
        // never past a listener that is still open.
        socket.set_reuse_address(true).unwrap();
        match socket.bind(&addr.into()) {
            Ok(()) => {
                socket.listen(16).unwrap();
                return socket.into();
            }
            Err(e) if e.kind() == ErrorKind::AddrInUse && Instant::now() < deadline => std::thread::yield_now(),
            Err(e) => panic!("rebind {addr}: {e}"),
        }
    }
}

#[test]
fn a_dropped_listener_port_binds_again_at_once() {
    flavours(|| async {
        for _ in 0..16 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            drop(listener);
            let again = bind_again(addr);
            assert_eq!(again.local_addr().unwrap(), addr);
        }
    });
}

#[test]
fn a_datagram_to_a_dropped_socket_is_refused() {
    flavours(|| async {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = receiver.local_addr().unwrap();
        drop(receiver);
        sender.connect(addr).await.unwrap();
        // Each datagram to a closed port draws an ICMP port unreachable,
        // which the connected socket's next receive reports; a port still
        // bound takes the datagram silently, and the receive waits. On a
        // multi-thread runtime the drop may have found another worker in
        // this reactor's turn, which closes the socket a moment later, so
        // there a second datagram may be needed; on a current-thread one
        // the first must be refused.
        let flavor = tokio::runtime::Handle::current().runtime_flavor();
        let (tries, wait) = if flavor == tokio::runtime::RuntimeFlavor::CurrentThread {
            (1, Duration::from_secs(10))
        } else {
            (100, Duration::from_millis(100))
        };
        let mut buf = [0; 16];
        for attempt in 1.. {
            sender.send(b"anyone?").await.unwrap();
            match tokio::time::timeout(wait, sender.recv(&mut buf)).await {
                Ok(got) => {
                    assert_eq!(got.unwrap_err().kind(), ErrorKind::ConnectionRefused);
                    break;
                }
                Err(_) => assert!(attempt < tries, "no ICMP error: the dropped socket still held its port"),
            }
        }
    });
}
