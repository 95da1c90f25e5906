//! [`Fd::tee`]: `tee(2)` between two pipes, duplicating bytes from the head
//! of one onto the tail of the other without consuming them, so the same
//! bytes can then be spliced to two places (a mirror) with no copy through
//! user memory.
//!
//! Cancel rule. A tee never consumes its source, so dropping one never
//! loses a byte; what it may have done is duplicate:
//! - on io_uring (`IORING_OP_TEE`, Linux 5.8), a tee dropped while its SQE
//!   is in the kernel is cancelled, but may have run first: then it
//!   appended the first `n <= len` bytes the source held (one `tee(2)`
//!   call: a prefix, whole, in order) to the destination, exactly as a tee
//!   that returned `n`, and nothing else. Its locks on both pipes are held
//!   until the kernel is done, so no read of the source and no write to the
//!   destination can come in between;
//! - on readiness backends (and rings without the opcode) the `tee(2)`
//!   runs inside `poll`, so a dropped tee duplicated nothing.
//!
//! A caller that must know `n` (a mirror that consumes what it duplicated)
//! can count what arrived on the destination once the runtime has no
//! operation in flight, or not drop its tees.

use super::Fd;
use crate::driver::Driver;
use crate::fd::mutex::Access;
use crate::fd::Interest;
use crate::op::tee::Tee;
use std::io;
use std::sync::Arc;

impl Fd {
    /// Duplicates up to `len` bytes from the head of this pipe (a read end)
    /// onto the tail of `dst` (a pipe's write end) without consuming them,
    /// as `tee(2)`; returns how many, waiting until this pipe has bytes and
    /// `dst` has room. `Ok(0)` means this pipe is empty and has no writer
    /// left (or `len` is 0).
    ///
    /// It takes this pipe's read lock and `dst`'s write lock, so a tee sits
    /// between two reads of the source and between two writes to `dst`.
    /// On io_uring it is one `IORING_OP_TEE` (Linux 5.8), non-blocking, and
    /// readiness waits (`POLL_ADD`) when a pipe is empty or full; on
    /// readiness backends a non-blocking `tee(2)` after the same waits. See
    /// the module docs of `fd/tee.rs` for what a dropped tee may have done
    /// (at most what a completed one would: the source is never consumed).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Closed`] if either handle is or gets closed;
    /// `InvalidInput` if either is not a pipe (`EINVAL`), or if bytes that
    /// a dropped [`Fd::read`] took off this pipe wait to be read first (a
    /// tee cannot see them); any other error of `tee(2)`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use rustix::pipe::{pipe_with, PipeFlags};
    /// use ringio::fd::Fd;
    /// ringio::Runtime::new()?.block_on(async {
    ///     let flags = PipeFlags::CLOEXEC | PipeFlags::NONBLOCK;
    ///     let (a_r, a_w) = pipe_with(flags)?;
    ///     let (b_r, b_w) = pipe_with(flags)?;
    ///     let (a_r, a_w, b_r, b_w) = (Fd::new(a_r), Fd::new(a_w), Fd::new(b_r), Fd::new(b_w));
    ///     a_w.write(b"twice".to_vec()).await.0?;
    ///     assert_eq!(a_r.tee(&b_w, 64).await?, 5);
    ///     let (n, copy) = b_r.read(Vec::with_capacity(8)).await;
    ///     assert_eq!(&copy[..n?], b"twice");
    ///     let (n, orig) = a_r.read(Vec::with_capacity(8)).await; // still there
    ///     assert_eq!(&orig[..n?], b"twice");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn tee(&self, dst: &Fd, len: usize) -> io::Result<usize> {
        let driver = self.handle.driver()?;
        let src = Arc::new(self.handle.lock(Access::Read).await?);
        let out = Arc::new(dst.handle.lock(Access::Write).await?);
        if src.rescue().has_any() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "tee: bytes a dropped read took off the source pipe wait to be read first",
            ));
        }
        let len = len.min(u32::MAX as usize) as u32;
        loop {
            let target = src.target();
            let data = Tee::new(src.clone().into(), out.clone().into(), len);
            let op = match &driver {
                #[cfg(uring)]
                Driver::Ring(ring) if !crate::driver::fallback::ring_has(ring, Tee::CODE) => {
                    driver.submit_nonblocking(data, Interest::READABLE)
                }
                _ => driver.submit(data),
            };
            match self.cancel_on_close(&driver, target, op).await {
                // Empty source or full destination: wait for both (each wait
                // is level-triggered and moves nothing), then try again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.poll(Interest::READABLE).await?;
                    dst.poll(Interest::WRITABLE).await?;
                }
                res => return res,
            }
        }
    }
}
