//! `AlignedBuf`: an owned heap buffer whose start address is a multiple of
//! a chosen power of two, for `O_DIRECT` I/O (which needs the buffer address,
//! the length and the file offset aligned; see `File::dio_alignment`).
//!
//! It owns one allocation made with that alignment and tracks, like a `Vec`,
//! how many of its bytes are initialized.

use super::{IoBuf, IoBufMut};
use std::alloc::{self, Layout};
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// A heap buffer aligned to `align` bytes, with a capacity and an
/// initialized length like a `Vec<u8>`.
///
/// # Examples
///
/// ```
/// use ringio::buf::AlignedBuf;
/// let mut buf = AlignedBuf::new(8192, 4096)?;
/// assert_eq!(buf.as_ptr() as usize % 4096, 0);
/// assert!(buf.is_empty());
/// buf.extend_from_slice(b"header");
/// buf.resize(4096, 0);
/// assert_eq!(&buf[..6], b"header");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
    align: usize,
}

// SAFETY: `AlignedBuf` uniquely owns its allocation, like `Vec<u8>`.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared references only read the bytes, like `&Vec<u8>`.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// An empty buffer with room for `capacity` bytes, starting at an address
    /// that is a multiple of `align`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `align` is not a power of two or the size overflows;
    /// `OutOfMemory` if the allocation fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = ringio::buf::AlignedBuf::new(4096, 512)?;
    /// assert_eq!(buf.capacity(), 4096);
    /// assert!(ringio::buf::AlignedBuf::new(4096, 3).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(capacity: usize, align: usize) -> io::Result<AlignedBuf> {
        let layout = Layout::from_size_align(capacity, align).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("AlignedBuf: alignment {align} is not a power of two, or {capacity} bytes is too large"),
            )
        })?;
        let ptr = if capacity == 0 {
            // No allocation; any non-null address that is a multiple of `align` will do.
            NonNull::new(align as *mut u8).expect("align is non-zero")
        } else {
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { alloc::alloc(layout) };
            NonNull::new(raw).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?
        };
        Ok(AlignedBuf {
            ptr,
            len: 0,
            cap: capacity,
            align,
        })
    }

    /// A buffer of `len` zero bytes aligned to `align`.
    ///
    /// # Errors
    ///
    /// As for [`AlignedBuf::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = ringio::buf::AlignedBuf::zeroed(512, 512)?;
    /// assert_eq!(&buf[..], &[0u8; 512][..]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn zeroed(len: usize, align: usize) -> io::Result<AlignedBuf> {
        let mut buf = AlignedBuf::new(len, align)?;
        buf.resize(len, 0);
        Ok(buf)
    }

    /// The alignment of the start address.
    pub fn align(&self) -> usize {
        self.align
    }

    /// Bytes the buffer can hold.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Initialized bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no byte is initialized.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the contents (keeps the allocation).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Shortens the initialized part to `len` bytes (no effect if longer).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `data`.
    ///
    /// # Panics
    ///
    /// If `data` does not fit in the remaining capacity (the buffer never
    /// reallocates: that would change its address).
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        assert!(
            data.len() <= self.cap - self.len,
            "AlignedBuf: {} more bytes do not fit ({} of {} used)",
            data.len(),
            self.len,
            self.cap
        );
        // SAFETY: the destination range lies within the allocation (checked
        // above) and cannot overlap `data`, which `&mut self` excludes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), data.len()) };
        self.len += data.len();
    }

    /// Sets the initialized length to `new_len`, filling new bytes with `value`.
    ///
    /// # Panics
    ///
    /// If `new_len` exceeds the capacity.
    pub fn resize(&mut self, new_len: usize, value: u8) {
        assert!(
            new_len <= self.cap,
            "AlignedBuf: {new_len} exceeds capacity {}",
            self.cap
        );
        if new_len > self.len {
            // SAFETY: `len..new_len` lies within the allocation.
            unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(self.len), value, new_len - self.len) };
        }
        self.len = new_len;
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.cap > 0 {
            // SAFETY: allocated in `new` with exactly this layout (validated there).
            unsafe {
                alloc::dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.cap, self.align),
                )
            };
        }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are initialized and owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .field("align", &self.align)
            .finish()
    }
}

// SAFETY: the allocation is owned by the value and freed only by its drop; it
// does not move when the `AlignedBuf` moves, and never reallocates. `len`
// bytes are initialized and `cap` allocated (the same contract as `Vec<u8>`).
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.cap
    }
}

// SAFETY: as for `IoBuf`; writes go to the buffer's own allocation, at most
// `cap` bytes of it.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if self.len < pos {
            self.len = pos.min(self.cap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_bounded() {
        for align in [1, 8, 512, 4096, 65536] {
            let b = AlignedBuf::new(3 * align, align).unwrap();
            assert_eq!(b.as_ptr() as usize % align, 0);
            assert_eq!(b.bytes_total(), 3 * align);
        }
        let empty = AlignedBuf::new(0, 4096).unwrap();
        assert_eq!(empty.stable_ptr() as usize % 4096, 0);
        assert_eq!(AlignedBuf::new(10, 0).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            AlignedBuf::new(usize::MAX, 4096).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn grows_like_a_vec_without_moving() {
        let mut b = AlignedBuf::new(16, 16).unwrap();
        let at = b.stable_ptr();
        b.extend_from_slice(b"abc");
        b.resize(8, b'x');
        assert_eq!(&b[..], b"abcxxxxx");
        b.truncate(2);
        assert_eq!(&b[..], b"ab");
        // SAFETY: 16 bytes are allocated; `set_init` only raises the length.
        unsafe { b.set_init(1) };
        assert_eq!(b.len(), 2);
        assert_eq!(b.stable_ptr(), at);
    }

    #[test]
    #[should_panic(expected = "do not fit")]
    fn never_reallocates() {
        let mut b = AlignedBuf::new(4, 4).unwrap();
        b.extend_from_slice(b"12345");
    }
}
