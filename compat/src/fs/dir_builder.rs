//! [`DirBuilder`], as `tokio::fs::DirBuilder`: std's builder, run on tokio's
//! blocking pool as tokio does.

use super::blocking::asyncify;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Creates directories with options.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// ringio_compat::fs::DirBuilder::new()
///     .recursive(true)
///     .mode(0o750)
///     .create("/tmp/ringio-compat/a/b")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct DirBuilder {
    recursive: bool,
    mode: Option<u32>,
}

impl DirBuilder {
    /// A builder for one directory, mode `0o777` less the umask.
    pub fn new() -> DirBuilder {
        DirBuilder::default()
    }

    /// Also create every missing parent (and accept an existing directory).
    pub fn recursive(&mut self, recursive: bool) -> &mut DirBuilder {
        self.recursive = recursive;
        self
    }

    /// Permission bits for the directories created (less the umask).
    pub fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        self.mode = Some(mode);
        self
    }

    /// Creates the directory at `path`.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` (unless recursive and it is a directory); `NotFound`
    /// for a missing parent when not recursive; `PermissionDenied`.
    pub async fn create(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref().to_owned();
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(self.recursive);
        if let Some(mode) = self.mode {
            builder.mode(mode);
        }
        asyncify(move || builder.create(path)).await
    }
}
