//! Paths as the kernel takes them: NUL-terminated bytes owned by the
//! operation that passes them.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `path` as a C string.
///
/// # Errors
///
/// `InvalidInput` if it contains a NUL byte (as std reports it).
pub(crate) fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}
