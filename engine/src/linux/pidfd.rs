//! `PidFd`: a process as a descriptor (`pidfd_open(2)`, Linux 5.3): signal it
//! without pid-reuse races, and await its exit status.
//!
//! Waiting is two steps, so that it is cancel-safe: wait until the process
//! has exited without reaping it (`IORING_OP_WAITID` with `WNOWAIT` where the
//! kernel has it, Linux 6.7; else the pidfd's readiness, which it gains when
//! the process exits), then reap with a non-blocking `waitid` in the same
//! poll that returns the status, and remember the status for later waits.

use super::Signal;
use crate::driver::Driver;
use crate::fd::Fd;
#[cfg(uring)]
use crate::op::waitid::WaitId;
use rustix::process::{Pid, PidfdFlags, WaitId as Id, WaitIdOptions, WaitIdStatus};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::sync::Mutex;

/// A process, by descriptor: [`send_signal`](PidFd::send_signal) and await
/// its [`wait`](PidFd::wait).
///
/// Unlike a pid, a pidfd always refers to the same process: if it has exited
/// and its pid was reused, signalling fails with `ESRCH` instead of hitting a
/// stranger.
///
/// Only the parent can wait for a process (and reap it): waiting on a pidfd
/// of a process that is not a child of this one, or whose status somebody
/// else already collected (`Child::wait`, a `waitpid(-1)` loop), fails at
/// once with `ErrorKind::NotFound`. The status, once collected here, is
/// kept: later and concurrent waits return it too.
///
/// The pidfd is close-on-exec but, alone among ringio's handles, not
/// `O_NONBLOCK`: the kernel turns every wait on a non-blocking pidfd into a
/// `WNOHANG` poll, including `IORING_OP_WAITID`'s, which would then never
/// wait. Nothing here blocks on it: reaping passes `WNOHANG` itself.
///
/// `PidFd` is `Send + Sync`; close it with [`close`](PidFd::close)
/// (idempotent; a pending `wait` fails with
/// [`Error::Closed`](crate::Error::Closed)) or by dropping it.
///
/// # Examples
///
/// ```no_run
/// ringio::Runtime::new()?.block_on(async {
///     let child = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
///     let pidfd = ringio::linux::PidFd::from_child(child)?;
///     assert_eq!(pidfd.wait().await?.code(), Some(3));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct PidFd {
    fd: Fd,
    pid: u32,
    /// The exit status, once reaped. The lock is held across the reaping
    /// `waitid`, so a concurrent waiter that then finds nothing to reap
    /// (`ECHILD`) finds the status here instead.
    status: Mutex<Option<ExitStatus>>,
}

impl PidFd {
    /// Opens a pidfd for the process `pid` (`pidfd_open(2)`, Linux 5.3).
    ///
    /// # Errors
    ///
    /// `ErrorKind::NotFound` if there is no such process (`ESRCH`), which
    /// includes a child that has exited and was already reaped;
    /// `InvalidInput` for pid 0 or one past `i32::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// let me = ringio::linux::PidFd::open(std::process::id())?;
    /// assert_eq!(me.pid(), std::process::id());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(pid: u32) -> io::Result<PidFd> {
        let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
        let Some(target) = raw else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a process id: {pid}"),
            ));
        };
        let fd = rustix::process::pidfd_open(target, PidfdFlags::empty()).map_err(|e| match e {
            rustix::io::Errno::SRCH => io::Error::new(
                io::ErrorKind::NotFound,
                format!("no process {pid}: it does not exist, or has exited and was already reaped (ESRCH)"),
            ),
            e => e.into(),
        })?;
        Ok(PidFd {
            fd: Fd::adopt(fd, true),
            pid,
            status: Mutex::new(None),
        })
    }

    /// Opens a pidfd for `child`, which it takes over: from now on the
    /// child's status is collected by [`wait`](PidFd::wait), the one waiter.
    /// (Take the child's stdio pipes out of it first if you need them;
    /// dropping a `Child` neither kills nor waits.)
    ///
    /// # Errors
    ///
    /// As for [`PidFd::open`]: `NotFound` if the child was already waited for.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let child = std::process::Command::new("true").spawn()?;
    /// let pid = child.id();
    /// let pidfd = ringio::linux::PidFd::from_child(child)?;
    /// assert_eq!(pidfd.pid(), pid);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_child(child: Child) -> io::Result<PidFd> {
        PidFd::open(child.id())
    }

    /// The process id this pidfd was opened for.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::linux::PidFd::open(std::process::id())?.pid(), std::process::id());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` to the process (`pidfd_send_signal(2)`, Linux 5.1).
    ///
    /// # Errors
    ///
    /// `ESRCH` if the process has exited (even if not yet reaped);
    /// `EPERM` without permission; [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::linux::{PidFd, Signal};
    /// ringio::Runtime::new()?.block_on(async {
    ///     let child = std::process::Command::new("sleep").arg("10").spawn()?;
    ///     let pidfd = PidFd::from_child(child)?;
    ///     pidfd.send_signal(Signal::TERM)?;
    ///     assert_eq!(std::os::unix::process::ExitStatusExt::signal(&pidfd.wait().await?), Some(libc::SIGTERM));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_signal(&self, signal: Signal) -> io::Result<()> {
        let guard = self.fd.incref()?;
        rustix::process::pidfd_send_signal(&guard, signal.to_rustix())?;
        Ok(())
    }

    /// Waits for the process to exit and returns its exit status, reaping it.
    ///
    /// Cancel-safe: a dropped `wait` has reaped nothing. Any number of tasks
    /// may wait at once; all get the status.
    ///
    /// On io_uring 6.7+ this is one `IORING_OP_WAITID`; elsewhere a wait
    /// for the pidfd's readiness.
    ///
    /// # Errors
    ///
    /// `ErrorKind::NotFound` at once if the process is not a child of this
    /// one, or was reaped by someone else; [`Error::Closed`](crate::Error::Closed)
    /// if the handle is or gets closed; [`Error::NoRuntime`](crate::Error::NoRuntime)
    /// outside a runtime.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let child = std::process::Command::new("true").spawn()?;
    ///     let pidfd = ringio::linux::PidFd::from_child(child)?;
    ///     assert!(pidfd.wait().await?.success());
    ///     assert!(pidfd.wait().await?.success()); // remembered
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn wait(&self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            match self.exited(true).await {
                // Reaped by someone else meanwhile: `try_wait` says so.
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {}
                res => res?,
            }
        }
    }

    /// The exit status if the process has exited (reaping it), else `None`.
    ///
    /// # Errors
    ///
    /// As for [`wait`](PidFd::wait), without the runtime ones.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let child = std::process::Command::new("sleep").arg("10").spawn()?;
    /// let pidfd = ringio::linux::PidFd::from_child(child)?;
    /// assert_eq!(pidfd.try_wait()?, None);
    /// # pidfd.send_signal(ringio::linux::Signal::KILL)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = *status {
            return Ok(Some(known));
        }
        let guard = self.fd.incref()?;
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
        match rustix::process::waitid(Id::PidFd(guard.as_fd()), options) {
            Ok(Some(reaped)) => {
                let exit = exit_status(&reaped);
                *status = Some(exit);
                Ok(Some(exit))
            }
            Ok(None) => Ok(None),
            Err(rustix::io::Errno::CHILD) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "process {} is not a child of this process, or its exit status was already \
                     collected elsewhere (ECHILD)",
                    self.pid
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until the process has exited, without reaping it: with
    /// `IORING_OP_WAITID` if `waitid_op` and the ring has it, else on the
    /// pidfd's readiness.
    async fn exited(&self, waitid_op: bool) -> io::Result<()> {
        match self.fd.driver()? {
            #[cfg(uring)]
            Driver::Ring(ring) if waitid_op && WaitId::supported(&ring) => self.fd.run_or_closed(WaitId::new).await,
            _ => self.fd.readable().await,
        }
    }

    /// Closes the pidfd once the operations in flight are done; see
    /// [`Fd::close`]. Closing does not affect the process. Idempotent.
    ///
    /// # Errors
    ///
    /// None today (see [`Fd::close`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let pidfd = ringio::linux::PidFd::open(std::process::id())?;
    ///     pidfd.close().await?;
    ///     assert!(ringio::Error::is_closed(&pidfd.try_wait().unwrap_err()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn close(&self) -> io::Result<()> {
        self.fd.close().await
    }

    /// The underlying descriptor handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let me = ringio::linux::PidFd::open(std::process::id())?;
    /// assert!(me.fd().raw() >= 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fd(&self) -> &Fd {
        &self.fd
    }
}

/// The `ExitStatus` std would report for the same child: the wait status
/// encoding `waitpid` returns (code in bits 8-15; or the signal, with bit 7
/// for a core dump).
fn exit_status(reaped: &WaitIdStatus) -> ExitStatus {
    let raw = match (reaped.exit_status(), reaped.terminating_signal()) {
        (Some(code), _) => (code & 0xff) << 8,
        (None, Some(signal)) if reaped.dumped() => signal | 0x80,
        (None, Some(signal)) => signal,
        // Only `WEXITED` is asked for; nothing else is reported.
        (None, None) => 0,
    };
    ExitStatus::from_raw(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Both ways of waiting for an exit work on whichever backend the
    /// runtime has: the `WAITID` op, and the pidfd's readiness (the fallback
    /// for kernels before 6.7, which the suite cannot otherwise reach on a
    /// recent kernel).
    #[test]
    fn exited_with_and_without_the_waitid_op() {
        let rt = crate::Runtime::new().unwrap();
        for waitid_op in [true, false] {
            let child = Command::new("sh").args(["-c", "sleep 0.02; exit 7"]).spawn().unwrap();
            let pidfd = PidFd::from_child(child).unwrap();
            let status = rt.block_on(async {
                assert_eq!(pidfd.try_wait().unwrap(), None);
                pidfd.exited(waitid_op).await.unwrap();
                pidfd.try_wait().unwrap()
            });
            assert_eq!(status.and_then(|s| s.code()), Some(7), "waitid_op: {waitid_op}");
        }
    }

    #[test]
    fn exit_status_matches_std_encoding() {
        let child = Command::new("sh").args(["-c", "kill -KILL $$"]).spawn().unwrap();
        let pidfd = PidFd::from_child(child).unwrap();
        let status = crate::Runtime::new().unwrap().block_on(pidfd.wait()).unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(status.code(), None);
        assert!(!status.core_dumped());
    }
}
