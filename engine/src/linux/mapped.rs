//! Shared mappings of a [`MemFd`](super::MemFd): [`MappedRegion`]
//! (read-only) and [`MappedRegionMut`] (read-write). Each owns its mapping
//! and unmaps it on drop; the slices it hands out borrow it, so the borrow
//! checker keeps them from outliving the mapping.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

use rustix::mm::{MapFlags, ProtFlags};

/// `len` bytes mapped `MAP_SHARED` from offset 0 of a file, unmapped on drop.
///
/// Invariant: `ptr..ptr + len` is mapped readable (and writable if made so)
/// for as long as the value lives; a `len` of 0 maps nothing.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a mapping is plain memory owned by this value; moving it to
// another thread moves the ownership, and `&Mapping` only reads.
unsafe impl Send for Mapping {}
// SAFETY: shared references only produce `&[u8]`.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(fd: BorrowedFd<'_>, len: u64, writable: bool) -> io::Result<Mapping> {
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file larger than the address space"))?;
        if len == 0 {
            return Ok(Mapping {
                ptr: NonNull::dangling(),
                len: 0,
            });
        }
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: a null address without `MAP_FIXED` lets the kernel choose
        // unused address space, so no existing memory is replaced.
        let ptr = unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0)? };
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { ptr, len })
    }

    /// The mapped bytes.
    ///
    /// # Safety
    ///
    /// Nobody may write the mapped pages (through another mapping, `write(2)`,
    /// another process) while the returned slice lives.
    unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: by the invariant, `len` bytes at `ptr` are mapped readable
        // while `self` lives, which the returned borrow cannot outlive; pages
        // of a shared file mapping are always initialized; the caller rules
        // out concurrent writes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, writable.
    ///
    /// # Safety
    ///
    /// The mapping must be writable, and nobody else may read or write the
    /// mapped pages while the returned slice lives.
    unsafe fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` excludes other slices of this
        // mapping, and the caller rules out access from anywhere else.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: `ptr`/`len` are exactly the mapping `new` made, and no slice
        // of it outlives `self` (every slice borrows it).
        if let Err(err) = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) } {
            tracing::error!(%err, len = self.len, "munmap failed; leaking the mapping");
        }
    }
}

/// A read-only shared mapping of a sealed [`MemFd`](super::MemFd), from
/// [`MemFd::map`](super::MemFd::map). Dereferences to `[u8]`; unmapped when
/// dropped.
///
/// The file's `WRITE` and `SHRINK` seals, which `map` requires, are what
/// make the slice sound: nobody can change the bytes under it, nor shrink
/// the file and turn reads into `SIGBUS`.
///
/// The slice cannot outlive the region:
///
/// ```compile_fail
/// # fn f(memfd: &ringio::linux::MemFd) -> std::io::Result<()> {
/// let bytes: &[u8] = {
///     let region = memfd.map()?;
///     &region[..] // error: `region` does not live long enough
/// };
/// # drop(bytes); Ok(()) }
/// ```
///
/// # Examples
///
/// ```
/// use ringio::linux::{MemFd, Seals};
/// let memfd = MemFd::new("config")?;
/// rustix::io::write(memfd.fd().incref()?, b"key=value")?;
/// memfd.seal(Seals::WRITE | Seals::SHRINK | Seals::GROW | Seals::SEAL)?;
/// let region = memfd.map()?;
/// assert_eq!(&region[..], b"key=value");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct MappedRegion {
    map: Mapping,
}

impl MappedRegion {
    pub(super) fn new(fd: BorrowedFd<'_>, len: u64) -> io::Result<MappedRegion> {
        Ok(MappedRegion {
            map: Mapping::new(fd, len, false)?,
        })
    }
}

impl Deref for MappedRegion {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the file is sealed against writes (checked by
        // `MemFd::map`; seals are permanent), so nothing writes these pages.
        unsafe { self.map.bytes() }
    }
}

impl fmt::Debug for MappedRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedRegion")
            .field("ptr", &self.map.ptr)
            .field("len", &self.map.len)
            .finish()
    }
}

/// A read-write shared mapping of a [`MemFd`](super::MemFd), from
/// [`MemFd::map_mut`](super::MemFd::map_mut). Dereferences to `[u8]` and
/// `mut [u8]`; what is written lands in the file. Unmapped when dropped.
///
/// The slices cannot outlive the region:
///
/// ```compile_fail
/// # fn f(memfd: &ringio::linux::MemFd) -> std::io::Result<()> {
/// let bytes: &mut [u8] = {
///     let mut region = unsafe { memfd.map_mut()? };
///     &mut region[..] // error: `region` does not live long enough
/// };
/// # drop(bytes); Ok(()) }
/// ```
///
/// # Examples
///
/// ```
/// let memfd = ringio::linux::MemFd::new("scratch")?;
/// memfd.set_len(4)?;
/// // SAFETY: nothing else maps or writes this new memfd.
/// let mut region = unsafe { memfd.map_mut()? };
/// region.copy_from_slice(b"abcd");
/// drop(region);
/// let mut back = [0u8; 4];
/// rustix::io::pread(memfd.fd().incref()?, &mut back, 0)?;
/// assert_eq!(&back, b"abcd");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct MappedRegionMut {
    map: Mapping,
}

impl MappedRegionMut {
    /// # Safety
    ///
    /// The contract of [`MemFd::map_mut`](super::MemFd::map_mut).
    pub(super) unsafe fn new(fd: BorrowedFd<'_>, len: u64) -> io::Result<MappedRegionMut> {
        Ok(MappedRegionMut {
            map: Mapping::new(fd, len, true)?,
        })
    }
}

impl Deref for MappedRegionMut {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the creator of this region promised (`MemFd::map_mut`) that
        // its pages change only through it, and `&self` excludes `&mut` slices.
        unsafe { self.map.bytes() }
    }
}

impl DerefMut for MappedRegionMut {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: mapped writable by `new`; the creator promised exclusive
        // access to the pages, and `&mut self` excludes this region's other slices.
        unsafe { self.map.bytes_mut() }
    }
}

impl fmt::Debug for MappedRegionMut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedRegionMut")
            .field("ptr", &self.map.ptr)
            .field("len", &self.map.len)
            .finish()
    }
}
