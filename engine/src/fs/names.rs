//! Names in the filesystem: removing a file, renaming (with `renameat2`
//! flags on Linux), hard and symbolic links, all on the ring.

use super::path::cstring;
use crate::driver::fallback::submit_or_pool;
use crate::driver::Driver;
use crate::op::link::LinkAt;
use crate::op::rename::RenameAt;
use crate::op::symlink::SymlinkAt;
use crate::op::unlink::UnlinkAt;
use std::io;
use std::path::Path;

/// Removes a file (or symlink), like `std::fs::remove_file`
/// (`IORING_OP_UNLINKAT`, Linux 5.11; `unlinkat(2)`).
///
/// # Errors
///
/// `NotFound`; `IsADirectory` for a directory (use
/// [`remove_dir`](super::remove_dir)); `PermissionDenied`.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     ringio::fs::write("/tmp/ringio-gone", b"x").await?;
///     ringio::fs::remove_file("/tmp/ringio-gone").await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let driver = Driver::current()?;
    let op = UnlinkAt::new(cstring(path.as_ref())?, false);
    submit_or_pool(&driver, UnlinkAt::CODE, op).await
}

/// Renames `from` to `to`, replacing `to` if it exists, like
/// `std::fs::rename` (`IORING_OP_RENAMEAT`, Linux 5.11; `renameat(2)`).
///
/// # Errors
///
/// `NotFound`; `IsADirectory` / `NotADirectory` / `DirectoryNotEmpty` when
/// the two kinds do not fit; `CrossesDevices` across filesystems.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     ringio::fs::write("/tmp/ringio-a", b"x").await?;
///     ringio::fs::rename("/tmp/ringio-a", "/tmp/ringio-b").await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    rename_raw(from.as_ref(), to.as_ref(), 0).await
}

/// Renames with `renameat2(2)` flags (`IORING_OP_RENAMEAT`, Linux 5.11):
/// [`RenameFlags::NOREPLACE`](super::RenameFlags::NOREPLACE) refuses to
/// replace an existing `to`; [`RenameFlags::EXCHANGE`](super::RenameFlags::EXCHANGE)
/// swaps the two atomically.
///
/// # Errors
///
/// `AlreadyExists` for `NOREPLACE` onto an existing path; `NotFound` (for
/// `EXCHANGE`, if either is missing); `InvalidInput` for both flags at once,
/// or where the filesystem lacks the flag; as for [`rename`].
///
/// # Examples
///
/// ```no_run
/// use ringio::fs::RenameFlags;
/// ringio::Runtime::new()?.block_on(async {
///     ringio::fs::rename_with("/tmp/ringio-new", "/tmp/ringio-current", RenameFlags::EXCHANGE).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(target_os = "linux")]
pub async fn rename_with(from: impl AsRef<Path>, to: impl AsRef<Path>, flags: super::RenameFlags) -> io::Result<()> {
    rename_raw(from.as_ref(), to.as_ref(), flags.bits()).await
}

async fn rename_raw(from: &Path, to: &Path, flags: u32) -> io::Result<()> {
    let driver = Driver::current()?;
    let op = RenameAt::new(cstring(from)?, cstring(to)?, flags);
    submit_or_pool(&driver, RenameAt::CODE, op).await
}

/// Makes `link` a new name for the file `original`, like
/// `std::fs::hard_link` (`IORING_OP_LINKAT`, Linux 5.15; `linkat(2)`). A
/// symlink `original` is linked itself, not followed.
///
/// # Errors
///
/// `NotFound` for a missing `original`; `AlreadyExists` if `link` exists;
/// `CrossesDevices` across filesystems; `PermissionDenied` for a directory.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     ringio::fs::hard_link("/tmp/ringio-b", "/tmp/ringio-b2").await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let driver = Driver::current()?;
    let op = LinkAt::new(cstring(original.as_ref())?, cstring(link.as_ref())?);
    submit_or_pool(&driver, LinkAt::CODE, op).await
}

/// Makes `link` a symbolic link whose contents are `original`, like
/// `std::os::unix::fs::symlink` (`IORING_OP_SYMLINKAT`, Linux 5.15;
/// `symlinkat(2)`). `original` need not exist.
///
/// # Errors
///
/// `AlreadyExists` if `link` exists; `NotFound` if its directory does not.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     ringio::fs::symlink("ringio-b", "/tmp/ringio-sym").await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let driver = Driver::current()?;
    let op = SymlinkAt::new(cstring(original.as_ref())?, cstring(link.as_ref())?);
    submit_or_pool(&driver, SymlinkAt::CODE, op).await
}
