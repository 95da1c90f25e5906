//! tokio::fs's free functions that ringio runs on the ring (or its blocking
//! pool on a readiness backend): whole-file `read`/`write`, directory
//! creation and removal, `remove_file`, `rename` and links. Same names,
//! signatures and error kinds as tokio's.

use crate::reactor::entered;
use std::io;
use std::path::Path;

/// Reads the whole file at `path`.
///
/// # Errors
///
/// `NotFound`, `PermissionDenied`, `IsADirectory`, ...
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let bytes = ringio_compat::fs::read("/etc/hostname").await?;
/// # drop(bytes); Ok(()) }
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    entered(async move { ringio::fs::read(path).await }).await
}

/// Reads the whole file at `path` as UTF-8.
///
/// # Errors
///
/// As [`read`]; `InvalidData` if it is not UTF-8.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let text = ringio_compat::fs::read_to_string("/etc/hostname").await?;
/// # drop(text); Ok(()) }
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    entered(async move { ringio::fs::read_to_string(path).await }).await
}

/// Creates or truncates the file at `path` and writes `contents` to it.
///
/// # Errors
///
/// `NotFound` if the parent directory is missing, `PermissionDenied`, ...
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// ringio_compat::fs::write("/tmp/greeting.txt", "hello").await?;
/// # Ok(()) }
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    entered(async move { ringio::fs::write(path, contents).await }).await
}

/// Creates a directory.
///
/// # Errors
///
/// `AlreadyExists`; `NotFound` if the parent is missing; `PermissionDenied`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// ringio_compat::fs::create_dir("/tmp/ringio-compat-dir").await?;
/// # Ok(()) }
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    entered(async move { ringio::fs::create_dir(path).await }).await
}

/// Creates a directory and every missing parent; an existing directory is fine.
///
/// # Errors
///
/// `AlreadyExists` if a non-directory is in the way; `PermissionDenied`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// ringio_compat::fs::create_dir_all("/tmp/a/b/c").await?;
/// # Ok(()) }
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    entered(async move { ringio::fs::create_dir_all(path).await }).await
}

/// Removes an empty directory.
///
/// # Errors
///
/// `NotFound`; `DirectoryNotEmpty`; `NotADirectory`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// ringio_compat::fs::remove_dir("/tmp/ringio-compat-dir").await?;
/// # Ok(()) }
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    entered(async move { ringio::fs::remove_dir(path).await }).await
}

/// Removes a file (or symbolic link).
///
/// # Errors
///
/// `NotFound`; `IsADirectory`; `PermissionDenied`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// ringio_compat::fs::remove_file("/tmp/greeting.txt").await?;
/// # Ok(()) }
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    entered(async move { ringio::fs::remove_file(path).await }).await
}

/// Renames `from` to `to`, replacing `to` if it exists.
///
/// # Errors
///
/// `NotFound`; `PermissionDenied`; `CrossesDevices`, ...
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// ringio_compat::fs::rename("/tmp/a.txt", "/tmp/b.txt").await?;
/// # Ok(()) }
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    entered(async move { ringio::fs::rename(from, to).await }).await
}

/// Creates a hard link `link` to `original`.
///
/// # Errors
///
/// `AlreadyExists`; `NotFound`; `CrossesDevices`, ...
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// ringio_compat::fs::hard_link("/tmp/a.txt", "/tmp/a-link.txt").await?;
/// # Ok(()) }
/// ```
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    entered(async move { ringio::fs::hard_link(original, link).await }).await
}

/// Creates a symbolic link `link` pointing at `original`.
///
/// # Errors
///
/// `AlreadyExists`; `NotFound` if `link`'s parent is missing, ...
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// ringio_compat::fs::symlink("/tmp/a.txt", "/tmp/a-sym.txt").await?;
/// # Ok(()) }
/// ```
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    entered(async move { ringio::fs::symlink(original, link).await }).await
}
