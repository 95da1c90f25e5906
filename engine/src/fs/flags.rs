//! Linux flag sets of the file and directory operations: how `rename_with`
//! renames, how `OpenOptions::resolve` resolves a path, what
//! `File::allocate` does to a range, and `File::advise`'s hints.

bitflags::bitflags! {
    /// `renameat2(2)` flags for [`rename_with`](super::rename_with).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::fs::RenameFlags;
    /// assert!(RenameFlags::NOREPLACE.bits() != RenameFlags::EXCHANGE.bits());
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct RenameFlags: u32 {
        /// `RENAME_NOREPLACE` (Linux 3.15): fail with `AlreadyExists` rather
        /// than replace an existing destination.
        const NOREPLACE = libc::RENAME_NOREPLACE;
        /// `RENAME_EXCHANGE` (Linux 3.15): swap the two paths atomically; both
        /// must exist.
        const EXCHANGE = libc::RENAME_EXCHANGE;
    }
}

bitflags::bitflags! {
    /// `openat2(2)` path-resolution rules (`RESOLVE_*`, Linux 5.6) for
    /// [`OpenOptions::resolve`](super::OpenOptions::resolve).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::fs::ResolveFlags;
    /// let jail = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    /// assert!(jail.contains(ResolveFlags::BENEATH));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct ResolveFlags: u64 {
        /// `RESOLVE_BENEATH`: refuse (`EXDEV`) any path that leaves the
        /// starting directory: `..` above it, absolute paths, absolute symlinks.
        const BENEATH = libc::RESOLVE_BENEATH;
        /// `RESOLVE_IN_ROOT`: treat the starting directory as `/` (a chroot
        /// for this one lookup): `..` and absolute symlinks stay inside.
        const IN_ROOT = libc::RESOLVE_IN_ROOT;
        /// `RESOLVE_NO_SYMLINKS`: refuse (`ELOOP`) any symlink on the path.
        const NO_SYMLINKS = libc::RESOLVE_NO_SYMLINKS;
        /// `RESOLVE_NO_MAGICLINKS`: refuse `/proc/<pid>/fd/*`-style links.
        const NO_MAGICLINKS = libc::RESOLVE_NO_MAGICLINKS;
        /// `RESOLVE_NO_XDEV`: refuse to cross a mount point.
        const NO_XDEV = libc::RESOLVE_NO_XDEV;
        /// `RESOLVE_CACHED` (Linux 5.12): only succeed from the dentry cache
        /// (`EAGAIN` otherwise).
        const CACHED = libc::RESOLVE_CACHED;
    }
}

bitflags::bitflags! {
    /// `fallocate(2)` modes for [`File::allocate`](super::File::allocate).
    /// Empty: allocate the range, growing the file if it ends past its end.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::fs::FallocateFlags;
    /// let punch = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
    /// assert!(punch.contains(FallocateFlags::KEEP_SIZE));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct FallocateFlags: i32 {
        /// `FALLOC_FL_KEEP_SIZE`: allocate without changing the file size.
        const KEEP_SIZE = libc::FALLOC_FL_KEEP_SIZE;
        /// `FALLOC_FL_PUNCH_HOLE` (with `KEEP_SIZE`): deallocate the range;
        /// it then reads as zeros.
        const PUNCH_HOLE = libc::FALLOC_FL_PUNCH_HOLE;
        /// `FALLOC_FL_ZERO_RANGE`: make the range read as zeros, allocated.
        const ZERO_RANGE = libc::FALLOC_FL_ZERO_RANGE;
    }
}

/// `posix_fadvise(2)` hints for [`File::advise`](super::File::advise).
///
/// # Examples
///
/// ```
/// let hint = ringio::fs::Advice::Sequential;
/// assert_ne!(hint, ringio::fs::Advice::Random);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Advice {
    /// `POSIX_FADV_NORMAL`: no special treatment.
    Normal,
    /// `POSIX_FADV_SEQUENTIAL`: read ahead more aggressively.
    Sequential,
    /// `POSIX_FADV_RANDOM`: do not read ahead.
    Random,
    /// `POSIX_FADV_WILLNEED`: start reading the range into the page cache.
    WillNeed,
    /// `POSIX_FADV_DONTNEED`: drop the range's clean pages from the cache.
    DontNeed,
    /// `POSIX_FADV_NOREUSE`: the data will be accessed once.
    NoReuse,
}

impl Advice {
    pub(crate) fn raw(self) -> i32 {
        match self {
            Advice::Normal => libc::POSIX_FADV_NORMAL,
            Advice::Sequential => libc::POSIX_FADV_SEQUENTIAL,
            Advice::Random => libc::POSIX_FADV_RANDOM,
            Advice::WillNeed => libc::POSIX_FADV_WILLNEED,
            Advice::DontNeed => libc::POSIX_FADV_DONTNEED,
            Advice::NoReuse => libc::POSIX_FADV_NOREUSE,
        }
    }
}

bitflags::bitflags! {
    /// `sync_file_range(2)` flags for [`File::sync_range`](super::File::sync_range).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::fs::SyncRangeFlags;
    /// let flush = SyncRangeFlags::WAIT_BEFORE | SyncRangeFlags::WRITE | SyncRangeFlags::WAIT_AFTER;
    /// assert!(flush.contains(SyncRangeFlags::WRITE));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct SyncRangeFlags: u32 {
        /// `SYNC_FILE_RANGE_WAIT_BEFORE`: wait for write-out already in progress.
        const WAIT_BEFORE = libc::SYNC_FILE_RANGE_WAIT_BEFORE;
        /// `SYNC_FILE_RANGE_WRITE`: start write-out of dirty pages.
        const WRITE = libc::SYNC_FILE_RANGE_WRITE;
        /// `SYNC_FILE_RANGE_WAIT_AFTER`: wait for the write-out to finish.
        const WAIT_AFTER = libc::SYNC_FILE_RANGE_WAIT_AFTER;
    }
}
