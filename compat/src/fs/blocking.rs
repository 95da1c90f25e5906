//! tokio::fs's free functions that ringio has no ring operation for (or
//! whose result is std's type, as `metadata`'s `std::fs::Metadata`): they
//! run the std call on tokio's blocking pool, as tokio does.

use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

/// Runs `f` on tokio's blocking pool.
pub(crate) async fn asyncify<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(res) => res,
        Err(_) => Err(io::Error::other("background task failed")),
    }
}

/// `std::fs::metadata`: follows symbolic links.
///
/// # Errors
///
/// `NotFound`; `PermissionDenied`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let len = ringio_compat::fs::metadata("/etc/hostname").await?.len();
/// # let _ = len; Ok(()) }
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::metadata(path)).await
}

/// `std::fs::symlink_metadata`: about a link itself.
///
/// # Errors
///
/// `NotFound`; `PermissionDenied`.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::symlink_metadata(path)).await
}

/// Copies the contents and permissions of `from` to `to`; returns the bytes copied.
///
/// # Errors
///
/// `NotFound` if `from` is missing; `InvalidInput` if it is not a file.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let n = ringio_compat::fs::copy("/etc/hostname", "/tmp/hostname").await?;
/// # let _ = n; Ok(()) }
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::copy(from, to)).await
}

/// The absolute path with every link resolved.
///
/// # Errors
///
/// `NotFound`.
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::canonicalize(path)).await
}

/// Where a symbolic link points.
///
/// # Errors
///
/// `NotFound`; `InvalidInput` if `path` is not a link.
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_link(path)).await
}

/// Removes a directory and everything in it.
///
/// # Errors
///
/// `NotFound`; `PermissionDenied`.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir_all(path)).await
}

/// Sets the permissions of `path`.
///
/// # Errors
///
/// `NotFound`; `PermissionDenied`.
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::set_permissions(path, perm)).await
}

/// Whether anything exists at `path` (a broken link reads as `false`).
///
/// # Errors
///
/// `PermissionDenied` on a parent, among others: unlike `Path::exists`, an
/// error is not taken for absence.
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    asyncify(move || path.try_exists()).await
}
