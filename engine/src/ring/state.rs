//! `OwnerState`: everything about a ring that only its driving thread
//! touches (held in an [`Owned`](super::owner::Owned)): the ring itself
//! (SQ and CQ), the owner's free-slot cache, per-slot bookkeeping, the
//! fixed-file table, and the lists reused on every turn.

use super::enter::Enter;
use super::fixed::FixedTable;
use super::lifecycle::Ticket;
use super::slots::Slots;
use crate::error::Error;
use crate::fd::descriptor::{Descriptor, OpLease};
use crate::op::{Completion, Orphan};
use io_uring::IoUring;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// One of the driver's own operations (no future waits for it).
pub(crate) enum Internal {
    /// `FILES_UPDATE` filling `slot` with `registration`'s descriptor.
    Register { slot: u32, registration: Descriptor },
    /// `FILES_UPDATE` clearing `slot`, linked to the [`Internal::Close`] of
    /// its descriptor.
    Unregister { slot: u32 },
    /// `IORING_OP_CLOSE` of `fd`, which no SQE names any more; then `then`
    /// runs. The `OwnedFd` is let go of, unclosed, when the kernel closed
    /// the number, and closed by us when the close never ran.
    Close {
        fd: OwnedFd,
        then: Box<dyn FnOnce() + Send>,
    },
}

impl Internal {
    /// What to do instead when the operation could not even be pushed.
    pub(crate) fn into_fallback(self) -> Option<Deferred> {
        match self {
            Internal::Register { registration, .. } => Some(Deferred::Registered(registration, None)),
            // The slot stays taken; its file is let go of at shutdown.
            Internal::Unregister { .. } => None,
            Internal::Close { fd, then } => Some(Deferred::Closed(Some(fd), then)),
        }
    }
}

/// Follow-ups of internal operations, run once the owner state is no
/// longer borrowed (they call back into the driver or wake waiters).
pub(crate) enum Deferred {
    /// The descriptor is closed, or is to be closed here (`Some`): tell its
    /// waiters.
    Closed(Option<OwnedFd>, Box<dyn FnOnce() + Send>),
    /// A registration ended (in this slot, or failed): tell the descriptor.
    Registered(Descriptor, Option<u32>),
}

/// Per-slot facts only the owner needs, indexed like the slots.
#[derive(Default)]
pub(crate) struct Meta {
    /// The operation's data once the driver holds it: a dropped future's
    /// (until its last CQE), an internal operation's, a multishot stream's.
    pub orphan: Option<Box<dyn Orphan>>,
    /// The last CQE of an operation a foreign thread orphaned, reaped before
    /// its data arrived through the remote queue.
    pub early: Option<Completion>,
    /// The result of a single-shot operation with two completions
    /// (`SEND_ZC`), kept until its notification ends it.
    pub result: Option<Completion>,
    /// The timespec of the `LINK_TIMEOUT` bounding the operation (the
    /// kernel reads it when it takes the SQE); its presence means a cancel
    /// the driver did not ask for is the deadline's.
    pub deadline: Option<Box<io_uring::types::Timespec>>,
    /// A multishot operation's queue.
    pub stream: Option<Arc<super::stream::StreamShared>>,
    /// One of the driver's own operations.
    pub internal: Option<Internal>,
    /// Why the driver cancelled the operation itself (reported instead of
    /// `ECANCELED`).
    pub ended_by: Option<Error>,
    /// The kernel owns the operation: an SQE was pushed, its last CQE is not
    /// reaped yet.
    pub in_kernel: bool,
}

/// See the module docs.
pub(crate) struct OwnerState {
    pub ring: IoUring,
    pub enter: Enter,
    /// Slots the owner freed, reused first (no atomic operation at all).
    pub free: Vec<u32>,
    pub meta: Vec<Meta>,
    pub fixed: FixedTable,
    /// The value each fixed slot is set to by the `FILES_UPDATE` naming it
    /// (the kernel reads it when it runs the update, which may be after the
    /// push): a descriptor number, or -1 to clear it.
    pub fixed_fds: Box<[i32]>,
    /// SQEs whose last CQE is not reaped yet (operations and the wake read).
    pub in_kernel: usize,
    pub wake_armed: bool,
    /// Foreign operations cancelled because the owner went idle whose last
    /// CQE is not reaped yet.
    pub retiring: usize,
    /// CQEs copied out of the ring by the current reap (reused).
    pub reaped: Vec<(u64, Completion)>,
    /// Orphaned data and released references, dropped once the state is no
    /// longer borrowed (dropping either may re-enter the driver).
    pub orphans: Vec<Box<dyn Orphan>>,
    pub released: Vec<OpLease>,
    pub deferred: Vec<Deferred>,
    /// The registered-buffer table's free runs.
    pub buffers: super::buffers::BufferTable,
}

impl OwnerState {
    /// A slot for a new operation: the owner's cache first, then the shared
    /// free stack (which grows the arena if empty).
    pub(crate) fn alloc(&mut self, slots: &Slots) -> Ticket {
        let ticket = match self.free.pop() {
            Some(index) => slots.get(index).start(index),
            None => slots.alloc(),
        };
        let index = ticket.index as usize;
        if self.meta.len() <= index {
            self.meta.resize_with(index + 1, Meta::default);
        }
        ticket
    }

    /// The bookkeeping of slot `index` (grown on first sight of a slot a
    /// foreign thread allocated).
    pub(crate) fn meta(&mut self, index: u32) -> &mut Meta {
        let index = index as usize;
        if self.meta.len() <= index {
            self.meta.resize_with(index + 1, Meta::default);
        }
        &mut self.meta[index]
    }

    /// Ends the use of slot `index` on the owner thread.
    pub(crate) fn release(&mut self, slots: &Slots, index: u32) {
        slots.get(index).reset();
        self.free.push(index);
    }
}
