//! Helpers shared by the integration tests: runtimes, descriptor counting.

use std::time::Duration;

/// A runtime for tests (default settings).
pub fn runtime() -> ringio::Runtime {
    ringio::Runtime::new().expect("ringio runtime")
}

/// Number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// A bound on how long any single test step may take before we call it a hang.
pub const STEP: Duration = Duration::from_secs(10);
