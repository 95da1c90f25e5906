//! `Interest`: the directions of readiness a caller waits for, and that
//! [`Fd::poll`](super::Fd::poll) reports as ready.

use crate::backend;
use std::fmt;
use std::ops::BitOr;

/// A set of readiness directions: readable, writable, or both.
///
/// Passed to [`Fd::poll`](super::Fd::poll) to say what to wait for; the same
/// type comes back saying what is ready. Errors and hang-ups are reported as
/// both directions, so the caller's next read or write sees them.
///
/// # Examples
///
/// ```
/// use ringio::fd::Interest;
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert!(!Interest::READABLE.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest {
    readable: bool,
    writable: bool,
}

impl Interest {
    /// Ready to read (`POLLIN`), or at end of stream, or in error.
    pub const READABLE: Interest = Interest {
        readable: true,
        writable: false,
    };
    /// Ready to write (`POLLOUT`), or in error.
    pub const WRITABLE: Interest = Interest {
        readable: false,
        writable: true,
    };

    /// True if the set contains [`Interest::READABLE`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::fd::Interest::READABLE.is_readable());
    /// ```
    pub const fn is_readable(self) -> bool {
        self.readable
    }

    /// True if the set contains [`Interest::WRITABLE`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::fd::Interest::WRITABLE.is_writable());
    /// ```
    pub const fn is_writable(self) -> bool {
        self.writable
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        Interest {
            readable: self.readable || other.readable,
            writable: self.writable || other.writable,
        }
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.readable, self.writable) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("(none)"),
        }
    }
}

impl From<Interest> for backend::Interest {
    fn from(i: Interest) -> backend::Interest {
        backend::Interest {
            readable: i.readable,
            writable: i.writable,
        }
    }
}

impl From<backend::Interest> for Interest {
    fn from(i: backend::Interest) -> Interest {
        Interest {
            readable: i.readable,
            writable: i.writable,
        }
    }
}
