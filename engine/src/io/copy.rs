//! `copy` and `copy_bidirectional` over the owned-buffer traits: the byte
//! pump of a proxy.
//!
//! Each direction owns one buffer, moved into every read and write and back.
//! Dropping a copy loses nothing on the streams: a read in flight leaves what
//! it received for the reader's next read, and a `write_all` in flight
//! finishes (on ringio's stream types), so the bytes counted so far, plus
//! that buffer, are exactly what reached the writer.

use super::{AsyncReadOwned, AsyncWriteOwned};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::Poll;

/// The buffer size of [`copy`] and [`copy_bidirectional`].
const BUF: usize = 64 * 1024;

/// Copies from `reader` to `writer` until `reader`'s end of stream; returns
/// the bytes copied. Does not shut `writer` down.
///
/// # Examples
///
/// ```no_run
/// # async fn f(from: &ringio::net::TcpStream, to: &ringio::net::UnixStream) -> std::io::Result<()> {
/// let n = ringio::io::copy(from, to).await?;
/// println!("{n} bytes");
/// # Ok(()) }
/// ```
pub async fn copy<R, W>(reader: &R, writer: &W) -> io::Result<u64>
where
    R: AsyncReadOwned + ?Sized,
    W: AsyncWriteOwned + ?Sized,
{
    copy_with(reader, writer, BUF).await
}

async fn copy_with<R, W>(reader: &R, writer: &W, size: usize) -> io::Result<u64>
where
    R: AsyncReadOwned + ?Sized,
    W: AsyncWriteOwned + ?Sized,
{
    let mut buf = Vec::with_capacity(size);
    let mut total = 0u64;
    loop {
        buf.clear();
        let (n, b) = reader.read(buf).await;
        let n = n?;
        if n == 0 {
            return Ok(total);
        }
        let (res, b) = writer.write_all(b).await;
        res?;
        total += n as u64;
        buf = b;
    }
}

/// Copies both ways between `a` and `b` at once, until both directions
/// reached end of stream; returns `(a to b, b to a)` bytes. When one side
/// ends its stream, the other is told (`shutdown_write`), so half-closed
/// connections work. The first error of either direction ends both, and is
/// returned (a peer's reset surfaces as `ConnectionReset`).
///
/// # Examples
///
/// ```no_run
/// # async fn f(client: ringio::net::TcpStream) -> std::io::Result<()> {
/// let upstream = ringio::net::TcpStream::connect("127.0.0.1:8080").await?;
/// let (up, down) = ringio::io::copy_bidirectional(&client, &upstream).await?;
/// println!("{up} bytes up, {down} down");
/// # Ok(()) }
/// ```
pub async fn copy_bidirectional<A, B>(a: &A, b: &B) -> io::Result<(u64, u64)>
where
    A: AsyncReadOwned + AsyncWriteOwned + ?Sized,
    B: AsyncReadOwned + AsyncWriteOwned + ?Sized,
{
    copy_bidirectional_with_size(a, b, BUF).await
}

/// [`copy_bidirectional`] with a buffer of `size` bytes per direction.
///
/// # Examples
///
/// ```no_run
/// # async fn f(a: &ringio::net::TcpStream, b: &ringio::net::TcpStream) -> std::io::Result<()> {
/// ringio::io::copy_bidirectional_with_size(a, b, 16 * 1024).await?;
/// # Ok(()) }
/// ```
pub async fn copy_bidirectional_with_size<A, B>(a: &A, b: &B, size: usize) -> io::Result<(u64, u64)>
where
    A: AsyncReadOwned + AsyncWriteOwned + ?Sized,
    B: AsyncReadOwned + AsyncWriteOwned + ?Sized,
{
    let size = size.max(1);
    let a_to_b = async {
        let n = copy_with(a, b, size).await?;
        pass_end(b).await?;
        Ok::<u64, io::Error>(n)
    };
    let b_to_a = async {
        let n = copy_with(b, a, size).await?;
        pass_end(a).await?;
        Ok::<u64, io::Error>(n)
    };
    try_join(a_to_b, b_to_a).await
}

/// Passes an end of stream on to `w` ([`AsyncWriteOwned::shutdown_write`]).
/// A destination whose connection is gone already (`NotConnected`: both
/// ends shut) has nothing left to be told, which is not an error of the copy.
pub(super) async fn pass_end<W: AsyncWriteOwned + ?Sized>(w: &W) -> io::Result<()> {
    match w.shutdown_write().await {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// Polls both futures until both are done or either fails.
pub(super) async fn try_join<X, Y>(
    x: impl Future<Output = io::Result<X>>,
    y: impl Future<Output = io::Result<Y>>,
) -> io::Result<(X, Y)> {
    let (mut x, mut y) = (pin!(x), pin!(y));
    let (mut xo, mut yo) = (None, None);
    std::future::poll_fn(|cx| {
        if xo.is_none() {
            if let Poll::Ready(r) = x.as_mut().poll(cx) {
                xo = Some(r?);
            }
        }
        if yo.is_none() {
            if let Poll::Ready(r) = y.as_mut().poll(cx) {
                yo = Some(r?);
            }
        }
        if xo.is_some() && yo.is_some() {
            Poll::Ready(Ok::<(), io::Error>(()))
        } else {
            Poll::Pending
        }
    })
    .await?;
    Ok((xo.take().expect("done"), yo.take().expect("done")))
}
