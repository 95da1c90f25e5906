//! `Signal`: a standard POSIX signal, as [`SignalFd`](super::SignalFd)
//! receives it and [`PidFd::send_signal`](super::PidFd::send_signal) sends it.

use std::fmt;

/// A standard (non-realtime) signal.
///
/// # Examples
///
/// ```
/// use ringio::linux::Signal;
/// assert_eq!(Signal::TERM.as_raw(), libc::SIGTERM);
/// assert_eq!(Signal::from_raw(libc::SIGINT), Some(Signal::INT));
/// assert_eq!(Signal::from_raw(0), None);
/// assert_eq!(Signal::INT.to_string(), "SIGINT");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signal(rustix::process::Signal);

impl Signal {
    /// `SIGHUP`: the controlling terminal hung up; daemons: reload.
    pub const HUP: Signal = Signal(rustix::process::Signal::HUP);
    /// `SIGINT`: interrupt from the keyboard (Ctrl-C).
    pub const INT: Signal = Signal(rustix::process::Signal::INT);
    /// `SIGQUIT`: quit from the keyboard (Ctrl-\\).
    pub const QUIT: Signal = Signal(rustix::process::Signal::QUIT);
    /// `SIGABRT`: abort.
    pub const ABRT: Signal = Signal(rustix::process::Signal::ABORT);
    /// `SIGKILL`: kill; cannot be caught, blocked or ignored.
    pub const KILL: Signal = Signal(rustix::process::Signal::KILL);
    /// `SIGUSR1`: user-defined.
    pub const USR1: Signal = Signal(rustix::process::Signal::USR1);
    /// `SIGUSR2`: user-defined.
    pub const USR2: Signal = Signal(rustix::process::Signal::USR2);
    /// `SIGPIPE`: write to a pipe with no reader.
    pub const PIPE: Signal = Signal(rustix::process::Signal::PIPE);
    /// `SIGALRM`: timer from `alarm(2)`.
    pub const ALRM: Signal = Signal(rustix::process::Signal::ALARM);
    /// `SIGTERM`: polite request to terminate.
    pub const TERM: Signal = Signal(rustix::process::Signal::TERM);
    /// `SIGCHLD`: a child stopped or terminated.
    pub const CHLD: Signal = Signal(rustix::process::Signal::CHILD);
    /// `SIGCONT`: continue if stopped.
    pub const CONT: Signal = Signal(rustix::process::Signal::CONT);
    /// `SIGSTOP`: stop; cannot be caught, blocked or ignored.
    pub const STOP: Signal = Signal(rustix::process::Signal::STOP);
    /// `SIGTSTP`: stop from the keyboard (Ctrl-Z).
    pub const TSTP: Signal = Signal(rustix::process::Signal::TSTP);
    /// `SIGWINCH`: the terminal window changed size.
    pub const WINCH: Signal = Signal(rustix::process::Signal::WINCH);

    /// The signal numbered `raw`, if it is a standard signal.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::linux::Signal::from_raw(libc::SIGHUP), Some(ringio::linux::Signal::HUP));
    /// ```
    pub const fn from_raw(raw: i32) -> Option<Signal> {
        match rustix::process::Signal::from_named_raw(raw) {
            Some(sig) => Some(Signal(sig)),
            None => None,
        }
    }

    /// The signal's number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::linux::Signal::KILL.as_raw(), 9);
    /// ```
    pub const fn as_raw(self) -> i32 {
        self.0.as_raw()
    }

    pub(crate) fn to_rustix(self) -> rustix::process::Signal {
        self.0
    }

    fn name(self) -> Option<&'static str> {
        const NAMES: [(Signal, &str); 15] = [
            (Signal::HUP, "SIGHUP"),
            (Signal::INT, "SIGINT"),
            (Signal::QUIT, "SIGQUIT"),
            (Signal::ABRT, "SIGABRT"),
            (Signal::KILL, "SIGKILL"),
            (Signal::USR1, "SIGUSR1"),
            (Signal::USR2, "SIGUSR2"),
            (Signal::PIPE, "SIGPIPE"),
            (Signal::ALRM, "SIGALRM"),
            (Signal::TERM, "SIGTERM"),
            (Signal::CHLD, "SIGCHLD"),
            (Signal::CONT, "SIGCONT"),
            (Signal::STOP, "SIGSTOP"),
            (Signal::TSTP, "SIGTSTP"),
            (Signal::WINCH, "SIGWINCH"),
        ];
        NAMES.iter().find(|(sig, _)| *sig == self).map(|(_, name)| *name)
    }
}

impl std::hash::Hash for Signal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_raw().hash(state);
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.as_raw()),
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} ({})", self.as_raw())
    }
}
