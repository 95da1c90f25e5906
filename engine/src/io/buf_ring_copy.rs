//! `copy_bidirectional_buf_ring`: a proxy's byte pump between two TCP
//! streams through one shared provided-buffer group: each direction keeps a
//! multishot receive armed ([`TcpStream::recv_multi`]) and writes every
//! received buffer to the other stream as is, so a connection waiting for
//! bytes holds no buffer, and no byte is copied in user space.
//!
//! Cancel rule, the same as [`super::copy`]'s: dropping the future loses
//! nothing and duplicates nothing. Bytes a direction's receive took in and
//! did not hand out go back to the source's next read (its rescue queue),
//! their buffers to the group; a `write_all` of a buffer, once polled,
//! finishes (in the background if dropped), ahead of any later write to
//! the destination. So the bytes counted, plus at most one buffer in
//! flight per direction, are exactly what reached the other side.

use super::copy::{pass_end, try_join};
use crate::buf::BufRing;
use crate::net::TcpStream;
use std::io;

/// Copies both ways between `a` and `b` until both directions reached end
/// of stream, receiving into buffers of `group` (shared by as many
/// connections as like); returns `(a to b, b to a)` bytes. Each end of
/// stream is passed on ([`TcpStream::shutdown_write`], unless the other
/// connection is gone already); the first error of either direction ends
/// both, and is returned.
///
/// Each direction holds at most its receive's unread buffers (see
/// [`RecvMulti::max_unread`](crate::net::RecvMulti::max_unread); the
/// default here) plus the one being written. A dry group makes receives
/// wait for a buffer to come back, never fail. On readiness backends the
/// buffers come from the group's user-space free list, one receive at a
/// time.
///
/// # Examples
///
/// ```no_run
/// # async fn f(client: ringio::net::TcpStream) -> std::io::Result<()> {
/// // One group per runtime, shared by every connection of the proxy.
/// let group = ringio::buf::BufRing::new(1, 1024, 16 * 1024)?;
/// let upstream = ringio::net::TcpStream::connect("127.0.0.1:8080").await?;
/// let (up, down) = ringio::io::copy_bidirectional_buf_ring(&client, &upstream, &group).await?;
/// println!("{up} bytes up, {down} down");
/// # Ok(()) }
/// ```
pub async fn copy_bidirectional_buf_ring(a: &TcpStream, b: &TcpStream, group: &BufRing) -> io::Result<(u64, u64)> {
    try_join(one_way(a, b, group), one_way(b, a, group)).await
}

async fn one_way(src: &TcpStream, dst: &TcpStream, group: &BufRing) -> io::Result<u64> {
    let mut total = 0u64;
    let mut rx = src.recv_multi(group);
    while let Some(buf) = rx.next().await {
        let buf = buf?;
        let n = buf.len() as u64;
        // The buffer goes back to the group when the write hands it back.
        dst.write_all(buf).await.0?;
        total += n;
    }
    drop(rx);
    pass_end(dst).await?;
    Ok(total)
}
