//! Typed errors callers can match on, and their conversion into `std::io::Error`.
//!
//! The I/O boundary speaks `io::Result`; where a caller needs to tell *why* an
//! operation was refused (the handle was closed, the runtime is gone, io_uring
//! is unavailable), the `io::Error` carries one of these as its inner error, so
//! [`Error::of`] recovers it without string matching.

use std::fmt;
use std::io;

/// Why ringio refused an operation.
///
/// Every variant converts into an [`io::Error`] with a fitting [`io::ErrorKind`];
/// use [`Error::of`] to get the variant back out of an `io::Error`.
///
/// # Examples
///
/// ```
/// use ringio::Error;
/// let err: std::io::Error = Error::Closed.into();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
/// assert_eq!(Error::of(&err), Some(&Error::Closed));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The handle was closed (by `close`, by drop, or concurrently by another task).
    Closed,
    /// More than about a million operations are pending on one descriptor.
    TooManyOperations,
    /// The calling thread has no ringio runtime.
    NoRuntime,
    /// The runtime that owns this resource has shut down.
    RuntimeShutDown,
    /// The runtime that owns this descriptor exists but is not running (no
    /// thread is inside its `block_on`), so nothing would ever complete an
    /// operation submitted to it from another thread or runtime.
    HomeIdle,
    /// io_uring cannot be used on this machine; the string says why.
    Unsupported(String),
    /// A pinned reactor ([`crate::Builder::build_pinned_reactor`]) was
    /// turned, or shut down, from a thread other than the one that first
    /// turned it: only that thread can run its deferred work.
    PinnedElsewhere,
    /// `close` on a handle that lent its descriptor for its whole life
    /// (`lend_fd`, which `ringio-compat`'s `AsFd` uses): such a handle
    /// closes when it is dropped.
    Lent,
}

impl Error {
    /// Returns the ringio error inside `err`, if `err` was made from one.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = std::io::Error::other("unrelated");
    /// assert_eq!(ringio::Error::of(&err), None);
    /// ```
    pub fn of(err: &io::Error) -> Option<&Error> {
        err.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }

    /// True if `err` says the handle was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::Error::is_closed(&ringio::Error::Closed.into()));
    /// ```
    pub fn is_closed(err: &io::Error) -> bool {
        matches!(Self::of(err), Some(Error::Closed))
    }

    fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Closed => io::ErrorKind::NotConnected,
            Error::TooManyOperations | Error::Lent => io::ErrorKind::ResourceBusy,
            Error::NoRuntime | Error::RuntimeShutDown | Error::HomeIdle | Error::PinnedElsewhere => {
                io::ErrorKind::Other
            }
            Error::Unsupported(_) => io::ErrorKind::Unsupported,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("use of closed descriptor"),
            Error::TooManyOperations => f.write_str("too many concurrent operations on one descriptor"),
            Error::NoRuntime => f.write_str("no ringio runtime on this thread"),
            Error::RuntimeShutDown => f.write_str("the ringio runtime has shut down"),
            Error::HomeIdle => f.write_str(
                "the ringio runtime this descriptor belongs to is not running (no thread is in its block_on)",
            ),
            Error::Unsupported(why) => write!(f, "io_uring unavailable: {why}"),
            Error::PinnedElsewhere => {
                f.write_str("this pinned reactor is driven by another thread (the one that first turned it)")
            }
            Error::Lent => f.write_str("this handle lent its descriptor for its whole life: drop it to close it"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        io::Error::new(err.kind(), err)
    }
}

impl From<crate::fd::mutex::FdMutexError> for Error {
    fn from(err: crate::fd::mutex::FdMutexError) -> Error {
        match err {
            crate::fd::mutex::FdMutexError::Closed => Error::Closed,
            crate::fd::mutex::FdMutexError::TooManyOperations => Error::TooManyOperations,
        }
    }
}

impl From<crate::fd::mutex::FdMutexError> for io::Error {
    fn from(err: crate::fd::mutex::FdMutexError) -> io::Error {
        Error::from(err).into()
    }
}

/// Result of an owned-buffer operation: the outcome, and the buffer handed back.
pub type BufResult<T, B> = (io::Result<T>, B);
