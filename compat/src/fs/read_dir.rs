//! [`read_dir`], [`ReadDir`] and [`DirEntry`], as in tokio::fs: the std
//! iterator runs on tokio's blocking pool, a batch of entries at a time.

use super::blocking::asyncify;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::future::{poll_fn, Future};
use std::io;
use std::os::unix::fs::DirEntryExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::task::JoinHandle;

/// Entries read per trip to the blocking pool.
const BATCH: usize = 32;

type Batch = (VecDeque<io::Result<DirEntry>>, Option<std::fs::ReadDir>);

/// The entries of a directory, from [`read_dir`].
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let mut entries = ringio_compat::fs::read_dir("/etc").await?;
/// while let Some(entry) = entries.next_entry().await? {
///     println!("{}", entry.path().display());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ReadDir {
    ready: VecDeque<io::Result<DirEntry>>,
    rest: Option<std::fs::ReadDir>,
    pending: Option<JoinHandle<Batch>>,
}

/// Opens the directory at `path` for reading its entries (`.` and `..` left out).
///
/// # Errors
///
/// `NotFound`; `NotADirectory`; `PermissionDenied`.
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let std_dir = asyncify(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        ready: VecDeque::new(),
        rest: Some(std_dir),
        pending: None,
    })
}

fn next_batch(mut dir: std::fs::ReadDir) -> Batch {
    let mut batch = VecDeque::with_capacity(BATCH);
    for _ in 0..BATCH {
        match dir.next() {
            Some(entry) => batch.push_back(entry.map(|e| DirEntry(Arc::new(e)))),
            None => return (batch, None),
        }
    }
    (batch, Some(dir))
}

impl ReadDir {
    /// The next entry; `None` once every entry was returned. Cancel safe.
    ///
    /// # Errors
    ///
    /// An I/O error reading the directory.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Poll-style [`ReadDir::next_entry`].
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Poll::Ready(entry.map(Some));
            }
            if let Some(pending) = &mut self.pending {
                let batch = ready!(Pin::new(pending).poll(cx));
                self.pending = None;
                let (entries, rest) = batch.map_err(|_| io::Error::other("background task failed"))?;
                self.ready = entries;
                self.rest = rest;
                continue;
            }
            let Some(dir) = self.rest.take() else {
                return Poll::Ready(Ok(None));
            };
            self.pending = Some(tokio::task::spawn_blocking(move || next_batch(dir)));
        }
    }
}

/// One entry of a [`ReadDir`].
#[derive(Debug, Clone)]
pub struct DirEntry(Arc<std::fs::DirEntry>);

impl DirEntry {
    /// The entry's full path (the directory's path joined with its name).
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's name.
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The entry's inode number.
    pub fn ino(&self) -> u64 {
        self.0.ino()
    }

    /// The entry's metadata (not following a symbolic link).
    ///
    /// # Errors
    ///
    /// `NotFound` if it was removed meanwhile.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let entry = self.0.clone();
        asyncify(move || entry.metadata()).await
    }

    /// The entry's file type (not following a symbolic link).
    ///
    /// # Errors
    ///
    /// `NotFound` if it was removed meanwhile.
    pub async fn file_type(&self) -> io::Result<FileType> {
        let entry = self.0.clone();
        asyncify(move || entry.file_type()).await
    }
}
