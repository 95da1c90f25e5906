//! Creating and removing directories: `mkdirat` and `unlinkat(AT_REMOVEDIR)`
//! on the ring.

use super::path::cstring;
use crate::driver::fallback::submit_or_pool;
use crate::driver::Driver;
use crate::op::mkdir::MkDirAt;
use crate::op::unlink::UnlinkAt;
use std::io;
use std::path::Path;

/// Creates a directory (mode `0o777` before the umask), like
/// `std::fs::create_dir` (`IORING_OP_MKDIRAT`, Linux 5.15; `mkdirat(2)`).
///
/// # Errors
///
/// `AlreadyExists` if anything exists at `path`; `NotFound` if its parent
/// does not; `PermissionDenied`; `InvalidInput` for a path with a NUL byte.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     ringio::fs::create_dir("/tmp/ringio-docs").await?;
///     ringio::fs::remove_dir("/tmp/ringio-docs").await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let driver = Driver::current()?;
    let op = MkDirAt::new(cstring(path.as_ref())?, 0o777);
    submit_or_pool(&driver, MkDirAt::CODE, op).await
}

/// Creates a directory and every missing parent, like
/// `std::fs::create_dir_all`: an existing directory anywhere on the way
/// (also one a concurrent caller just made) is fine.
///
/// # Errors
///
/// `AlreadyExists` if something other than a directory is in the way (as
/// std); the errors of [`create_dir`].
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     ringio::fs::create_dir_all("/tmp/ringio-docs/a/b/c").await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    // Walk up until a create succeeds or finds its parent, then come back down.
    let mut missing = Vec::new();
    let mut at = path;
    loop {
        match create_dir(at).await {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(at);
                match at.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                    _ => return Err(e),
                }
            }
            Err(e) => {
                if is_dir(at).await {
                    break;
                }
                return Err(e);
            }
        }
    }
    for dir in missing.into_iter().rev() {
        match create_dir(dir).await {
            Ok(()) => {}
            Err(e) if is_dir(dir).await => drop(e),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn is_dir(path: &Path) -> bool {
    super::metadata(path).await.is_ok_and(|m| m.is_dir())
}

/// Removes an empty directory, like `std::fs::remove_dir`
/// (`IORING_OP_UNLINKAT` with `AT_REMOVEDIR`, Linux 5.11; `unlinkat(2)`).
///
/// # Errors
///
/// `NotFound`; `DirectoryNotEmpty`; `NotADirectory`; `PermissionDenied`.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     ringio::fs::create_dir("/tmp/ringio-empty").await?;
///     ringio::fs::remove_dir("/tmp/ringio-empty").await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let driver = Driver::current()?;
    let op = UnlinkAt::new(cstring(path.as_ref())?, true);
    submit_or_pool(&driver, UnlinkAt::CODE, op).await
}
