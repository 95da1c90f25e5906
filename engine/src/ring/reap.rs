//! Taking completions off the ring (owner thread only) and handing each to
//! whoever waits for it: the operation's future (through its slot), its
//! stream, its orphan handler when the future is gone, or the driver itself
//! for its own fixed-file updates.
//!
//! CQEs are copied out of the ring while the owner state is borrowed and
//! dispatched after, so that no waker runs and no operation data is dropped
//! while the state is borrowed (either may re-enter the driver).

use super::driver::{Driver, CANCEL_TOKEN, LINK_TIMEOUT_TOKEN, WAKE_TOKEN};
use super::lifecycle::{Completed, Ticket};
use super::state::{Deferred, Internal, OwnerState};
use super::stats::Counters;
use super::stream::StreamShared;
use crate::error::Error;
use crate::op::{Completion, Orphan};
use io_uring::{cqueue, opcode};
use std::os::fd::IntoRawFd;

/// `IORING_NOTIF_USAGE_ZC_COPIED`: a zero-copy send's notification saying
/// the kernel copied the data after all.
const ZC_COPIED: u32 = 1 << 31;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Where one CQE goes once the owner state is released.
enum Route {
    /// To the single-shot operation's slot.
    Slot(Completion),
    /// To a multishot operation's queue.
    Stream(Arc<StreamShared>, Completion),
    /// Handled already.
    Done,
}

impl Driver {
    /// Reaps every available CQE; returns how many.
    pub(crate) fn reap(&self) -> usize {
        let mut batch = self.with(|st| {
            self.copy_completions(st);
            std::mem::take(&mut st.reaped)
        });
        let n = batch.len();
        for (user_data, c) in batch.drain(..) {
            self.dispatch(user_data, c);
        }
        // Hands the buffer back (keeping its capacity for the next turn) in
        // the same borrow that looks for leftovers.
        self.settle_returning(Some(batch));
        n
    }

    /// Moves every available CQE into the owner's reap buffer, flushing the
    /// kernel's overflow backlog (`NODROP` kept what did not fit) as it goes.
    pub(super) fn copy_completions(&self, st: &mut OwnerState) -> usize {
        let mut n = 0;
        loop {
            let OwnerState { ring, reaped, .. } = st;
            for cqe in ring.completion() {
                reaped.push((
                    cqe.user_data(),
                    Completion {
                        result: cqe.result(),
                        flags: cqe.flags(),
                    },
                ));
                n += 1;
            }
            if !st.ring.submission().cq_overflow() {
                return n;
            }
            // An enter with GETEVENTS moves the backlog into the CQ, which we
            // just emptied.
            Counters::bump(&self.inner.counters.cq_overflows);
            Counters::bump(&self.inner.counters.enters);
            tracing::debug!("completion queue overflowed; flushing the kernel's backlog");
            if let Err(err) = st.enter.enter(0, false, None) {
                if !matches!(err.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN | libc::EINTR)) {
                    tracing::error!(%err, "flushing CQ overflow failed");
                    return n;
                }
            }
        }
    }

    /// Hands one CQE to whoever waits for it (see the module docs).
    pub(super) fn dispatch(&self, user_data: u64, c: Completion) {
        if user_data == CANCEL_TOKEN || user_data == LINK_TIMEOUT_TOKEN {
            return;
        }
        if user_data == WAKE_TOKEN {
            return self.with(|st| {
                st.in_kernel -= 1;
                st.wake_armed = false;
            });
        }
        let ticket = Ticket::from_user_data(user_data);
        let last = !cqueue::more(c.flags);
        let stopping = self.inner.stopping.load(Ordering::Acquire);
        let route = self.with(|st| {
            let meta = st.meta(ticket.index);
            let mut c = c;
            // A cancellation the driver made itself reports why.
            if c.is_cancelled() {
                match &meta.ended_by {
                    Some(err) => c = Completion::refused(err.clone()),
                    None if stopping => c = Completion::refused(Error::RuntimeShutDown),
                    None => {}
                }
            }
            let stream = meta.stream.clone();
            if stream.is_none() && meta.internal.is_none() {
                if !last {
                    // A result that a notification will follow (`SEND_ZC`):
                    // the buffer stays with the kernel until then, but a
                    // detached send's lock can go now.
                    meta.result = Some(c);
                    let lock = meta.orphan.as_mut().and_then(|data| data.release_lock());
                    st.released.extend(lock);
                    return Route::Done;
                }
                if let Some(result) = meta.result.take() {
                    Counters::bump(&self.inner.counters.zc_sends);
                    if c.result as u32 & ZC_COPIED != 0 {
                        Counters::bump(&self.inner.counters.zc_copied);
                    }
                    c = result;
                }
            }
            let internal = meta.internal.take();
            // A multishot operation sees each of its CQEs as it is reaped
            // (even those its stream will take), and may ask to be stopped.
            let stop = stream.is_some() && meta.orphan.as_mut().is_some_and(|data| data.on_reaped(&c)) && !last;
            // The kernel is done with a stream's descriptor at its last CQE:
            // let the reference go now, not when (if ever) the stream is
            // polled again.
            let reference = match (&stream, last) {
                (Some(_), true) => meta.orphan.as_mut().and_then(|data| data.take_reference()),
                _ => None,
            };
            if last {
                // The kernel read the link timeout's timespec long ago.
                meta.deadline = None;
                let retired = meta.ended_by.is_some();
                meta.in_kernel = false;
                st.in_kernel -= 1;
                st.retiring -= usize::from(retired);
                if internal.is_none() {
                    Counters::bump(&self.inner.counters.completed);
                }
            }
            st.released.extend(reference);
            if stop {
                let entry = opcode::AsyncCancel::new(ticket.user_data()).build();
                self.push_cancel_in(st, entry);
            }
            if let Some(internal) = internal {
                self.finish_internal(st, ticket, internal, c);
                return Route::Done;
            }
            match stream {
                Some(stream) => Route::Stream(stream, c),
                None => Route::Slot(c),
            }
        });
        match route {
            Route::Done => {}
            Route::Slot(c) => {
                if let Completed::Orphaned = self.slot(ticket.index).complete(ticket, c) {
                    self.with(|st| self.orphan_cqe(st, ticket, c, last));
                }
            }
            Route::Stream(stream, c) => {
                let refused = if self.slot(ticket.index).is_orphaned(ticket) {
                    Some(c)
                } else {
                    stream.push(c, last).err()
                };
                if let Some(c) = refused {
                    self.with(|st| self.orphan_cqe(st, ticket, c, last));
                }
            }
        }
    }

    /// A CQE for an operation whose future is gone.
    fn orphan_cqe(&self, st: &mut OwnerState, ticket: Ticket, c: Completion, last: bool) {
        let meta = st.meta(ticket.index);
        let Some(data) = meta.orphan.as_mut() else {
            // Orphaned by another thread whose hand-over of the data is still
            // in the remote queue: keep the (last) completion for it.
            debug_assert!(last, "a multishot's data is the driver's from the start");
            meta.early = Some(c);
            return;
        };
        data.on_cqe(&c);
        if last {
            let data = meta.orphan.take();
            meta.stream = None;
            st.orphans.extend(data);
            st.release(&self.inner.slots, ticket.index);
        }
    }

    /// Takes the data of an operation whose future was dropped (on the
    /// owner thread, directly or from the remote queue), and asks the kernel
    /// to cancel it unless `cancel` is false.
    pub(super) fn take_orphan(&self, ticket: Ticket, mut data: Box<dyn Orphan>, cancel: bool) {
        if cancel {
            self.push_remote_before_cancel();
        }
        let stopping = self.inner.stopping.load(Ordering::Acquire);
        self.with(|st| {
            Counters::bump(&self.inner.counters.orphaned);
            let meta = st.meta(ticket.index);
            if let Some(c) = meta.early.take() {
                data.on_cqe(&c);
                st.orphans.push(data);
                return st.release(&self.inner.slots, ticket.index);
            }
            // A detached `SEND_ZC` whose result is in: its lock can go.
            let lock = meta.result.is_some().then(|| data.release_lock()).flatten();
            meta.orphan = Some(data);
            // While stopping, shutdown cancels everything at once.
            if cancel && !stopping {
                let entry = opcode::AsyncCancel::new(ticket.user_data()).build();
                self.push_cancel_in(st, entry);
            }
            st.released.extend(lock);
        });
    }

    /// Before the owner thread cancels an operation that another thread may
    /// have submitted since the last turn: pushes what the remote queue
    /// holds, so that the operation's own SQE goes in before its cancel. (A
    /// cancel sent first finds nothing, and the operation, armed after it,
    /// never ends: a multishot receive would keep its stream's read lock.)
    /// Not while stopping: shutdown cancels everything at once.
    pub(super) fn push_remote_before_cancel(&self) {
        if !self.inner.stopping.load(Ordering::Acquire) {
            self.drain_remote();
        }
    }

    /// A multishot stream was dropped: what it did not take goes to the
    /// orphan handler; once the kernel ended the operation the slot is
    /// released, else it is cancelled (and its later CQEs go to the handler).
    pub(super) fn end_stream(&self, ticket: Ticket, stream: &StreamShared) {
        let stopping = self.inner.stopping.load(Ordering::Acquire);
        self.with(|st| {
            if !self.slot(ticket.index).is_live(ticket) {
                return; // its last CQE already ended it
            }
            let left = stream.drain();
            let meta = st.meta(ticket.index);
            if let Some(data) = meta.orphan.as_mut() {
                left.iter().for_each(|c| data.on_cqe(c));
            }
            if stream.is_done() {
                let data = meta.orphan.take();
                meta.stream = None;
                st.orphans.extend(data);
                st.release(&self.inner.slots, ticket.index);
            } else if !stopping {
                Counters::bump(&self.inner.counters.orphaned);
                let entry = opcode::AsyncCancel::new(ticket.user_data()).build();
                self.push_cancel_in(st, entry);
            }
        });
    }

    /// The CQE of one of the driver's own operations.
    fn finish_internal(&self, st: &mut OwnerState, ticket: Ticket, internal: Internal, c: Completion) {
        st.release(&self.inner.slots, ticket.index);
        match internal {
            Internal::Register { slot, registration } => {
                let ok = c.result >= 0;
                if ok {
                    Counters::bump(&self.inner.counters.fixed_registered);
                } else {
                    tracing::warn!(err = %std::io::Error::from_raw_os_error(-c.result), slot, "fixed-file registration failed; the descriptor keeps its plain number");
                    st.fixed.free(slot);
                }
                st.deferred.push(Deferred::Registered(registration, ok.then_some(slot)));
            }
            Internal::Unregister { slot } => {
                if c.result >= 0 {
                    st.fixed.free(slot);
                } else {
                    // The table keeps its reference to the file until
                    // shutdown; the linked close is cancelled and done by us.
                    tracing::error!(err = %std::io::Error::from_raw_os_error(-c.result), slot, "could not unregister a fixed slot; leaking it");
                }
            }
            Internal::Close { fd, then } => {
                // Errors that mean the close never ran: cancelled at shutdown,
                // a kernel without IORING_OP_CLOSE, or a number the ring
                // refuses to close (its own); we close those ourselves. Any
                // other error is close(2)'s, which releases the number all
                // the same (and it may be reused by now).
                let never_ran = matches!(
                    -c.result,
                    libc::ECANCELED | libc::EINVAL | libc::EOPNOTSUPP | libc::EBADF
                );
                if c.result < 0 && !never_ran {
                    tracing::warn!(err = %std::io::Error::from_raw_os_error(-c.result), "close on the ring failed");
                }
                let fd = if never_ran {
                    Some(fd)
                } else {
                    let _released = fd.into_raw_fd();
                    None
                };
                st.deferred.push(Deferred::Closed(fd, then));
            }
        }
        self.inner.counters.set_fixed_in_use(st.fixed.in_use());
    }

    /// Drops orphaned data and released references, and runs the deferred
    /// follow-ups, outside the owner state (each may re-enter the driver and
    /// leave more; loops until none is left).
    pub(super) fn settle(&self) {
        self.settle_returning(None);
    }

    /// [`Driver::settle`], first putting the reap buffer back.
    fn settle_returning(&self, mut reaped: Option<Vec<(u64, Completion)>>) {
        while let Some((orphans, released, deferred)) = self.with(|st| {
            if let Some(buffer) = reaped.take() {
                if st.reaped.is_empty() {
                    st.reaped = buffer;
                }
            }
            if st.orphans.is_empty() && st.released.is_empty() && st.deferred.is_empty() {
                return None;
            }
            Some((
                std::mem::take(&mut st.orphans),
                std::mem::take(&mut st.released),
                std::mem::take(&mut st.deferred),
            ))
        }) {
            drop(orphans);
            drop(released);
            for follow_up in deferred {
                match follow_up {
                    Deferred::Closed(fd, then) => {
                        // Closes the number if the ring did not.
                        drop(fd);
                        then();
                    }
                    Deferred::Registered(registration, slot) => registration.registered(slot),
                }
            }
        }
    }
}
