//! `Slice<B>`: a sub-range of an owned buffer that is itself an owned buffer,
//! so `write_all` and `read_exact` can hand the unfinished part back to the kernel.

use super::{IoBuf, IoBufMut};
use std::ops::{Bound, Deref, DerefMut, RangeBounds};

/// A range `begin..end` of an owned buffer `B`.
///
/// # Examples
///
/// ```
/// use ringio::buf::IoBuf;
/// let s = vec![1u8, 2, 3, 4].slice(1..3);
/// assert_eq!(&s[..], &[2, 3]);
/// assert_eq!(s.into_inner(), vec![1, 2, 3, 4]);
/// ```
#[derive(Debug)]
pub struct Slice<B> {
    buf: B,
    begin: usize,
    end: usize,
}

impl<B: IoBuf> Slice<B> {
    pub(crate) fn new(buf: B, range: impl RangeBounds<usize>) -> Self {
        let begin = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n + 1,
            Bound::Excluded(&n) => n,
            Bound::Unbounded => buf.bytes_total(),
        };
        assert!(
            begin <= end && end <= buf.bytes_total(),
            "slice {begin}..{end} out of bounds"
        );
        Slice { buf, begin, end }
    }

    /// Start of the range within the underlying buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// End of the range within the underlying buffer.
    pub fn end(&self) -> usize {
        self.end
    }

    /// The underlying buffer.
    pub fn get_ref(&self) -> &B {
        &self.buf
    }

    /// Gives the underlying buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }
}

impl<B: IoBuf> Deref for Slice<B> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let init = self.buf.bytes_init().clamp(self.begin, self.end);
        // SAFETY: bytes `begin..init` lie within the buffer's initialized prefix.
        unsafe { std::slice::from_raw_parts(self.buf.stable_ptr().add(self.begin), init - self.begin) }
    }
}

impl<B: IoBufMut> DerefMut for Slice<B> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let init = self.buf.bytes_init().clamp(self.begin, self.end);
        // SAFETY: as for `deref`, and `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.buf.stable_mut_ptr().add(self.begin), init - self.begin) }
    }
}

// SAFETY: the range lies within `B`'s stable memory; initialized length is
// clamped to the range.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn stable_ptr(&self) -> *const u8 {
        // SAFETY: `begin <= bytes_total`, so the pointer stays in (or one past) the block.
        unsafe { self.buf.stable_ptr().add(self.begin) }
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init().clamp(self.begin, self.end) - self.begin
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: writes stay within `begin..end` of `B`'s stable memory.
unsafe impl<B: IoBufMut> IoBufMut for Slice<B> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: as for `stable_ptr`.
        unsafe { self.buf.stable_mut_ptr().add(self.begin) }
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: the caller initialized `pos` bytes from `begin`.
        unsafe { self.buf.set_init(self.begin + pos) }
    }
}
