//! [`File`]'s std and raw-descriptor interop (`into_std`, `try_into_std`,
//! `From<std::fs::File>`, `AsRawFd`, `FromRawFd`), the calls tokio makes on
//! the std file underneath (`metadata`, `try_clone`, `set_times`), `set_max_buf_size`,
//! and tokio's `Debug` text.

use super::File;
use std::fmt;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, RawFd};

impl File {
    /// A std file on a duplicate of the descriptor, for the calls tokio
    /// makes on its std file.
    fn std_dup(&self) -> io::Result<std::fs::File> {
        Ok(std::fs::File::from(self.file.with_fd(|fd| fd.try_clone_to_owned())?))
    }

    /// [`File::std_dup`] at the caller's position.
    fn std_dup_at_pos(&self) -> io::Result<std::fs::File> {
        let mut std_file = self.std_dup()?;
        // A file without a position (a pipe) has none to set.
        let _ = std_file.seek(SeekFrom::Start(self.state().pos));
        Ok(std_file)
    }

    /// Waits for the operation in flight, then turns this file into a std
    /// file at the same position.
    ///
    /// # Panics
    ///
    /// If the descriptor cannot be duplicated (out of descriptors).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let file = ringio_compat::fs::File::open("/etc/hostname").await?;
    /// let std_file: std::fs::File = file.into_std().await;
    /// # drop(std_file); Ok(()) }
    /// ```
    pub async fn into_std(self) -> std::fs::File {
        let _ = self.settle().await;
        self.std_dup_at_pos().expect("duplicating the file's descriptor")
    }

    /// [`File::into_std`] without waiting: gives the file back if an
    /// operation is in flight (or the descriptor cannot be duplicated).
    ///
    /// # Errors
    ///
    /// The file itself, unchanged.
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        if self.state().is_busy() {
            return Err(self);
        }
        match self.std_dup_at_pos() {
            Ok(std_file) => Ok(std_file),
            Err(_) => Err(self),
        }
    }

    /// A second handle to the same open file, at this one's position. Waits
    /// for the operation in flight first. Unlike tokio's clones, which
    /// share the OS file position, each clone keeps its own position (ringio
    /// reads and writes at offsets).
    ///
    /// # Errors
    ///
    /// A pending write's error; out of descriptors.
    pub async fn try_clone(&self) -> io::Result<File> {
        self.settle().await?;
        let clone = File::from_std(self.std_dup_at_pos()?);
        clone.state().max_buf = self.state().max_buf;
        Ok(clone)
    }

    /// The file's metadata, as std gives it (`fstat`), after the operation
    /// in flight: tokio's type, so `permissions()`, `accessed()` and
    /// `MetadataExt` work as they do there.
    ///
    /// # Errors
    ///
    /// A pending write's error; out of descriptors.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let file = ringio_compat::fs::File::open("/etc/hostname").await?;
    /// let readonly = file.metadata().await?.permissions().readonly();
    /// # let _ = readonly; Ok(()) }
    /// ```
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.settle().await?;
        let std_file = self.std_dup()?;
        std_file.metadata()
    }

    /// Sets the access and modification times (`futimens`), after the
    /// operation in flight. `times` is a [`FileTimes`](super::FileTimes), as
    /// with tokio, or std's `FileTimes`.
    ///
    /// # Errors
    ///
    /// A pending write's error; `PermissionDenied`, ...
    pub async fn set_times(&self, times: impl Into<std::fs::FileTimes>) -> io::Result<()> {
        let times = times.into();
        self.settle().await?;
        let std_file = self.std_dup()?;
        std_file.set_times(times)
    }

    /// Sets the modification time, after the operation in flight.
    ///
    /// # Errors
    ///
    /// A pending write's error; `PermissionDenied`, ...
    pub async fn set_modified(&self, time: std::time::SystemTime) -> io::Result<()> {
        self.set_times(std::fs::FileTimes::new().set_modified(time)).await
    }

    /// Sets the file's permissions (`fchmod`), after the operation in flight.
    ///
    /// # Errors
    ///
    /// A pending write's error; `PermissionDenied`, ...
    pub async fn set_permissions(&self, perm: std::fs::Permissions) -> io::Result<()> {
        self.settle().await?;
        let std_file = self.std_dup()?;
        std_file.set_permissions(perm)
    }

    /// The largest single read or write the file buffers.
    pub fn max_buf_size(&self) -> usize {
        self.state().max_buf
    }

    /// Sets the largest single read or write the file buffers (2 MiB by
    /// default, as in tokio).
    ///
    /// # Panics
    ///
    /// If `max_buf_size` is 0, as tokio's does.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let mut file = ringio_compat::fs::File::create("/tmp/big.bin").await?;
    /// file.set_max_buf_size(8 * 1024 * 1024);
    /// # Ok(()) }
    /// ```
    pub fn set_max_buf_size(&mut self, max_buf_size: usize) {
        assert!(max_buf_size > 0, "`max_buf_size` must be greater than 0");
        self.state().max_buf = max_buf_size;
    }
}

impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File::from_std(file)
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for File {
    /// The file's descriptor. From the first call on, closing the engine
    /// file through `as_ringio()` is refused: it closes when this file drops.
    ///
    /// # Panics
    ///
    /// If the engine file was closed through `as_ringio()` first.
    fn as_fd(&self) -> BorrowedFd<'_> {
        crate::net::lent(self.file.lend_fd())
    }
}

impl FromRawFd for File {
    /// Adopts an open file descriptor.
    ///
    /// # Safety
    ///
    /// `fd` must be an open descriptor that nothing else owns.
    unsafe fn from_raw_fd(fd: RawFd) -> File {
        // SAFETY: the caller hands over ownership of an open descriptor.
        File::from_std(unsafe { std::fs::File::from_raw_fd(fd) })
    }
}

/// std's view of a descriptor, for `Debug`.
struct StdView(io::Result<std::fs::File>, RawFd);

impl fmt::Debug for StdView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(file) => file.fmt(f),
            Err(_) => f.debug_struct("File").field("fd", &self.1).finish(),
        }
    }
}

impl fmt::Debug for File {
    /// tokio's text, `tokio::fs::File { std: File { fd: .., path: .., .. } }`
    /// (with std's view of a duplicate descriptor, whose number differs),
    /// so output and tests written against tokio's `Debug` read the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = self.file.with_fd(|fd| fd.try_clone_to_owned()).map(std::fs::File::from);
        f.debug_struct("tokio::fs::File")
            .field("std", &StdView(view, self.file.as_raw_fd()))
            .finish()
    }
}
