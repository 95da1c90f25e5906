//! Owned buffers: what the kernel may read from or write into while an
//! operation is in flight.
//!
//! io_uring reads and writes memory *after* the call that submitted the request
//! returned, so the buffer cannot be borrowed: it is moved into the operation and
//! handed back with the result ("you give the buffer, you get it back"). The
//! traits are `unsafe` because the driver trusts their pointers: a buffer's
//! memory must stay put while the value is moved around (heap storage, `'static`
//! data), which is what lets a dropped operation keep it alive, untouched, until
//! the kernel's completion arrives.
//!
//! Receive buffers may also be shared by many connections instead: a
//! [`BufRing`] is a group of buffers the kernel picks from as data arrives
//! (`recv_multi`), handed out as [`BufRingBuf`] values that go back to the
//! group when dropped. And file I/O may use registered buffers: a
//! [`BufPool`] of [`FixedBuf`]s the kernel pinned once (`read_fixed_at`).

mod aligned;
mod pool;
mod ring;
mod ring_buf;
mod ring_mem;
#[cfg(uring)]
mod ring_take;
mod ring_wait;
mod slice;

pub use aligned::AlignedBuf;
pub use pool::{BufPool, FixedBuf};
pub(crate) use ring::Pool;
pub use ring::{BufRing, BufRingBuilder};
pub use ring_buf::BufRingBuf;
#[cfg(uring)]
pub(crate) use ring_mem::RingEntries;
pub use slice::Slice;

use std::ops::RangeBounds;

/// A buffer the kernel may read from (the source of a write or send).
///
/// # Safety
///
/// `stable_ptr` must point to `bytes_total` bytes of memory, of which the first
/// `bytes_init` are initialized, and that memory must not move or be freed while
/// the value lives, even if the value itself is moved.
///
/// # Examples
///
/// ```
/// use ringio::buf::IoBuf;
/// let v = b"hello".to_vec();
/// assert_eq!(v.bytes_init(), 5);
/// ```
pub unsafe trait IoBuf: Unpin + Send + 'static {
    /// Pointer to the start of the memory.
    fn stable_ptr(&self) -> *const u8;
    /// Number of initialized bytes (what a write sends).
    fn bytes_init(&self) -> usize;
    /// Capacity in bytes.
    fn bytes_total(&self) -> usize;

    /// A view of `range` within this buffer, which is itself an owned buffer.
    ///
    /// # Panics
    ///
    /// If the range runs past `bytes_total`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::buf::IoBuf;
    /// let s = b"hello world".to_vec().slice(6..);
    /// assert_eq!(&s[..], b"world");
    /// ```
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        Slice::new(self, range)
    }
}

/// A buffer the kernel may write into (the destination of a read or receive).
///
/// # Safety
///
/// As for [`IoBuf`]; in addition `stable_mut_ptr` must be valid for writes of
/// `bytes_total` bytes, and `set_init` may only be called with a length whose
/// bytes were really initialized.
///
/// # Examples
///
/// ```
/// use ringio::buf::IoBufMut;
/// let v: Vec<u8> = Vec::with_capacity(64);
/// assert_eq!(ringio::buf::IoBuf::bytes_total(&v), 64);
/// ```
pub unsafe trait IoBufMut: IoBuf {
    /// Mutable pointer to the start of the memory.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Records that the first `pos` bytes are initialized (never shrinks).
    ///
    /// # Safety
    ///
    /// The first `pos` bytes must be initialized.
    unsafe fn set_init(&mut self, pos: usize);
}

// SAFETY: a Vec's heap block does not move when the Vec value moves; `len` bytes
// are initialized and `capacity` are allocated.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as for `IoBuf`; writes go to the Vec's own allocation.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller guarantees `pos` bytes are initialized, and the
            // kernel never writes past `capacity`.
            unsafe { self.set_len(pos) };
        }
    }
}

// SAFETY: a boxed slice is a stable heap block, fully initialized.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; a boxed slice is always fully initialized.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _pos: usize) {}
}

// SAFETY: `'static` data never moves nor is freed.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: `'static` data never moves nor is freed.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

/// Copies `src` into `buf` at offset `at`, as much as fits before its
/// capacity, and marks everything up to the copy's end initialized; returns
/// how many bytes it copied. For handing out bytes a dropped read received
/// ([`crate::fd::rescue`]), so `at` is at most what is initialized already.
pub(crate) fn fill_at<B: IoBufMut>(buf: &mut B, at: usize, src: &[u8]) -> usize {
    let at = at.min(buf.bytes_init()).min(buf.bytes_total());
    let n = src.len().min(buf.bytes_total() - at);
    // SAFETY: `stable_mut_ptr` is valid for writes of `bytes_total` bytes
    // (`IoBufMut`), and `at + n <= bytes_total`; `src` is a distinct slice
    // (we hold `&mut buf`, so it cannot point into it).
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), buf.stable_mut_ptr().add(at), n) };
    // SAFETY: bytes `..at` were initialized (`at <= bytes_init`), and the
    // copy above initialized `at..at + n`.
    unsafe { buf.set_init(at + n) };
    n
}

/// The first `len` bytes of `buf`.
///
/// # Safety
///
/// `len <= buf.bytes_total()`, and those bytes are initialized (the kernel
/// wrote them, or `bytes_init` covers them), though `bytes_init` need not
/// say so yet.
pub(crate) unsafe fn written<B: IoBuf>(buf: &B, len: usize) -> &[u8] {
    // SAFETY: the caller vouches that `len` bytes from the stable pointer are
    // allocated and initialized; the slice borrows `buf`, which owns them.
    unsafe { std::slice::from_raw_parts(buf.stable_ptr(), len) }
}
