//! [`FileTimes`]: tokio's builder of the times `File::set_times` sets, a
//! plain value (std's own `FileTimes` is accepted there too).

use std::time::SystemTime;

/// The access and modification times to set on a file, as
/// `tokio::fs::FileTimes`. A time left unset is not changed.
///
/// # Examples
///
/// ```no_run
/// use std::time::{Duration, SystemTime};
///
/// # async fn run(file: ringio_compat::fs::File) -> std::io::Result<()> {
/// let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
/// let times = ringio_compat::fs::FileTimes::new().set_modified(an_hour_ago);
/// file.set_times(times).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use = "must be applied to a file via `File::set_times` to have any effect"]
pub struct FileTimes {
    accessed: Option<SystemTime>,
    modified: Option<SystemTime>,
}

impl FileTimes {
    /// No times: applying it changes nothing.
    pub fn new() -> FileTimes {
        FileTimes::default()
    }

    /// Sets the last access time.
    pub fn set_accessed(mut self, t: SystemTime) -> FileTimes {
        self.accessed = Some(t);
        self
    }

    /// Sets the last modification time.
    pub fn set_modified(mut self, t: SystemTime) -> FileTimes {
        self.modified = Some(t);
        self
    }
}

impl From<FileTimes> for std::fs::FileTimes {
    fn from(times: FileTimes) -> std::fs::FileTimes {
        let mut std_times = std::fs::FileTimes::new();
        if let Some(t) = times.accessed {
            std_times = std_times.set_accessed(t);
        }
        if let Some(t) = times.modified {
            std_times = std_times.set_modified(t);
        }
        std_times
    }
}
