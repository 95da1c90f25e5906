//! `lend_fd`: a handle that lent its descriptor for its life refuses
//! `close` (`Error::Lent`) and keeps the number open until it drops, so the
//! borrow stays valid; a handle closed first refuses to lend (`Closed`).

use ringio::net::{TcpListener, UdpSocket};
use std::os::fd::AsRawFd;

#[test]
fn a_lent_descriptor_stays_open_until_the_drop() {
    let rt = ringio_tests::runtime();
    rt.block_on(async {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = socket.lend_fd().unwrap();
        assert_eq!(fd.as_raw_fd(), socket.as_raw_fd());
        let err = socket.close().await.unwrap_err();
        assert_eq!(ringio::Error::of(&err), Some(&ringio::Error::Lent));
        assert_eq!(err.kind(), std::io::ErrorKind::ResourceBusy);
        // Still open and usable, through the borrow and the handle.
        rustix::net::sockopt::set_socket_broadcast(fd, true).unwrap();
        assert!(rustix::net::sockopt::socket_broadcast(socket.lend_fd().unwrap()).unwrap());
        let addr = socket.local_addr().unwrap();
        drop(socket);
        // The drop closed it: the port is free again.
        UdpSocket::bind(addr).unwrap();
    });
}

#[test]
fn a_closed_handle_does_not_lend() {
    let rt = ringio_tests::runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.close().await.unwrap();
        let err = listener.lend_fd().unwrap_err();
        assert!(ringio::Error::is_closed(&err), "{err:?}");
        // Closing again stays idempotent.
        listener.close().await.unwrap();
    });
}
