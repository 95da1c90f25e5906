//! `File`: positional reads and writes with owned buffers (checked against
//! the direct-I/O alignment on `O_DIRECT` files), sync, statx, length,
//! allocation and cache hints, close.

use super::{DioAlignment, Metadata, OpenOptions};
use crate::buf::{FixedBuf, IoBuf, IoBufMut};
use crate::driver::fallback::submit_or_pool;
use crate::driver::Driver;
use crate::error::BufResult;
use crate::fd::descriptor::Handle;
use crate::net::stream_support::try_buf;
use crate::op::fsync::Fsync;
use crate::op::ftruncate::Ftruncate;
use crate::op::rw::{Read, Write};
use crate::op::rwv::{Readv, Writev};
use crate::op::statx::Statx;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::OnceLock;

/// An open file. All I/O is positional (`pread`/`pwrite` style), so one file
/// can serve many concurrent operations.
///
/// # Examples
///
/// ```no_run
/// use ringio::fs::File;
/// ringio::Runtime::new()?.block_on(async {
///     let f = File::create("/tmp/hello.txt").await?;
///     f.write_all_at(b"hello".to_vec(), 0).await.0?;
///     f.sync_all().await?;
///     let (res, buf) = f.read_at(vec![0u8; 5], 0).await;
///     assert_eq!(&buf[..res?], b"hello");
///     f.close().await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct File {
    pub(crate) fd: Handle,
    /// Opened with `O_DIRECT`: every transfer is checked against `align`.
    direct: bool,
    /// The direct-I/O alignment, once asked (at open for direct files).
    align: OnceLock<DioAlignment>,
}

impl File {
    /// Opens read-only.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens write-only, creating or truncating.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Opens a directory (`O_RDONLY | O_DIRECTORY`), e.g. as the starting
    /// point of [`OpenOptions::open_at`].
    ///
    /// # Errors
    ///
    /// `NotFound`; `NotADirectory` if `path` is something else.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let dir = ringio::fs::File::open_dir("/tmp").await?;
    ///     assert!(dir.metadata().await?.is_dir());
    ///     dir.close().await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn open_dir(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(path)
            .await
    }

    /// Adopts a std file. A file opened with `O_DIRECT` is recognized (its
    /// alignment is asked on its first transfer).
    pub fn from_std(file: std::fs::File) -> File {
        let direct = direct_flag(&file);
        File {
            fd: Handle::new(OwnedFd::from(file)),
            direct,
            align: OnceLock::new(),
        }
    }

    /// Wraps a freshly opened descriptor; for a direct file, asks its
    /// alignment now, so `open` reports a file without direct I/O at once.
    pub(crate) async fn adopt(fd: Handle, direct: bool) -> io::Result<File> {
        let file = File {
            fd,
            direct,
            align: OnceLock::new(),
        };
        if direct {
            if let Err(e) = file.direct_alignment().await {
                let _ = file.close().await;
                return Err(e);
            }
        }
        Ok(file)
    }

    /// Runs `f` with the file's descriptor, kept open for the call (for a
    /// `dup`, `futimens` or an `fcntl` ringio has no method for).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Closed`] once the file is closed; else what `f` returns.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn f(file: &ringio::fs::File) -> std::io::Result<()> {
    /// let copy = file.with_fd(|fd| fd.try_clone_to_owned())?;
    /// # drop(copy); Ok(()) }
    /// ```
    pub fn with_fd<R>(&self, f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> io::Result<R>) -> io::Result<R> {
        self.fd.with_io(f)
    }

    /// True if the file was opened with `O_DIRECT`.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// What direct I/O requires of buffers, lengths and offsets on this
    /// file: `statx(STATX_DIOALIGN)` (Linux 6.1) where the kernel and
    /// filesystem report it, else the logical block size of a block device
    /// (`BLKSSZGET`) or the file's `st_blksize` (see [`DioAlignment`]).
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file does not support direct I/O;
    /// [`crate::Error::Closed`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let f = ringio::fs::File::open("/var/tmp/data").await?;
    ///     let a = f.dio_alignment().await?;
    ///     println!("memory {} offset {} (statx: {})", a.memory(), a.offset(), a.from_statx());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn dio_alignment(&self) -> io::Result<DioAlignment> {
        if let Some(a) = self.align.get() {
            return Ok(*a);
        }
        let meta = self.metadata().await?;
        let a = DioAlignment::from_metadata(&meta, || {
            let r = self.fd.incref().ok()?;
            super::dio::logical_block_size(r.borrow())
        })?;
        Ok(*self.align.get_or_init(|| a))
    }

    /// The alignment every transfer must meet, for direct files.
    async fn direct_alignment(&self) -> io::Result<Option<DioAlignment>> {
        if !self.direct {
            return Ok(None);
        }
        self.dio_alignment().await.map(Some)
    }

    /// Reads into `buf` (up to its capacity) at `offset`; `Ok(0)` at end of
    /// file, fewer bytes than asked near it.
    ///
    /// # Errors
    ///
    /// On an `O_DIRECT` file, `InvalidInput` before anything is submitted
    /// if the buffer's address, its capacity or `offset` is not aligned as
    /// [`File::dio_alignment`] says (the message names which);
    /// [`crate::Error::Closed`]; any error of `pread(2)`.
    pub async fn read_at<B: IoBufMut>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        self.read_part(buf, offset, |_, _| None).await
    }

    /// Writes `buf`'s initialized bytes at `offset`; returns how many.
    ///
    /// # Errors
    ///
    /// On an `O_DIRECT` file, `InvalidInput` before anything is submitted
    /// if the buffer's address, its initialized length or `offset` is
    /// misaligned; [`crate::Error::Closed`]; any error of `pwrite(2)`.
    pub async fn write_at<B: IoBuf>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        self.write_part(buf, offset, false, |_, _| None).await
    }

    /// Fills `buf` to its capacity, from its start, with the bytes at
    /// `offset` (what it held before is overwritten, as `read_at` would).
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the file ends first (on a direct file, also when
    /// a short read leaves the rest misaligned, which only happens at the
    /// end of the file); the errors of [`File::read_at`].
    pub async fn read_exact_at<B: IoBufMut>(&self, buf: B, offset: u64) -> BufResult<(), B> {
        let total = buf.bytes_total();
        let mut done = 0;
        let mut slice = buf.slice(done..total);
        while done < total {
            let (res, s) = self.read_at(slice, offset + done as u64).await;
            let buf = s.into_inner();
            match res {
                Ok(0) => return (Err(io::ErrorKind::UnexpectedEof.into()), buf),
                Ok(n) => {
                    done += n;
                    let misaligned = self.align.get().is_some_and(|a| done % a.offset() != 0);
                    if self.direct && done < total && misaligned {
                        return (Err(io::ErrorKind::UnexpectedEof.into()), buf);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
            slice = buf.slice(done..total);
        }
        (Ok(()), slice.into_inner())
    }

    /// Writes all of `buf` at `offset`.
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, offset: u64) -> BufResult<(), B> {
        self.write_all_parts(buf, offset, false).await
    }

    /// Writes `buf` at `offset`, durably: when it completes, the bytes it
    /// wrote, and the metadata needed to read them back, are on stable
    /// storage (`RWF_DSYNC`: one SQE, the kernel's per-write `O_DSYNC`;
    /// `pwritev2` on the readiness backends). Cheaper than `write_at` then
    /// [`File::sync_data`]: one operation, and on devices with FUA, no cache
    /// flush. Returns the count, which may be short, like `write_at`'s.
    ///
    /// # Errors
    ///
    /// As for [`File::write_at`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(log: &ringio::fs::File, end: u64) -> std::io::Result<()> {
    /// let (n, _record) = log.write_at_durable(b"put k v\n".to_vec(), end).await;
    /// println!("{} bytes on stable storage", n?);
    /// # Ok(()) }
    /// ```
    pub async fn write_at_durable<B: IoBuf>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        self.write_part(buf, offset, true, |_, _| None).await
    }

    /// Writes all of `buf` at `offset`, durably: when it returns `Ok`, every
    /// byte is on stable storage (each part by [`File::write_at_durable`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(log: &ringio::fs::File) -> std::io::Result<()> {
    /// let (res, _record) = log.write_all_at_durable(vec![0u8; 8192], 0).await;
    /// res?; // acknowledged only now
    /// # Ok(()) }
    /// ```
    pub async fn write_all_at_durable<B: IoBuf>(&self, buf: B, offset: u64) -> BufResult<(), B> {
        self.write_all_parts(buf, offset, true).await
    }

    /// [`File::read_at`] into a registered buffer (`IORING_OP_READ_FIXED`):
    /// the kernel skips pinning the buffer's pages for this read. A buffer
    /// whose pool is not registered with this file's ring reads as
    /// `read_at` would, with the same result.
    ///
    /// # Errors
    ///
    /// As for [`File::read_at`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(file: &ringio::fs::File, pool: &ringio::buf::BufPool) -> std::io::Result<()> {
    /// let buf = pool.try_get().expect("a free buffer");
    /// let (n, buf) = file.read_fixed_at(buf, 4096).await;
    /// println!("{:?}", &buf[..n?]);
    /// # Ok(()) }
    /// ```
    pub async fn read_fixed_at(&self, buf: FixedBuf, offset: u64) -> BufResult<usize, FixedBuf> {
        self.read_part(buf, offset, Driver::registered_index).await
    }

    /// [`File::write_at`] from a registered buffer (`IORING_OP_WRITE_FIXED`),
    /// as [`File::read_fixed_at`] reads.
    ///
    /// # Errors
    ///
    /// As for [`File::write_at`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(file: &ringio::fs::File, pool: &ringio::buf::BufPool) -> std::io::Result<()> {
    /// let mut buf = pool.try_get().expect("a free buffer");
    /// buf.append(b"block");
    /// let (n, _buf) = file.write_fixed_at(buf, 0).await;
    /// assert_eq!(n?, 5);
    /// # Ok(()) }
    /// ```
    pub async fn write_fixed_at(&self, buf: FixedBuf, offset: u64) -> BufResult<usize, FixedBuf> {
        self.write_part(buf, offset, false, Driver::registered_index).await
    }

    /// One positional read into `buf`: checked for a direct file's
    /// alignment, then `READ` (or `READ_FIXED` into the registered buffer
    /// `index` finds on the file's home ring).
    async fn read_part<B: IoBufMut>(
        &self,
        buf: B,
        offset: u64,
        index: impl FnOnce(&Driver, &B) -> Option<u16>,
    ) -> BufResult<usize, B> {
        if let Some(a) = try_buf!(self.direct_alignment().await, buf) {
            try_buf!(
                a.check("read", buf.stable_ptr() as usize, buf.bytes_total(), offset),
                buf
            );
        }
        let driver = try_buf!(self.fd.driver(), buf);
        let fixed = index(&driver, &buf);
        let r = try_buf!(self.fd.incref(), buf);
        driver.submit(Read::new(r.into(), buf, offset).fixed(fixed)).await
    }

    /// One positional write of `buf`'s initialized bytes, as
    /// [`File::read_part`] reads; `durable` adds `RWF_DSYNC`.
    async fn write_part<B: IoBuf>(
        &self,
        buf: B,
        offset: u64,
        durable: bool,
        index: impl FnOnce(&Driver, &B) -> Option<u16>,
    ) -> BufResult<usize, B> {
        if let Some(a) = try_buf!(self.direct_alignment().await, buf) {
            try_buf!(
                a.check("write", buf.stable_ptr() as usize, buf.bytes_init(), offset),
                buf
            );
        }
        let driver = try_buf!(self.fd.driver(), buf);
        let fixed = index(&driver, &buf);
        let r = try_buf!(self.fd.incref(), buf);
        let write = Write::new(r.into(), buf, offset).fixed(fixed);
        driver.submit(if durable { write.durable() } else { write }).await
    }

    /// Writes all of `buf` at `offset` in as many parts as it takes.
    async fn write_all_parts<B: IoBuf>(&self, buf: B, offset: u64, durable: bool) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut done = 0;
        let mut slice = buf.slice(0..total);
        while done < total {
            let (res, s) = self.write_part(slice, offset + done as u64, durable, |_, _| None).await;
            let buf = s.into_inner();
            match res {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
            slice = buf.slice(done..total);
        }
        (Ok(()), slice.into_inner())
    }

    /// Vectored read at `offset`: fills `bufs` in order, each up to its
    /// capacity (`IORING_OP_READV`; `preadv` on readiness backends). Returns
    /// the total; fewer bytes than asked near the end of the file.
    ///
    /// # Errors
    ///
    /// On an `O_DIRECT` file, `InvalidInput` before submission if any
    /// buffer's address or capacity, or `offset`, is misaligned; as for
    /// [`File::read_at`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(file: &ringio::fs::File) -> std::io::Result<()> {
    /// let (n, bufs) = file.readv_at(vec![Vec::with_capacity(16), Vec::with_capacity(4096)], 0).await;
    /// println!("{} bytes; header {:?}", n?, bufs[0]);
    /// # Ok(()) }
    /// ```
    pub async fn readv_at<B: IoBufMut>(&self, bufs: Vec<B>, offset: u64) -> BufResult<usize, Vec<B>> {
        if let Some(a) = try_buf!(self.direct_alignment().await, bufs) {
            let segments = bufs.iter().map(|b| (b.stable_ptr() as usize, b.bytes_total()));
            try_buf!(a.check_segments("read", segments, offset), bufs);
        }
        let driver = try_buf!(self.fd.driver(), bufs);
        let r = try_buf!(self.fd.incref(), bufs);
        driver.submit(Readv::new(r.into(), bufs, offset)).await
    }

    /// Vectored write of every buffer's initialized bytes, in order, at
    /// `offset` (`IORING_OP_WRITEV`; `pwritev` on readiness backends).
    /// Returns how many bytes were written.
    ///
    /// # Errors
    ///
    /// On an `O_DIRECT` file, `InvalidInput` before submission if any
    /// buffer's address or length, or `offset`, is misaligned; as for
    /// [`File::write_at`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(file: &ringio::fs::File) -> std::io::Result<()> {
    /// let (n, _bufs) = file.writev_at(vec![b"head ".to_vec(), b"body".to_vec()], 0).await;
    /// assert_eq!(n?, 9);
    /// # Ok(()) }
    /// ```
    pub async fn writev_at<B: IoBuf>(&self, bufs: Vec<B>, offset: u64) -> BufResult<usize, Vec<B>> {
        if let Some(a) = try_buf!(self.direct_alignment().await, bufs) {
            let segments = bufs.iter().map(|b| (b.stable_ptr() as usize, b.bytes_init()));
            try_buf!(a.check_segments("write", segments, offset), bufs);
        }
        let driver = try_buf!(self.fd.driver(), bufs);
        let r = try_buf!(self.fd.incref(), bufs);
        driver.submit(Writev::new(r.into(), bufs, offset)).await
    }

    /// Flushes data and metadata to the device (`fsync`).
    pub async fn sync_all(&self) -> io::Result<()> {
        self.sync(false).await
    }

    /// Flushes data (and metadata needed to read it) to the device (`fdatasync`).
    pub async fn sync_data(&self) -> io::Result<()> {
        self.sync(true).await
    }

    async fn sync(&self, data_only: bool) -> io::Result<()> {
        let driver = self.fd.driver()?;
        let r = self.fd.incref()?;
        driver.submit(Fsync::new(r.into(), data_only)).await
    }

    /// Metadata via `statx`.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let driver = self.fd.driver()?;
        let r = self.fd.incref()?;
        driver.submit(Statx::new(r.into())).await.map(Metadata::new)
    }

    /// Truncates or extends the file to `size` bytes: `IORING_OP_FTRUNCATE`
    /// (Linux 6.9) where the ring has it, else `ftruncate(2)` on the
    /// blocking pool.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a file not open for writing; [`crate::Error::Closed`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(file: &ringio::fs::File) -> std::io::Result<()> {
    /// file.set_len(0).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        let driver = self.fd.driver()?;
        let r = self.fd.incref()?;
        let op = Ftruncate::new(r.into(), size);
        // ftruncate on a read-only descriptor says EINVAL (std reports the same kind).
        submit_or_pool(&driver, Ftruncate::CODE, op).await
    }

    /// Allocates, deallocates or zeroes `len` bytes at `offset`
    /// (`IORING_OP_FALLOCATE`, Linux 5.6; `fallocate(2)`). With empty flags
    /// the range is allocated and the file grows to cover it.
    ///
    /// # Errors
    ///
    /// `Unsupported` (`EOPNOTSUPP`) where the filesystem lacks the mode;
    /// `InvalidInput` for a zero length or a bad combination of flags
    /// (`PUNCH_HOLE` needs `KEEP_SIZE`); `StorageFull`; [`crate::Error::Closed`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::fs::FallocateFlags;
    /// # async fn f(file: &ringio::fs::File) -> std::io::Result<()> {
    /// file.allocate(0, 1 << 20, FallocateFlags::empty()).await?; // reserve 1 MiB
    /// file.allocate(0, 4096, FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(target_os = "linux")]
    pub async fn allocate(&self, offset: u64, len: u64, flags: super::FallocateFlags) -> io::Result<()> {
        use crate::op::fallocate::Fallocate;
        let driver = self.fd.driver()?;
        let r = self.fd.incref()?;
        let op = Fallocate::new(r.into(), offset, len, flags.bits());
        submit_or_pool(&driver, Fallocate::CODE, op).await
    }

    /// Tells the kernel how `len` bytes at `offset` (0: to the end) will be
    /// used (`IORING_OP_FADVISE`, Linux 5.6; `posix_fadvise(2)`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a negative range; [`crate::Error::Closed`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(file: &ringio::fs::File) -> std::io::Result<()> {
    /// file.advise(0, 0, ringio::fs::Advice::Sequential).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(target_os = "linux")]
    pub async fn advise(&self, offset: u64, len: u64, advice: super::Advice) -> io::Result<()> {
        use crate::op::fadvise::Fadvise;
        let driver = self.fd.driver()?;
        let r = self.fd.incref()?;
        let op = Fadvise::new(r.into(), offset, len, advice.raw());
        submit_or_pool(&driver, Fadvise::CODE, op).await
    }

    /// Starts or waits for write-out of `len` bytes at `offset` (0: to the
    /// end) (`IORING_OP_SYNC_FILE_RANGE`, Linux 5.2; `sync_file_range(2)`).
    /// It flushes neither metadata nor the device's cache: it smooths
    /// write-back, it does not make data durable (use
    /// [`sync_data`](File::sync_data)).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for bad flags; [`crate::Error::Closed`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::fs::SyncRangeFlags;
    /// # async fn f(file: &ringio::fs::File) -> std::io::Result<()> {
    /// file.sync_range(0, 1 << 20, SyncRangeFlags::WRITE).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(target_os = "linux")]
    pub async fn sync_range(&self, offset: u64, len: u64, flags: super::SyncRangeFlags) -> io::Result<()> {
        use crate::driver::fallback::Pooled;
        use crate::op::sync_range::SyncFileRange;
        let driver = self.fd.driver()?;
        let r = self.fd.incref()?;
        let op = SyncFileRange::new(r.into(), offset, len, flags.bits());
        if len > u64::from(u32::MAX) {
            // The SQE has 32 bits for the length; the syscall has 64.
            Pooled::new(op).await
        } else {
            submit_or_pool(&driver, SyncFileRange::CODE, op).await
        }
    }

    /// Closes the file once in-flight operations are done. Idempotent.
    pub async fn close(&self) -> io::Result<()> {
        self.fd.close().await
    }

    /// The file's descriptor, borrowed for as long as the file is, for a
    /// wrapper that implements `AsFd` (as `ringio-compat` does). In
    /// exchange, from the first call on, [`File::close`] refuses with
    /// [`crate::Error::Lent`]: the file closes when it is dropped, which no
    /// borrow outlives.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Closed`] if `close` was called first.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// let file = ringio::fs::File::open("/etc/hostname").await?;
    /// let fd = file.lend_fd()?;
    /// let len = rustix::fs::fstat(fd)?.st_size;
    /// # let _ = len; Ok(()) }
    /// ```
    pub fn lend_fd(&self) -> io::Result<std::os::fd::BorrowedFd<'_>> {
        self.fd.lend_fd()
    }
}

/// Whether a std file was opened with `O_DIRECT`.
fn direct_flag(file: &std::fs::File) -> bool {
    #[cfg(not(target_vendor = "apple"))]
    return rustix::fs::fcntl_getfl(file).is_ok_and(|f| f.bits() as i32 & libc::O_DIRECT != 0);
    #[cfg(target_vendor = "apple")]
    return {
        let _ = file;
        false
    };
}

impl AsRawFd for File {
    /// The descriptor number, or -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw_fd()
    }
}
