//! tonic's `Connected` for the compat TCP stream (feature `tonic`), so
//! `Server::serve_with_incoming` takes a stream of compat connections (a
//! [`TcpListenerStream`](super::TcpListenerStream)) and a handler's
//! `request.remote_addr()` works as with tokio's `TcpStream`.

use super::TcpStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

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
