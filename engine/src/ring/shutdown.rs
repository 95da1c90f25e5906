//! The ring's end of its runtime's lifecycle: going idle when the owner
//! leaves `block_on` (operations of other threads in flight are cancelled,
//! since nothing would reap them), and shutting down when the runtime is
//! dropped (every operation cancelled, and the kernel waited for, before
//! any memory it may write is freed).

use super::driver::{Driver, WAKE_TOKEN};
use super::owner::OwnerGuard;
use crate::error::Error;
use io_uring::opcode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

impl Driver {
    /// The owner enters (`true`) or leaves (`false`) `block_on`. While the
    /// owner is away nothing reaps this ring, so operations of other threads
    /// are refused with [`Error::HomeIdle`], and leaving cancels those in
    /// flight (they complete with `HomeIdle`) and waits for the kernel to
    /// release them. The owner's own tasks keep their operations: they
    /// resume on the next `block_on`.
    pub(crate) fn set_driving(&self, driving: bool) {
        if self.inner.hosted {
            return;
        }
        // Release/Acquire: pairs with `admits` on foreign threads.
        self.inner.driving.store(driving, Ordering::Release);
        if !driving {
            self.retire_foreign();
        }
    }

    fn retire_foreign(&self) {
        debug_assert!(self.is_owner_thread());
        // Queued submissions are refused now that `driving` is false.
        self.drain_remote();
        let any = self.with(|st| {
            for index in 0..st.meta.len() as u32 {
                let meta = &mut st.meta[index as usize];
                let slot = self.inner.slots.get(index);
                if !meta.in_kernel || meta.ended_by.is_some() || meta.internal.is_some() || !slot.is_foreign() {
                    continue;
                }
                let Some(ticket) = slot.live_ticket(index) else {
                    continue;
                };
                meta.ended_by = Some(Error::HomeIdle);
                st.retiring += 1;
                self.push_cancel_in(st, opcode::AsyncCancel::new(ticket.user_data()).build());
            }
            st.retiring > 0
        });
        if !any {
            return;
        }
        let started = Instant::now();
        while self.with(|st| st.retiring) > 0 {
            if let Err(err) = self.enter(true, Some(Duration::from_millis(10))) {
                tracing::error!(%err, "io_uring_enter failed while going idle");
            }
            self.reap();
            if started.elapsed() > Duration::from_secs(5) {
                tracing::warn!("operations of other threads still in the kernel after going idle");
                break;
            }
        }
    }

    /// Stops taking work: operations submitted from now on fail with
    /// [`Error::RuntimeShutDown`], dropped ones are not cancelled one by one
    /// ([`Driver::shutdown`] cancels them all at once), and background tasks
    /// are dropped. Called before a runtime drops its tasks.
    pub(crate) fn begin_shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        self.inner.background.clear();
    }

    /// Cancels everything in flight and waits until the kernel has let go of
    /// every buffer, then unregisters the fixed-file table. On the owner
    /// thread (a hosted ring: whichever thread drops its reactor).
    pub(crate) fn shutdown(&self) {
        // A hosted ring is shut down by whichever thread drops it; wait for
        // a turn in progress elsewhere to end first.
        if self.inner.hosted {
            while self.inner.turning.swap(true, Ordering::Acquire) {
                std::thread::yield_now();
            }
        }
        let _owner = OwnerGuard::enter(self.inner.id);
        // A pinned ring never turned is enabled here, so this thread can
        // cancel and reap. One pinned to another thread cannot be reaped
        // from here: the kernel may still write into buffers in flight, so
        // the ring and everything it holds are leaked rather than freed.
        if let Err(err) = self.pin_here(true) {
            tracing::warn!(id = self.inner.id, %err, "pinned reactor shut down from another thread; leaking its ring and buffers");
            self.begin_shutdown();
            self.inner.shut_down.store(true, Ordering::Release);
            std::mem::forget(self.clone());
            drop(_owner);
            self.inner.turning.store(false, Ordering::Release);
            return;
        }
        let started = Instant::now();
        let mut warned = false;
        self.begin_shutdown();
        self.shutdown_poller();
        // Every cancel in one go (batched into as few enters as the SQ
        // allows), then wait for the kernel to hand everything back.
        self.drain_remote();
        self.cancel_everything();
        loop {
            self.drain_remote();
            if self.with(|st| st.in_kernel) == 0 {
                break;
            }
            if let Err(err) = self.enter(true, Some(Duration::from_millis(100))) {
                tracing::error!(%err, "io_uring_enter failed during shutdown");
            }
            if self.reap() == 0 {
                // Nothing finished for a while: operations submitted after
                // the first cancel, or ones the kernel could not cancel yet.
                self.cancel_everything();
            }
            if !warned && started.elapsed() > Duration::from_secs(5) {
                warned = true;
                tracing::warn!("runtime shutdown still waiting for the kernel to finish operations");
            }
        }
        self.with(|st| {
            if st.fixed.capacity() > 0 {
                if let Err(err) = st.ring.submitter().unregister_files() {
                    tracing::warn!(%err, "unregister_files at shutdown failed");
                }
            }
            let super::state::OwnerState { ring, enter, .. } = st;
            enter.unregister(ring);
        });
        self.inner.shut_down.store(true, Ordering::Release);
        // Releases posted before `shut_down` was set: the table is gone.
        self.drain_remote();
        self.settle();
        if self.inner.hosted {
            self.inner.turning.store(false, Ordering::Release);
        }
        tracing::debug!(id = self.inner.id, "io_uring driver shut down");
    }

    /// Cancels every operation in the kernel, each by its `user_data`.
    ///
    /// Not one `ASYNC_CANCEL_ANY | ALL`: the kernel serves that by finding
    /// the first match again from the start of its cancel table for every
    /// request it cancels, skipping the ones it already marked, which is
    /// quadratic (10^4 operations took 0.8 s here). A cancel by `user_data`
    /// looks in one bucket of that table; with the 256 buckets a CQ of 8192
    /// entries gets (the kernel's maximum), 10^4 cancels take a few ms.
    fn cancel_everything(&self) {
        self.with(|st| {
            let mut targets: Vec<u64> = Vec::new();
            for index in 0..st.meta.len() as u32 {
                if !st.meta[index as usize].in_kernel {
                    continue;
                }
                if let Some(ticket) = self.inner.slots.get(index).live_ticket(index) {
                    targets.push(ticket.user_data());
                }
            }
            if st.wake_armed {
                targets.push(WAKE_TOKEN);
            }
            for user_data in targets {
                self.push_cancel_in(st, opcode::AsyncCancel::new(user_data).build());
            }
        });
    }
}
