//! `BufRing`: a group of equal-sized receive buffers that many connections
//! share, and the home of every [`BufRingBuf`] it hands out.
//!
//! On io_uring the group is a provided-buffer ring
//! (`IORING_REGISTER_PBUF_RING`, Linux 5.19): the kernel picks a buffer when
//! data arrives, so an idle connection holds none. Elsewhere (readiness
//! backends, older kernels) it is a free list that `recv_multi` takes from
//! before a plain receive. The API is the same.
//!
//! Who owns a buffer's memory, when (ring case):
//! - *in the group*: its id is published in the ring, below the tail the
//!   kernel reads; the kernel may write into it for any receive that names
//!   the group, and nobody else touches it;
//! - *picked*: a CQE names it; the kernel is done with it, and it belongs to
//!   whoever holds that CQE (the `recv_multi` stream, or the orphan handler
//!   of a dropped one), then to the [`BufRingBuf`] made from it;
//! - *back*: the `BufRingBuf` was dropped, on any thread: its id is written
//!   at the ring's tail under the producer lock and the tail published
//!   (Release), which hands the memory to the kernel again.
//!
//! Two kernel features change how a CQE maps onto buffers (both probed when
//! the ring is built; `ring_take.rs` has the mapping and its rules):
//! - *bundles* (`IORING_RECVSEND_BUNDLE`, Linux 6.10): one CQE's bytes fill
//!   several buffers, the ones in consecutive ring entries from the one it
//!   names; each goes out as a [`BufRingBuf`] of its own;
//! - *incremental consumption* (`IOU_PBUF_RING_INC`, Linux 6.12, opt-in
//!   with [`BufRingBuilder::incremental`]): the kernel fills one buffer over
//!   several receives, each CQE naming a *piece* of it; the buffer goes back
//!   once the kernel is done with it and every piece has been dropped.
//!
//! The group's memory lives as long as anything may use it: every buffer
//! and every receive naming the group holds the pool, and the last one to
//! go unregisters the ring (on the ring's owner thread, through its remote
//! queue if need be) before the memory is freed.

use super::ring_buf::BufRingBuf;
use super::ring_mem::Region;
#[cfg(uring)]
use super::ring_mem::RingEntries;
#[cfg(uring)]
use super::ring_take::Pieces;
use super::ring_wait::{Place, Waiters};
use crate::driver::Driver;
use crate::ring::BufCounters;
use crate::sync::Mutex;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Most buffers in one group: the kernel's ring holds at most 2^15 entries.
const MAX_COUNT: usize = 1 << 15;

/// A group of `count` receive buffers of `buf_len` bytes each, shared by
/// every stream that receives with [`TcpStream::recv_multi`] (or
/// [`UnixStream::recv_multi`]) on this runtime.
///
/// Buffers come out as [`BufRingBuf`] values and go back to the group when
/// dropped, from any thread. When every buffer is out, receives wait (and
/// [`crate::Stats::buf_enobufs`] counts it) until one comes back; nothing is
/// lost. Cloning is cheap and names the same group.
///
/// On io_uring this is a provided-buffer ring (Linux 5.19) registered with
/// the runtime's ring under group id `group`; elsewhere it is a user-space
/// pool, and `group` is only a label.
///
/// [`TcpStream::recv_multi`]: crate::net::TcpStream::recv_multi
/// [`UnixStream::recv_multi`]: crate::net::UnixStream::recv_multi
///
/// # Examples
///
/// ```no_run
/// use ringio::buf::BufRing;
/// ringio::Runtime::new()?.block_on(async {
///     let group = BufRing::new(0, 64, 4096)?;
///     let stream = ringio::net::TcpStream::connect("127.0.0.1:8080").await?;
///     let mut rx = stream.recv_multi(&group);
///     while let Some(buf) = rx.next().await {
///         let buf = buf?;
///         println!("{} bytes", buf.len());
///     } // each `buf` went back to the group when dropped
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct BufRing {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for BufRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufRing")
            .field("group", &self.pool.group)
            .field("count", &self.pool.count)
            .field("buf_len", &self.pool.buf_len)
            .field("available", &self.pool.available())
            .finish()
    }
}

impl BufRing {
    /// A group of `count` buffers of `buf_len` bytes, on the current
    /// runtime, with group id `group` (unique per runtime while it lives).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `count` is not a power of two between 1 and 32768,
    /// or `buf_len` is 0 or above `u32::MAX`; `AlreadyExists` if the ring
    /// has a group `group` already; [`crate::Error::NoRuntime`] outside a
    /// runtime; an error if called on another thread than the runtime's
    /// own (io_uring).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::Runtime::new()?.block_on(async {
    ///     assert!(ringio::buf::BufRing::new(1, 3, 4096).is_err(), "not a power of two");
    ///     let group = ringio::buf::BufRing::new(1, 8, 4096)?;
    ///     assert_eq!(group.available(), 8);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(group: u16, count: usize, buf_len: usize) -> io::Result<BufRing> {
        BufRing::builder(group, count, buf_len).build()
    }

    /// A builder for a group with other than the default receive features
    /// ([`BufRing::new`] is `BufRing::builder(group, count, buf_len).build()`).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::Runtime::new()?.block_on(async {
    ///     let group = ringio::buf::BufRing::builder(2, 8, 64 * 1024).incremental(true).build()?;
    ///     assert!(!group.bundles(), "incremental groups take one buffer per receive");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder(group: u16, count: usize, buf_len: usize) -> BufRingBuilder {
        BufRingBuilder {
            group,
            count,
            buf_len,
            bundles: true,
            incremental: false,
        }
    }

    /// Whether receives into this group use bundles (`IORING_RECVSEND_BUNDLE`,
    /// Linux 6.10): one completion may fill several buffers, which
    /// [`RecvMulti::next`](crate::net::RecvMulti::next) hands out one by one,
    /// in order. On by default where the kernel has them, off on readiness
    /// backends, for incremental groups, and with `RINGIO_BUNDLES=0`.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::Runtime::new()?.block_on(async {
    ///     let group = ringio::buf::BufRing::builder(4, 8, 4096).bundles(false).build()?;
    ///     assert!(!group.bundles());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bundles(&self) -> bool {
        self.pool.bundles
    }

    /// Whether the kernel consumes this group's buffers incrementally
    /// (`IOU_PBUF_RING_INC`, Linux 6.12): asked for with
    /// [`BufRingBuilder::incremental`] and granted where the kernel has it
    /// (not with `RINGIO_BUF_INC=0`, nor on readiness backends). See
    /// [`BufRingBuilder::build`] for an example.
    pub fn incremental(&self) -> bool {
        #[cfg(uring)]
        return self.pool.pieces.is_some();
        #[cfg(not(uring))]
        false
    }

    /// The group id.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::Runtime::new()?.block_on(async {
    ///     let group = ringio::buf::BufRing::new(3, 16, 2048)?;
    ///     assert_eq!((group.group(), group.count(), group.buf_len()), (3, 16, 2048));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn group(&self) -> u16 {
        self.pool.group
    }

    /// Bytes per buffer (see [`BufRing::group`] for an example).
    pub fn buf_len(&self) -> usize {
        self.pool.buf_len
    }

    /// Buffers in the group (see [`BufRing::group`] for an example).
    pub fn count(&self) -> usize {
        self.pool.count
    }

    /// Buffers in the group now, not out (a moment's estimate on io_uring:
    /// a buffer the kernel picked counts as out once its completion is
    /// reaped).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(stream: ringio::net::TcpStream) -> std::io::Result<()> {
    /// let group = ringio::buf::BufRing::new(0, 4, 4096)?;
    /// let mut rx = stream.recv_multi(&group);
    /// if let Some(buf) = rx.next().await {
    ///     let buf = buf?;
    ///     assert!(group.available() < 4); // `buf` is out
    /// }
    /// # Ok(()) }
    /// ```
    pub fn available(&self) -> usize {
        self.pool.available()
    }

    /// True when the kernel picks this group's buffers itself (a
    /// provided-buffer ring on io_uring, Linux 5.19); false for the
    /// user-space pool of readiness backends and older kernels, where each
    /// receive is a readiness wait plus a plain read into a free buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::Runtime::new()?.block_on(async {
    ///     let group = ringio::buf::BufRing::new(2, 8, 4096)?;
    ///     println!("kernel-picked buffers: {}", group.kernel_ring());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kernel_ring(&self) -> bool {
        self.pool.ring_id().is_some()
    }

    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

/// Sets up a [`BufRing`] with other than the default receive features;
/// made by [`BufRing::builder`].
///
/// # Examples
///
/// ```
/// ringio::Runtime::new()?.block_on(async {
///     let group = ringio::buf::BufRing::builder(5, 16, 2048).bundles(false).build()?;
///     assert_eq!(group.count(), 16);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BufRingBuilder {
    group: u16,
    count: usize,
    buf_len: usize,
    bundles: bool,
    incremental: bool,
}

impl BufRingBuilder {
    /// Whether receives may fill several buffers per completion (Linux
    /// 6.10; default on where the kernel has them). See [`BufRing::bundles`].
    pub fn bundles(mut self, on: bool) -> Self {
        self.bundles = on;
        self
    }

    /// Asks for incremental consumption (Linux 6.12; default off): the
    /// kernel puts the bytes of several receives, of this stream or any
    /// other sharing the group, one after the other in one buffer, so each
    /// [`BufRingBuf`] is a piece of a buffer, and a buffer goes back to the
    /// group once the kernel has filled it and every piece is dropped. Meant
    /// for large buffers: small messages then share one instead of taking
    /// one each. A piece that is kept holds its whole buffer. Asking for
    /// it turns bundles off, granted or not.
    pub fn incremental(mut self, on: bool) -> Self {
        self.incremental = on;
        self
    }

    /// Registers the group on the current runtime.
    ///
    /// # Errors
    ///
    /// As [`BufRing::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::Runtime::new()?.block_on(async {
    ///     let group = ringio::buf::BufRing::builder(6, 4, 1 << 20).incremental(true).build()?;
    ///     println!("incremental: {}", group.incremental()); // false before Linux 6.12
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(self) -> io::Result<BufRing> {
        let BufRingBuilder {
            group, count, buf_len, ..
        } = self;
        if !count.is_power_of_two() || count > MAX_COUNT {
            return Err(invalid("a buffer group's count must be a power of two up to 32768"));
        }
        if buf_len == 0 || u32::try_from(buf_len).is_err() {
            return Err(invalid("a buffer group's buffers must hold 1 to u32::MAX bytes"));
        }
        let driver = Driver::current()?;
        let size = count
            .checked_mul(buf_len)
            .ok_or_else(|| invalid("buffer group too large"))?;
        let data = Region::zeroed(size)?;
        let features = driver.recv_features();
        let incremental = self.incremental && features.incremental;
        let home = Home::new(&driver, group, count, buf_len, &data, incremental)?;
        let on_ring = home.is_ring();
        #[cfg(uring)]
        let incremental = incremental && on_ring && home.is_incremental();
        Ok(BufRing {
            pool: Arc::new(Pool {
                group,
                count,
                buf_len,
                data,
                home,
                bundles: on_ring && self.bundles && features.bundles && !self.incremental,
                #[cfg(uring)]
                keeps_failed: features.keeps_failed,
                #[cfg(uring)]
                pieces: incremental.then(|| Pieces::new(count)),
                available: AtomicUsize::new(count),
                waiters: Waiters::default(),
                counters: driver.buf_counters(),
            }),
        })
    }
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// The shared state of one group; see the module docs.
pub(crate) struct Pool {
    group: u16,
    count: usize,
    buf_len: usize,
    /// `count` buffers of `buf_len` bytes, buffer `i` at `i * buf_len`.
    data: Region,
    home: Home,
    /// Receives into the group fill several buffers per CQE.
    pub(super) bundles: bool,
    /// The kernel leaves a failed receive's buffer in the ring (Linux 6.12).
    #[cfg(uring)]
    pub(super) keeps_failed: bool,
    /// Incremental consumption: per buffer, its pieces out and the bytes
    /// the kernel filled (see `ring_take.rs`).
    #[cfg(uring)]
    pub(super) pieces: Option<Pieces>,
    /// Buffers in the group. On a ring, decremented when a completion that
    /// picked one is reaped (the kernel took it a moment earlier).
    available: AtomicUsize,
    /// Receives waiting for a buffer to come back.
    waiters: Waiters,
    counters: Arc<BufCounters>,
}

/// The producer's side of a ring: its tail, and which buffer it put in
/// which entry, which is how a bundle's buffers are found (`ring_take.rs`).
#[cfg(uring)]
pub(super) struct Producer {
    tail: u16,
    /// The buffer id last written at each entry.
    pub(super) bid_at: Box<[u16]>,
    /// The entry each buffer id was last written at.
    pub(super) entry_of: Box<[u16]>,
}

/// Where buffers wait while in the group.
enum Home {
    /// A provided-buffer ring registered with `driver`'s io_uring.
    #[cfg(uring)]
    Ring {
        driver: crate::ring::WeakDriver,
        driver_id: usize,
        entries: RingEntries,
        /// Registered with `IOU_PBUF_RING_INC`.
        incremental: bool,
        /// The producer's side (ours alone; the kernel reads the published tail).
        producer: Mutex<Producer>,
    },
    /// A free list of buffer ids (readiness backends, kernels without
    /// buffer rings).
    Free(Mutex<Vec<u16>>),
}

impl Home {
    fn new(
        driver: &Driver,
        group: u16,
        count: usize,
        buf_len: usize,
        data: &Region,
        mut incremental: bool,
    ) -> io::Result<Home> {
        #[cfg(uring)]
        if let Driver::Ring(ring) = driver {
            let entries = RingEntries::new(count)?;
            for bid in 0..count {
                // SAFETY: nobody else sees the ring before it is registered.
                unsafe { entries.write(bid, data.at(bid * buf_len), buf_len as u32, bid as u16) };
            }
            // SAFETY: as above; `count <= 2^15` fits the u16 tail.
            unsafe { entries.publish_tail(count as u16) };
            // SAFETY: the entries and the buffers they name are owned by the
            // pool, which unregisters the group before freeing either (its
            // `Drop`), and no buffer is handed out except through a CQE.
            let mut res = unsafe { ring.register_buf_ring(entries.addr(), count as u16, group, incremental) };
            if incremental && matches!(&res, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) {
                tracing::debug!(group, "incremental buffer ring refused; registering a plain one");
                incremental = false;
                // SAFETY: as above.
                res = unsafe { ring.register_buf_ring(entries.addr(), count as u16, group, false) };
            }
            match res {
                Ok(()) => {
                    tracing::debug!(group, count, buf_len, incremental, "buffer ring registered");
                    let ids: Box<[u16]> = (0..count as u16).collect();
                    return Ok(Home::Ring {
                        driver: ring.downgrade(),
                        driver_id: ring.id(),
                        entries,
                        incremental,
                        producer: Mutex::new(Producer {
                            tail: count as u16,
                            bid_at: ids.clone(),
                            entry_of: ids,
                        }),
                    });
                }
                Err(err) if err.raw_os_error() == Some(libc::EEXIST) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("buffer group {group} is registered already"),
                    ))
                }
                Err(err) if matches!(err.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => {
                    tracing::debug!(%err, group, "no provided-buffer rings here; using a user-space pool");
                }
                Err(err) => return Err(err),
            }
        }
        #[cfg(not(uring))]
        let _ = (driver, group, buf_len, data, &mut incremental); // only a ring needs them
        Ok(Home::Free(Mutex::new((0..count as u16).rev().collect())))
    }

    fn is_ring(&self) -> bool {
        !matches!(self, Home::Free(_))
    }

    #[cfg(uring)]
    fn is_incremental(&self) -> bool {
        match self {
            #[cfg(uring)]
            Home::Ring { incremental, .. } => *incremental,
            Home::Free(_) => false,
        }
    }
}

impl Pool {
    pub(crate) fn available(&self) -> usize {
        self.available.load(Ordering::Acquire)
    }

    pub(crate) fn buf_len(&self) -> usize {
        self.buf_len
    }

    pub(crate) fn group(&self) -> u16 {
        self.group
    }

    pub(crate) fn counters(&self) -> &BufCounters {
        &self.counters
    }

    /// The ring this group is registered with, if it is a provided-buffer
    /// ring: its driver's id.
    pub(crate) fn ring_id(&self) -> Option<usize> {
        match &self.home {
            #[cfg(uring)]
            Home::Ring { driver_id, .. } => Some(*driver_id),
            Home::Free(_) => None,
        }
    }

    /// Buffer `bid`'s memory.
    pub(crate) fn buf_ptr(&self, bid: u16) -> *mut u8 {
        debug_assert!((bid as usize) < self.count);
        self.data.at(bid as usize * self.buf_len)
    }

    #[cfg(uring)]
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Receives into this group are bundles (see [`BufRing::bundles`]).
    #[cfg(uring)]
    pub(crate) fn bundles(&self) -> bool {
        self.bundles
    }

    /// `n` buffers left the group (a reaped completion named them).
    /// Counting only (the driver's state may be borrowed).
    pub(super) fn picked(&self, n: usize) {
        self.available.fetch_sub(n, Ordering::AcqRel);
        self.counters.taken(n as u64);
    }

    /// The producer side of the ring (`None` for a free list).
    #[cfg(uring)]
    pub(super) fn producer(&self) -> Option<crate::sync::MutexGuard<'_, Producer>> {
        match &self.home {
            Home::Ring { producer, .. } => Some(producer.lock()),
            Home::Free(_) => None,
        }
    }

    /// A buffer from the free list (user-space groups only).
    pub(crate) fn take_free(self: &Arc<Self>) -> Option<BufRingBuf> {
        let free = match &self.home {
            Home::Free(free) => free,
            #[cfg(uring)]
            Home::Ring { .. } => return None,
        };
        let bid = free.lock().pop()?;
        self.available.fetch_sub(1, Ordering::AcqRel);
        self.counters.taken(1);
        // SAFETY: `bid` came off the free list, so nobody else holds it.
        Some(unsafe { BufRingBuf::from_group(self.clone(), bid, 0) })
    }

    /// Buffer `bid` comes back to the group (its `BufRingBuf` was dropped).
    ///
    /// # Safety
    ///
    /// The caller owned buffer `bid` (it left the group and was not given
    /// back since) and gives up all access to its memory.
    pub(crate) unsafe fn give_back(&self, bid: u16) {
        self.counters.returned();
        // Counted home before the kernel (or `take_free`) can see it, so a
        // buffer is never counted out twice (`picked` follows a pick). SeqCst
        // pairs with the waiters' registration (see `Waiters::poll`).
        self.available.fetch_add(1, Ordering::SeqCst);
        match &self.home {
            #[cfg(uring)]
            Home::Ring { entries, producer, .. } => {
                let mut producer = producer.lock();
                let Producer { tail, bid_at, entry_of } = &mut *producer;
                let index = *tail as usize & (self.count - 1);
                bid_at[index] = bid;
                entry_of[bid as usize] = index as u16;
                // SAFETY: the entry at the tail is outside what the kernel may
                // read (it reads entries below the published tail, and holds
                // fewer than `count`, since this buffer is out); the producer
                // lock makes us its only writer. The buffer is the caller's to
                // give (contract of this function).
                unsafe { entries.write(index, self.buf_ptr(bid), self.buf_len as u32, bid) };
                *tail = tail.wrapping_add(1);
                // SAFETY: the entry is written; publishing the tail (Release)
                // hands it to the kernel.
                unsafe { entries.publish_tail(*tail) };
            }
            Home::Free(free) => free.lock().push(bid),
        }
        self.waiters.notify_one();
    }

    /// A buffer counts as home again without going back to the ring: the
    /// last piece of an incremental buffer that the kernel is still
    /// filling was dropped.
    #[cfg(uring)]
    pub(super) fn counted_home(&self) {
        self.counters.returned();
        // SeqCst: as in `give_back`.
        self.available.fetch_add(1, Ordering::SeqCst);
        self.waiters.notify_one();
    }

    /// Waits until the group has a buffer (its turn among the waiters).
    pub(crate) fn wait_available(&self) -> BufWait<'_> {
        BufWait {
            pool: self,
            place: Place::default(),
        }
    }

    fn has_buffer(&self) -> bool {
        // SeqCst: see `give_back`.
        self.available.load(Ordering::SeqCst) > 0
    }
}

/// The future of [`Pool::wait_available`].
pub(crate) struct BufWait<'a> {
    pool: &'a Pool,
    place: Place,
}

impl Future for BufWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let pool = this.pool;
        pool.waiters.poll(&mut this.place, || pool.has_buffer(), cx)
    }
}

impl Drop for BufWait<'_> {
    fn drop(&mut self) {
        let pool = self.pool;
        pool.waiters.cancel(&mut self.place, || pool.has_buffer());
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        match &mut self.home {
            #[cfg(uring)]
            Home::Ring { driver, entries, .. } => {
                // Nothing names the group any more (every buffer and every
                // receive held the pool); the kernel may still read the ring
                // until it is unregistered, so the memory goes with that.
                let memory: Box<dyn Send> = Box::new((entries.take(), self.data.take()));
                match driver.upgrade() {
                    Some(ring) => ring.unregister_buf_ring(self.group, memory),
                    None => drop(memory), // the ring is gone, and its groups
                }
            }
            Home::Free(_) => {}
        }
    }
}
