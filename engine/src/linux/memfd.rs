//! `MemFd`: an anonymous in-memory file (`memfd_create(2)`) that can be
//! sized, sealed against changes, and mapped: the way to hand a block of
//! memory to another process through a descriptor.

use super::mapped::{MappedRegion, MappedRegionMut};
use crate::fd::Fd;
use rustix::fs::{MemfdFlags, SealFlags};
use std::io;
use std::os::fd::AsFd;

bitflags::bitflags! {
    /// How a [`MemFd`] is created (`MFD_*`). `MFD_CLOEXEC` is always added.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{MemFd, MemFdFlags};
    /// let memfd = MemFd::with_flags("no-seals", MemFdFlags::empty())?;
    /// assert!(memfd.seal(ringio::linux::Seals::WRITE).is_err()); // EPERM
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct MemFdFlags: u32 {
        /// `MFD_ALLOW_SEALING`: seals may be added (else the file is born
        /// with `F_SEAL_SEAL`).
        const ALLOW_SEALING = MemfdFlags::ALLOW_SEALING.bits();
        /// `MFD_HUGETLB` (Linux 4.14): back the file with huge pages.
        const HUGETLB = MemfdFlags::HUGETLB.bits();
        /// `MFD_NOEXEC_SEAL` (Linux 6.3): not executable, sealed so.
        const NOEXEC_SEAL = MemfdFlags::NOEXEC_SEAL.bits();
    }
}

bitflags::bitflags! {
    /// File seals (`F_SEAL_*`): restrictions that, once added, can never be
    /// lifted.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::Seals;
    /// let frozen = Seals::WRITE | Seals::SHRINK | Seals::GROW | Seals::SEAL;
    /// assert!(frozen.contains(Seals::WRITE));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Seals: u32 {
        /// `F_SEAL_SEAL`: no more seals may be added.
        const SEAL = SealFlags::SEAL.bits();
        /// `F_SEAL_SHRINK`: the file may not shrink.
        const SHRINK = SealFlags::SHRINK.bits();
        /// `F_SEAL_GROW`: the file may not grow.
        const GROW = SealFlags::GROW.bits();
        /// `F_SEAL_WRITE`: the contents may not change (no `write`, no
        /// writable shared mapping; adding it fails with `EBUSY` while one exists).
        const WRITE = SealFlags::WRITE.bits();
        /// `F_SEAL_FUTURE_WRITE` (Linux 5.1): no new writes, but existing
        /// writable mappings keep writing.
        const FUTURE_WRITE = SealFlags::FUTURE_WRITE.bits();
        /// `F_SEAL_EXEC` (Linux 6.3): the executable bits may not change.
        const EXEC = SealFlags::EXEC.bits();
    }
}

/// An anonymous memory-backed file: size it, fill it, [`seal`](MemFd::seal)
/// it, [`map`](MemFd::map) it, or pass its descriptor to another process.
///
/// Created `MFD_CLOEXEC`. A memfd is a regular file (of `tmpfs`), so it
/// never blocks and has no use for `O_NONBLOCK`: [`fd`](MemFd::fd) gives the
/// [`Fd`] whose [`read_at`](Fd::read_at) and [`write_at`](Fd::write_at) run
/// on the runtime like any file's. Mappings are independent of the
/// descriptor: they stay valid after it is closed.
///
/// `MemFd` is `Send + Sync`; close it with [`close`](MemFd::close)
/// (idempotent) or by dropping it.
///
/// # Examples
///
/// ```no_run
/// use ringio::linux::{MemFd, Seals};
/// ringio::Runtime::new()?.block_on(async {
///     let memfd = MemFd::new("payload")?;
///     memfd.fd().write_at(b"hello".to_vec(), 0).await.0?;
///     memfd.seal(Seals::WRITE | Seals::SHRINK | Seals::GROW | Seals::SEAL)?;
///     assert_eq!(&memfd.map()?[..], b"hello");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct MemFd {
    fd: Fd,
}

impl MemFd {
    /// An empty memfd named `name` (shown in `/proc/<pid>/fd` as
    /// `/memfd:name`), with sealing allowed.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a name longer than 249 bytes; `InvalidInput` for one
    /// with a NUL byte; `EMFILE`, `ENFILE`, `ENOMEM`.
    ///
    /// # Examples
    ///
    /// ```
    /// let memfd = ringio::linux::MemFd::new("buffer")?;
    /// assert_eq!(memfd.len()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(name: &str) -> io::Result<MemFd> {
        MemFd::with_flags(name, MemFdFlags::ALLOW_SEALING)
    }

    /// An empty memfd named `name`, created with `flags` (plus `MFD_CLOEXEC`).
    ///
    /// # Errors
    ///
    /// As for [`MemFd::new`]; `EINVAL` for flags the kernel does not know.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{MemFd, MemFdFlags};
    /// let memfd = MemFd::with_flags("sealable", MemFdFlags::ALLOW_SEALING)?;
    /// assert!(memfd.seals()?.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_flags(name: &str, flags: MemFdFlags) -> io::Result<MemFd> {
        let flags = MemfdFlags::from_bits_retain(flags.bits()) | MemfdFlags::CLOEXEC;
        let fd = rustix::fs::memfd_create(name, flags)?;
        Ok(MemFd {
            fd: Fd::adopt(fd, true),
        })
    }

    /// The file's size in bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// let memfd = ringio::linux::MemFd::new("sized")?;
    /// memfd.set_len(4096)?;
    /// assert_eq!(memfd.len()?, 4096);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[allow(clippy::len_without_is_empty)] // a fallible size, like `File::metadata().len()`
    pub fn len(&self) -> io::Result<u64> {
        let guard = self.fd.incref()?;
        Ok(rustix::fs::fstat(&guard)?.st_size as u64)
    }

    /// Sets the file's size (`ftruncate`): grows with zeros, or shrinks.
    ///
    /// # Errors
    ///
    /// `EPERM` if a `GROW` or `SHRINK` seal forbids it;
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// let memfd = ringio::linux::MemFd::new("resized")?;
    /// memfd.set_len(10)?;
    /// memfd.set_len(5)?;
    /// assert_eq!(memfd.len()?, 5);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        let guard = self.fd.incref()?;
        rustix::fs::ftruncate(&guard, len)?;
        Ok(())
    }

    /// Adds `seals` (`F_ADD_SEALS`). Seals are permanent.
    ///
    /// # Errors
    ///
    /// `EPERM` if sealing is not allowed (created without
    /// [`MemFdFlags::ALLOW_SEALING`], or sealed with [`Seals::SEAL`]);
    /// `EBUSY` for [`Seals::WRITE`] while a writable shared mapping exists;
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{MemFd, Seals};
    /// let memfd = MemFd::new("fixed-size")?;
    /// memfd.set_len(8)?;
    /// memfd.seal(Seals::SHRINK | Seals::GROW)?;
    /// assert!(memfd.set_len(16).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn seal(&self, seals: Seals) -> io::Result<()> {
        let guard = self.fd.incref()?;
        rustix::fs::fcntl_add_seals(&guard, SealFlags::from_bits_retain(seals.bits()))?;
        Ok(())
    }

    /// The seals in place (`F_GET_SEALS`).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{MemFd, Seals};
    /// let memfd = MemFd::new("sealed")?;
    /// memfd.seal(Seals::GROW)?;
    /// assert_eq!(memfd.seals()?, Seals::GROW);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn seals(&self) -> io::Result<Seals> {
        let guard = self.fd.incref()?;
        Ok(Seals::from_bits_retain(rustix::fs::fcntl_get_seals(&guard)?.bits()))
    }

    /// Maps the whole file read-only (`MAP_SHARED`).
    ///
    /// The file must carry the [`Seals::WRITE`] and [`Seals::SHRINK`] seals:
    /// they are what guarantee that the bytes behind the returned slice never
    /// change and never vanish. For a writable mapping, or one of an
    /// unsealed file, see [`map_mut`](MemFd::map_mut).
    ///
    /// # Errors
    ///
    /// `InvalidInput` without those seals; `mmap` errors (`ENOMEM`);
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{MemFd, Seals};
    /// let memfd = MemFd::new("readonly")?;
    /// memfd.set_len(3)?;
    /// assert_eq!(memfd.map().unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// memfd.seal(Seals::WRITE | Seals::SHRINK)?;
    /// assert_eq!(&memfd.map()?[..], &[0, 0, 0]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map(&self) -> io::Result<MappedRegion> {
        let guard = self.fd.incref()?;
        let seals = rustix::fs::fcntl_get_seals(&guard)?;
        if !seals.contains(SealFlags::WRITE | SealFlags::SHRINK) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "MemFd::map needs the WRITE and SHRINK seals (MemFd::map_mut maps without them)",
            ));
        }
        let len = rustix::fs::fstat(&guard)?.st_size as u64;
        MappedRegion::new(guard.as_fd(), len)
    }

    /// Maps the whole file read-write (`MAP_SHARED`): writes to the region
    /// land in the file.
    ///
    /// # Safety
    ///
    /// While the region lives, the mapped bytes must change only through
    /// it: no other writable mapping of this file (in this process or
    /// another, including a second `map_mut`), no `write` or `write_at` on
    /// any descriptor of it. And the file must not shrink below the mapped
    /// length (add [`Seals::SHRINK`] to have the kernel refuse it), or
    /// touching the lost pages raises `SIGBUS`.
    ///
    /// # Errors
    ///
    /// `EPERM` if the file is sealed with [`Seals::WRITE`] or
    /// [`Seals::FUTURE_WRITE`]; `mmap` errors; [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{MemFd, Seals};
    /// let memfd = MemFd::new("shared")?;
    /// memfd.set_len(2)?;
    /// memfd.seal(Seals::SHRINK)?;
    /// // SAFETY: this memfd was just created; nothing else maps or writes it.
    /// let mut region = unsafe { memfd.map_mut()? };
    /// region[0] = 42;
    /// assert_eq!(region[..], [42, 0]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub unsafe fn map_mut(&self) -> io::Result<MappedRegionMut> {
        let guard = self.fd.incref()?;
        let len = rustix::fs::fstat(&guard)?.st_size as u64;
        // SAFETY: the caller keeps this function's contract, which is the region's.
        unsafe { MappedRegionMut::new(guard.as_fd(), len) }
    }

    /// Closes the descriptor once the operations in flight are done; see
    /// [`Fd::close`]. Mappings stay valid. Idempotent.
    ///
    /// # Errors
    ///
    /// None today (see [`Fd::close`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let memfd = ringio::linux::MemFd::new("short-lived")?;
    ///     memfd.close().await?;
    ///     assert!(ringio::Error::is_closed(&memfd.len().unwrap_err()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn close(&self) -> io::Result<()> {
        self.fd.close().await
    }

    /// The underlying descriptor handle (positional reads and writes, guards
    /// to pass the descriptor on).
    ///
    /// # Examples
    ///
    /// ```
    /// let memfd = ringio::linux::MemFd::new("handle")?;
    /// assert!(memfd.fd().raw() >= 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fd(&self) -> &Fd {
        &self.fd
    }
}
