//! `RecvMulti`: a stream's received bytes as a sequence of buffers from a
//! shared [`BufRing`] group.
//!
//! On io_uring with a provided-buffer ring it keeps one multishot receive
//! armed (`op::recv_multi`) and re-arms it whenever the kernel ends it
//! without end of stream: the group ran dry (`ENOBUFS`: re-armed once a
//! buffer comes back), the reader fell `max_unread` buffers behind
//! (cancelled by the driver, re-armed once the reader took them all), or any
//! other end without `IORING_CQE_F_MORE`. Elsewhere it waits for
//! readability, takes a buffer from the group's free list and receives into
//! it with a plain read, so an idle connection holds no buffer either way.
//!
//! A bundle (one CQE, several buffers) is split as it is reaped
//! (`op::recv_multi`): the stream hands out its buffers one per `next()`,
//! in order, from the `Received` queue it shares with every receive it
//! arms; the `max_unread` cap counts that queue's buffers.
//!
//! Cancel rule: a dropped `next()` took nothing; a dropped stream leaves
//! every byte it received and did not hand out on the descriptor's rescue
//! queue, for the next read, and gives every buffer back.

use super::stream::Stream;
use crate::buf::{BufRing, BufRingBuf, Pool};
#[cfg(uring)]
use crate::driver::Driver;
#[cfg(uring)]
use crate::fd::descriptor::Lease;
#[cfg(uring)]
use crate::fd::mutex::Access;
use crate::fd::Interest;
#[cfg(uring)]
use crate::op::recv_multi::{rescue_bytes, rescue_error, Received, RecvMultiOp};
#[cfg(uring)]
use std::future::poll_fn;
use std::io;
use std::sync::Arc;

/// Buffers one connection may hold queued and unread, unless set with
/// [`RecvMulti::max_unread`]: a quarter of the group, at most 64.
fn default_unread(count: usize) -> usize {
    (count / 4).clamp(1, 64)
}

/// The received bytes of one stream, buffer by buffer, from a shared
/// [`BufRing`] group; made by [`TcpStream::recv_multi`] or
/// [`UnixStream::recv_multi`].
///
/// On io_uring, while its receive is armed it holds the stream's read lock
/// (other reads wait). Dropping
/// it, or a `next()` future, loses nothing: bytes received and not handed
/// out come first from the stream's next read, and their buffers go back to
/// the group.
///
/// [`TcpStream::recv_multi`]: crate::net::TcpStream::recv_multi
/// [`UnixStream::recv_multi`]: crate::net::UnixStream::recv_multi
///
/// # Examples
///
/// ```no_run
/// # async fn f(stream: ringio::net::TcpStream) -> std::io::Result<()> {
/// let group = ringio::buf::BufRing::new(7, 256, 16 * 1024)?;
/// let mut rx = stream.recv_multi(&group).max_unread(8);
/// let mut total = 0;
/// while let Some(buf) = rx.next().await {
///     total += buf?.len();
/// }
/// println!("{total} bytes until end of stream");
/// # Ok(()) }
/// ```
pub struct RecvMulti<'a> {
    stream: &'a Stream,
    pool: Arc<Pool>,
    max_unread: usize,
    /// The multishot receive in the kernel, until its last CQE was taken
    /// and `received` is empty.
    #[cfg(uring)]
    armed: Option<crate::ring::MultiOp<RecvMultiOp>>,
    /// Buffers received and not handed out yet, in order (a bundle's
    /// buffers wait here for their turn).
    #[cfg(uring)]
    received: Arc<Received>,
    /// Armed once already: arming again counts as a re-arm.
    armed_before: bool,
    /// The last receive found the group dry: wait for a buffer first.
    dry: bool,
    /// End of stream was handed out.
    eof: bool,
}

impl std::fmt::Debug for RecvMulti<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvMulti")
            .field("group", &self.pool.group())
            .field("max_unread", &self.max_unread)
            .field("eof", &self.eof)
            .finish()
    }
}

impl<'a> RecvMulti<'a> {
    pub(crate) fn new(stream: &'a Stream, group: &BufRing) -> RecvMulti<'a> {
        RecvMulti {
            stream,
            pool: group.pool().clone(),
            max_unread: default_unread(group.count()),
            #[cfg(uring)]
            armed: None,
            // Room for one buffer: a receive of a small message queues one,
            // and a queue that grew (a bundle, a reader behind) keeps what it
            // grew to; `VecDeque`'s first growth would reserve four (160 B)
            // that every idle connection would then hold.
            #[cfg(uring)]
            received: Arc::new(crate::sync::Mutex::new(std::collections::VecDeque::with_capacity(1))),
            armed_before: false,
            dry: false,
            eof: false,
        }
    }

    /// Sets how many received buffers this stream may hold queued and
    /// unread before the receive is stopped (it resumes once they are all
    /// taken); at least 1; by default a quarter of the group, at most 64.
    /// Every buffer of a bundle counts (and one bundle may bring several
    /// past the cap at once: it takes what the socket holds).
    /// Takes effect when the receive is next armed. (The kernel may deliver
    /// a few more before the stop lands; readiness backends receive only
    /// when asked, so nothing queues there.)
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(stream: ringio::net::UnixStream, group: ringio::buf::BufRing) {
    /// let rx = stream.recv_multi(&group).max_unread(4);
    /// # drop(rx) }
    /// ```
    pub fn max_unread(mut self, n: usize) -> Self {
        self.max_unread = n.max(1);
        self
    }

    /// The next buffer of received bytes; `None` at end of stream.
    ///
    /// Cancel safe: dropped before it returns, it took nothing. On io_uring
    /// it needs Linux 6.0 (multishot receive), as the backend does.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(stream: ringio::net::TcpStream, group: ringio::buf::BufRing) -> std::io::Result<()> {
    /// let mut rx = stream.recv_multi(&group);
    /// while let Some(buf) = rx.next().await {
    ///     let buf = buf?;
    ///     println!("{} bytes", buf.len());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// What the socket reports (`ConnectionReset`, ...; once each),
    /// [`crate::Error::Closed`] once the stream is closed, `InvalidInput` if
    /// the group belongs to another runtime's ring.
    pub async fn next(&mut self) -> Option<io::Result<BufRingBuf>> {
        if self.eof {
            return None;
        }
        let driver = match self.stream.fd.driver() {
            Ok(d) => d,
            Err(e) => return Some(Err(e)),
        };
        match (&driver, self.pool.ring_id()) {
            #[cfg(uring)]
            (Driver::Ring(ring), Some(id)) if ring.id() == id => self.next_ring(ring).await,
            (_, Some(_)) => Some(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "this buffer group belongs to another runtime's ring",
            ))),
            (_, None) => self.next_pooled().await,
        }
    }

    /// Readiness backends (and groups without a kernel ring): wait until
    /// readable, then receive into a buffer from the free list.
    async fn next_pooled(&mut self) -> Option<io::Result<BufRingBuf>> {
        loop {
            // (Bytes a dropped read left are there already.)
            if !self.stream.fd.shared().rescue().has_any() {
                if let Err(e) = self.stream.ready(Interest::READABLE).await {
                    return Some(Err(e));
                }
            }
            let buf = match self.pool.take_free() {
                Some(buf) => buf,
                None => {
                    self.pool.counters().ran_dry();
                    self.pool.wait_available().await;
                    continue;
                }
            };
            return match self.stream.read(buf).await {
                (Ok(0), _) => {
                    self.eof = true;
                    None
                }
                (Ok(_), buf) => {
                    self.pool.counters().recv_cqe();
                    Some(Ok(buf))
                }
                (Err(e), _) if e.kind() == io::ErrorKind::Interrupted => continue,
                (Err(e), _) => Some(Err(e)),
            };
        }
    }

    #[cfg(uring)]
    async fn next_ring(&mut self, ring: &crate::ring::Driver) -> Option<io::Result<BufRingBuf>> {
        loop {
            // What was received comes first, in order. (Taken and returned
            // with no await between: a dropped `next()` took nothing.) A
            // buffer without bytes (an end of stream or, before Linux 6.12,
            // a failure named it) just goes back.
            let next = self.received.lock().pop_front();
            if let Some(buf) = next {
                if buf.is_empty() {
                    continue;
                }
                return Some(Ok(buf));
            }
            let Some(op) = &mut self.armed else {
                if let Some(rescued) = self.arm(ring).await {
                    return Some(rescued);
                }
                continue;
            };
            // `None` once the last CQE was taken: its buffers, and every
            // earlier one's, were queued before it, and `received` is empty
            // (above), so nothing is left behind with the operation.
            let Some(c) = poll_fn(|cx| op.poll_next(cx)).await else {
                self.armed = None;
                continue;
            };
            match c.result {
                // Its buffers are queued (split as the CQE was reaped).
                n if n > 0 => {}
                0 => {
                    self.eof = true;
                    return None;
                }
                e if e == -libc::ENOBUFS => {
                    self.pool.counters().ran_dry();
                    self.dry = true;
                }
                // Stopped by the driver because we fell behind: re-armed once
                // its queue is empty. (A close says `Closed` instead.)
                _ if c.is_cancelled() && !self.stream.fd.is_closed() => {}
                _ if c.is_cancelled() => return Some(Err(closed())),
                _ => return Some(Err(c.io_result().err().unwrap_or_else(closed))),
            }
        }
    }

    /// Arms the multishot receive (once the group has a buffer again, if it
    /// ran dry), unless bytes a dropped read left come first: then those.
    #[cfg(uring)]
    async fn arm(&mut self, ring: &crate::ring::Driver) -> Option<io::Result<BufRingBuf>> {
        if self.dry && !self.stream.fd.shared().rescue().has_any() {
            // Only a receive with data pending waits for a buffer (an idle
            // one would take a waiter's turn and leave the buffer unused).
            if let Err(e) = self.stream.ready(Interest::READABLE).await {
                return Some(Err(e));
            }
            self.pool.wait_available().await;
        }
        self.dry = false;
        let lock = match self.stream.fd.lock(Access::Read).await {
            Ok(lock) => lock,
            Err(e) => return Some(Err(e)),
        };
        if self.stream.fd.is_closed() {
            return Some(Err(closed()));
        }
        if let Some(rescued) = take_rescued(&lock, self.pool.buf_len()) {
            return Some(rescued);
        }
        let op = RecvMultiOp::new(lock.into(), self.pool.clone(), self.received.clone(), self.max_unread);
        if self.armed_before {
            self.pool.counters().rearmed();
        }
        self.armed_before = true;
        self.armed = Some(ring.submit_multishot(op));
        None
    }
}

fn closed() -> io::Error {
    crate::Error::Closed.into()
}

/// Up to `max` bytes a dropped read left on the stream, in a buffer of
/// their own (or the error it got).
#[cfg(uring)]
fn take_rescued(lock: &Lease, max: usize) -> Option<io::Result<BufRingBuf>> {
    let mut bytes = Vec::new();
    let res = lock.rescue().take_bytes(max, |_, src| {
        let n = src.len().min(max - bytes.len());
        bytes.extend_from_slice(&src[..n]);
        n
    })?;
    Some(res.map(|_| BufRingBuf::own(bytes)))
}

#[cfg(uring)]
impl Drop for RecvMulti<'_> {
    fn drop(&mut self) {
        let stream = self.stream.fd.shared();
        let received = &self.received;
        let Some(mut op) = self.armed.take() else {
            // Not armed: `next_ring` lets the operation go only with
            // `received` empty, and nothing fills it but the operation.
            debug_assert!(received.lock().is_empty());
            return;
        };
        // What the stream received and did not hand out goes to the rescue
        // queue in order, before anything the kernel delivers later (which
        // the operation's orphan handler rescues once this returns): under
        // the completion queue's lock, which a later CQE's hand-over to the
        // orphan handler waits for.
        let spent: Vec<BufRingBuf> = op.close_with(|left| {
            let spent = rescue_bytes(stream, std::mem::take(&mut *received.lock()));
            left.iter().for_each(|c| rescue_error(stream, c));
            spent
        });
        // Given back outside the queue's lock (waking waiters).
        drop(spent);
        drop(op);
    }
}
