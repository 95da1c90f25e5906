//! tonic's `Connected` for the compat TCP and Unix streams (feature
//! `tonic`), so `Server::serve_with_incoming` takes a stream of compat
//! connections (a [`TcpListenerStream`](super::TcpListenerStream) or
//! [`UnixListenerStream`](super::UnixListenerStream)) and a handler sees
//! the connection's addresses as with tokio's streams.

use super::{TcpStream, UnixStream};
use std::sync::Arc;
use tonic::transport::server::{Connected, TcpConnectInfo, UdsConnectInfo};

/// The addresses of the connection, as tonic reports them for tokio's
/// `TcpStream` (`request.local_addr()`, `request.remote_addr()`).
///
/// # Examples
///
/// ```no_run
/// use ringio_compat::net::{TcpListener, TcpListenerStream};
///
/// # async fn run() -> Result<(), tonic::transport::Error> {
/// let (_reporter, health) = tonic_health::server::health_reporter();
/// let listener = TcpListener::bind("127.0.0.1:50051").await.expect("bind");
/// tonic::transport::Server::builder()
///     .add_service(health)
///     .serve_with_incoming(TcpListenerStream::new(listener))
///     .await
/// # }
/// ```
impl Connected for TcpStream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        TcpConnectInfo {
            local_addr: self.local_addr().ok(),
            remote_addr: self.peer_addr().ok(),
        }
    }
}

/// tonic's `UdsConnectInfo`, as far as it can be made: `peer_addr` is the
/// peer's path, `None` for an unnamed peer (the usual client; tokio reports
/// it as an unnamed address), and `peer_cred` is always `None` (tokio's
/// `UCred` has no public constructor).
///
/// # Examples
///
/// ```no_run
/// use ringio_compat::net::{UnixListener, UnixListenerStream};
///
/// # async fn run() -> Result<(), tonic::transport::Error> {
/// let (_reporter, health) = tonic_health::server::health_reporter();
/// let listener = UnixListener::bind("/tmp/grpc.sock").expect("bind");
/// tonic::transport::Server::builder()
///     .add_service(health)
///     .serve_with_incoming(UnixListenerStream::new(listener))
///     .await
/// # }
/// ```
impl Connected for UnixStream {
    type ConnectInfo = UdsConnectInfo;

    fn connect_info(&self) -> UdsConnectInfo {
        let peer = self.peer_addr().ok();
        let path = peer.as_ref().and_then(|addr| addr.as_pathname());
        let peer_addr = path
            .and_then(|path| std::os::unix::net::SocketAddr::from_pathname(path).ok())
            .map(|addr| Arc::new(tokio::net::unix::SocketAddr::from(addr)));
        UdsConnectInfo {
            peer_addr,
            peer_cred: None,
        }
    }
}
