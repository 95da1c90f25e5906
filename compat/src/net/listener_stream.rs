//! Listeners as `futures_core::Stream`s of accepted connections (feature
//! `stream`), as `tokio_stream::wrappers::TcpListenerStream` and
//! `UnixListenerStream` are for tokio's: what `Server::serve_with_incoming`
//! of tonic, or any stream combinator, takes.

use super::{TcpListener, TcpStream, UnixListener, UnixStream};
use futures_core::Stream;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A [`TcpListener`] as a never-ending stream of accepted connections; each
/// accept error is an item, and the stream goes on after it.
///
/// Cancel safe: the stream holds no connection between polls, so dropping
/// a `next()` future (or the stream) loses none; the listener keeps them.
///
/// # Examples
///
/// ```no_run
/// use futures_util::StreamExt;
/// use ringio_compat::net::{TcpListener, TcpListenerStream};
///
/// # async fn run() -> std::io::Result<()> {
/// let mut incoming = TcpListenerStream::new(TcpListener::bind("127.0.0.1:0").await?);
/// while let Some(stream) = incoming.next().await {
///     let stream = stream?;
///     # drop(stream);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpListenerStream {
    listener: TcpListener,
}

impl TcpListenerStream {
    /// Wraps `listener`.
    pub fn new(listener: TcpListener) -> TcpListenerStream {
        TcpListenerStream { listener }
    }

    /// The listener back.
    pub fn into_inner(self) -> TcpListener {
        self.listener
    }
}

impl AsRef<TcpListener> for TcpListenerStream {
    fn as_ref(&self) -> &TcpListener {
        &self.listener
    }
}

impl Stream for TcpListenerStream {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<TcpStream>>> {
        self.listener
            .poll_accept(cx)
            .map(|accepted| Some(accepted.map(|(stream, _peer)| stream)))
    }
}

/// A [`UnixListener`] as a never-ending stream of accepted connections; as
/// [`TcpListenerStream`].
///
/// # Examples
///
/// ```no_run
/// use futures_util::StreamExt;
/// use ringio_compat::net::{UnixListener, UnixListenerStream};
///
/// # async fn run() -> std::io::Result<()> {
/// let mut incoming = UnixListenerStream::new(UnixListener::bind("/tmp/app.sock")?);
/// let first = incoming.next().await;
/// # drop(first); Ok(()) }
/// ```
#[derive(Debug)]
pub struct UnixListenerStream {
    listener: UnixListener,
}

impl UnixListenerStream {
    /// Wraps `listener`.
    pub fn new(listener: UnixListener) -> UnixListenerStream {
        UnixListenerStream { listener }
    }

    /// The listener back.
    pub fn into_inner(self) -> UnixListener {
        self.listener
    }
}

impl AsRef<UnixListener> for UnixListenerStream {
    fn as_ref(&self) -> &UnixListener {
        &self.listener
    }
}

impl Stream for UnixListenerStream {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<UnixStream>>> {
        self.listener
            .poll_accept(cx)
            .map(|accepted| Some(accepted.map(|(stream, _peer)| stream)))
    }
}
