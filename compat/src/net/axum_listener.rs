//! `axum::serve::Listener` for the compat listeners (feature `axum`), so
//! `axum::serve(listener, app)` runs an axum application on ringio.
//!
//! An accept error is handled as axum handles it for tokio's listeners: a
//! connection error (refused, aborted, reset) is skipped, anything else
//! (`EMFILE` above all) is logged and retried after a second, so the
//! server neither stops nor spins while the process is out of descriptors.

use super::unix::SocketAddr as UnixSocketAddr;
use super::{TcpListener, TcpStream, UnixListener, UnixStream};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// How long an accept loop rests after an error that is not about one
/// connection (axum's own pause for tokio's listeners).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Waits out an accept error as axum does: skips connection errors, logs
/// and pauses on the rest.
async fn handle_accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        tracing::debug!(error = %e, "accept: connection error, skipped");
        return;
    }
    tracing::error!(error = %e, "accept error; retrying in {ACCEPT_ERROR_PAUSE:?}");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// `axum::serve` on a compat [`TcpListener`]. Cancel safe, as
/// [`TcpListener::accept`]: a dropped `accept` loses no connection.
///
/// For `ConnectInfo<SocketAddr>` (axum implements it only for its own
/// listener types), wrap the listener with `axum::serve::ListenerExt::tap_io`.
///
/// # Examples
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use ringio_compat::net::TcpListener;
///
/// # async fn run() -> std::io::Result<()> {
/// let app = Router::new().route("/", get(|| async { "hello from ringio" }));
/// let listener = TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
impl axum::serve::Listener for TcpListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match TcpListener::accept(self).await {
                Ok(accepted) => return accepted,
                Err(e) => handle_accept_error(e).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

/// `axum::serve` on a compat [`UnixListener`]; as the TCP one, with
/// ringio's Unix socket addresses.
///
/// # Examples
///
/// ```no_run
/// use axum::{routing::get, Router};
///
/// # async fn run() -> std::io::Result<()> {
/// let app = Router::new().route("/", get(|| async { "hello over a Unix socket" }));
/// let listener = ringio_compat::net::UnixListener::bind("/tmp/app.sock")?;
/// axum::serve(listener, app).await
/// # }
/// ```
impl axum::serve::Listener for UnixListener {
    type Io = UnixStream;
    type Addr = UnixSocketAddr;

    async fn accept(&mut self) -> (UnixStream, UnixSocketAddr) {
        loop {
            match UnixListener::accept(self).await {
                Ok(accepted) => return accepted,
                Err(e) => handle_accept_error(e).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        UnixListener::local_addr(self)
    }
}
