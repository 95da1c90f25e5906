//! `ACCEPT`, single-shot (with the peer address) and multishot (Linux 5.19).
//! Accepted sockets are `SOCK_CLOEXEC | SOCK_NONBLOCK`; one accepted for a
//! dropped future is closed, never leaked.

use super::open::close_orphan;
use super::{Completion, Operation, Target};
use crate::fd::shared::FdHold;
use crate::ring::Driver;
use io_uring::{opcode, squeue};
use libc::sockaddr_storage as SocketAddrStorage;
use rustix::net::SocketAddrAny;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd};

const FLAGS: i32 = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;

pub(crate) struct Accept {
    _fd: FdHold,
    target: Target,
    addr: MaybeUninit<SocketAddrStorage>,
    len: libc::socklen_t,
}

impl Accept {
    pub(crate) fn new(fd: FdHold, driver: &Driver) -> Self {
        Accept {
            target: fd.target(driver),
            _fd: fd,
            addr: MaybeUninit::uninit(),
            len: size_of::<SocketAddrStorage>() as libc::socklen_t,
        }
    }
}

// SAFETY: the SQE points at `addr` and `len`, inside `self` (kept boxed by the
// driver); `_fd` keeps the listener open.
unsafe impl Operation for Accept {
    type Output = io::Result<(OwnedFd, Option<SocketAddrAny>)>;

    fn entry(&mut self) -> squeue::Entry {
        let e = opcode::Accept::new(self.target.raw(), self.addr.as_mut_ptr().cast(), &mut self.len).flags(FLAGS);
        self.target.apply(e.build())
    }

    fn complete(self: Box<Self>, c: Completion) -> io::Result<(OwnedFd, Option<SocketAddrAny>)> {
        let raw = c.io_result()? as i32;
        // SAFETY: the kernel created `raw` for this request.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok((fd, read_addr(&self.addr, self.len)))
    }

    fn on_orphan_cqe(&mut self, c: &Completion) {
        close_orphan(c);
    }
}

/// Multishot accept: one CQE per connection until cancelled or failed.
pub(crate) struct AcceptMulti {
    _fd: FdHold,
    target: Target,
}

impl AcceptMulti {
    pub(crate) fn new(fd: FdHold, driver: &Driver) -> Self {
        AcceptMulti {
            target: fd.target(driver),
            _fd: fd,
        }
    }
}

// SAFETY: no pointers; `_fd` keeps the listener open until the last CQE.
unsafe impl Operation for AcceptMulti {
    type Output = ();

    fn entry(&mut self) -> squeue::Entry {
        self.target
            .apply(opcode::AcceptMulti::new(self.target.raw()).flags(FLAGS).build())
    }

    fn complete(self: Box<Self>, _c: Completion) {}

    fn on_orphan_cqe(&mut self, c: &Completion) {
        close_orphan(c);
    }
}

/// The descriptor a multishot accept completion carries.
pub(crate) fn accepted_fd(c: &Completion) -> io::Result<OwnedFd> {
    let raw = c.io_result()? as i32;
    // SAFETY: the kernel created `raw` for this accept; the completion is
    // consumed once, so nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Reads a kernel-filled socket address; `None` for an unnamed peer.
pub(crate) fn read_addr(addr: &MaybeUninit<SocketAddrStorage>, len: libc::socklen_t) -> Option<SocketAddrAny> {
    if (len as usize) < size_of::<libc::sa_family_t>() + 1 || len as usize > size_of::<SocketAddrStorage>() {
        return None;
    }
    // SAFETY: the kernel wrote `len` bytes of a valid socket address, and `len`
    // is within the storage's size (checked above, so `read` cannot panic).
    Some(unsafe { SocketAddrAny::read(addr.as_ptr().cast(), len) })
}
