//! [`OpenOptions`], as `tokio::fs::OpenOptions`.

use super::File;
use std::io;
use std::path::Path;

/// How to open a [`File`]; the same builder as `tokio::fs::OpenOptions`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let file = ringio_compat::fs::OpenOptions::new()
///     .read(true)
///     .write(true)
///     .create(true)
///     .open("/tmp/data.bin")
///     .await?;
/// # drop(file); Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    inner: ringio::fs::OpenOptions,
}

impl OpenOptions {
    /// Nothing allowed yet; set at least `read` or `write`.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Open for reading.
    pub fn read(&mut self, yes: bool) -> &mut OpenOptions {
        self.inner.read(yes);
        self
    }

    /// Open for writing.
    pub fn write(&mut self, yes: bool) -> &mut OpenOptions {
        self.inner.write(yes);
        self
    }

    /// Every write goes to the end of the file (`O_APPEND`). The kernel
    /// appends whatever position the file reports.
    pub fn append(&mut self, yes: bool) -> &mut OpenOptions {
        self.inner.append(yes);
        self
    }

    /// Truncate to length 0 on open.
    pub fn truncate(&mut self, yes: bool) -> &mut OpenOptions {
        self.inner.truncate(yes);
        self
    }

    /// Create the file if it does not exist.
    pub fn create(&mut self, yes: bool) -> &mut OpenOptions {
        self.inner.create(yes);
        self
    }

    /// Create the file, failing if it exists.
    pub fn create_new(&mut self, yes: bool) -> &mut OpenOptions {
        self.inner.create_new(yes);
        self
    }

    /// Permission bits for a created file (default `0o666`, less the umask).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.inner.mode(mode);
        self
    }

    /// Extra `open(2)` flags, e.g. `O_DIRECT`.
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.inner.custom_flags(flags);
        self
    }

    /// Opens `path` (through the ring: `IORING_OP_OPENAT`).
    ///
    /// # Errors
    ///
    /// `NotFound`, `AlreadyExists`, `PermissionDenied`, `InvalidInput`, ...
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let options = self.inner.clone();
        let path = path.as_ref().to_path_buf();
        let file = crate::reactor::entered(async move { options.open(path).await }).await?;
        Ok(File::new(file, 0))
    }
}
