//! Putting SQEs on the ring (owner thread only): an operation's, a cancel,
//! the wake read, and the driver's own fixed-file updates. Pushing never
//! makes a syscall unless the SQ is full; then it submits what is queued
//! (reaping first if the kernel pushes back with `EBUSY`).

use super::driver::{Driver, CANCEL_TOKEN, LINK_TIMEOUT_TOKEN, WAKE_TOKEN};
use super::lifecycle::Ticket;
use super::state::{Deferred, Internal, OwnerState};
use super::stats::Counters;
use super::stream::StreamShared;
use crate::fd::descriptor::Descriptor;
use crate::op::{Completion, Orphan};
use io_uring::{opcode, squeue, types};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

impl Driver {
    /// Pushes the SQE of the operation at `ticket`, with its stream if it
    /// is multishot. A push that fails completes the operation with the
    /// error, as if the kernel had.
    ///
    /// # Safety
    ///
    /// Every pointer in `entry` must stay valid until the last CQE for
    /// `ticket` is reaped.
    pub(super) unsafe fn push_op(
        &self,
        ticket: Ticket,
        entry: squeue::Entry,
        stream: Option<(Arc<StreamShared>, Box<dyn Orphan>)>,
    ) {
        // SAFETY: the caller vouches for the entry's pointers.
        let failed = self.with(|st| unsafe { self.push_op_in(st, ticket, &entry, stream) });
        if let Some(err) = failed {
            self.push_failed(ticket, err);
        }
    }

    /// [`Driver::push_op`] with the owner state at hand; returns the error
    /// of a push that failed, for [`Driver::push_failed`] once the state is
    /// released.
    ///
    /// # Safety
    ///
    /// As for [`Driver::push_op`].
    pub(super) unsafe fn push_op_in(
        &self,
        st: &mut OwnerState,
        ticket: Ticket,
        entry: &squeue::Entry,
        stream: Option<(Arc<StreamShared>, Box<dyn Orphan>)>,
    ) -> Option<io::Error> {
        let meta = st.meta(ticket.index);
        meta.start();
        if let Some((stream, data)) = stream {
            meta.stream = Some(stream);
            meta.orphan = Some(data);
        }
        st.in_kernel += 1;
        Counters::bump(&self.inner.counters.submitted);
        // SAFETY: the caller vouches for the entry's pointers.
        unsafe { self.push_entry(st, entry) }.err()
    }

    /// [`Driver::push_op_in`] for an operation with a deadline: its SQE is
    /// linked (`IOSQE_IO_LINK`) to an `IORING_OP_LINK_TIMEOUT` for the time
    /// left, pushed right behind it in the same submission, so the kernel
    /// cancels the operation at the deadline.
    ///
    /// # Safety
    ///
    /// As for [`Driver::push_op`].
    pub(super) unsafe fn push_timed_op_in(
        &self,
        st: &mut OwnerState,
        ticket: Ticket,
        entry: squeue::Entry,
        deadline: std::time::Instant,
    ) -> Option<io::Error> {
        let left = crate::time::deadline::left(deadline).unwrap_or(std::time::Duration::from_nanos(1));
        // Room for both, so that the link is not split across enters.
        let room = {
            let sq = st.ring.submission();
            sq.capacity() - sq.len()
        };
        if room < 2 {
            Counters::bump(&self.inner.counters.sq_full_flushes);
            if let Err(err) = self.flush(st) {
                return Some(err);
            }
        }
        let ts = Box::new(types::Timespec::from(left));
        let timeout = opcode::LinkTimeout::new(&*ts).build().user_data(LINK_TIMEOUT_TOKEN);
        // SAFETY: the caller vouches for the entry's pointers.
        if let Some(err) = unsafe { self.push_op_in(st, ticket, &entry.flags(squeue::Flags::IO_LINK), None) } {
            return Some(err);
        }
        // The timespec stays in the slot's bookkeeping until the operation's
        // last CQE, long after the kernel read it (at submission).
        st.meta(ticket.index).deadline = Some(ts);
        // SAFETY: the entry points at the boxed timespec just stored, which
        // does not move and lives past the submission.
        if let Err(err) = unsafe { self.push_entry(st, &timeout) } {
            // Cannot happen (room was made); the operation runs unbounded.
            tracing::warn!(%err, "could not push a link timeout");
        }
        None
    }

    /// Completes an operation whose SQE could not be pushed.
    pub(super) fn push_failed(&self, ticket: Ticket, err: io::Error) {
        self.dispatch(ticket.user_data(), Completion::failed(&err));
        self.settle();
    }

    /// Pushes a cancel request (its CQE is ignored).
    pub(super) fn push_cancel(&self, entry: squeue::Entry) {
        self.with(|st| self.push_cancel_in(st, entry));
    }

    pub(super) fn push_cancel_in(&self, st: &mut OwnerState, entry: squeue::Entry) {
        // SAFETY: a cancel request carries no pointers.
        if let Err(err) = unsafe { self.push_entry(st, &entry.user_data(CANCEL_TOKEN)) } {
            tracing::warn!(%err, "could not submit a cancel request");
        }
    }

    /// Pushes `entry`, draining a full SQ by submitting.
    ///
    /// # Safety
    ///
    /// Every pointer in `entry` must stay valid until its CQE is reaped.
    pub(super) unsafe fn push_entry(&self, st: &mut OwnerState, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: the caller vouches for the entry's pointers.
            if unsafe { st.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            Counters::bump(&self.inner.counters.sq_full_flushes);
            self.flush(st)?;
        }
    }

    /// Submits everything queued. `EBUSY`/`EAGAIN` (completions must be
    /// consumed first) are answered by moving completions into the
    /// driver's reap buffer, which the next reap dispatches.
    pub(super) fn flush(&self, st: &mut OwnerState) -> io::Result<()> {
        loop {
            Counters::bump(&self.inner.counters.enters);
            let queued = st.ring.submission().len() as u32;
            match st.enter.enter(queued, false, None) {
                Ok(_) => return Ok(()),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {
                    if self.copy_completions(st) == 0 {
                        std::thread::yield_now();
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Keeps a read armed on the wake eventfd, so an unpark from another
    /// thread ends the owner's wait in the kernel.
    pub(super) fn arm_wake(&self, st: &mut OwnerState) {
        let entry = opcode::Read::new(
            types::Fd(self.inner.wake_fd.as_raw_fd()),
            self.inner.wake_buf.as_ptr().cast(),
            8,
        )
        .build()
        .user_data(WAKE_TOKEN);
        // SAFETY: `wake_buf` is a boxed atomic owned by `Inner`, which
        // outlives the ring's last CQE (shutdown waits for `in_kernel == 0`);
        // `Inner` owns the eventfd too.
        if unsafe { self.push_entry(st, &entry) }.is_ok() {
            st.wake_armed = true;
            st.in_kernel += 1;
        }
    }

    // ----- the driver's own operations: fixed-file updates ----------------

    /// Takes a free fixed slot for `fd` and pushes the `FILES_UPDATE` that
    /// fills it. `false` if the table is full (or absent).
    pub(super) fn start_register(&self, fd: RawFd, registration: Descriptor) -> bool {
        let started = self.with(|st| {
            let slot = st.fixed.alloc()?;
            self.inner.counters.set_fixed_in_use(st.fixed.in_use());
            st.fixed_fds[slot as usize] = fd;
            let ticket = st.alloc(&self.inner.slots);
            // SAFETY: `fixed_fds` lives in the owner state until the driver is
            // dropped, which is after every CQE; this entry of it is not
            // rewritten until the slot is freed, after this update's CQE.
            let entry = unsafe { files_update(st, slot) };
            self.push_internal(st, ticket, entry, Internal::Register { slot, registration })
                .then_some(())
        });
        if started.is_none() {
            Counters::bump(&self.inner.counters.fixed_table_full);
            tracing::debug!("fixed-file table full; descriptor uses its plain number");
        }
        started.is_some()
    }

    /// Pushes the `FILES_UPDATE` that clears `slot`, linked to the
    /// `IORING_OP_CLOSE` of `fd`: one batch, no syscall of their own. The
    /// close's completion (after the update's) runs `then`, so `then` sees
    /// the file let go of by both the table and the number.
    ///
    /// No SQE names the number any more (the caller holds its last
    /// reference), and the update names the slot, so the close may run
    /// whatever the update's outcome: a failed update breaks the link and
    /// the close, cancelled, is done here instead.
    pub(super) fn start_release(&self, slot: Option<u32>, fd: OwnedFd, then: Box<dyn FnOnce() + Send>) {
        let Some(slot) = slot else {
            // No slot: the close alone.
            return self.with(|st| {
                let ticket = st.alloc(&self.inner.slots);
                let close = opcode::Close::new(types::Fd(fd.as_raw_fd())).build();
                self.push_internal(st, ticket, close, Internal::Close { fd, then });
            });
        };
        self.with(|st| {
            st.fixed_fds[slot as usize] = -1;
            // Room for both, so that the link is not split across enters
            // (a split chain would link the close to whatever came next).
            let room = {
                let sq = st.ring.submission();
                sq.capacity() - sq.len()
            };
            if room < 2 {
                Counters::bump(&self.inner.counters.sq_full_flushes);
                if let Err(err) = self.flush(st) {
                    tracing::error!(%err, slot, "could not submit to unregister a fixed slot; leaking it");
                    st.deferred.push(Deferred::Closed(Some(fd), then));
                    return;
                }
            }
            let ticket = st.alloc(&self.inner.slots);
            // SAFETY: as in `start_register`.
            let update = unsafe { files_update(st, slot) }.flags(squeue::Flags::IO_LINK);
            self.push_internal(st, ticket, update, Internal::Unregister { slot });
            let ticket = st.alloc(&self.inner.slots);
            let close = opcode::Close::new(types::Fd(fd.as_raw_fd())).build();
            self.push_internal(st, ticket, close, Internal::Close { fd, then });
        });
    }

    /// Pushes one of the driver's own operations. `false` if the push
    /// failed (the slot was released again; `internal` is dropped, which
    /// for an unregister closes the descriptor anyway).
    pub(super) fn push_internal(
        &self,
        st: &mut OwnerState,
        ticket: Ticket,
        entry: squeue::Entry,
        internal: Internal,
    ) -> bool {
        let entry = entry.user_data(ticket.user_data());
        // SAFETY: see the callers; a files update points into `fixed_fds`.
        match unsafe { self.push_entry(st, &entry) } {
            Ok(()) => {
                let meta = st.meta(ticket.index);
                meta.start();
                meta.internal = Some(internal);
                st.in_kernel += 1;
                true
            }
            Err(err) => {
                tracing::warn!(%err, "could not submit a fixed-file update");
                st.release(&self.inner.slots, ticket.index);
                st.deferred.extend(internal.into_fallback());
                false
            }
        }
    }
}

/// The `FILES_UPDATE` that sets fixed `slot` to `st.fixed_fds[slot]`.
///
/// # Safety
///
/// The returned entry points into `st.fixed_fds`, which must stay alive and
/// unchanged at `slot` until its CQE is reaped.
unsafe fn files_update(st: &OwnerState, slot: u32) -> squeue::Entry {
    let fds = &st.fixed_fds[slot as usize] as *const RawFd;
    opcode::FilesUpdate::new(fds, 1).offset(slot as i32).build()
}
