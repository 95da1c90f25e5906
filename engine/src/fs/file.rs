//! `File`: positional reads and writes with owned buffers, sync, statx, close.

use super::{Metadata, OpenOptions};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::shared::FdHandle;
use crate::net::stream_support::try_buf;
use crate::op::fsync::Fsync;
use crate::op::rw::{Read, Write};
use crate::op::rwv::{Readv, Writev};
use crate::op::statx::Statx;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

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
    pub(crate) fd: FdHandle,
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

    /// Adopts a std file.
    pub fn from_std(file: std::fs::File) -> File {
        File {
            fd: FdHandle::new(OwnedFd::from(file)),
        }
    }

    /// Reads into `buf` (up to its capacity) at `offset`; `Ok(0)` at end of file.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a misaligned buffer on an `O_DIRECT` file; [`crate::Error::Closed`].
    pub async fn read_at<B: IoBufMut>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let r = try_buf!(self.fd.incref(), buf);
        let (res, buf) = driver.submit(Read::new(r.into(), buf, offset, &driver)).await;
        (res, buf)
    }

    /// Writes `buf`'s initialized bytes at `offset`; returns how many.
    pub async fn write_at<B: IoBuf>(&self, buf: B, offset: u64) -> BufResult<usize, B> {
        let driver = try_buf!(self.fd.driver(), buf);
        let r = try_buf!(self.fd.incref(), buf);
        let (res, buf) = driver.submit(Write::new(r.into(), buf, offset, &driver)).await;
        (res, buf)
    }

    /// Fills `buf` to its capacity, from its start, with the bytes at
    /// `offset` (what it held before is overwritten, as `read_at` would).
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the file ends first.
    pub async fn read_exact_at<B: IoBufMut>(&self, buf: B, offset: u64) -> BufResult<(), B> {
        let total = buf.bytes_total();
        let mut done = 0;
        let mut slice = buf.slice(done..total);
        while done < total {
            let (res, s) = self.read_at(slice, offset + done as u64).await;
            let buf = s.into_inner();
            match res {
                Ok(0) => return (Err(io::ErrorKind::UnexpectedEof.into()), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
            slice = buf.slice(done..total);
        }
        (Ok(()), slice.into_inner())
    }

    /// Writes all of `buf` at `offset`.
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, offset: u64) -> BufResult<(), B> {
        let total = buf.bytes_init();
        let mut done = 0;
        let mut slice = buf.slice(0..total);
        while done < total {
            let (res, s) = self.write_at(slice, offset + done as u64).await;
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

    /// Vectored read at `offset` (`preadv`).
    pub async fn readv_at<B: IoBufMut>(&self, bufs: Vec<B>, offset: u64) -> BufResult<usize, Vec<B>> {
        let driver = try_buf!(self.fd.driver(), bufs);
        let r = try_buf!(self.fd.incref(), bufs);
        driver.submit(Readv::new(r.into(), bufs, offset, &driver)).await
    }

    /// Vectored write at `offset` (`pwritev`).
    pub async fn writev_at<B: IoBuf>(&self, bufs: Vec<B>, offset: u64) -> BufResult<usize, Vec<B>> {
        let driver = try_buf!(self.fd.driver(), bufs);
        let r = try_buf!(self.fd.incref(), bufs);
        driver.submit(Writev::new(r.into(), bufs, offset, &driver)).await
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
        driver.submit(Fsync::new(r.into(), data_only, &driver)).await
    }

    /// Metadata via `statx`.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let driver = self.fd.driver()?;
        let r = self.fd.incref()?;
        driver.submit(Statx::new(r.into())).await.map(Metadata::new)
    }

    /// Truncates or extends the file to `size` bytes (`ftruncate`).
    ///
    /// The call runs on the calling thread: it only changes metadata, and
    /// `IORING_OP_FTRUNCATE` needs Linux 6.9.
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
        self.fd.with(|fd| rustix::fs::ftruncate(fd, size))
    }

    /// Closes the file once in-flight operations are done. Idempotent.
    pub async fn close(&self) -> io::Result<()> {
        self.fd.close().await
    }
}

impl AsRawFd for File {
    /// The descriptor number, or -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw_fd()
    }
}
