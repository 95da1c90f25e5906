//! Helpers shared by the integration tests: runtimes, descriptor counting.

use std::time::Duration;

/// A runtime for tests (default settings).
pub fn runtime() -> ringio::Runtime {
    ringio::Runtime::new().expect("ringio runtime")
}

/// Number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

/// A bound on how long any single test step may take before we call it a hang.
pub const STEP: Duration = Duration::from_secs(10);

/// A runtime with `slots` fixed-file slots (0: plain descriptors only).
pub fn runtime_with_fixed(slots: u32) -> ringio::Runtime {
    ringio::Runtime::builder()
        .fixed_files(slots)
        .build()
        .expect("ringio runtime")
}

/// Polls `future` exactly once, then drops it: the way a `select!` or a
/// timeout abandons an operation mid-flight.
pub async fn poll_once<F: std::future::Future>(future: F) -> bool {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx).is_ready())).await
}

/// Yields until the runtime has no operation in the kernel and no slab entry
/// (abandoned operations are reaped asynchronously), or panics after `STEP`.
pub async fn settle() -> ringio::Stats {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let stats = ringio::runtime::stats().expect("inside a runtime");
        if stats.in_flight == 0 && stats.slab_entries == 0 {
            return stats;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "operations never drained: {stats:?}"
        );
        ringio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Serializes tests that count descriptors or depend on which number the
/// kernel hands out next: tests in one binary run on parallel threads.
pub fn fd_serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// An io_uring runtime from `builder`, or `None` (with a message) where the
/// kernel denies io_uring: tests of the ring itself skip there.
pub fn uring(builder: &mut ringio::Builder) -> Option<ringio::Runtime> {
    match builder.backend(ringio::Backend::IoUring).build() {
        Ok(rt) => Some(rt),
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
            eprintln!("skipped: io_uring unavailable here: {e}");
            None
        }
        Err(e) => panic!("building an io_uring runtime: {e}"),
    }
}
