//! The state of one slab entry, from SQE push to last CQE reap.

use crate::error::Error;
use crate::fd::descriptor::OpLease;
use std::io;

/// One CQE, as the driver hands it to an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Completion {
    /// `res`: a non-negative result, a negated errno, or (below
    /// `-ENGINE_BASE`) a refusal the engine made up; see [`Completion::refused`].
    pub result: i32,
    /// `flags` (`IORING_CQE_F_MORE`, buffer id, ...).
    pub flags: u32,
}

/// Refusals are encoded below `-ENGINE_BASE`: the kernel's errno values are
/// all below 4096 (`MAX_ERRNO`), so the two can never be confused.
const ENGINE_BASE: i32 = 4096;

/// The engine's own reasons for refusing or ending an operation, carried in
/// a [`Completion`] so they reach the caller as typed [`Error`]s, not EIO.
const REFUSALS: [Error; 3] = [Error::Closed, Error::RuntimeShutDown, Error::HomeIdle];

impl Completion {
    /// The result as `io::Result`; refusals become their typed [`Error`].
    pub(crate) fn io_result(&self) -> io::Result<u32> {
        if self.result >= 0 {
            return Ok(self.result as u32);
        }
        match self.refusal() {
            Some(err) => Err(err.clone().into()),
            None => Err(io::Error::from_raw_os_error(-self.result)),
        }
    }

    fn refusal(&self) -> Option<&'static Error> {
        let code = -self.result - ENGINE_BASE;
        usize::try_from(code).ok().and_then(|i| REFUSALS.get(i))
    }

    /// A completion the engine makes up for an operation it refused or ended
    /// itself (the descriptor is closed, its runtime shut down or is idle).
    pub(crate) fn refused(err: Error) -> Self {
        let code = REFUSALS.iter().position(|e| *e == err).unwrap_or(0) as i32;
        Completion {
            result: -(ENGINE_BASE + code),
            flags: 0,
        }
    }

    /// A completion made up by the driver for an SQE that never reached the
    /// kernel: a typed refusal keeps its type, an OS error its errno.
    pub(crate) fn failed(err: &io::Error) -> Self {
        if let Some(e) = Error::of(err).filter(|e| REFUSALS.contains(e)) {
            return Completion::refused(e.clone());
        }
        Completion {
            result: -err.raw_os_error().unwrap_or(libc::EIO),
            flags: 0,
        }
    }

    /// A failure with the kernel's `errno`.
    pub(crate) fn errno(errno: i32) -> Self {
        Completion {
            result: -errno,
            flags: 0,
        }
    }

    /// What an operation that ended without running reports: `ECANCELED`.
    pub(crate) fn cancelled() -> Self {
        Completion::errno(libc::ECANCELED)
    }

    /// The kernel's errno when it reports something about the descriptor
    /// itself (a reset, a refused connection), which the kernel reports only
    /// once: not a cancellation, a retry hint or one of the engine's refusals.
    pub(crate) fn lasting_errno(&self) -> Option<i32> {
        let errno = -self.result;
        let transient = [libc::ECANCELED, libc::EAGAIN, libc::EWOULDBLOCK, libc::EINTR];
        (self.result < 0 && errno < ENGINE_BASE && !transient.contains(&errno)).then_some(errno)
    }

    /// True for `ECANCELED`.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.result == -libc::ECANCELED
    }

    /// `ECANCELED` on a descriptor that is closing means close cancelled it:
    /// report [`Error::Closed`], as the close protocol documents.
    pub(crate) fn explained(self, fd: Option<&OpLease>) -> Self {
        if self.is_cancelled() && fd.is_some_and(OpLease::is_closed) {
            Completion::refused(Error::Closed)
        } else {
            self
        }
    }
}

#[cfg(uring)]
/// Operation data the driver keeps: a dropped future's, until its last CQE,
/// or a multishot operation's, for its whole life.
pub(crate) trait Orphan: Send {
    /// A completion nobody will consume (see `Operation::on_orphan_cqe`).
    fn on_cqe(&mut self, completion: &Completion);
    /// The last completion was reaped: the kernel is done with the
    /// descriptor, so the reference that kept it open can go (the caller
    /// drops it once the driver's state is no longer borrowed).
    fn take_reference(&mut self) -> Option<OpLease>;
    /// The result of an operation with two completions was reaped (see
    /// `Operation::release_lock`).
    fn release_lock(&mut self) -> Option<OpLease>;
    /// A multishot operation's CQE was reaped (see
    /// `Operation::on_multishot_cqe`); `true` asks the driver to cancel it.
    fn on_reaped(&mut self, completion: &Completion) -> bool;
}

#[cfg(uring)]
impl<T: super::Operation> Orphan for T {
    fn on_cqe(&mut self, completion: &Completion) {
        self.on_orphan_cqe(completion)
    }

    fn take_reference(&mut self) -> Option<OpLease> {
        self.take_fd()
    }

    fn release_lock(&mut self) -> Option<OpLease> {
        super::Operation::release_lock(self)
    }

    fn on_reaped(&mut self, completion: &Completion) -> bool {
        self.on_multishot_cqe(completion)
    }
}
