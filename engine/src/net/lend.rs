//! `with_fd` and `try_io`: lend a socket's descriptor to one synchronous
//! call (a socket option ringio has no method for, a `MSG_PEEK`, a `dup`),
//! holding a reference so a concurrent `close` cannot close (and the kernel
//! reuse) the number while the call runs; `try_io` also hears a
//! `WouldBlock` from it, for the readiness waits. And `lend_fd`: the
//! descriptor for the handle's whole life, in exchange for `close`.

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

            /// Runs `f`, a non-blocking call of the caller's own on the
            /// socket's descriptor (kept open for the call), as tokio's
            /// `try_io`: a `WouldBlock` from it tells ringio that the socket
            /// is not ready for `interest`, so the next readiness wait
            /// (`readable`, `poll_read_ready`...) waits for the kernel. A
            /// call that says `WouldBlock` outside `try_io` leaves the
            /// readiness as it was, and the next wait may complete at once.
            ///
            /// # Errors
            ///
            /// [`crate::Error::Closed`] once the socket is closed; else what `f` returns.
            ///
            /// # Examples
            ///
            /// ```no_run
            /// use ringio::fd::Interest;
            ///
            /// # async fn f(s: &ringio::net::UdpSocket) -> std::io::Result<()> {
            /// let mut buf = [0u8; 1500];
            /// let peeked = loop {
            ///     s.readable().await?;
            ///     match s.try_io(Interest::READABLE, |fd| {
            ///         let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
            ///         Ok(rustix::net::recv(fd, &mut buf, flags)?.0)
            ///     }) {
            ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            ///         other => break other?,
            ///     }
            /// };
            /// # let _ = peeked; Ok(()) }
            /// ```
            pub fn try_io<R>(
                &self,
                interest: crate::fd::Interest,
                f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> std::io::Result<R>,
            ) -> std::io::Result<R> {
                self.inner.fd.try_io(interest, f)
            }

            /// The socket's descriptor, borrowed for as long as the socket is,
            /// for a wrapper that implements `AsFd` (as `ringio-compat`
            /// does). In exchange, from the first call on, `close` refuses
            /// with [`crate::Error::Lent`]: the socket closes when it is
            /// dropped, which no borrow outlives.
            ///
            /// # Errors
            ///
            /// [`crate::Error::Closed`] if `close` was called first.
            ///
            /// # Examples
            ///
            /// ```no_run
            /// # async fn f(s: ringio::net::UdpSocket) -> std::io::Result<()> {
            /// let fd = s.lend_fd()?;
            /// rustix::net::sockopt::set_socket_broadcast(fd, true)?;
            /// assert!(ringio::Error::of(&s.close().await.unwrap_err()) == Some(&ringio::Error::Lent));
            /// # Ok(()) }
            /// ```
            pub fn lend_fd(&self) -> std::io::Result<std::os::fd::BorrowedFd<'_>> {
                self.inner.fd.lend_fd()
            }
        }
    };
}

pub(crate) use lend_fd;
