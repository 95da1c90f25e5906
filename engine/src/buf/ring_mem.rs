//! The memory behind a buffer group: `Region`, one page-aligned zeroed
//! allocation (the buffers), and `RingEntries`, the `io_uring_buf` array the
//! kernel reads buffer ids from, with the tail it watches. Only raw
//! pointers reach either: the kernel writes the buffers and reads the
//! entries while we hold them, so no Rust reference to them may exist
//! except to a buffer its holder owns (see [`super::ring`]).

use std::alloc::{self, Layout};
use std::io;
use std::ptr::NonNull;
#[cfg(uring)]
use std::sync::atomic::{AtomicU16, Ordering};

/// Alignment of both: the kernel wants the ring page-aligned, and aligned
/// buffers cost nothing.
const PAGE: usize = 4096;

/// Faults the pages of `size` bytes at `ptr` in now, writable, where the
/// kernel can (`MADV_POPULATE_WRITE`, Linux 5.14): a large zeroed
/// allocation is otherwise mapped lazily, so the first receive into each page
/// of a buffer would take a page fault on the data path, and the process's
/// resident memory would creep up as the group's buffers are first used
/// instead of being what was asked for. Best effort: elsewhere, or if the
/// kernel refuses, the pages fault in on first use as before.
fn populate(ptr: NonNull<u8>, size: usize) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::mm::{madvise, Advice};
        // SAFETY: `ptr..ptr + size` is an allocation we own and nobody uses
        // yet (no reference to it exists, the kernel has not been given it);
        // populating changes no byte of it, only when its pages are faulted.
        if let Err(err) = unsafe { madvise(ptr.as_ptr().cast(), size, Advice::LinuxPopulateWrite) } {
            tracing::debug!(%err, size, "could not pre-fault a buffer region");
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = (ptr, size);
}

/// One zeroed, page-aligned heap allocation, freed on drop; its pages are
/// faulted in at allocation where the kernel can ([`populate`]).
pub(crate) struct Region {
    ptr: NonNull<u8>,
    /// `None` for an empty region (nothing allocated).
    layout: Option<Layout>,
}

// SAFETY: `Region` uniquely owns its allocation and hands out raw pointers
// only; who may use the memory behind them, from which thread, is the pool's
// protocol (module docs of `buf::ring`).
unsafe impl Send for Region {}
// SAFETY: as above; `&Region` only yields pointers.
unsafe impl Sync for Region {}

impl Region {
    /// `size` zeroed bytes (an empty region for 0).
    pub(crate) fn zeroed(size: usize) -> io::Result<Region> {
        if size == 0 {
            return Ok(Region::empty());
        }
        let layout = Layout::from_size_align(size, PAGE)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "buffer group too large"))?;
        // SAFETY: `layout` has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        populate(ptr, size);
        Ok(Region {
            ptr,
            layout: Some(layout),
        })
    }

    fn empty() -> Region {
        Region {
            ptr: NonNull::dangling(),
            layout: None,
        }
    }

    /// The address `offset` bytes in (`offset` within the region).
    pub(crate) fn at(&self, offset: usize) -> *mut u8 {
        debug_assert!(self.layout.is_some_and(|l| offset < l.size()));
        self.ptr.as_ptr().wrapping_add(offset)
    }

    /// Moves the allocation out, leaving an empty region.
    pub(crate) fn take(&mut self) -> Region {
        std::mem::replace(self, Region::empty())
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Some(layout) = self.layout {
            // SAFETY: allocated in `zeroed` with this layout, freed once.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

/// `struct io_uring_buf`, as the kernel reads it. The first entry's `resv`
/// is the ring's tail.
#[cfg(uring)]
#[repr(C)]
struct Entry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

#[cfg(uring)]
const _: () = assert!(size_of::<Entry>() == 16);

/// The entries of a provided-buffer ring.
#[cfg(uring)]
pub(crate) struct RingEntries {
    region: Region,
}

#[cfg(uring)]
impl RingEntries {
    /// A zeroed ring of `count` entries, at least a page.
    pub(crate) fn new(count: usize) -> io::Result<RingEntries> {
        let size = (count * size_of::<Entry>()).max(PAGE);
        Ok(RingEntries {
            region: Region::zeroed(size)?,
        })
    }

    /// The address the kernel is given.
    pub(crate) fn addr(&self) -> u64 {
        self.region.ptr.as_ptr() as u64
    }

    fn entry(&self, index: usize) -> *mut Entry {
        self.region.ptr.as_ptr().cast::<Entry>().wrapping_add(index)
    }

    /// Fills entry `index` with buffer `bid` at `addr`, `len` bytes long.
    ///
    /// # Safety
    ///
    /// `index` is within the ring, the kernel does not read that entry now
    /// (it is at or past the published tail), and the caller is its only
    /// writer.
    pub(crate) unsafe fn write(&self, index: usize, addr: *mut u8, len: u32, bid: u16) {
        let e = self.entry(index);
        // SAFETY: `e` is within the region (caller), aligned (the region is
        // page-aligned, entries are 16 bytes); field by field, so the first
        // entry's `resv` (the tail, which the kernel reads) is not touched.
        unsafe {
            std::ptr::addr_of_mut!((*e).addr).write(addr as u64);
            std::ptr::addr_of_mut!((*e).len).write(len);
            std::ptr::addr_of_mut!((*e).bid).write(bid);
        }
    }

    /// Publishes `tail`: entries below it are the kernel's to take.
    ///
    /// # Safety
    ///
    /// The caller is the ring's only producer, and every entry between the
    /// previous tail and this one is written.
    pub(crate) unsafe fn publish_tail(&self, tail: u16) {
        let e = self.entry(0);
        // SAFETY: the tail is the first entry's `resv`, 2-aligned, inside the
        // region, and only ever accessed atomically (the kernel loads it with
        // acquire semantics) once the ring is shared.
        let tail_ref = unsafe { AtomicU16::from_ptr(std::ptr::addr_of_mut!((*e).resv)) };
        // Release: the entries written before are visible to the kernel once
        // it sees the new tail.
        tail_ref.store(tail, Ordering::Release);
    }

    /// Moves the memory out (for freeing once the kernel let go of it).
    pub(crate) fn take(&mut self) -> Region {
        self.region.take()
    }
}
