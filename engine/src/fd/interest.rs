//! `Interest`: the directions of readiness a caller waits for, and that
//! [`Fd::poll`](super::Fd::poll) reports as ready.
//!
//! It is the engine's only type for readiness directions: the readiness
//! backends arm it and report it, `POLL_ADD` asks for it, and the same value
//! reaches the caller. The set operations the engine needs besides `|` are
//! crate-private, and so is the empty set, since waiting for nothing would
//! wait forever.

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
    pub const READABLE: Interest = Interest::new(true, false);
    /// Ready to write (`POLLOUT`), or in error.
    pub const WRITABLE: Interest = Interest::new(false, true);
    /// Neither direction: what a descriptor has armed before its first `arm`.
    pub(crate) const NONE: Interest = Interest::new(false, false);

    /// The set with each direction whose flag is true.
    pub(crate) const fn new(readable: bool, writable: bool) -> Interest {
        Interest { readable, writable }
    }

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

    /// True if the set has neither direction.
    pub(crate) const fn is_empty(self) -> bool {
        !self.readable && !self.writable
    }

    /// The directions in both `self` and `other`.
    pub(crate) const fn intersection(self, other: Interest) -> Interest {
        Interest::new(self.readable && other.readable, self.writable && other.writable)
    }

    /// The directions in `self` but not in `other`.
    pub(crate) const fn difference(self, other: Interest) -> Interest {
        Interest::new(self.readable && !other.readable, self.writable && !other.writable)
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        Interest::new(self.readable || other.readable, self.writable || other.writable)
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

#[cfg(test)]
mod tests {
    use super::Interest;

    const BOTH: Interest = Interest::new(true, true);

    #[test]
    fn set_operations() {
        assert_eq!(Interest::READABLE | Interest::WRITABLE, BOTH);
        assert_eq!(BOTH.intersection(Interest::WRITABLE), Interest::WRITABLE);
        assert_eq!(BOTH.difference(Interest::READABLE), Interest::WRITABLE);
        assert_eq!(Interest::READABLE.difference(Interest::READABLE), Interest::NONE);
        assert!(Interest::NONE.is_empty() && !Interest::READABLE.is_empty());
        assert_eq!(format!("{BOTH:?} {:?}", Interest::NONE), "READABLE | WRITABLE (none)");
    }
}
