//! Counters shared by every core, and the stats line.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Stats {
    pub accepted: AtomicU64,
    pub active: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
    /// Clients no upstream could be reached for.
    pub upstream_failures: AtomicU64,
    pub resets: AtomicU64,
    pub idle_closes: AtomicU64,
    /// Times accepting backed off for want of descriptors or memory.
    pub accept_backoffs: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn line(&self) -> String {
        format!(
            "connections: {} active, {} accepted; bytes: {} up, {} down; errors: {} no upstream, {} resets, {} idle closes, {} accept back-offs",
            self.active.load(Relaxed),
            self.accepted.load(Relaxed),
            self.bytes_up.load(Relaxed),
            self.bytes_down.load(Relaxed),
            self.upstream_failures.load(Relaxed),
            self.resets.load(Relaxed),
            self.idle_closes.load(Relaxed),
            self.accept_backoffs.load(Relaxed),
        )
    }
}
