//! Registered buffers: the ring's sparse buffer table (`IORING_REGISTER_BUFFERS2`
//! with `IORING_RSRC_REGISTER_SPARSE`, Linux 5.13), registered the first time
//! a [`BufPool`](crate::buf::BufPool) asks, and which runs of its entries the
//! pools hold.
//!
//! A pool's buffers are registered as one run of consecutive entries
//! (`IORING_REGISTER_BUFFERS_UPDATE`). The kernel pins their pages; every
//! `READ_FIXED`/`WRITE_FIXED` then skips the page walk and pinning that a
//! plain `READ`/`WRITE` does per operation. Both calls are synchronous
//! `io_uring_register`s, made only when a pool is created or dropped, and only
//! on the owner thread (`SINGLE_ISSUER` rings refuse them elsewhere).

use super::driver::Driver;
use super::remote::Remote;
use std::io;

/// Entries of the sparse table (the kernel's maximum is 16384); each empty
/// entry costs the kernel a pointer.
pub(crate) const TABLE_ENTRIES: u32 = 4096;

/// Runs of the table's entries that no pool holds.
#[derive(Default)]
pub(crate) struct BufferTable {
    /// The sparse table is registered with the kernel.
    registered: bool,
    /// Free runs `(first, len)`, sorted by `first`, never adjacent.
    free: Vec<(u32, u32)>,
}

impl BufferTable {
    /// The first entry of a free run of `n`, taken (first fit).
    fn take(&mut self, n: u32) -> Option<u32> {
        let at = self.free.iter().position(|&(_, len)| len >= n)?;
        let (first, len) = self.free[at];
        if len == n {
            self.free.remove(at);
        } else {
            self.free[at] = (first + n, len - n);
        }
        Some(first)
    }

    /// Gives back the run `first..first + n`, merging it with its neighbours.
    fn give_back(&mut self, first: u32, n: u32) {
        let at = self.free.partition_point(|&(f, _)| f < first);
        self.free.insert(at, (first, n));
        if at + 1 < self.free.len() && first + n == self.free[at + 1].0 {
            self.free[at].1 += self.free[at + 1].1;
            self.free.remove(at + 1);
        }
        if at > 0 && self.free[at - 1].0 + self.free[at - 1].1 == first {
            self.free[at - 1].1 += self.free[at].1;
            self.free.remove(at);
        }
    }
}

impl Driver {
    /// Registers `iovecs` as consecutive fixed buffers and returns the index
    /// of the first. `Ok(None)` where this ring cannot (a hosted ring, not
    /// the owner thread, a kernel without sparse tables, a full table): the
    /// caller's buffers then work as plain memory.
    ///
    /// # Errors
    ///
    /// `OutOfMemory` when the kernel cannot pin that much memory (its
    /// `RLIMIT_MEMLOCK` accounting).
    ///
    /// # Safety
    ///
    /// Every iovec must stay valid until [`Driver::release_buffers`] for the
    /// returned run has run on the owner thread, or the ring is gone.
    pub(crate) unsafe fn register_buffers(&self, iovecs: &[libc::iovec]) -> io::Result<Option<u16>> {
        if self.inner.hosted || !self.is_owner_thread() || iovecs.is_empty() {
            return Ok(None);
        }
        let n = iovecs.len() as u32;
        self.with(|st| {
            if !st.buffers.registered {
                if let Err(err) = st.ring.submitter().register_buffers_sparse(TABLE_ENTRIES) {
                    tracing::debug!(%err, "no sparse buffer table (Linux 5.13); pools use plain memory");
                    return Ok(None);
                }
                st.buffers.registered = true;
                st.buffers.free = vec![(0, TABLE_ENTRIES)];
            }
            let Some(first) = st.buffers.take(n) else {
                tracing::debug!(buffers = n, "buffer table full; this pool uses plain memory");
                return Ok(None);
            };
            // SAFETY: the caller keeps the memory valid until the run is
            // released; the entries were free, so no operation names them.
            match unsafe { st.ring.submitter().register_buffers_update(first, iovecs, None) } {
                Ok(()) => Ok(Some(first as u16)),
                Err(err) => {
                    st.buffers.give_back(first, n);
                    if err.raw_os_error() == Some(libc::ENOMEM) {
                        return Err(io::Error::new(
                            io::ErrorKind::OutOfMemory,
                            format!(
                                "registering {n} buffers: the kernel cannot pin that much memory (RLIMIT_MEMLOCK?)"
                            ),
                        ));
                    }
                    tracing::warn!(%err, "registering buffers failed; this pool uses plain memory");
                    Ok(None)
                }
            }
        })
    }

    /// Clears the run `first..first + n` and frees it for another pool, then
    /// drops `memory` (the buffers it named). From any thread: another thread
    /// hands it to the owner. No operation may name the run any more.
    pub(crate) fn release_buffers(&self, first: u16, n: u16, memory: Box<dyn Send>) {
        if self.inner.shut_down.load(std::sync::atomic::Ordering::Acquire) {
            // No operation can be submitted any more; the table goes with the ring.
            return drop(memory);
        }
        if !self.is_owner_thread() {
            // If no owner ever takes it (the ring shut down), the queue drops
            // `memory` with the ring.
            self.post(Remote::ReleaseBuffers { first, n, memory });
            return;
        }
        self.with(|st| {
            let empty = vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                };
                n as usize
            ];
            // SAFETY: empty iovecs clear the entries; they name no memory.
            match unsafe { st.ring.submitter().register_buffers_update(first.into(), &empty, None) } {
                Ok(()) => st.buffers.give_back(first.into(), n.into()),
                // The entries stay pinned, and taken, until the ring goes.
                Err(err) => tracing::warn!(%err, "clearing registered buffers failed; leaking their entries"),
            }
        });
        drop(memory);
    }
}

#[cfg(test)]
mod tests {
    use super::BufferTable;

    #[test]
    fn runs_are_taken_first_fit_and_merge_when_given_back() {
        let mut t = BufferTable {
            registered: true,
            free: vec![(0, 10)],
        };
        assert_eq!(t.take(4), Some(0));
        assert_eq!(t.take(4), Some(4));
        assert_eq!(t.take(4), None);
        t.give_back(0, 4);
        assert_eq!(t.free, vec![(0, 4), (8, 2)]);
        t.give_back(4, 4);
        assert_eq!(t.free, vec![(0, 10)]);
        assert_eq!(t.take(10), Some(0));
        assert!(t.free.is_empty());
    }
}
