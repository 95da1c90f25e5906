//! `BufRingBuf`: one buffer of a [`BufRing`](super::BufRing) in the user's
//! hands, holding what a receive put in it. It owns the buffer until
//! dropped, then gives it back to its group, from whatever thread drops it.
//! (Bytes a dropped receive left on the stream come back in a buffer of
//! their own, outside any group.) In an incremental group it is a piece of
//! a buffer, and owns only that piece's bytes.

use super::ring::Pool;
use super::{IoBuf, IoBufMut};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// Received bytes in a buffer of a [`BufRing`](super::BufRing); derefs to
/// `[u8]`. Dropping it gives the buffer back to its group.
///
/// It is an owned buffer ([`IoBuf`]), so it can be written out as is, an
/// echo without a copy.
///
/// # Examples
///
/// ```no_run
/// # async fn f(stream: ringio::net::TcpStream, group: ringio::buf::BufRing) -> std::io::Result<()> {
/// let mut rx = stream.recv_multi(&group);
/// while let Some(buf) = rx.next().await {
///     let buf = buf?; // a ringio::buf::BufRingBuf
///     assert!(!buf.is_empty());
///     let (res, _buf) = stream.write_all(buf).await; // back to the group when dropped
///     res?;
/// }
/// # Ok(()) }
/// ```
pub struct BufRingBuf {
    storage: Storage,
    /// Initialized bytes.
    len: usize,
}

enum Storage {
    /// Buffer `bid` of `pool`, ours until dropped.
    Group { pool: Arc<Pool>, bid: u16 },
    /// The bytes of buffer `bid` of incremental group `pool` from `offset`
    /// on, `len` of them, ours until dropped; the rest of the buffer is
    /// other pieces' or the kernel's.
    #[cfg(uring)]
    Piece { pool: Arc<Pool>, bid: u16, offset: usize },
    /// Bytes that were rescued from a dropped receive.
    Own(Vec<u8>),
}

impl BufRingBuf {
    /// Buffer `bid` of `pool`, with `len` bytes received into it.
    ///
    /// # Safety
    ///
    /// The caller owns buffer `bid` (it left the group: a reaped CQE named
    /// it, or it came off the free list) and hands that ownership over;
    /// `len` bytes of it are initialized.
    pub(crate) unsafe fn from_group(pool: Arc<Pool>, bid: u16, len: usize) -> BufRingBuf {
        debug_assert!(len <= pool.buf_len());
        BufRingBuf {
            storage: Storage::Group { pool, bid },
            len,
        }
    }

    /// `len` bytes at `offset` in buffer `bid` of incremental group `pool`.
    ///
    /// # Safety
    ///
    /// The caller owns those bytes (a reaped CQE named them: the kernel
    /// wrote them and writes the buffer only past them until the buffer
    /// goes back), holds one of the buffer's pieces and hands it over; they
    /// are initialized.
    #[cfg(uring)]
    pub(crate) unsafe fn piece(pool: Arc<Pool>, bid: u16, offset: usize, len: usize) -> BufRingBuf {
        debug_assert!(offset + len <= pool.buf_len());
        BufRingBuf {
            storage: Storage::Piece { pool, bid, offset },
            len,
        }
    }

    /// Bytes outside any group.
    pub(crate) fn own(bytes: Vec<u8>) -> BufRingBuf {
        BufRingBuf {
            len: bytes.len(),
            storage: Storage::Own(bytes),
        }
    }

    /// The buffer id in its group (`None` for bytes outside any group:
    /// those a dropped read left on the stream).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(rx: &mut ringio::net::RecvMulti<'_>) -> std::io::Result<()> {
    /// if let Some(buf) = rx.next().await {
    ///     let buf = buf?;
    ///     println!("buffer {:?}: {} bytes", buf.buffer_id(), buf.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn buffer_id(&self) -> Option<u16> {
        match self.storage {
            Storage::Group { bid, .. } => Some(bid),
            #[cfg(uring)]
            Storage::Piece { bid, .. } => Some(bid),
            Storage::Own(_) => None,
        }
    }

    fn ptr(&self) -> *const u8 {
        match &self.storage {
            Storage::Group { pool, bid } => pool.buf_ptr(*bid),
            #[cfg(uring)]
            Storage::Piece { pool, bid, offset } => pool.buf_ptr(*bid).wrapping_add(*offset),
            Storage::Own(v) => v.as_ptr(),
        }
    }

    fn ptr_mut(&mut self) -> *mut u8 {
        match &mut self.storage {
            Storage::Group { pool, bid } => pool.buf_ptr(*bid),
            #[cfg(uring)]
            Storage::Piece { pool, bid, offset } => pool.buf_ptr(*bid).wrapping_add(*offset),
            Storage::Own(v) => v.as_mut_ptr(),
        }
    }

    /// Bytes this value may hold: a whole buffer, or only its own piece
    /// (past it the kernel may be writing the next receive).
    fn capacity(&self) -> usize {
        match &self.storage {
            Storage::Group { pool, .. } => pool.buf_len(),
            #[cfg(uring)]
            Storage::Piece { .. } => self.len,
            Storage::Own(v) => v.len(),
        }
    }
}

impl Deref for BufRingBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `len` bytes at `ptr` are initialized and ours (the buffer
        // left its group and is given back only when `self` drops).
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }
}

impl DerefMut for BufRingBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr_mut(), self.len) }
    }
}

impl std::fmt::Debug for BufRingBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufRingBuf")
            .field("buffer_id", &self.buffer_id())
            .field("len", &self.len)
            .finish()
    }
}

impl Drop for BufRingBuf {
    fn drop(&mut self) {
        match &self.storage {
            // SAFETY: we own buffer `bid` and let go of it here.
            Storage::Group { pool, bid } => unsafe { pool.give_back(*bid) },
            // SAFETY: we own a piece of buffer `bid` and let go of it here.
            #[cfg(uring)]
            Storage::Piece { pool, bid, .. } => unsafe { pool.release_piece(*bid) },
            Storage::Own(_) => {}
        }
    }
}

// SAFETY: the memory is the group's region (stable for as long as the pool
// lives, which `self` keeps alive) or a Vec's heap block; `len` bytes of its
// `capacity` are initialized.
unsafe impl IoBuf for BufRingBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as for `IoBuf`; the `capacity` bytes are ours alone while `self`
// lives (a piece's capacity is its own bytes: the kernel may be writing
// past them).
unsafe impl IoBufMut for BufRingBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr_mut()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        self.len = self.len.max(pos.min(self.capacity()));
    }
}
