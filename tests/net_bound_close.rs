//! Listeners and datagram sockets release their address when dropped, before
//! the drop returns (once nothing is in flight on them), as with std and
//! tokio: a dropped listener's port can be bound again at once, and a
//! datagram sent to a dropped socket's port is refused. On io_uring such a
//! close is submitted at once instead of with the next turn's batch; with
//! the batch, the port stayed bound until the runtime next turned, so both
//! checks below failed every time (no turn happens between them).

use ringio::net::{TcpListener, UdpSocket};
use std::io::ErrorKind;
use std::time::Duration;

#[test]
fn a_dropped_listener_port_binds_again_at_once() {
    let rt = ringio_tests::runtime();
    rt.block_on(async {
        for round in 0..16 {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            drop(listener);
            // No await between the drop and the bind: no turn in between.
            let again = TcpListener::bind(addr).unwrap_or_else(|e| panic!("round {round}: rebind {addr}: {e}"));
            assert_eq!(again.local_addr().unwrap(), addr);
        }
    });
}

#[test]
fn a_listener_dropped_with_an_accept_pending_releases_its_port() {
    let rt = ringio_tests::runtime();
    rt.block_on(async {
        let listener = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let waiting = ringio::spawn({
            let listener = listener.clone();
            async move { listener.accept().await.map(drop) }
        });
        // Let the accept start, then drop both the task and the listener.
        ringio::time::sleep(Duration::from_millis(5)).await;
        waiting.abort();
        drop(listener);
        // The accept in flight holds the descriptor until the kernel lets it
        // go: the port is free once the runtime has reaped that.
        let mut tries = 0;
        loop {
            match TcpListener::bind(addr) {
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::AddrInUse && tries < 1000 => {
                    tries += 1;
                    ringio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(e) => panic!("rebind {addr} after {tries} tries: {e}"),
            }
        }
    });
}

#[test]
fn a_datagram_to_a_dropped_socket_is_refused() {
    let rt = ringio_tests::runtime();
    rt.block_on(async {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = receiver.local_addr().unwrap();
        drop(receiver);
        sender.connect(addr).unwrap();
        // The port is closed, so loopback answers with an ICMP port
        // unreachable, which the connected socket's next receive reports.
        let (sent, _) = sender.send(b"anyone?".to_vec()).await;
        sent.unwrap();
        // A port still bound takes the datagram silently: the receive waits.
        let (got, _) = ringio::time::timeout(Duration::from_secs(10), sender.recv(Vec::with_capacity(16)))
            .await
            .expect("no ICMP error: the dropped socket still held its port");
        assert_eq!(got.unwrap_err().kind(), ErrorKind::ConnectionRefused);
    });
}
