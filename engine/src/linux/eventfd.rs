//! `EventFd`: a kernel counter (`eventfd(2)`) that any thread can add to and
//! tasks can await: the cheapest cross-thread wakeup Linux has.

use crate::fd::{Fd, Interest};
use rustix::event::EventfdFlags;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// An `eventfd(2)` counter: [`add`](EventFd::add) from anywhere, await
/// [`read`](EventFd::read) on a runtime.
///
/// In the default mode a read returns the whole counter and resets it to
/// zero; in [semaphore mode](EventFd::semaphore) it returns 1 and decrements
/// it. A read waits while the counter is zero. Any number of tasks may read
/// at once: each non-zero counter value goes to exactly one of them.
///
/// Created `EFD_CLOEXEC | EFD_NONBLOCK`. `EventFd` is `Send + Sync`; close
/// it with [`close`](EventFd::close) (idempotent, waits for operations in
/// flight, which fail with [`Error::Closed`](crate::Error::Closed)) or by
/// dropping it. [`fd`](EventFd::fd) gives the underlying [`Fd`].
///
/// # Examples
///
/// Waking a task from a plain thread:
///
/// ```no_run
/// use std::sync::Arc;
/// ringio::Runtime::new()?.block_on(async {
///     let event = Arc::new(ringio::linux::EventFd::new(0)?);
///     let remote = event.clone();
///     std::thread::spawn(move || remote.add(1));
///     assert_eq!(event.read().await?, 1);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct EventFd {
    fd: Fd,
}

impl EventFd {
    /// A counter starting at `initial`; reads take the whole counter.
    ///
    /// # Errors
    ///
    /// Any error of `eventfd(2)` (`EMFILE`, `ENFILE`, `ENOMEM`).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = ringio::linux::EventFd::new(3)?;
    /// assert_eq!(event.try_read()?, Some(3));
    /// assert_eq!(event.try_read()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(initial: u32) -> io::Result<EventFd> {
        EventFd::create(initial, EventfdFlags::empty())
    }

    /// A counter starting at `initial` in semaphore mode (`EFD_SEMAPHORE`):
    /// each read returns 1 and decrements the counter.
    ///
    /// # Errors
    ///
    /// As for [`EventFd::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = ringio::linux::EventFd::semaphore(2)?;
    /// assert_eq!(sem.try_read()?, Some(1));
    /// assert_eq!(sem.try_read()?, Some(1));
    /// assert_eq!(sem.try_read()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn semaphore(initial: u32) -> io::Result<EventFd> {
        EventFd::create(initial, EventfdFlags::SEMAPHORE)
    }

    fn create(initial: u32, mode: EventfdFlags) -> io::Result<EventFd> {
        let fd = rustix::event::eventfd(initial, mode | EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(EventFd {
            fd: Fd::adopt(fd, true),
        })
    }

    /// Adds `n` to the counter, waking a reader. Callable from any thread,
    /// with or without a runtime; never blocks.
    ///
    /// # Errors
    ///
    /// `WouldBlock` if the counter would pass `u64::MAX - 1` (nobody reads);
    /// `InvalidInput` for `n == u64::MAX`;
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = ringio::linux::EventFd::new(0)?;
    /// event.add(2)?;
    /// event.add(3)?;
    /// assert_eq!(event.try_read()?, Some(5));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add(&self, n: u64) -> io::Result<()> {
        let guard = self.fd.incref()?;
        rustix::io::write(&guard, &n.to_ne_bytes())?;
        Ok(())
    }

    /// Waits until the counter is non-zero and takes it: the whole value,
    /// or 1 in semaphore mode.
    ///
    /// Cancel-safe: a dropped `read` takes nothing from the counter.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if the handle is or gets
    /// closed; [`Error::NoRuntime`](crate::Error::NoRuntime) outside a runtime.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let event = ringio::linux::EventFd::new(0)?;
    ///     event.add(7)?;
    ///     assert_eq!(event.read().await?, 7);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn read(&self) -> io::Result<u64> {
        self.fd.async_io(Interest::READABLE, read_counter).await
    }

    /// Takes the counter if it is non-zero, without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::linux::EventFd::new(0)?.try_read()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_read(&self) -> io::Result<Option<u64>> {
        let guard = self.fd.incref()?;
        match read_counter(guard.as_fd()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            res => res.map(Some),
        }
    }

    /// Closes the counter once the operations in flight are done; see
    /// [`Fd::close`]. Idempotent.
    ///
    /// # Errors
    ///
    /// None today (see [`Fd::close`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::Runtime::new()?.block_on(async {
    ///     let event = ringio::linux::EventFd::new(0)?;
    ///     event.close().await?;
    ///     assert!(ringio::Error::is_closed(&event.add(1).unwrap_err()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn close(&self) -> io::Result<()> {
        self.fd.close().await
    }

    /// The underlying descriptor handle (for guards, `raw`, `poll`).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = ringio::linux::EventFd::new(0)?;
    /// assert!(event.fd().raw() >= 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fd(&self) -> &Fd {
        &self.fd
    }
}

/// One non-blocking `read(2)` of the 8-byte counter.
fn read_counter(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut value = [0u8; 8];
    let n = rustix::io::read(fd, &mut value)?;
    debug_assert_eq!(n, 8, "eventfd reads are all or nothing");
    Ok(u64::from_ne_bytes(value))
}
