//! `BufPool`: buffers registered with the ring once (`register_buffers`), so
//! that file reads and writes into them (`read_fixed_at`, `write_fixed_at`)
//! skip the kernel's per-operation page pinning. Checked out and returned by
//! ownership: a [`FixedBuf`] goes back to its pool when dropped, on any
//! thread.
//!
//! One allocation holds every buffer, page-aligned, so a buffer whose size is
//! a multiple of a file's direct-I/O alignment serves `O_DIRECT` too. On a
//! readiness backend, or when the ring cannot register them (a hosted ring,
//! a full table), the buffers are plain memory and everything works the
//! same, without the saving ([`BufPool::is_registered`]).

use super::{IoBuf, IoBufMut};
use crossbeam_queue::ArrayQueue;
use std::alloc::{self, Layout};
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;

/// Alignment of every buffer: a page, which covers any device's direct-I/O
/// alignment.
const ALIGN: usize = 4096;

/// A pool of registered buffers; see the module docs.
///
/// # Examples
///
/// ```no_run
/// use ringio::buf::BufPool;
/// use ringio::fs::File;
///
/// ringio::Runtime::new()?.block_on(async {
///     let pool = BufPool::new(8, 64 * 1024)?; // registered with this runtime's ring
///     let file = File::open("/etc/hostname").await?;
///     let buf = pool.try_get().expect("a free buffer");
///     let (n, buf) = file.read_fixed_at(buf, 0).await;
///     println!("{} bytes: {:?}", n?, &buf[..]);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct BufPool {
    inner: Arc<Pool>,
}

struct Pool {
    /// The buffers' memory, `count * size` bytes; `None` only while dropping.
    region: Option<Region>,
    size: usize,
    count: u16,
    /// Indices of the buffers not checked out.
    free: ArrayQueue<u16>,
    #[cfg(uring)]
    registration: Option<Registration>,
}

/// Where a pool's buffers are registered: a run of a ring's buffer table.
#[cfg(uring)]
struct Registration {
    ring: crate::ring::WeakDriver,
    ring_id: usize,
    first: u16,
}

/// One allocation, aligned to [`ALIGN`], zeroed.
struct Region {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: `Region` uniquely owns its allocation; which bytes of it each
// thread may touch is decided by the pool's check-out (one `FixedBuf` per
// buffer), not by `Region` itself.
unsafe impl Send for Region {}
// SAFETY: `Region` gives out no references, only its base pointer.
unsafe impl Sync for Region {}

impl Region {
    fn zeroed(len: usize) -> io::Result<Region> {
        let layout = Layout::from_size_align(len, ALIGN).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("BufPool: {len} bytes is too large"),
            )
        })?;
        // SAFETY: `len` is non-zero (the caller checked count and size).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        Ok(Region { ptr, layout })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this layout, freed once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

impl BufPool {
    /// `count` buffers of `size` bytes each, registered with the current
    /// runtime's ring when there is one on this thread.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `count` or `size` is zero or a buffer would exceed
    /// 1 GiB (the kernel's limit); `OutOfMemory` if the memory cannot be
    /// allocated, or pinned (the kernel charges registered buffers to
    /// `RLIMIT_MEMLOCK`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::buf::BufPool::new(0, 4096).is_err());
    /// let pool = ringio::buf::BufPool::new(2, 4096)?; // no runtime: plain memory
    /// assert!(!pool.is_registered());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(count: u16, size: usize) -> io::Result<BufPool> {
        if count == 0 || size == 0 || size > 1 << 30 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("BufPool: {count} buffers of {size} bytes (need at least one buffer of 1 B to 1 GiB)"),
            ));
        }
        let total = size
            .checked_mul(count.into())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "BufPool: size overflows"))?;
        let region = Region::zeroed(total)?;
        let free = ArrayQueue::new(count.into());
        for i in 0..count {
            free.push(i).expect("the queue holds every index");
        }
        #[cfg(uring)]
        let registration = register(&region, size, count)?;
        Ok(BufPool {
            inner: Arc::new(Pool {
                region: Some(region),
                size,
                count,
                free,
                #[cfg(uring)]
                registration,
            }),
        })
    }

    /// A free buffer (empty, `size` bytes of capacity), or `None` if all are
    /// checked out.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = ringio::buf::BufPool::new(1, 512)?;
    /// let buf = pool.try_get().unwrap();
    /// assert!(pool.try_get().is_none());
    /// drop(buf);
    /// assert!(pool.try_get().is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_get(&self) -> Option<FixedBuf> {
        let index = self.inner.free.pop()?;
        Some(FixedBuf {
            pool: self.inner.clone(),
            index,
            len: 0,
        })
    }

    /// Whether the buffers are registered with a ring (else they are plain
    /// memory, and fixed operations run as plain ones).
    pub fn is_registered(&self) -> bool {
        #[cfg(uring)]
        return self.inner.registration.is_some();
        #[cfg(not(uring))]
        false
    }

    /// Bytes in each buffer.
    pub fn buffer_size(&self) -> usize {
        self.inner.size
    }

    /// Buffers in the pool.
    pub fn count(&self) -> u16 {
        self.inner.count
    }

    /// Buffers not checked out right now.
    pub fn available(&self) -> usize {
        self.inner.free.len()
    }
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufPool")
            .field("count", &self.inner.count)
            .field("size", &self.inner.size)
            .field("available", &self.available())
            .field("registered", &self.is_registered())
            .finish()
    }
}

/// Registers the region's buffers with the current thread's ring, if any.
#[cfg(uring)]
fn register(region: &Region, size: usize, count: u16) -> io::Result<Option<Registration>> {
    let Some(crate::driver::Driver::Ring(ring)) = crate::runtime::context::driver() else {
        return Ok(None);
    };
    let iovecs: Vec<libc::iovec> = (0..usize::from(count))
        .map(|i| libc::iovec {
            // SAFETY: in bounds: `i * size` < `count * size`, the region's length.
            iov_base: unsafe { region.ptr.as_ptr().add(i * size) }.cast(),
            iov_len: size,
        })
        .collect();
    // SAFETY: the region lives in the pool, which releases the run (handing
    // the region along, to be freed after) when it drops.
    let first = unsafe { ring.register_buffers(&iovecs) }?;
    Ok(first.map(|first| Registration {
        ring_id: ring.id(),
        ring: ring.downgrade(),
        first,
    }))
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Every `FixedBuf` is gone (each holds the pool), so no operation
        // names these buffers; clear their entries before the memory goes.
        #[cfg(uring)]
        if let (Some(reg), Some(region)) = (self.registration.take(), self.region.take()) {
            match reg.ring.upgrade() {
                Some(ring) => ring.release_buffers(reg.first, self.count, Box::new(region)),
                None => drop(region), // the ring, and its table, are gone
            }
        }
    }
}

/// One buffer of a [`BufPool`], checked out; back to the pool when dropped.
/// Like a `Vec<u8>` with a fixed capacity: reads fill it from its start and
/// extend its length to what they read (never shorten it: `clear` first to
/// reuse it), writes send its contents.
///
/// # Examples
///
/// ```
/// let pool = ringio::buf::BufPool::new(1, 8)?;
/// let mut buf = pool.try_get().unwrap();
/// assert_eq!(buf.append(b"hello, world"), 8); // what fits
/// assert_eq!(&buf[..], b"hello, w");
/// buf.clear();
/// assert!(buf.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct FixedBuf {
    pool: Arc<Pool>,
    index: u16,
    len: usize,
}

impl FixedBuf {
    fn base(&self) -> *mut u8 {
        let region = self
            .pool
            .region
            .as_ref()
            .expect("a pool's region lives while its buffers do");
        // SAFETY: in bounds: `index < count`, and the region is `count * size` bytes.
        unsafe { region.ptr.as_ptr().add(usize::from(self.index) * self.pool.size) }
    }

    /// Bytes of capacity (the pool's buffer size).
    pub fn capacity(&self) -> usize {
        self.pool.size
    }

    /// Empties the buffer (its capacity stays).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Copies as much of `data` as fits after the current contents; returns
    /// how many bytes that was.
    pub fn append(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.pool.size - self.len);
        // SAFETY: `len + n <= size`: in this buffer's bytes, which only this
        // `FixedBuf` touches; `data` is not in the pool (we hold `&mut self`).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.base().add(self.len), n) };
        self.len += n;
        n
    }

    /// The index of this buffer in the buffer table of ring `ring_id`, if
    /// its pool is registered there.
    #[cfg(uring)]
    pub(crate) fn index_on(&self, ring_id: usize) -> Option<u16> {
        let reg = self.pool.registration.as_ref()?;
        (reg.ring_id == ring_id).then(|| reg.first + self.index)
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        // Never full: the queue holds every index, and this one is out.
        let _ = self.pool.free.push(self.index);
    }
}

impl Deref for FixedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of this buffer, initialized (the
        // region is zeroed), touched only through this `FixedBuf`.
        unsafe { std::slice::from_raw_parts(self.base(), self.len) }
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.base(), self.len) }
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.pool.size)
            .finish()
    }
}

// SAFETY: `base()` is this buffer's `size` bytes, all initialized (zeroed at
// allocation), owned by the pool's region, which never moves and lives while
// this `FixedBuf` does (it holds the pool).
unsafe impl IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.base()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.pool.size
    }
}

// SAFETY: as for `IoBuf`; the memory is this `FixedBuf`'s alone to write.
unsafe impl IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.base()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        self.len = self.len.max(pos.min(self.pool.size));
    }
}
