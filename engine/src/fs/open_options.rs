//! `OpenOptions`: how to open a file (mirrors `std::fs::OpenOptions`).

use super::File;
use crate::driver::Driver;
use crate::fd::descriptor::Handle;
use crate::op::open::OpenAt;
use std::io;
use std::path::Path;

/// Options for opening a [`File`]; every file is opened `O_CLOEXEC`.
///
/// # Examples
///
/// ```no_run
/// use ringio::fs::OpenOptions;
/// ringio::Runtime::new()?.block_on(async {
///     let f = OpenOptions::new().write(true).create(true).truncate(true).open("/tmp/x").await?;
///     f.close().await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
    direct: bool,
    dsync: bool,
    #[cfg(target_os = "linux")]
    resolve: Option<super::ResolveFlags>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off; mode `0o666` (before umask).
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
            direct: false,
            dsync: false,
            #[cfg(target_os = "linux")]
            resolve: None,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, yes: bool) -> &mut Self {
        self.read = yes;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, yes: bool) -> &mut Self {
        self.write = yes;
        self
    }

    /// Open for appending (implies write).
    pub fn append(&mut self, yes: bool) -> &mut Self {
        self.append = yes;
        self
    }

    /// Truncate to zero length.
    pub fn truncate(&mut self, yes: bool) -> &mut Self {
        self.truncate = yes;
        self
    }

    /// Create if missing.
    pub fn create(&mut self, yes: bool) -> &mut Self {
        self.create = yes;
        self
    }

    /// Create, failing if it exists.
    pub fn create_new(&mut self, yes: bool) -> &mut Self {
        self.create_new = yes;
        self
    }

    /// Permission bits for a created file.
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags. `O_DIRECT` here is the same as
    /// [`direct`](OpenOptions::direct).
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.custom_flags = flags;
        self
    }

    /// Direct I/O (`O_DIRECT`): reads and writes bypass the page cache and
    /// go to the device. Every buffer address, length and file offset must
    /// then be aligned as [`File::dio_alignment`] says; ringio checks each
    /// request before it is submitted and refuses a misaligned one with
    /// `InvalidInput` naming which of the three is off. Use
    /// [`AlignedBuf`](crate::buf::AlignedBuf) for the buffers.
    ///
    /// # Errors
    ///
    /// `open` fails with `Unsupported` where the filesystem refuses
    /// `O_DIRECT` (tmpfs before Linux 6.6, some FUSE filesystems) or the
    /// platform has no such flag (macOS).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let f = ringio::fs::OpenOptions::new().read(true).direct(true).open("/var/tmp/blob").await?;
    ///     let align = f.dio_alignment().await?;
    ///     let (n, buf) = f.read_at(align.buf(4096)?, 0).await;
    ///     println!("{} bytes, {:?}", n?, &buf[..8]);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn direct(&mut self, yes: bool) -> &mut Self {
        self.direct = yes;
        self
    }

    /// Synchronized data writes (`O_DSYNC`): each write returns only once
    /// its data (and the metadata needed to read it back) is durable, as if
    /// followed by `fdatasync`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let f = ringio::fs::OpenOptions::new().write(true).create(true).dsync(true).open("/var/tmp/wal").await?;
    ///     f.write_all_at(b"durable".to_vec(), 0).await.0
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dsync(&mut self, yes: bool) -> &mut Self {
        self.dsync = yes;
        self
    }

    /// Opens with `openat2(2)` and these path-resolution rules (Linux 5.6;
    /// `IORING_OP_OPENAT2`). Most useful with [`open_at`](OpenOptions::open_at)
    /// and [`ResolveFlags::BENEATH`](super::ResolveFlags::BENEATH): a path
    /// that would leave the directory (`..`, an absolute path or symlink)
    /// fails with `CrossesDevices` (`EXDEV`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::fs::{File, OpenOptions, ResolveFlags};
    /// ringio::Runtime::new()?.block_on(async {
    ///     let root = File::open_dir("/srv/www").await?;
    ///     let page = OpenOptions::new()
    ///         .read(true)
    ///         .resolve(ResolveFlags::BENEATH)
    ///         .open_at(&root, "index.html")
    ///         .await?;
    ///     page.close().await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(target_os = "linux")]
    pub fn resolve(&mut self, flags: super::ResolveFlags) -> &mut Self {
        self.resolve = Some(flags);
        self
    }

    fn wants_direct(&self) -> bool {
        #[cfg(not(target_vendor = "apple"))]
        return self.direct || self.custom_flags & libc::O_DIRECT != 0;
        #[cfg(target_vendor = "apple")]
        return self.direct;
    }

    fn flags(&self) -> io::Result<i32> {
        let access = match (self.read, self.write || self.append) {
            (true, false) => libc::O_RDONLY,
            (false, true) => libc::O_WRONLY,
            (true, true) => libc::O_RDWR,
            (false, false) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "neither read nor write requested",
                ))
            }
        };
        let mut flags = access | self.custom_flags;
        if self.dsync {
            flags |= libc::O_DSYNC;
        }
        if self.direct {
            #[cfg(not(target_vendor = "apple"))]
            {
                flags |= libc::O_DIRECT;
            }
            #[cfg(target_vendor = "apple")]
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "O_DIRECT does not exist on this platform (use F_NOCACHE)",
            ));
        }
        if self.append {
            flags |= libc::O_APPEND;
        }
        if self.truncate {
            flags |= libc::O_TRUNC;
        }
        if self.create_new {
            flags |= libc::O_CREAT | libc::O_EXCL;
        } else if self.create {
            flags |= libc::O_CREAT;
        }
        Ok(flags)
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, `AlreadyExists`, `InvalidInput` (no
    /// access mode, or a path with a NUL byte), `Unsupported` for
    /// [`direct`](OpenOptions::direct) on a filesystem without direct I/O,
    /// `CrossesDevices` for a path that [`resolve`](OpenOptions::resolve)
    /// rules out, ...
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        self.open_in(None, path.as_ref()).await
    }

    /// Opens `path` relative to the directory `dir` (`openat2(2)`, Linux 5.6;
    /// `IORING_OP_OPENAT2`), under the [`resolve`](OpenOptions::resolve)
    /// rules if any. `dir` is typically opened with [`File::open_dir`].
    ///
    /// # Errors
    ///
    /// As for [`open`](OpenOptions::open); `NotADirectory` if `dir` is not one.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::fs::{File, OpenOptions};
    /// ringio::Runtime::new()?.block_on(async {
    ///     let dir = File::open_dir("/etc").await?;
    ///     let f = OpenOptions::new().read(true).open_at(&dir, "hostname").await?;
    ///     f.close().await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(target_os = "linux")]
    pub async fn open_at(&self, dir: &File, path: impl AsRef<Path>) -> io::Result<File> {
        self.open_in(Some(dir), path.as_ref()).await
    }

    async fn open_in(&self, dir: Option<&File>, path: &Path) -> io::Result<File> {
        let flags = self.flags()?;
        let path = super::path::cstring(path)?;
        let driver = Driver::current()?;
        #[cfg(target_os = "linux")]
        let fd = if dir.is_some() || self.resolve.is_some() {
            use crate::op::openat2::OpenAt2;
            let dir_ref = match dir {
                Some(d) => Some(d.fd.incref()?.into()),
                None => None,
            };
            let resolve = self.resolve.map_or(0, |r| r.bits());
            let op = OpenAt2::new(dir_ref, path, flags, self.mode, resolve);
            crate::driver::fallback::submit_or_pool(&driver, OpenAt2::CODE, op).await
        } else {
            driver.submit(OpenAt::new(path, flags, self.mode)).await
        };
        #[cfg(not(target_os = "linux"))]
        let fd = {
            let _ = dir;
            driver.submit(OpenAt::new(path, flags, self.mode)).await
        };
        let direct = self.wants_direct();
        let fd = match fd {
            Err(e) if direct && e.raw_os_error() == Some(libc::EINVAL) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "open with O_DIRECT failed with EINVAL: this filesystem does not support direct I/O",
                ))
            }
            other => other?,
        };
        File::adopt(Handle::new(fd), direct).await
    }
}
