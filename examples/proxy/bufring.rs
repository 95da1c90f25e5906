//! `--copy bufring`: both directions receive with `recv_multi` into the
//! core's shared buffer ring and send each buffer with `write_all`, so a
//! connection waiting for bytes holds no buffer, and a received buffer goes
//! to the other socket without a copy.
//!
//! Each direction holds at most its queued unread buffers plus the one it
//! is sending; the group is shared, so a dry group makes receives wait for
//! a buffer to come back, never fail. Dropping the copy (idle timeout,
//! drain cut) loses nothing the sockets still hold: what `recv_multi`
//! received and did not hand out goes back to the stream's next read, its
//! buffers to the group, and a `write_all` in flight finishes.

use crate::connection::Tracked;
use ringio::buf::BufRing;
use std::io;

/// Copies both ways until both ends finished, telling each side of the
/// other's end (`shutdown_write`); `(client to upstream, upstream to
/// client)` bytes. The first error of either direction ends both, a reset
/// as `ConnectionReset`.
pub async fn copy_bidirectional(a: &Tracked<'_>, b: &Tracked<'_>, ring: &BufRing) -> io::Result<(u64, u64)> {
    let (a_to_b, b_to_a) = (one_way(a, b, ring), one_way(b, a, ring));
    try_join(a_to_b, b_to_a).await
}

async fn one_way(from: &Tracked<'_>, to: &Tracked<'_>, ring: &BufRing) -> io::Result<u64> {
    let mut total = 0;
    {
        let mut rx = from.stream.recv_multi(ring);
        while let Some(buf) = rx.next().await {
            let buf = buf?;
            let n = buf.len();
            from.delivered(n);
            let (res, _buf) = to.stream.write_all(buf).await;
            res?;
            total += n as u64;
        }
    }
    // As with buffers: an end of stream that was a reset is passed on as one.
    if from.ended_by_reset() {
        return Err(io::ErrorKind::ConnectionReset.into());
    }
    ringio::io::AsyncWriteOwned::shutdown_write(to).await?;
    Ok(total)
}

/// Both, or the first error of either.
async fn try_join(
    x: impl std::future::Future<Output = io::Result<u64>>,
    y: impl std::future::Future<Output = io::Result<u64>>,
) -> io::Result<(u64, u64)> {
    let (mut x, mut y) = (std::pin::pin!(x), std::pin::pin!(y));
    let (mut xo, mut yo) = (None, None);
    std::future::poll_fn(|cx| {
        if xo.is_none() {
            if let std::task::Poll::Ready(r) = x.as_mut().poll(cx) {
                xo = Some(r?);
            }
        }
        if yo.is_none() {
            if let std::task::Poll::Ready(r) = y.as_mut().poll(cx) {
                yo = Some(r?);
            }
        }
        match (xo, yo) {
            (Some(x), Some(y)) => std::task::Poll::Ready(Ok((x, y))),
            _ => std::task::Poll::Pending,
        }
    })
    .await
}
