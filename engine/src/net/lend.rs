//! `with_fd`: lends a socket's descriptor to one synchronous call (a socket
//! option ringio has no method for, a `MSG_PEEK`, a `dup`), holding a
//! reference so a concurrent `close` cannot close (and the kernel reuse)
//! the number while the call runs.

/// Adds `with_fd` to a socket type whose `Handle` is `self.inner.fd`.
macro_rules! lend_fd {
    ($ty:ty) => {
        impl $ty {
            /// Runs `f` with the socket's descriptor, kept open for the
            /// call. For synchronous calls only (options, `MSG_PEEK`, `dup`):
            /// reads and writes that bypass ringio skip its ordering.
            ///
            /// # Errors
            ///
            /// [`crate::Error::Closed`] once the socket is closed; else what `f` returns.
            ///
            /// # Examples
            ///
            /// ```no_run
            /// # fn f(s: &ringio::net::UdpSocket) -> std::io::Result<()> {
            /// let raw = s.with_fd(|fd| Ok(std::os::fd::AsRawFd::as_raw_fd(&fd)))?;
            /// # let _ = raw; Ok(()) }
            /// ```
            pub fn with_fd<R>(
                &self,
                f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> std::io::Result<R>,
            ) -> std::io::Result<R> {
                self.inner.fd.with_io(f)
            }
        }
    };
}

pub(crate) use lend_fd;
