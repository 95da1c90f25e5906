//! Whole-file helpers with std's names: [`read`], [`read_to_string`],
//! [`write()`], built on [`File`] and running on the ring.

use super::{File, OpenOptions};
use crate::buf::IoBuf;
use std::io;
use std::path::Path;

/// Reads the whole file at `path`, like `std::fs::read`.
///
/// # Errors
///
/// `NotFound`, `PermissionDenied`, `IsADirectory`, ...
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let bytes = ringio::fs::read("/etc/hostname").await?;
///     assert!(!bytes.is_empty());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path).await?;
    let res = read_all(&file).await;
    let closed = file.close().await;
    let data = res?;
    closed?;
    Ok(data)
}

/// Reads until end of file, starting from the size `statx` reports (files
/// in /proc report 0 and still have contents, so the size is only a hint).
async fn read_all(file: &File) -> io::Result<Vec<u8>> {
    let hint = file.metadata().await.map_or(0, |m| m.len() as usize);
    let mut buf = Vec::with_capacity(hint.saturating_add(1).max(4096));
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        let offset = buf.len() as u64;
        let start = buf.len();
        let cap = buf.capacity();
        let (res, slice) = file.read_at(buf.slice(start..cap), offset).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => return Ok(buf),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads the whole file at `path` as UTF-8, like `std::fs::read_to_string`.
///
/// # Errors
///
/// `InvalidData` if the contents are not UTF-8; as for [`read`].
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let name = ringio::fs::read_to_string("/etc/hostname").await?;
///     println!("{}", name.trim());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let bytes = read(path).await?;
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// Writes `contents` as the whole file at `path`, creating or truncating
/// it, like `std::fs::write`. The bytes are copied once into an owned
/// buffer (the kernel may read it after this call returns control).
///
/// # Errors
///
/// `NotFound` for a missing directory, `PermissionDenied`, `StorageFull`, ...
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     ringio::fs::write("/tmp/ringio-hello", "hello").await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .await?;
    let (res, _) = file.write_all_at(contents.as_ref().to_vec(), 0).await;
    let closed = file.close().await;
    res?;
    closed
}
