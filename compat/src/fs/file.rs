//! [`File`]: `tokio::fs::File`'s API over ringio's positional, owned-buffer
//! file operations (io_uring reads and writes; the blocking pool on the
//! readiness fallback).
//!
//! Like tokio's, the file keeps one operation in flight and one buffer:
//! * a read fills the buffer at the current position and copies into the
//!   caller's; what the caller had no room for (or did not wait for, if it
//!   dropped the read future) stays buffered for the next read, so no byte is
//!   lost and none is read twice;
//! * a write copies the caller's bytes into the buffer, starts writing them
//!   and returns `Ok(n)` at once; the next operation, `flush` or
//!   `shutdown` waits for it and reports its error. This is tokio's
//!   contract for files, and why `flush` matters.
//!
//! One copy per direction, between the caller's slice and the buffer the
//! kernel reads from or writes into.

use ringio::buf::IoBuf;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

/// Largest single read or write by default, as in tokio
/// ([`File::set_max_buf_size`] changes it).
const MAX_BUF: usize = 2 * 1024 * 1024;

/// A file, as `tokio::fs::File`: `AsyncRead + AsyncWrite + AsyncSeek`.
///
/// # Examples
///
/// ```no_run
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # async fn run() -> std::io::Result<()> {
/// let mut file = ringio_compat::fs::File::create("/tmp/hello.txt").await?;
/// file.write_all(b"hello").await?;
/// file.flush().await?;
/// let mut text = String::new();
/// ringio_compat::fs::File::open("/tmp/hello.txt").await?.read_to_string(&mut text).await?;
/// # Ok(()) }
/// ```
pub struct File {
    pub(super) file: Arc<ringio::fs::File>,
    state: Mutex<State>,
}

pub(super) struct State {
    /// The caller's position.
    pub(super) pos: u64,
    /// Bytes read ahead: `buf[start..]` are the file's bytes at `pos`.
    buf: Vec<u8>,
    start: usize,
    busy: Option<Busy>,
    /// A background write's error, for the next operation to report.
    write_error: Option<io::Error>,
    /// `SeekFrom::End` waiting for the file's length.
    seek_from_end: Option<i64>,
    /// Largest single read or write.
    pub(super) max_buf: usize,
}

type Busy = Pin<Box<dyn Future<Output = Done> + Send>>;

enum Done {
    Read(io::Result<usize>, Vec<u8>),
    Write(io::Result<()>, Vec<u8>),
    Len(io::Result<u64>),
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("pos", &self.pos)
            .field("buffered", &(self.buf.len() - self.start))
            .field("busy", &self.busy.is_some())
            .finish()
    }
}

impl File {
    /// Opens `path` for reading.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, ...
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        File::options().read(true).open(path).await
    }

    /// Creates (or truncates) `path` for writing.
    ///
    /// # Errors
    ///
    /// `PermissionDenied`, ...
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        File::options().write(true).create(true).truncate(true).open(path).await
    }

    /// Creates `path` for reading and writing, failing if it exists.
    ///
    /// # Errors
    ///
    /// `AlreadyExists`, `PermissionDenied`, ...
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        File::options().read(true).write(true).create_new(true).open(path).await
    }

    /// Options to open a file with.
    pub fn options() -> super::OpenOptions {
        super::OpenOptions::new()
    }

    /// Adopts a std file, at its current position (0 if it has none, as a
    /// pipe). Infallible, as tokio's; outside a runtime the file joins the
    /// reactor of its first operation.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let std_file = std::fs::File::open("/etc/hostname")?;
    /// let file = ringio_compat::fs::File::from_std(std_file);
    /// # drop(file); Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_std(mut file: std::fs::File) -> File {
        use std::io::Seek;
        let pos = file.stream_position().unwrap_or(0);
        let file = match crate::reactor::current() {
            Ok(reactor) => {
                let _entered = reactor.enter();
                ringio::fs::File::from_std(file)
            }
            Err(_) => ringio::fs::File::from_std(file),
        };
        File::new(file, pos)
    }

    pub(crate) fn new(file: ringio::fs::File, pos: u64) -> File {
        File {
            file: Arc::new(file),
            state: Mutex::new(State {
                pos,
                buf: Vec::new(),
                start: 0,
                busy: None,
                write_error: None,
                seek_from_end: None,
                max_buf: MAX_BUF,
            }),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the operation in flight (reporting a background write's error).
    pub(super) async fn settle(&self) -> io::Result<()> {
        poll_fn(|cx| self.state().poll_settle(cx)).await
    }

    /// Flushes data and metadata to the device, after the write in flight.
    ///
    /// # Errors
    ///
    /// A pending write's error, or the `fsync` error.
    pub async fn sync_all(&self) -> io::Result<()> {
        self.settle().await?;
        self.file.sync_all().await
    }

    /// Flushes data to the device, after the write in flight.
    ///
    /// # Errors
    ///
    /// A pending write's error, or the `fdatasync` error.
    pub async fn sync_data(&self) -> io::Result<()> {
        self.settle().await?;
        self.file.sync_data().await
    }

    /// Truncates or extends the file, after the write in flight. The
    /// position is unchanged.
    ///
    /// # Errors
    ///
    /// A pending write's error; `InvalidInput` if not open for writing.
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        self.settle().await?;
        self.state().discard_read_ahead();
        self.file.set_len(size).await
    }

    /// The engine-level file, for positional owned-buffer I/O.
    pub fn as_ringio(&self) -> &ringio::fs::File {
        &self.file
    }
}

impl State {
    /// Drives the operation in flight to completion and files its result.
    fn poll_busy(&mut self, cx: &mut Context<'_>) -> Poll<Option<Done>> {
        let Some(busy) = &mut self.busy else {
            return Poll::Ready(None);
        };
        let done = ready!(busy.as_mut().poll(cx));
        self.busy = None;
        Poll::Ready(Some(done))
    }

    /// Completes whatever is in flight; `Ok` once idle with no error to report.
    fn poll_settle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(done) = ready!(self.poll_busy(cx)) {
            self.file_result(done);
        }
        Poll::Ready(self.write_error.take().map_or(Ok(()), Err))
    }

    /// Records a finished operation that no caller is waiting on directly.
    fn file_result(&mut self, done: Done) {
        match done {
            // A read whose future was dropped: keep the bytes for the next read.
            Done::Read(Ok(n), mut buf) => {
                buf.truncate(n);
                self.buf = buf;
                self.start = 0;
            }
            Done::Read(Err(_), mut buf) => {
                buf.clear();
                self.buf = buf;
                self.start = 0;
            }
            Done::Write(res, buf) => {
                self.buf = buf;
                self.buf.clear();
                self.start = 0;
                if let Err(e) = res {
                    self.write_error.get_or_insert(e);
                }
            }
            Done::Len(res) => {
                let from_end = self.seek_from_end.take().unwrap_or(0);
                match res.and_then(|len| offset(len, from_end)) {
                    Ok(pos) => self.pos = pos,
                    Err(e) => {
                        self.write_error.get_or_insert(e);
                    }
                }
            }
        }
    }

    /// True while an operation is in flight.
    pub(super) fn is_busy(&self) -> bool {
        self.busy.is_some()
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn discard_read_ahead(&mut self) {
        self.buf.clear();
        self.start = 0;
    }
}

/// `base + delta`, refusing to go below zero.
fn offset(base: u64, delta: i64) -> io::Result<u64> {
    base.checked_add_signed(delta).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid seek to a negative or overflowing position",
        )
    })
}

impl AsyncRead for File {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, dst: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let file = &this.file;
        let st = this.state.get_mut().unwrap_or_else(|p| p.into_inner());
        loop {
            if !st.buffered().is_empty() {
                let n = st.buffered().len().min(dst.remaining());
                dst.put_slice(&st.buffered()[..n]);
                st.start += n;
                st.pos += n as u64;
                return Poll::Ready(Ok(()));
            }
            match ready!(st.poll_busy(cx)) {
                Some(Done::Read(Ok(0), buf)) => {
                    st.buf = buf;
                    st.discard_read_ahead();
                    return Poll::Ready(Ok(())); // end of file
                }
                Some(Done::Read(Err(e), buf)) => {
                    st.buf = buf;
                    st.discard_read_ahead();
                    return Poll::Ready(Err(e));
                }
                Some(done) => {
                    st.file_result(done);
                    continue;
                }
                None => {}
            }
            if let Some(e) = st.write_error.take() {
                return Poll::Ready(Err(e));
            }
            if dst.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let mut buf = std::mem::take(&mut st.buf);
            buf.clear();
            st.start = 0;
            // At most `max_buf` bytes per read, however large the recycled
            // buffer has grown.
            let want = dst.remaining().min(st.max_buf);
            buf.reserve(want);
            let (file, pos) = (file.clone(), st.pos);
            st.busy = Some(Box::pin(async move {
                let (res, slice) = file.read_at(buf.slice(..want), pos).await;
                Done::Read(res, slice.into_inner())
            }));
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, src: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(src)])
    }

    /// Takes every slice (up to the buffer limit) into one background
    /// write, as tokio's `File` does.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        srcs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let file = &this.file;
        let st = this.state.get_mut().unwrap_or_else(|p| p.into_inner());
        ready!(st.poll_settle(cx))?;
        // Writing moves on from where the caller is, not from the read-ahead.
        st.discard_read_ahead();
        let mut buf = std::mem::take(&mut st.buf);
        for src in srcs {
            let room = st.max_buf - buf.len();
            buf.extend_from_slice(&src[..src.len().min(room)]);
            if room <= src.len() {
                break;
            }
        }
        let n = buf.len();
        let (file, pos) = (file.clone(), st.pos);
        st.pos += n as u64;
        st.busy = Some(Box::pin(async move {
            let (res, buf) = file.write_all_at(buf, pos).await;
            Done::Write(res, buf)
        }));
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let st = self.get_mut().state.get_mut().unwrap_or_else(|p| p.into_inner());
        st.poll_settle(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        let file = &this.file;
        let st = this.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if st.busy.is_some() {
            return Err(io::Error::other(
                "other file operation is pending, call poll_complete before start_seek",
            ));
        }
        // The read-ahead belongs to the old position.
        st.discard_read_ahead();
        match position {
            SeekFrom::Start(pos) => st.pos = pos,
            SeekFrom::Current(delta) => st.pos = offset(st.pos, delta)?,
            SeekFrom::End(delta) => {
                st.seek_from_end = Some(delta);
                let file = file.clone();
                st.busy = Some(Box::pin(
                    async move { Done::Len(file.metadata().await.map(|m| m.len())) },
                ));
            }
        }
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let st = self.get_mut().state.get_mut().unwrap_or_else(|p| p.into_inner());
        ready!(st.poll_settle(cx))?;
        // A read that finished in the background is ahead of `pos`, which
        // stays the caller's position.
        Poll::Ready(Ok(st.pos))
    }
}
