//! `SignalFd`: signals received as data (`signalfd(2)`) instead of by an
//! asynchronous handler: block them, then await them one at a time.

use super::sigset::SigSet;
use super::Signal;
use crate::fd::{Fd, Interest};
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::Command;

/// Signals, awaited as data: the Ctrl-C / `SIGTERM` handler of an async
/// program.
///
/// [`SignalFd::new`] blocks the signals on the calling thread and opens a
/// signalfd for them; [`recv`](SignalFd::recv) then yields each one as it
/// arrives. A blocked signal stays pending instead of running its default
/// action (for `SIGINT`/`SIGTERM`: terminating the process) until it is
/// read here.
///
/// The mask is per thread, and a signal sent to the process goes to any one
/// thread that does not block it. So create the `SignalFd` on the main
/// thread **before any other thread is started** (threads inherit the mask
/// of the thread that creates them): otherwise a thread that does not block
/// the signal may receive it, and this handle never sees it. The signals
/// stay blocked after the handle is closed (unblocking them would run the
/// default action of any still pending). `SIGKILL` and `SIGSTOP` cannot be
/// blocked or received.
///
/// Child processes inherit the mask too (`std::process::Command` does not
/// reset it), so a child would ignore a `SIGTERM` sent to it: spawn
/// children through [`unblock_in_child`](SignalFd::unblock_in_child).
///
/// Created `SFD_CLOEXEC | SFD_NONBLOCK`. `SignalFd` is `Send + Sync`; close
/// it with [`close`](SignalFd::close) (idempotent; a pending `recv` fails
/// with [`Error::Closed`](crate::Error::Closed)) or by dropping it.
///
/// # Examples
///
/// Graceful shutdown:
///
/// ```no_run
/// use ringio::linux::{Signal, SignalFd};
///
/// // First thing in main, before any thread exists.
/// let signals = SignalFd::new(&[Signal::INT, Signal::TERM])?;
/// ringio::Runtime::new()?.block_on(async {
///     let info = signals.recv().await?;
///     println!("{} from pid {}: shutting down", info.signal(), info.pid());
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SignalFd {
    fd: Fd,
    signals: Vec<Signal>,
    set: SigSet,
}

impl SignalFd {
    /// Blocks `signals` on the calling thread (`pthread_sigmask`) and opens
    /// a signalfd that receives them.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a signal the kernel does not know; any error of
    /// `signalfd(2)` (`EMFILE`, `ENFILE`, `ENOMEM`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{Signal, SignalFd};
    /// let signals = SignalFd::new(&[Signal::USR1])?;
    /// assert_eq!(signals.signals(), &[Signal::USR1]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(signals: &[Signal]) -> io::Result<SignalFd> {
        let set = SigSet::of(signals)?;
        set.block_on_this_thread()?;
        tracing::debug!(?signals, "signals blocked on this thread for a signalfd");
        Ok(SignalFd {
            fd: Fd::adopt(set.signalfd()?, true),
            signals: signals.to_vec(),
            set,
        })
    }

    /// Makes the processes `command` spawns start with this handle's signals
    /// unblocked, as a program expects, instead of inheriting the blocked
    /// mask of the spawning thread. (It installs a `pre_exec` hook, so std
    /// spawns with `fork` + `exec` rather than `posix_spawn`.)
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::linux::{PidFd, Signal, SignalFd};
    /// use std::process::Command;
    ///
    /// let signals = SignalFd::new(&[Signal::INT, Signal::TERM])?;
    /// let mut sleep = Command::new("sleep");
    /// sleep.arg("10");
    /// let child = PidFd::from_child(signals.unblock_in_child(&mut sleep).spawn()?)?;
    /// child.send_signal(Signal::TERM)?; // terminates it: not blocked there
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unblock_in_child<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        self.set.unblock_in_child(command);
        command
    }

    /// The signals this handle receives.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{Signal, SignalFd};
    /// assert_eq!(SignalFd::new(&[Signal::USR2])?.signals(), &[Signal::USR2]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn signals(&self) -> &[Signal] {
        &self.signals
    }

    /// Waits for the next signal and takes it.
    ///
    /// Sees signals pending for the process, and those pending for the
    /// thread this runs on (the runtime's thread: make it the one that
    /// blocked them). Cancel-safe: a dropped `recv` takes no signal.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if the handle is or gets
    /// closed; [`Error::NoRuntime`](crate::Error::NoRuntime) outside a runtime.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::linux::{Signal, SignalFd};
    /// let signals = SignalFd::new(&[Signal::USR1])?;
    /// ringio::Runtime::new()?.block_on(async {
    ///     let me = std::process::id().to_string();
    ///     std::process::Command::new("kill").args(["-USR1", &me]).status()?;
    ///     assert_eq!(signals.recv().await?.signal(), Signal::USR1);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&self) -> io::Result<SignalInfo> {
        self.fd.async_io(Interest::READABLE, read_one).await
    }

    /// The next pending signal, if any, without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::linux::{Signal, SignalFd};
    /// assert!(SignalFd::new(&[Signal::USR2])?.try_recv()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_recv(&self) -> io::Result<Option<SignalInfo>> {
        let guard = self.fd.incref()?;
        match read_one(guard.as_fd()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            res => res.map(Some),
        }
    }

    /// Closes the signalfd once the operations in flight are done; see
    /// [`Fd::close`]. The signals stay blocked. Idempotent.
    ///
    /// # Errors
    ///
    /// None today (see [`Fd::close`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use ringio::linux::{Signal, SignalFd};
    /// let signals = SignalFd::new(&[Signal::USR1])?;
    /// ringio::Runtime::new()?.block_on(signals.close())?;
    /// assert!(ringio::Error::is_closed(&signals.try_recv().unwrap_err()));
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
    /// use ringio::linux::{Signal, SignalFd};
    /// assert!(SignalFd::new(&[Signal::USR1])?.fd().raw() >= 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fd(&self) -> &Fd {
        &self.fd
    }
}

impl std::fmt::Debug for SignalFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalFd")
            .field("fd", &self.fd)
            .field("signals", &self.signals)
            .finish()
    }
}

/// One signal as a [`SignalFd`] received it (`struct signalfd_siginfo`).
///
/// # Examples
///
/// ```no_run
/// # async fn f(signals: ringio::linux::SignalFd) -> std::io::Result<()> {
/// let info = signals.recv().await?;
/// println!("{} sent by pid {} (uid {})", info.signal(), info.pid(), info.uid());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalInfo {
    signal: Signal,
    code: i32,
    pid: u32,
    uid: u32,
}

impl SignalInfo {
    /// The signal.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Who sent it: the sender's pid for `kill`/`sigqueue`/`raise`
    /// (0 for signals the kernel raises itself).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The sender's real user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// `si_code`: how it was sent (`SI_USER` for `kill`, `SI_TKILL` for
    /// `raise`/`tgkill`, `SI_QUEUE`, `SI_KERNEL`, ...).
    pub fn code(&self) -> i32 {
        self.code
    }
}

/// Size of one record a signalfd read returns.
const RECORD: usize = size_of::<libc::signalfd_siginfo>();

/// One non-blocking `read(2)` of one record.
fn read_one(fd: BorrowedFd<'_>) -> io::Result<SignalInfo> {
    let mut record = [0u8; RECORD];
    let n = rustix::io::read(fd, &mut record)?;
    debug_assert_eq!(n, RECORD, "signalfd reads whole records");
    let u32_at = |offset: usize| u32::from_ne_bytes(record[offset..offset + 4].try_into().expect("4 bytes"));
    let signo = u32_at(offset_of!(libc::signalfd_siginfo, ssi_signo));
    let signal = i32::try_from(signo).ok().and_then(Signal::from_raw).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("signalfd reported unknown signal {signo}"),
        )
    })?;
    Ok(SignalInfo {
        signal,
        code: u32_at(offset_of!(libc::signalfd_siginfo, ssi_code)) as i32,
        pid: u32_at(offset_of!(libc::signalfd_siginfo, ssi_pid)),
        uid: u32_at(offset_of!(libc::signalfd_siginfo, ssi_uid)),
    })
}
