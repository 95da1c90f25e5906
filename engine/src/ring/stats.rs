//! Counters a driver keeps, and the snapshot callers read.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A snapshot of one runtime's driver counters.
///
/// # Examples
///
/// ```no_run
/// let rt = ringio::Runtime::new().unwrap();
/// let stats = rt.stats();
/// println!("{} ops submitted, {} in flight", stats.submitted, stats.in_flight);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// SQEs pushed for operations.
    pub submitted: u64,
    /// Final CQEs reaped for operations.
    pub completed: u64,
    /// Operations whose future was dropped before completion (cancel submitted).
    pub orphaned: u64,
    /// Operations the kernel still owns (submitted, last CQE not reaped).
    pub in_flight: u64,
    /// Operation slots in use: in-flight operations plus completions not yet
    /// taken by their future. Zero when the runtime is idle; anything else
    /// is a leak.
    pub slab_entries: u64,
    /// Calls into `io_uring_enter`.
    pub enters: u64,
    /// Times a full submission queue was drained by submitting early.
    pub sq_full_flushes: u64,
    /// Times the kernel reported completion-queue overflow (no CQE is lost: NODROP).
    pub cq_overflows: u64,
    /// Descriptors registered in the fixed-file table.
    pub fixed_registered: u64,
    /// Descriptors that got no fixed slot because the table was full (they use
    /// their plain number, under the same fd-mutex rule).
    pub fixed_table_full: u64,
    /// Fixed slots in use now.
    pub fixed_in_use: u64,
    /// Zero-copy sends completed (their notification reaped).
    pub zc_sends: u64,
    /// Of those, the ones the kernel copied after all (loopback always does).
    pub zc_copied: u64,
    /// Provided buffers ([`crate::buf::BufRing`]) out of their groups now:
    /// holding received bytes, queued for a reader or in the reader's hands.
    pub bufs_out: u64,
    /// Times a `recv_multi` stream armed its receive again after the
    /// kernel ended it (buffers ran dry, the reader fell behind, ...).
    pub buf_rearms: u64,
    /// Times a buffer group ran dry under a receive (`ENOBUFS`).
    pub buf_enobufs: u64,
    /// Receive completions that carried bytes into a buffer group: CQEs on
    /// io_uring (one per bundle, however many buffers it filled), reads on
    /// readiness backends. Bytes received over this is the bytes per CQE.
    pub buf_recv_cqes: u64,
}

/// The buffer-group counters of one driver, shared with its groups. Buffers
/// go back from any thread, so unlike [`Counters`] these are written by
/// many threads (Relaxed read-modify-writes: they order nothing).
#[derive(Default)]
pub(crate) struct BufCounters {
    out: AtomicU64,
    rearms: AtomicU64,
    enobufs: AtomicU64,
    recv_cqes: AtomicU64,
}

impl BufCounters {
    /// `n` buffers left their group.
    pub(crate) fn taken(&self, n: u64) {
        self.out.fetch_add(n, Relaxed);
    }

    /// One buffer went back to its group.
    pub(crate) fn returned(&self) {
        self.out.fetch_sub(1, Relaxed);
    }

    pub(crate) fn rearmed(&self) {
        self.rearms.fetch_add(1, Relaxed);
    }

    pub(crate) fn ran_dry(&self) {
        self.enobufs.fetch_add(1, Relaxed);
    }

    /// A receive completion brought bytes.
    pub(crate) fn recv_cqe(&self) {
        self.recv_cqes.fetch_add(1, Relaxed);
    }

    /// Copies the counters into `stats`.
    pub(crate) fn fill(&self, stats: &mut Stats) {
        stats.bufs_out = self.out.load(Relaxed);
        stats.buf_rearms = self.rearms.load(Relaxed);
        stats.buf_enobufs = self.enobufs.load(Relaxed);
        stats.buf_recv_cqes = self.recv_cqes.load(Relaxed);
    }
}

/// The counters. Each has one writer, the ring's owner thread, so a bump is
/// a plain load and store (no read-modify-write); other threads read
/// snapshots, Relaxed, which may be a moment old.
#[derive(Default)]
pub(crate) struct Counters {
    pub submitted: AtomicU64,
    pub completed: AtomicU64,
    pub orphaned: AtomicU64,
    pub enters: AtomicU64,
    pub sq_full_flushes: AtomicU64,
    pub cq_overflows: AtomicU64,
    pub fixed_registered: AtomicU64,
    pub fixed_table_full: AtomicU64,
    fixed_in_use: AtomicU64,
    pub zc_sends: AtomicU64,
    pub zc_copied: AtomicU64,
    /// The driver's buffer groups' counters.
    pub bufs: Arc<BufCounters>,
}

impl Counters {
    /// Adds one; only the counter's single writer calls this.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.store(counter.load(Relaxed) + 1, Relaxed);
    }

    pub(crate) fn set_fixed_in_use(&self, n: u32) {
        self.fixed_in_use.store(u64::from(n), Relaxed);
    }

    pub(crate) fn snapshot(&self, slab_entries: u64) -> Stats {
        let submitted = self.submitted.load(Relaxed);
        let completed = self.completed.load(Relaxed);
        let mut stats = Stats {
            submitted,
            completed,
            orphaned: self.orphaned.load(Relaxed),
            in_flight: submitted.saturating_sub(completed),
            slab_entries,
            enters: self.enters.load(Relaxed),
            sq_full_flushes: self.sq_full_flushes.load(Relaxed),
            cq_overflows: self.cq_overflows.load(Relaxed),
            fixed_registered: self.fixed_registered.load(Relaxed),
            fixed_table_full: self.fixed_table_full.load(Relaxed),
            fixed_in_use: self.fixed_in_use.load(Relaxed),
            zc_sends: self.zc_sends.load(Relaxed),
            zc_copied: self.zc_copied.load(Relaxed),
            ..Stats::default()
        };
        self.bufs.fill(&mut stats);
        stats
    }
}
