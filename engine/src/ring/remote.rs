//! `Remote`: what another thread asks a ring's owner to do, through one
//! lock-free queue (`crossbeam`'s `SegQueue`), and how the owner does it on
//! its next turn. This is the only path where ringio pays for moving work
//! between threads; handles and futures stay `Send` because of it.

use super::driver::Driver;
use super::lifecycle::Ticket;
use super::stream::StreamShared;
use crate::error::Error;
use crate::fd::descriptor::Descriptor;
use crate::op::{Completion, Orphan, Target};
use io_uring::squeue;
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Work a foreign thread asks the owner thread to do.
pub(crate) enum Remote {
    /// Push this SQE for the operation at `ticket` (its slot is allocated),
    /// unless its descriptor started closing meanwhile or the ring stopped
    /// being driven; with the stream and data of a multishot operation.
    Submit {
        entry: squeue::Entry,
        ticket: Ticket,
        fd: Option<Descriptor>,
        stream: Option<(Arc<StreamShared>, Box<dyn Orphan>)>,
        /// Linked to a `LINK_TIMEOUT` for the time left until then.
        deadline: Option<std::time::Instant>,
    },
    /// The future of the operation at `ticket` was dropped there: here is
    /// its data, for the driver to keep until the last CQE.
    Orphan {
        ticket: Ticket,
        data: Box<dyn Orphan>,
        cancel: bool,
    },
    /// A multishot stream was dropped there.
    DropStream { ticket: Ticket, stream: Arc<StreamShared> },
    /// Cancel every operation on this descriptor (close).
    CancelFd(Target),
    /// Register this descriptor in a fixed slot.
    Register(Descriptor),
    /// Unregister a fixed slot (if any), close its descriptor on the ring,
    /// then run `then`.
    /// Unregister a provided-buffer ring, then drop its memory. (Left in
    /// the queue when the ring is never driven again, the memory goes after
    /// the ring: `Inner` drops `owned` before `remote`.)
    UnregisterBufRing { bgid: u16, memory: Box<dyn Send> },
    /// Unregister a fixed slot, close its descriptor, then run `then`.
    Release {
        slot: Option<u32>,
        fd: OwnedFd,
        then: Box<dyn FnOnce() + Send>,
    },
    /// Clear a run of registered buffers, then drop the memory they named.
    ReleaseBuffers { first: u16, n: u16, memory: Box<dyn Send> },
}

impl Driver {
    /// Does everything other threads posted (owner thread only).
    pub(super) fn drain_remote(&self) {
        if self.inner.remote.is_empty() {
            return;
        }
        while let Some(work) = self.inner.remote.pop() {
            match work {
                Remote::Submit {
                    entry,
                    ticket,
                    fd,
                    stream,
                    deadline,
                } => self.submit_remote(entry, ticket, fd, stream, deadline),
                Remote::Orphan { ticket, data, cancel } => self.take_orphan(ticket, data, cancel),
                Remote::DropStream { ticket, stream } => self.end_stream(ticket, &stream),
                Remote::CancelFd(target) => self.cancel_fd(target),
                Remote::Register(registration) => {
                    if !self.start_register(registration.raw(), registration.clone()) {
                        registration.registered(None);
                    }
                }
                // In a turn, which submits what it queued before it returns.
                Remote::Release { slot, fd, then } => self.close_descriptor(slot, fd, false, then),
                Remote::ReleaseBuffers { first, n, memory } => self.release_buffers(first, n, memory),
                Remote::UnregisterBufRing { bgid, memory } => self.unregister_buf_ring(bgid, memory),
            }
            self.settle();
        }
    }

    fn submit_remote(
        &self,
        entry: squeue::Entry,
        ticket: Ticket,
        fd: Option<Descriptor>,
        stream: Option<(Arc<StreamShared>, Box<dyn Orphan>)>,
        deadline: Option<std::time::Instant>,
    ) {
        // Checked again here, in the owner's order: a close whose cancel was
        // pushed already must not be followed by this operation's SQE.
        let refusal = if self.inner.stopping.load(Ordering::Acquire) {
            Some(Error::RuntimeShutDown)
        } else if fd.as_ref().is_some_and(Descriptor::is_closed) {
            Some(Error::Closed)
        } else if !self.inner.driving.load(Ordering::Acquire) {
            Some(Error::HomeIdle)
        } else {
            None
        };
        // The entry was built from its operation's data, whose heap memory
        // stays put until the last CQE for `ticket` (the future holds the
        // data, and hands it to the driver if dropped; a multishot's data
        // came along in `stream`).
        match refusal {
            None => match deadline {
                Some(deadline) => {
                    // SAFETY: see above (a timed operation is never multishot).
                    let failed = self.with(|st| unsafe { self.push_timed_op_in(st, ticket, entry, deadline) });
                    if let Some(err) = failed {
                        self.push_failed(ticket, err);
                    }
                }
                // SAFETY: see above.
                None => unsafe { self.push_op(ticket, entry, stream) },
            },
            Some(err) => {
                // Completed as if the kernel had refused it.
                self.with(|st| {
                    let meta = st.meta(ticket.index);
                    meta.start();
                    if let Some((stream, data)) = stream {
                        meta.stream = Some(stream);
                        meta.orphan = Some(data);
                    }
                    st.in_kernel += 1;
                });
                self.dispatch(ticket.user_data(), Completion::refused(err));
            }
        }
    }
}
