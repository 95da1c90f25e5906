//! `READ` / `WRITE` into and from one owned buffer: positional (files; on
//! readiness backends `pread`/`pwrite` on the blocking pool), or at the file
//! position (offset -1: pipes, character devices, eventfds; on readiness
//! backends `read`/`write`, non-blocking and retried on readiness, or on the
//! pool for regular files). A positional write may be durable
//! ([`Write::durable`]: `RWF_DSYNC`, the per-write `O_DSYNC`).

use super::{syscall_retry, Completion, Operation, Plan};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::BufResult;
use crate::fd::descriptor::OpLease;
use crate::fd::Interest;
#[cfg(uring)]
use io_uring::{opcode, squeue};

/// The offset that means "at the file position, advancing it" (`-1` to io_uring).
const CURSOR: u64 = u64::MAX;

/// How a readiness backend runs an operation at the file position: on the
/// pool for regular files (never "not ready", may block on the disk), else
/// non-blocking and retried when the descriptor is ready.
fn cursor_plan(pollable: bool, interest: Interest) -> Plan {
    if pollable {
        Plan::Nonblocking(interest)
    } else {
        Plan::Blocking
    }
}

pub(crate) struct Read<B> {
    fd: OpLease,
    buf: B,
    offset: u64,
    plan: Plan,
    /// The buffer's index in the ring's registered-buffer table: `READ_FIXED`.
    fixed: Option<u16>,
}

impl<B: IoBufMut> Read<B> {
    pub(crate) fn new(fd: OpLease, buf: B, offset: u64) -> Self {
        Read {
            fd,
            buf,
            offset,
            plan: Plan::Blocking,
            fixed: None,
        }
    }

    /// Reads with `READ_FIXED` into registered buffer `index` (which must be
    /// `buf`'s, in the table of the ring the operation goes to).
    pub(crate) fn fixed(mut self, index: Option<u16>) -> Self {
        self.fixed = index;
        self
    }

    /// A read at the file position; `pollable` descriptors (anything but a
    /// regular file or block device) wait for readiness on readiness backends.
    pub(crate) fn at_cursor(fd: OpLease, buf: B, pollable: bool) -> Self {
        Read {
            fd,
            buf,
            offset: CURSOR,
            plan: cursor_plan(pollable, Interest::READABLE),
            fixed: None,
        }
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable memory (`IoBufMut`),
// owned by `self`; `fd` keeps the descriptor open.
unsafe impl<B: IoBufMut> Operation for Read<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let ptr = self.buf.stable_mut_ptr();
        let len = self.buf.bytes_total().min(u32::MAX as usize) as u32;
        if let Some(index) = self.fixed {
            let read = opcode::ReadFixed::new(target.raw(), ptr, len, index);
            return target.apply(read.offset(self.offset).build());
        }
        target.apply(opcode::Read::new(target.raw(), ptr, len).offset(self.offset).build())
    }

    fn plan(&self) -> Plan {
        self.plan
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, ptr, len) = (self.fd.raw(), self.buf.stable_mut_ptr(), self.buf.bytes_total());
        if self.offset == CURSOR {
            // SAFETY: as below, without an offset.
            return syscall_retry(|| unsafe { libc::read(fd, ptr.cast(), len) });
        }
        // SAFETY: `ptr` is valid for writes of `len` bytes (IoBufMut) and owned
        // by `self` for the duration of the call; `fd` is held open.
        syscall_retry(|| unsafe { libc::pread(fd, ptr.cast(), len, self.offset as libc::off_t) })
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> BufResult<usize, B> {
        let mut buf = self.buf;
        let res = c.io_result().map(|n| {
            // SAFETY: the kernel initialized `n` bytes at the start of the buffer.
            unsafe { buf.set_init(n as usize) };
            n as usize
        });
        (res, buf)
    }

    /// A read at the file position of a pipe or other stream consumed its
    /// bytes: keep them for the next read. (A positional read consumes
    /// nothing; reading again gets the same bytes.)
    fn on_orphan_cqe(&mut self, c: &Completion) {
        if self.offset != CURSOR || c.result <= 0 {
            return;
        }
        // SAFETY: the kernel wrote `c.result` bytes at the start of the buffer.
        let bytes = unsafe { crate::buf::written(&self.buf, c.result as usize) };
        self.fd.rescue().push_bytes(bytes);
    }
}

pub(crate) struct Write<B> {
    fd: OpLease,
    buf: B,
    offset: u64,
    plan: Plan,
    /// Durable when it completes (`RWF_DSYNC`).
    dsync: bool,
    /// The buffer's index in the ring's registered-buffer table: `WRITE_FIXED`.
    fixed: Option<u16>,
}

impl<B: IoBuf> Write<B> {
    pub(crate) fn new(fd: OpLease, buf: B, offset: u64) -> Self {
        Write {
            fd,
            buf,
            offset,
            plan: Plan::Blocking,
            dsync: false,
            fixed: None,
        }
    }

    /// Writes with `WRITE_FIXED` from registered buffer `index` (as for
    /// [`Read::fixed`]).
    pub(crate) fn fixed(mut self, index: Option<u16>) -> Self {
        self.fixed = index;
        self
    }

    /// Makes the write durable when it completes: its data, and the metadata
    /// needed to read it back, are on stable storage, as if the file were
    /// open with `O_DSYNC` for this write alone (`RWF_DSYNC`, Linux 4.7; one
    /// SQE, where a linked `WRITE` + `FDATASYNC` would take two and lose the
    /// write's own result when a short write breaks the link).
    pub(crate) fn durable(mut self) -> Self {
        self.dsync = true;
        self
    }

    /// A write at the file position; see [`Read::at_cursor`].
    pub(crate) fn at_cursor(fd: OpLease, buf: B, pollable: bool) -> Self {
        Write {
            fd,
            buf,
            offset: CURSOR,
            plan: cursor_plan(pollable, Interest::WRITABLE),
            dsync: false,
            fixed: None,
        }
    }
}

// SAFETY: the SQE and the syscall point at `buf`'s stable, initialized
// memory, owned by `self`; `fd` keeps the descriptor open.
unsafe impl<B: IoBuf> Operation for Write<B> {
    type Output = BufResult<usize, B>;

    #[cfg(uring)]
    fn entry(&mut self) -> squeue::Entry {
        let target = self.fd.target();
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        let flags = if self.dsync { libc::RWF_DSYNC } else { 0 };
        if let Some(index) = self.fixed {
            let write = opcode::WriteFixed::new(target.raw(), self.buf.stable_ptr(), len, index);
            return target.apply(write.offset(self.offset).rw_flags(flags).build());
        }
        target.apply(
            opcode::Write::new(target.raw(), self.buf.stable_ptr(), len)
                .offset(self.offset)
                .rw_flags(flags)
                .build(),
        )
    }

    fn plan(&self) -> Plan {
        self.plan
    }

    fn syscall(&mut self) -> Option<Completion> {
        let (fd, ptr, len) = (self.fd.raw(), self.buf.stable_ptr(), self.buf.bytes_init());
        if self.offset == CURSOR {
            // SAFETY: as below, without an offset.
            return syscall_retry(|| unsafe { libc::write(fd, ptr.cast(), len) });
        }
        if self.dsync {
            return durable_pwrite(fd, ptr, len, self.offset);
        }
        // SAFETY: `ptr` is valid for reads of `len` initialized bytes, owned by
        // `self` for the call; `fd` is held open.
        syscall_retry(|| unsafe { libc::pwrite(fd, ptr.cast(), len, self.offset as libc::off_t) })
    }

    fn fd(&self) -> Option<&OpLease> {
        Some(&self.fd)
    }

    fn complete(self, c: Completion) -> BufResult<usize, B> {
        (c.io_result().map(|n| n as usize), self.buf)
    }
}

/// `pwritev2(RWF_DSYNC)`: one durable positional write.
#[cfg(target_os = "linux")]
fn durable_pwrite(fd: std::os::fd::RawFd, ptr: *const u8, len: usize, offset: u64) -> Option<Completion> {
    let iov = libc::iovec {
        iov_base: ptr as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: `iov` names `len` initialized bytes at `ptr`, owned by the
    // operation for the call (the kernel only reads them); `fd` is held open.
    syscall_retry(|| unsafe { libc::pwritev2(fd, &iov, 1, offset as libc::off_t, libc::RWF_DSYNC) })
}

/// Where there is no `RWF_DSYNC`: `pwrite`, then `fsync` once it wrote
/// anything (`fdatasync` is not everywhere), reporting the write's count.
#[cfg(not(target_os = "linux"))]
fn durable_pwrite(fd: std::os::fd::RawFd, ptr: *const u8, len: usize, offset: u64) -> Option<Completion> {
    // SAFETY: `ptr` is valid for reads of `len` initialized bytes, owned by
    // the operation for the call; `fd` is held open.
    let written = syscall_retry(|| unsafe { libc::pwrite(fd, ptr.cast(), len, offset as libc::off_t) })?;
    if written.result <= 0 {
        return Some(written);
    }
    // SAFETY: `fd` is held open; fsync touches no memory of ours.
    match syscall_retry(|| unsafe { libc::fsync(fd) } as isize) {
        Some(c) if c.result < 0 => Some(c),
        _ => Some(written),
    }
}

#[cfg(all(test, uring))]
mod tests {
    use super::*;

    /// The `rw_flags` word of a built SQE (`io_uring_sqe` bytes 28..32).
    fn rw_flags(entry: &squeue::Entry) -> u32 {
        assert_eq!(std::mem::size_of::<squeue::Entry>(), 64);
        // SAFETY: `squeue::Entry` is `repr(C)` around the 64-byte
        // `io_uring_sqe`, all of it initialized (built from zeroed memory);
        // reading it as bytes reads nothing uninitialized.
        let bytes: &[u8; 64] = unsafe { &*(entry as *const squeue::Entry).cast::<[u8; 64]>() };
        u32::from_ne_bytes(bytes[28..32].try_into().unwrap())
    }

    #[test]
    fn a_durable_write_asks_for_rwf_dsync_and_a_plain_one_does_not() {
        let file = crate::fd::descriptor::Handle::new(std::fs::File::open("/dev/null").unwrap().into());
        let lease = || OpLease::from(file.incref().unwrap());
        let mut plain = Write::new(lease(), vec![1u8; 8], 0);
        let mut durable = Write::new(lease(), vec![1u8; 8], 0).durable();
        assert_eq!(rw_flags(&plain.entry()), 0);
        assert_eq!(rw_flags(&durable.entry()), libc::RWF_DSYNC as u32);
    }
}
