//! The state of one slab entry, from SQE push to last CQE reap.

#[cfg(uring)]
use std::collections::VecDeque;
use std::io;
#[cfg(uring)]
use std::task::Waker;

/// One CQE, as the driver hands it to an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Completion {
    /// `res`: a non-negative result or a negated errno.
    pub result: i32,
    /// `flags` (`IORING_CQE_F_MORE`, buffer id, ...).
    pub flags: u32,
}

impl Completion {
    /// The result as `io::Result`.
    pub(crate) fn io_result(&self) -> io::Result<u32> {
        if self.result < 0 {
            Err(io::Error::from_raw_os_error(-self.result))
        } else {
            Ok(self.result as u32)
        }
    }

    /// A completion made up by the driver for an SQE that never reached the kernel.
    pub(crate) fn failed(err: &io::Error) -> Self {
        Completion {
            result: -err.raw_os_error().unwrap_or(libc::EIO),
            flags: 0,
        }
    }
}

#[cfg(uring)]
/// Operation data orphaned by a dropped future, kept until its last CQE.
pub(crate) trait Orphan: Send {
    fn on_cqe(&mut self, completion: &Completion);
}

#[cfg(uring)]
impl<T: super::Operation> Orphan for T {
    fn on_cqe(&mut self, completion: &Completion) {
        self.on_orphan_cqe(completion)
    }
}

#[cfg(uring)]
/// Where one operation stands.
pub(crate) enum Lifecycle {
    /// In the kernel; the waker (if any) is woken when the CQE arrives.
    Pending(Option<Waker>),
    /// The future was dropped; its data waits here for the last CQE.
    Ignored(Box<dyn Orphan>),
    /// The CQE arrived and waits for the future to take it.
    Completed(Completion),
    /// A multishot operation: completions queue up; `done` after the last.
    Streaming {
        waker: Option<Waker>,
        queue: VecDeque<Completion>,
        done: bool,
    },
}
