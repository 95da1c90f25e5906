//! `SigSet`: a set of signals as the kernel takes it, and the calls on it
//! that rustix does not wrap: blocking it on the calling thread
//! (`pthread_sigmask`), unblocking it in a child between `fork` and `exec`,
//! and creating a `signalfd` for it. The only `unsafe` of the Linux handles
//! outside the memory mapping.

use super::Signal;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// A `sigset_t` holding a list of signals.
#[derive(Clone, Copy)]
pub(crate) struct SigSet(libc::sigset_t);

impl SigSet {
    pub(crate) fn of(signals: &[Signal]) -> io::Result<SigSet> {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `sigemptyset` initializes the set behind the pointer, which
        // is valid for writes.
        if unsafe { libc::sigemptyset(set.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: initialized by `sigemptyset` just above.
        let mut set = unsafe { set.assume_init() };
        for signal in signals {
            // SAFETY: `set` is an initialized `sigset_t`, exclusively borrowed.
            if unsafe { libc::sigaddset(&mut set, signal.as_raw()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(SigSet(set))
    }

    /// Adds the set to the calling thread's blocked signals.
    pub(crate) fn block_on_this_thread(&self) -> io::Result<()> {
        // SAFETY: `self.0` is an initialized set; a null old-set pointer is
        // allowed and means "not wanted".
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &self.0, std::ptr::null_mut()) };
        match rc {
            0 => Ok(()),
            err => Err(io::Error::from_raw_os_error(err)),
        }
    }

    /// Makes processes spawned by `command` start with the set unblocked
    /// (they inherit the spawning thread's mask, and std does not reset it).
    pub(crate) fn unblock_in_child(self, command: &mut Command) {
        let hook = move || {
            // SAFETY: `self.0` is an initialized set, copied into the hook
            // before the fork; a null old-set pointer means "not wanted".
            let rc = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &self.0, std::ptr::null_mut()) };
            match rc {
                0 => Ok(()),
                err => Err(io::Error::from_raw_os_error(err)),
            }
        };
        // SAFETY: the hook runs in the child between `fork` and `exec`, where
        // only async-signal-safe functions may be called: it calls one,
        // `pthread_sigmask`, and allocates nothing (the set is a copy made
        // before the fork).
        unsafe { command.pre_exec(hook) };
    }

    /// A new `SFD_CLOEXEC | SFD_NONBLOCK` signalfd reporting the set.
    pub(crate) fn signalfd(&self) -> io::Result<OwnedFd> {
        // SAFETY: `self.0` is an initialized set; fd -1 asks for a new descriptor.
        let fd = unsafe { libc::signalfd(-1, &self.0, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `signalfd` just returned this descriptor; nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}
