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
//!
//! Order across receives: the stream's read lock goes with a receive's
//! last CQE, so a receive that ends with buffers queued (dry group, cap,
//! the kernel's own end) first hands them to the rescue queue whole, as
//! that CQE is reaped (`op::recv_multi`). Whatever reads next (this stream
//! arming again, which takes them back without a copy, or any other read)
//! gets them before anything newer.

use super::ready::ready_on;
use super::stream::{read_on, Stream};
use crate::buf::{BufRing, BufRingBuf, Pool};
#[cfg(uring)]
use crate::driver::Driver;
use crate::fd::descriptor::Descriptor;
#[cfg(uring)]
use crate::fd::descriptor::Lease;
#[cfg(uring)]
use crate::fd::mutex::Access;
use crate::fd::Interest;
#[cfg(uring)]
use crate::op::recv_multi::{rescue_bytes, rescue_error, Received, RecvMultiOp};
use std::future::{poll_fn, Future};
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// A wait of `poll_next` kept between polls: boxed, since it outlives the
/// poll that started it (rare: arming behind a contended read lock or a dry
/// group, or a receive on a readiness backend).
type Pending<T> = Pin<Box<dyn Future<Output = T> + Send>>;

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
/// (other reads wait; one made after the receive stopped with buffers
/// unread gets those bytes first). Dropping
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
    /// The stream's descriptor (a borrow of the stream in the type, unless
    /// made owned with [`RecvMulti::into_owned`]).
    fd: Descriptor,
    _stream: PhantomData<&'a Stream>,
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
    /// Arming, waiting for the read lock (or for a buffer, the group having
    /// run dry).
    #[cfg(uring)]
    locking: Option<Pending<io::Result<Lease>>>,
    /// Readiness backends: the receive in progress.
    receiving: Option<Pending<Option<io::Result<BufRingBuf>>>>,
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
            fd: stream.fd.shared().clone(),
            _stream: PhantomData,
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
            #[cfg(uring)]
            locking: None,
            receiving: None,
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
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Poll-style [`RecvMulti::next`], for `poll_*` contexts (a tokio
    /// `AsyncRead`, say): `Ready(None)` at end of stream. Only the task that
    /// polled last is woken. Dropping the `RecvMulti` between polls loses
    /// nothing, as with `next()`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::task::Poll;
    ///
    /// # async fn f(stream: ringio::net::TcpStream, group: ringio::buf::BufRing) -> std::io::Result<()> {
    /// let mut rx = stream.recv_multi(&group);
    /// let n = std::future::poll_fn(|cx| match rx.poll_next(cx) {
    ///     Poll::Ready(Some(buf)) => Poll::Ready(buf.map(|b| b.len())),
    ///     Poll::Ready(None) => Poll::Ready(Ok(0)),
    ///     Poll::Pending => Poll::Pending,
    /// })
    /// .await?;
    /// println!("{n} bytes");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`RecvMulti::next`].
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<BufRingBuf>>> {
        if self.eof {
            return Poll::Ready(None);
        }
        let driver = match self.fd.driver() {
            Ok(d) => d,
            Err(e) => return Poll::Ready(Some(Err(e))),
        };
        match (&driver, self.pool.ring_id()) {
            #[cfg(uring)]
            (Driver::Ring(ring), Some(id)) if ring.id() == id => self.poll_ring(ring, cx),
            (_, Some(_)) => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "this buffer group belongs to another runtime's ring",
            )))),
            (_, None) => self.poll_pooled(cx),
        }
    }

    /// The same receive, no longer tied to a borrow of the stream: for a
    /// type that keeps the stream and its receive side by side. Once the
    /// stream is closed (dropped), it ends with [`crate::Error::Closed`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(stream: &ringio::net::TcpStream, group: &ringio::buf::BufRing) {
    /// let rx: ringio::net::RecvMulti<'static> = stream.recv_multi(group).into_owned();
    /// # drop(rx) }
    /// ```
    pub fn into_owned(mut self) -> RecvMulti<'static> {
        let owned = RecvMulti {
            fd: self.fd.clone(),
            _stream: PhantomData,
            pool: self.pool.clone(),
            max_unread: self.max_unread,
            // Taken, so that dropping `self` leaves the receive alone.
            #[cfg(uring)]
            armed: self.armed.take(),
            #[cfg(uring)]
            received: self.received.clone(),
            #[cfg(uring)]
            locking: self.locking.take(),
            receiving: self.receiving.take(),
            armed_before: self.armed_before,
            dry: self.dry,
            eof: self.eof,
        };
        // What `self` armed is the owned one's now (see `Drop`).
        self.armed_before = false;
        owned
    }

    /// Readiness backends (and groups without a kernel ring): wait until
    /// readable, then receive into a buffer from the free list.
    fn poll_pooled(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<BufRingBuf>>> {
        let receiving = self
            .receiving
            .get_or_insert_with(|| Box::pin(receive_pooled(self.fd.clone(), self.pool.clone())));
        let got = ready!(receiving.as_mut().poll(cx));
        self.receiving = None;
        if got.is_none() {
            self.eof = true;
        }
        Poll::Ready(got)
    }

    #[cfg(uring)]
    fn poll_ring(&mut self, ring: &crate::ring::Driver, cx: &mut Context<'_>) -> Poll<Option<io::Result<BufRingBuf>>> {
        loop {
            // What was received comes first, in order. (Taken and returned
            // with no suspension between: a dropped `next()` took nothing.) A
            // buffer without bytes (an end of stream or, before Linux 6.12,
            // a failure named it) just goes back.
            let next = self.received.lock().pop_front();
            if let Some(buf) = next {
                if buf.is_empty() {
                    continue;
                }
                return Poll::Ready(Some(Ok(buf)));
            }
            let Some(op) = &mut self.armed else {
                if let Some(rescued) = ready!(self.poll_arm(ring, cx)) {
                    return Poll::Ready(Some(rescued));
                }
                continue;
            };
            // `None` once the last CQE was taken: its buffers, and every
            // earlier one's, were queued before it, and `received` is empty
            // (above), so nothing is left behind with the operation.
            let Some(c) = ready!(op.poll_next(cx)) else {
                self.armed = None;
                continue;
            };
            match c.result {
                // Its buffers are queued (split as the CQE was reaped).
                n if n > 0 => {}
                0 => {
                    self.eof = true;
                    return Poll::Ready(None);
                }
                e if e == -libc::ENOBUFS => {
                    self.pool.counters().ran_dry();
                    self.dry = true;
                }
                // Stopped by the driver because we fell behind: re-armed once
                // its queue is empty. (A close says `Closed` instead.)
                _ if c.is_cancelled() && !self.fd.is_closed() => {}
                _ if c.is_cancelled() => return Poll::Ready(Some(Err(closed()))),
                _ => return Poll::Ready(Some(Err(c.io_result().err().unwrap_or_else(closed)))),
            }
        }
    }

    /// Arms the multishot receive (once the group has a buffer again, if it
    /// ran dry), unless bytes a dropped read left come first: then those.
    #[cfg(uring)]
    fn poll_arm(&mut self, ring: &crate::ring::Driver, cx: &mut Context<'_>) -> Poll<Option<io::Result<BufRingBuf>>> {
        let locked = match &mut self.locking {
            Some(locking) => ready!(locking.as_mut().poll(cx)),
            // Only a receive with data pending waits for a buffer (an idle
            // one would take a waiter's turn and leave the buffer unused).
            None if self.dry && !self.fd.rescue().has_any() => {
                let (fd, pool) = (self.fd.clone(), self.pool.clone());
                self.locking = Some(Box::pin(async move {
                    ready_on(&fd, Interest::READABLE).await?;
                    pool.wait_available().await;
                    fd.lock(Access::Read).await
                }));
                return self.poll_arm(ring, cx);
            }
            // Uncontended: no future, no allocation.
            None => match self.fd.try_lock(Access::Read) {
                Ok(Some(lock)) => Ok(lock),
                Ok(None) => {
                    let fd = self.fd.clone();
                    self.locking = Some(Box::pin(async move { fd.lock(Access::Read).await }));
                    return self.poll_arm(ring, cx);
                }
                Err(e) => Err(e),
            },
        };
        self.locking = None;
        let lock = match locked {
            Ok(lock) => lock,
            Err(e) => return Poll::Ready(Some(Err(e))),
        };
        if self.fd.is_closed() {
            return Poll::Ready(Some(Err(closed())));
        }
        // (A dry group stays dry for the next arm until this runs out.)
        if let Some(rescued) = take_rescued(&lock, self.pool.buf_len()) {
            return Poll::Ready(Some(rescued));
        }
        self.dry = false;
        let op = RecvMultiOp::new(lock.into(), self.pool.clone(), self.received.clone(), self.max_unread);
        if self.armed_before {
            self.pool.counters().rearmed();
        }
        self.armed_before = true;
        self.armed = Some(ring.submit_multishot(op));
        Poll::Ready(None)
    }
}

/// One receive of the readiness path: wait until readable, take a buffer
/// from the free list (waiting for one if the group ran dry), receive into
/// it. `None` at end of stream.
async fn receive_pooled(fd: Descriptor, pool: Arc<Pool>) -> Option<io::Result<BufRingBuf>> {
    loop {
        // (Bytes a dropped read left are there already.)
        if !fd.rescue().has_any() {
            if let Err(e) = ready_on(&fd, Interest::READABLE).await {
                return Some(Err(e));
            }
        }
        let buf = match pool.take_free() {
            Some(buf) => buf,
            None => {
                pool.counters().ran_dry();
                pool.wait_available().await;
                continue;
            }
        };
        return match read_on(&fd, buf).await {
            (Ok(0), _) => None,
            (Ok(_), buf) => {
                pool.counters().recv_cqe();
                Some(Ok(buf))
            }
            (Err(e), _) if e.kind() == io::ErrorKind::Interrupted => continue,
            (Err(e), _) => Some(Err(e)),
        };
    }
}

fn closed() -> io::Error {
    crate::Error::Closed.into()
}

/// What the rescue queue holds for the next read: a buffer this stream's
/// receive left there whole as it ended, as it is; else up to `max` bytes a
/// dropped read left, in a buffer of their own (or the error it got).
#[cfg(uring)]
fn take_rescued(lock: &Lease, max: usize) -> Option<io::Result<BufRingBuf>> {
    if let Some(buf) = lock.rescue().take_buffer() {
        return Some(Ok(buf));
    }
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
        let stream = &self.fd;
        let received = &self.received;
        let mut op = self.armed.take();
        let spent: Vec<BufRingBuf> = match &mut op {
            None => {
                // Not armed: `poll_ring` lets the operation go only with
                // `received` empty, and nothing fills it but the operation.
                // (Or `into_owned` took the receive, and `received` with it.)
                debug_assert!(received.lock().is_empty() || Arc::strong_count(received) > 1);
                Vec::new()
            }
            // What the stream received and did not hand out goes to the
            // rescue queue in order, before anything the kernel delivers
            // later (which the operation's orphan handler rescues once this
            // returns): under the completion queue's lock, which a later
            // CQE's hand-over to the orphan handler waits for.
            Some(op) => op.close_with(|left| {
                let spent = rescue_bytes(stream, std::mem::take(&mut *received.lock()));
                left.iter().for_each(|c| rescue_error(stream, c));
                spent
            }),
        };
        // A receive of this stream that ended with buffers unread left them
        // on the rescue queue whole: they become bytes, since nobody takes
        // them back whole now and the group needs them. (After the queue
        // closed above: an end reaped later goes to the orphan handler,
        // which does the same.)
        let detached = match self.armed_before {
            true => stream.rescue().detach_buffers(),
            false => Vec::new(),
        };
        // Given back outside the queues' locks (waking waiters).
        drop(spent);
        drop(detached);
        drop(op);
    }
}
