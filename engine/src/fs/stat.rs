//! `metadata` and `symlink_metadata`: `statx` by path on the ring.

use super::path::cstring;
use super::Metadata;
use crate::driver::fallback::submit_or_pool;
use crate::driver::Driver;
use crate::op::statx_at::StatxAt;
use std::io;
use std::path::Path;

/// Metadata of the file at `path`, following symlinks (`IORING_OP_STATX`,
/// Linux 5.6; `statx(2)`). Like `std::fs::metadata`.
///
/// # Errors
///
/// `NotFound`, `PermissionDenied`, `InvalidInput` for a path with a NUL byte.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let m = ringio::fs::metadata("/etc/hostname").await?;
///     assert!(m.is_file());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), true).await
}

/// Metadata of `path` itself: a symlink is reported as one
/// (`AT_SYMLINK_NOFOLLOW`). Like `std::fs::symlink_metadata`.
///
/// # Errors
///
/// As for [`metadata`].
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let m = ringio::fs::symlink_metadata("/proc/self").await?;
///     assert!(m.is_symlink());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), false).await
}

async fn stat(path: &Path, follow: bool) -> io::Result<Metadata> {
    let driver = Driver::current()?;
    let op = StatxAt::new(cstring(path)?, follow);
    submit_or_pool(&driver, StatxAt::CODE, op).await.map(Metadata::new)
}
